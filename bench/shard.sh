#!/usr/bin/env bash
# Sharded backup (issue 17) through the 1 ms EFS stand-in: N = 1, 2, 4 workers
# on one machine, each started together, then the merge; a first backup (CPU
# and latency) and a second one of unchanged data (walk and stat: latency).
#
# Usage: bench/shard.sh CORPUS_DIR [N...]     (root: FUSE; default N = 1 2 4)
#   EFS2S3     the binary (default build/src/cli/efs2s3)
#   LATENCYFS  the stand-in (default build/bench/latencyfs/latencyfs)
#   BENCH_DELAY_US  its delay (default 1000)
# Prints one line per N and scenario: wall seconds (workers started to merge
# done), the longest worker's own backup time (its summary's duration: the walk,
# reads and uploads, without process start, key derivation and index load), the
# merge's wall seconds, requests to the repository (all workers and the merge),
# file system operations seen by latencyfs.
set -euo pipefail
src=${1:?corpus directory}
shift
ns=("$@")
((${#ns[@]})) || ns=(1 2 4)
EFS2S3=${EFS2S3:-build/src/cli/efs2s3}
LATENCYFS=${LATENCYFS:-build/bench/latencyfs/latencyfs}
delay=${BENCH_DELAY_US:-1000}
work=$(mktemp -d /tmp/efs2s3-shard-bench-XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt"
export EFS2S3_PASSWORD=bench XDG_CACHE_HOME=$work/cache
"$LATENCYFS" --delay-us "$delay" "$src" "$mnt"
trap 'umount "$mnt"; rm -rf "$work"' EXIT

fsops() { jq -r .total "$mnt/.latencyfs-stats"; }

# run N RUN: N workers (or one plain backup for N=1) and the merge; prints
# "wall longest_worker merge requests fsops".
run() {
  local n=$1 id=$2 i t0 t1 tm=0 ops0 ops1 req=0 longest
  ops0=$(fsops)
  t0=$(date +%s.%N)
  if ((n == 1)); then
    "$EFS2S3" -r "$work/repo$n" --json backup "$mnt" >"$work/out.0"
  else
    for ((i = 0; i < n; i++)); do
      "$EFS2S3" -r "$work/repo$n" --json backup --shard "$i/$n" --run-id "$id" "$mnt" >"$work/out.$i" &
    done
    wait
    tm=$(date +%s.%N)
    "$EFS2S3" -r "$work/repo$n" --json backup --merge "$id" >"$work/out.m"
  fi
  t1=$(date +%s.%N)
  [[ $tm == 0 ]] || tm=$(echo "$t1 - $tm" | bc)
  ops1=$(fsops)
  for f in "$work"/out.*; do
    req=$((req + $(jq -s 'map(select(.message_type == "summary") | .requests // 0) | add // 0' "$f")))
  done
  longest=$(cat "$work"/out.[0-9]* | jq -s 'map(select(.message_type == "summary") | .duration_seconds) | max')
  rm -f "$work"/out.*
  echo "$(echo "$t1 - $t0" | bc) $longest $tm $req $((ops1 - ops0))"
}

printf 'N\tscenario\twall_s\tlongest_worker_s\tmerge_s\trequests\tfs_ops\n'
for n in "${ns[@]}"; do
  "$EFS2S3" -r "$work/repo$n" init >/dev/null
  for scen in "first backup" unchanged; do
    read -r w l m q o < <(run "$n" "${scen// /}$n")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$scen" "$w" "$l" "$m" "$q" "$o"
  done
done
