#!/usr/bin/env bash
# Builds the benchmark corpora reproducibly (same inputs, same bytes and mtimes).
#
# Usage: bench/corpus.sh DIR [A] [B] [C] [D]  (no letter: all four)
#   A  DIR/A: the Linux kernel source tree of Debian's linux-source-6.1 package
#      (about 80,000 files); CORPUS_A_MAX_FILES=N keeps only the first N files of the
#      archive, for a quick run.
#   B  DIR/B: CORPUS_B_FILES (default 100000) files of 1-16 KiB, 50 per directory
#      (about 2,000 directories), seed CORPUS_SEED (default 1).
#   C  DIR/C: random.bin, compressible.bin (CORPUS_C_MIB MiB each, default 1024) and
#      duplicate.bin (a copy of random.bin).
#   D  DIR/D: a directory-heavy tree shaped like a system tree (/usr on Debian):
#      CORPUS_D_FILES (default 30000) files of mixed sizes (about 0.9 GB at the
#      default) in CORPUS_D_FILES/10 directories of random depth, CORPUS_D_FILES/12
#      symbolic links, seed CORPUS_SEED (bench/gencorpus.py tree).
# A corpus that exists with the same parameters is kept (DIR/X.done records them).
#
#   bench/corpus.sh change DIR/X [PERCENT]    rewrites PERCENT (default 1) % of the files
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "corpus.sh: $*" >&2; exit 1; }

if [[ "${1:-}" == change ]]; then
  [[ -d "${2:-}" ]] || die "usage: $0 change DIR [PERCENT]"
  rm -f "${2%/}.done"  # no longer the pristine corpus: the next build makes it anew
  exec python3 "$here/gencorpus.py" change "$2" --percent "${3:-1}" --seed "${CORPUS_SEED:-1}"
fi

dir=${1:-}
[[ -n "$dir" ]] || die "usage: $0 DIR [A] [B] [C]"
shift
kinds=("$@")
((${#kinds[@]})) || kinds=(A B C D)
mkdir -p "$dir"
seed=${CORPUS_SEED:-1}

# build NAME PARAMS CMD...: runs CMD into DIR/NAME unless DIR/NAME.done has PARAMS.
build() {
  local name=$1 params=$2
  shift 2
  if [[ -f "$dir/$name.done" && "$(cat "$dir/$name.done")" == "$params" ]]; then
    echo "corpus $name: up to date ($params)"
    return
  fi
  rm -rf "${dir:?}/$name" "$dir/$name.done"
  mkdir -p "$dir/$name"
  "$@"
  echo "$params" >"$dir/$name.done"
  echo "corpus $name: $(find "$dir/$name" -type f | wc -l) files, $(du -sh "$dir/$name" | cut -f1) ($params)"
}

corpus_a() {
  local tarball=/usr/src/linux-source-6.1.tar.xz
  [[ -f $tarball ]] || "$here/../scripts/install-deps.sh" --with-bench
  [[ -f $tarball ]] || die "$tarball missing (Debian package linux-source-6.1)"
  if [[ -n "${CORPUS_A_MAX_FILES:-}" ]]; then
    # The first N regular files of the archive, in archive order.
    (set +o pipefail; tar -tJf "$tarball" | grep -v '/$' | head -n "$CORPUS_A_MAX_FILES" >"$dir/A.list")
    tar -xJf "$tarball" -C "$dir/A" --no-same-owner -T "$dir/A.list"
    rm -f "$dir/A.list"
  else
    tar -xJf "$tarball" -C "$dir/A" --no-same-owner
  fi
}

for k in "${kinds[@]}"; do
  case "$k" in
    A) build A "$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || echo none) max=${CORPUS_A_MAX_FILES:-all}" corpus_a ;;
    B) n=${CORPUS_B_FILES:-100000}
       build B "files=$n seed=$seed" python3 "$here/gencorpus.py" small "$dir/B" --files "$n" --seed "$seed" ;;
    C) m=${CORPUS_C_MIB:-1024}
       build C "mib=$m seed=$seed" python3 "$here/gencorpus.py" large "$dir/C" --mib "$m" --seed "$seed" ;;
    D) n=${CORPUS_D_FILES:-30000}
       build D "files=$n seed=$seed" python3 "$here/gencorpus.py" tree "$dir/D" --files "$n" --seed "$seed" ;;
    *) die "unknown corpus $k (A, B, C or D)" ;;
  esac
done
