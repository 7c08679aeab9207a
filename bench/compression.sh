#!/usr/bin/env bash
# The trade-off of `backup --compression`: per corpus and mode, a first backup into a
# fresh local repository (so that the network costs nothing and the CPU is what is
# measured), its wall and CPU time, the bytes it stored, and what those bytes cost per
# month in S3 STANDARD (src/storage/storage_class.h: $0.023 per GB-month, GB = 2^30)
# against `off`.
#
# Usage: bench/compression.sh SRCROOT [CORPUS...]   (corpora of bench/corpus.sh, default A B C)
#   MODES="auto off fastest default max"   EFS2S3 (default build-bench/src/cli/efs2s3)
#   WORK (default build-bench/compression): repositories, one at a time
# Prints a Markdown table.
set -euo pipefail
src=${1:?usage: $0 SRCROOT [CORPUS...]}
shift
corpora=("$@")
((${#corpora[@]})) || corpora=(A B C)
MODES=${MODES:-auto off fastest default max}
EFS2S3=$(realpath "${EFS2S3:-build-bench/src/cli/efs2s3}")
WORK=${WORK:-build-bench/compression}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
export EFS2S3_PASSWORD=bench XDG_CACHE_HOME=$WORK/cache
price=0.023

echo "| corpus | mode | wall s | CPU s | read MiB | stored MiB | stored / read | \$/month (STANDARD) | vs off \$/month |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in "${corpora[@]}"; do
  off_bytes=""
  # `off` first, so that every other row can say what it saves.
  for mode in off $MODES; do
    [[ $mode == off && -n $off_bytes ]] && continue
    repo=$WORK/repo
    rm -rf "$repo" "$WORK/cache"
    "$EFS2S3" -r "$repo" init >/dev/null
    # Warm the page cache, so that every mode reads from memory.
    find "$src/$c" -type f -print0 | xargs -0 cat >/dev/null
    /usr/bin/time -f '%e %U %S' -o "$WORK/time" \
      "$EFS2S3" -r "$repo" --json backup --compression "$mode" "$src/$c" >"$WORK/out.json"
    read -r wall user sys <"$WORK/time"
    read -r read_bytes stored < <(python3 -c '
import json, sys
j = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
print(j["bytes_read"], j["bytes_stored"])' "$WORK/out.json")
    [[ $mode == off ]] && off_bytes=$stored
    python3 - "$c" "$mode" "$wall" "$user" "$sys" "$read_bytes" "$stored" "$off_bytes" "$price" <<'EOF'
import sys
c, mode, wall, user, sys_, rd, st, off, price = sys.argv[1:]
rd, st, off, price = int(rd), int(st), int(off), float(price)
gib = 1 << 30
cost = st / gib * price
saved = (off - st) / gib * price
print(f"| {c} | {mode} | {float(wall):.1f} | {float(user) + float(sys_):.1f} | "
      f"{rd / 2**20:.0f} | {st / 2**20:.1f} | {st / rd:.3f} | {cost:.4f} | "
      f"{'-' if mode == 'off' else f'{-saved:+.4f}'} |")
EOF
  done
done
rm -rf "$WORK/repo" "$WORK/cache"
