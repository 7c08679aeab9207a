#!/usr/bin/env bash
# Maintenance at 1 M blobs: RSS and time of backup, no-change backup, forget, prune
# (--dry-run and real) and check on a repository of more than a million blobs
# (docs/BENCHMARKS.md, "Maintenance at 1 M blobs").
#
# Usage: bench/million_blobs.sh      (from anywhere; results go to stdout and to
#                                     $WORK/results.md)
#
# Settings (environment):
#   FILES=1000000   files in the source tree; each is 16-64 bytes of distinct content,
#                   below the smallest chunk, so each file is one data blob
#   DIRS=1000       directories they are spread over (one tree blob each)
#   CHANGE_EVERY=10 between snapshots, every CHANGE_EVERY-th file gets new content
#   WORK            scratch space (default build-million): source tree (about 4 GiB of
#                   file system blocks for 1 M files on ext4), repository, cache
#   EFS2S3          binary (default build-m2/src/cli/efs2s3, else build/src/cli/efs2s3)
#   GEN_ONLY=1      only write the source tree (then run again to measure)
#   KEEP=1          keep WORK afterwards (default: remove the repository and the cache,
#                   keep the source tree for the next run)
#
# Sequence (repository on local disk, default settings): init; backup (1 M files);
# no-change backup; change every 10th file (offset 0), backup; change every 10th file
# (offset 5), backup; forget --keep-last 2 (half of the 4 snapshots); prune --dry-run;
# prune (the forgotten file versions are spread over every pack, so every pack is
# repacked: the worst case); prune again (nothing to do); check; check --read-data.
# Every command runs under GNU time: wall time, user+sys CPU and peak RSS.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
FILES=${FILES:-1000000}
DIRS=${DIRS:-1000}
CHANGE_EVERY=${CHANGE_EVERY:-10}
WORK=${WORK:-$repo_root/build-million}
if [[ -z "${EFS2S3:-}" ]]; then
  EFS2S3=$repo_root/build-m2/src/cli/efs2s3
  [[ -x "$EFS2S3" ]] || EFS2S3=$repo_root/build/src/cli/efs2s3
fi
die() { echo "million_blobs.sh: $*" >&2; exit 1; }
log() { echo "million_blobs.sh: $*" >&2; }
[[ "${GEN_ONLY:-0}" == 1 || -x "$EFS2S3" ]] || die "no efs2s3 binary at $EFS2S3"
command -v /usr/bin/time >/dev/null || "$repo_root/scripts/install-deps.sh" --with-bench
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
SRC=$WORK/src
REPO=$WORK/repo
export XDG_CACHE_HOME=$WORK/cache
export EFS2S3_PASSWORD=bench-password
export TMPDIR=$WORK/tmp
PY=$(command -v /usr/bin/python3 || command -v python3)

# gen ROOT FILES DIRS [CHANGE_EVERY OFFSET ROUND]: the tree, or new content for every
# CHANGE_EVERY-th file starting at OFFSET. Deterministic: (file number, round) -> bytes.
gen() {
  "$PY" - "$@" <<'PY'
import hashlib, os, sys
root, files, dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
every = int(sys.argv[4]) if len(sys.argv) > 4 else 1
offset = int(sys.argv[5]) if len(sys.argv) > 5 else 0
rnd = int(sys.argv[6]) if len(sys.argv) > 6 else 0
per_dir = -(-files // dirs)
for i in range(offset, files, every):
    d = os.path.join(root, f"d{i // per_dir:04d}")
    if every == 1 and i % per_dir == 0:
        os.makedirs(d, exist_ok=True)
    # 12 bytes naming (file number, round) make every version unique; then 4-52
    # pseudo-random bytes: 16-64 bytes in all.
    head = i.to_bytes(8, "big") + rnd.to_bytes(4, "big")
    body = hashlib.blake2b(head, digest_size=4 + (i * 2654435761 + rnd) % 49).digest()
    with open(os.path.join(d, f"f{i:07d}"), "wb") as f:
        f.write(head + body)
PY
}

rm -rf "$REPO" "$XDG_CACHE_HOME" "$TMPDIR"
mkdir -p "$TMPDIR"
stamp="$WORK/src-complete-$FILES-$DIRS"
if [[ ! -e "$stamp" ]]; then
  rm -rf "$SRC"
  mkdir -p "$SRC"
  log "writing $FILES files in $DIRS directories to $SRC"
  start=$(date +%s)
  gen "$SRC" "$FILES" "$DIRS"
  touch "$stamp"
  log "source written in $(( $(date +%s) - start )) s"
  [[ "${GEN_ONLY:-0}" != 1 ]] || exit 0
else
  # A previous run changed some files: write them back to round 0.
  log "resetting the changed files of a previous run"
  gen "$SRC" "$FILES" "$DIRS" "$CHANGE_EVERY" 0 0
  gen "$SRC" "$FILES" "$DIRS" "$CHANGE_EVERY" 5 0
fi

results=$WORK/results.md
rows=$WORK/rows.md
: >"$rows"
# measure LABEL ARGS...: runs efs2s3 ARGS under GNU time and appends a table row.
measure() {
  local label=$1 rc=0
  shift
  log "$label: efs2s3 $*"
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.out" \
    "$EFS2S3" -r "$REPO" "$@" >"$WORK/last.out" 2>&1 || rc=$?
  cat "$WORK/last.out" >>"$WORK/all.out"
  read -r wall user sys rss <"$WORK/time.out"
  if (( rc != 0 )); then
    tail -n 20 "$WORK/last.out" >&2
    die "$label failed with exit status $rc"
  fi
  printf '| %s | %s | %.1f | %.1f | %d |\n' "$label" "efs2s3 $*" "$wall" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" $((rss / 1024)) >>"$rows"
  tail -n 3 "$WORK/last.out" | sed 's/^/    /' >&2
}
: >"$WORK/all.out"

measure "init" init
measure "backup (first)" backup "$SRC" --host bench
measure "backup (no change)" backup "$SRC" --host bench
gen "$SRC" "$FILES" "$DIRS" "$CHANGE_EVERY" 0 1
measure "backup (10 % changed)" backup "$SRC" --host bench
gen "$SRC" "$FILES" "$DIRS" "$CHANGE_EVERY" 5 2
measure "backup (10 % changed)" backup "$SRC" --host bench
measure "forget half" forget --keep-last 2
measure "prune --dry-run" prune --dry-run
cp "$WORK/last.out" "$WORK/prune-plan.out"
du_index_before=$(du -sb "$REPO/index" | cut -f1)
index_files_before=$(find "$REPO/index" -type f | wc -l)
measure "prune" prune
measure "prune (nothing to do)" prune
measure "check" check
measure "check --read-data" check --read-data

blobs=$("$EFS2S3" -r "$REPO" --json prune --dry-run | jq -r .plan.total.blobs)
du_index=$(du -sb "$REPO/index" | cut -f1)
index_files=$(find "$REPO/index" -type f | wc -l)
cache_index=$(du -scb "$XDG_CACHE_HOME"/efs2s3/*/index 2>/dev/null | tail -n1 | cut -f1 || true)
repo_bytes=$(du -sb "$REPO" | cut -f1)
packs=$(find "$REPO/data" -type f | wc -l)
src_blocks=$(du -sk "$SRC" | cut -f1)

{
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), load average before the run ${LOAD_BEFORE:-$(cut -d' ' -f1-3 /proc/loadavg)}, after $(cut -d' ' -f1-3 /proc/loadavg); $(git -C "$repo_root" rev-parse --short HEAD)."
  echo
  echo "Source: $FILES files of 16-64 bytes in $DIRS directories ($((src_blocks / 1024)) MiB of file system blocks)."
  echo "Repository after the run: $blobs indexed blobs in $packs packs, $((repo_bytes / 1048576)) MiB;"
  echo "index before prune: $index_files_before files, $((du_index_before / 1048576)) MiB; after: $index_files files, $((du_index / 1048576)) MiB;"
  echo "decrypted index runs in the local cache: $(( ${cache_index:-0} / 1048576 )) MiB."
  echo
  echo "| step | command | wall s | CPU s | peak RSS MiB |"
  echo "|---|---|---:|---:|---:|"
  cat "$rows"
  echo
  echo "prune plan:"
  echo
  echo '```'
  grep -v '^\s*$' "$WORK/prune-plan.out" | grep -v '^efs2s3: ' || true
  echo '```'
} | tee "$results"

if [[ "${KEEP:-0}" != 1 ]]; then
  rm -rf "$REPO" "$XDG_CACHE_HOME" "$TMPDIR"
fi
