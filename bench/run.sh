#!/usr/bin/env bash
# Benchmark: efs2s3 against restic, rclone sync and aws s3 sync, in one invocation,
# against one radosgw server on loopback, on the corpora of bench/corpus.sh.
#
# Usage: bench/run.sh            (from the repository root; needs root for latencyfs)
#
# Settings (environment):
#   CORPORA="A B C"      corpora to run (bench/corpus.sh: A B C D; CORPUS_B_FILES,
#                        CORPUS_C_MIB, CORPUS_A_MAX_FILES, CORPUS_D_FILES scale them)
#   TOOLS="efs2s3 efs2s3-local efs2s3-sync restic rclone aws"
#                        efs2s3 = S3 repository, efs2s3-local = repository on local disk,
#                        efs2s3-sync = `efs2s3 sync` (skipped when it does not exist),
#                        restic-local = restic with a repository on local disk (not in
#                        the default list; the peer of efs2s3-local)
#   LATENCY=1            read the sources through latencyfs (BENCH_DELAY_US, default 1000)
#   RUNS=3               repetitions of the whole sequence (the tables show medians
#                        and ranges)
#   BENCH_DIR            scratch space (default build-bench/work): server,
#                        repositories, restore targets
#   BENCH_SRC            the corpora and the latencyfs mount point (default
#                        BENCH_DIR-src, beside BENCH_DIR: nothing writes to its parents)
#   BENCH_RESTORE        restore target (default BENCH_DIR/restore); on a file system
#                        of its own (a tmpfs), so that ext4's allocation of inodes freed
#                        by the previous restore's deletion is not what is measured
#   BENCH_DOC=docs/BENCHMARKS.md   where the results go (between the bench markers);
#                        BENCH_DOC= (empty) writes only BENCH_DIR/results.md
#   EFS2S3, LATENCYFS    binaries (default build-bench/src/cli/efs2s3,
#                        build-bench/bench/latencyfs/latencyfs)
#   EFS2S3_BACKUP_ARGS   extra arguments for `efs2s3 backup`
#   RGW_PORT             port of the server this script starts (default 7580)
#
# Per corpus and run: every tool does a first backup, then every tool a no-change
# backup, then 1 % of the files are changed (bench/corpus.sh change) and every tool
# backs up again, then every tool restores the latest state to local disk. Each
# measurement records wall time, user+sys CPU time and peak RSS (GNU time), the objects
# and bytes in the tool's bucket afterwards, the S3 requests it made (counted in the
# server's access log, by bucket) and, through latencyfs, the file system operations.
# The machine's limits are measured in the same invocation: the corpus read with 32
# readers, SHA-256 / zstd / AES-256-GCM on all cores, the server's raw PUT rate.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
here=$repo_root/bench
CORPORA=${CORPORA:-A B C}
TOOLS=${TOOLS:-efs2s3 efs2s3-local efs2s3-sync restic rclone aws}
LATENCY=${LATENCY:-0}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-build-bench/work}
BENCH_DOC=${BENCH_DOC-docs/BENCHMARKS.md}
BENCH_DELAY_US=${BENCH_DELAY_US:-1000}
EFS2S3=${EFS2S3:-build-bench/src/cli/efs2s3}
LATENCYFS=${LATENCYFS:-build-bench/bench/latencyfs/latencyfs}
CPULIMIT=${CPULIMIT:-build-bench/bench/cpulimit/cpulimit}
export RGW_PORT=${RGW_PORT:-7580}

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "run.sh: $*" >&2; }
mkdir -p "$BENCH_DIR"
W=$(cd "$BENCH_DIR" && pwd)
EFS2S3=$(realpath "$EFS2S3")
[[ -x "$EFS2S3" ]] || die "no efs2s3 binary at $EFS2S3 (ninja -C build-bench efs2s3)"
CPULIMIT=$(realpath "$CPULIMIT")
[[ -x "$CPULIMIT" ]] || die "no cpulimit at $CPULIMIT (ninja -C build-bench cpulimit)"
if [[ "$LATENCY" == 1 ]]; then
  LATENCYFS=$(realpath "$LATENCYFS")
  [[ -x "$LATENCYFS" ]] || die "no latencyfs at $LATENCYFS (ninja -C build-bench latencyfs)"
  [[ $(id -u) == 0 ]] || die "LATENCY=1 needs root (FUSE mounts)"
fi
for t in restic rclone aws /usr/bin/time; do
  command -v "$t" >/dev/null || "$repo_root/scripts/install-deps.sh" --with-bench
done

# ---- the server ----
rgw="$W/rgw"
"$repo_root/scripts/radosgw.sh" stop "$rgw" 2>/dev/null || true
eval "$("$repo_root/scripts/radosgw.sh" start "$rgw")"
EP=$EFS2S3_TEST_S3_ENDPOINT
rgwlog="$rgw/client.rgw.a.log"
# The sources and the mount point sit beside the work directory, not in it: the
# tools record the directories above a backup path too, and the work directory
# changes during the run (logs, local repositories), which would give every
# backup after such a change a new tree to store for it.
SRCROOT=${BENCH_SRC:-$W-src}
mkdir -p "$SRCROOT"
SRCROOT=$(cd "$SRCROOT" && pwd)
export BENCH_SRCROOT=$SRCROOT  # for report.py
for old in "$W/corpora" "$W/src/corpora"; do
  [[ -d "$old" && ! -e "$SRCROOT/corpora" ]] && mv "$old" "$SRCROOT/corpora"
done
mnt="$SRCROOT/mnt"
cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
  "$repo_root/scripts/radosgw.sh" stop "$rgw" || true
}
trap cleanup EXIT

export EFS2S3_PASSWORD=bench-password RESTIC_PASSWORD=bench-password
export AWS_CONFIG_FILE="$W/aws-config"
cat >"$AWS_CONFIG_FILE" <<EOF
[default]
region = us-east-1
s3 =
  max_concurrent_requests = 64
  max_queue_size = 10000
  multipart_threshold = 64MB
  multipart_chunksize = 16MB
  addressing_style = path
EOF
export RCLONE_CONFIG="$W/rclone.conf"
cat >"$RCLONE_CONFIG" <<EOF
[bench]
type = s3
provider = Ceph
endpoint = $EP
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
region = us-east-1
force_path_style = true
EOF

efs_sync=0
if [[ " $TOOLS " == *" efs2s3-sync "* ]]; then
  # CLI11 answers --help after an unknown word too: look for the command in the list.
  if "$EFS2S3" --help 2>/dev/null | grep -qE '^ +sync ' && "$EFS2S3" sync --help >/dev/null 2>&1; then
    efs_sync=1
  else
    log "efs2s3 sync does not exist (yet): skipped"
  fi
fi
tools=()
for t in $TOOLS; do
  [[ $t == efs2s3-sync && $efs_sync == 0 ]] && continue
  tools+=("$t")
done

# rclone's S3 SDK fails on an AWS_CA_BUNDLE with a plain-HTTP endpoint.
rclone=(env -u AWS_CA_BUNDLE rclone)

# ---- helpers ----
rm -rf "$W"/repo-local-* "$W"/restic-local-* "$W/cache" "$W/logs" "$W/restore"
results="$W/results.tsv"
limits="$W/limits.tsv"
: >"$results"
: >"$limits"
: >"$W/machine.tsv"

# Source directory of corpus C as the tools see it (mounted through latencyfs if asked).
mount_src() {
  local c=$1
  if [[ "$LATENCY" == 1 ]]; then
    mountpoint -q "$mnt" && umount "$mnt"
    mkdir -p "$mnt"
    "$LATENCYFS" --delay-us "$BENCH_DELAY_US" "$SRCROOT/corpora/$c" "$mnt"
    SRC=$mnt
  else
    SRC=$SRCROOT/corpora/$c
  fi
}
unmount_src() { if [[ "$LATENCY" == 1 ]]; then umount "$mnt"; fi; }

bucket_of() { echo "bench-$1-$(tr 'A-Z' 'a-z' <<<"$2")-r$3"; }

# storage TOOL C RUN: "objects bytes" of what the tool stored.
storage() {
  local tool=$1 c=$2 run=$3
  if [[ $tool == efs2s3-local || $tool == restic-local ]]; then
    local d="$W/repo-local-$c-r$run"
    [[ $tool == restic-local ]] && d="$W/restic-local-$c-r$run"
    echo "$(find "$d" -type f | wc -l) $(du -sb "$d" | cut -f1)"
  else
    { aws --endpoint-url "$EP" s3 ls "s3://$(bucket_of "$tool" "$c" "$run")" --recursive --summarize 2>/dev/null || true; } |
      awk '/Total Objects:/ {o=$3} /Total Size:/ {s=$3} END {print (o==""?0:o), (s==""?0:s)}'
  fi
}

# requests BUCKET OFFSET: "total put get head list other" requests to BUCKET in the
# server's access log after byte OFFSET.
requests() {
  local b=$1 off=$2
  sleep 2  # the log is written asynchronously
  tail -c +"$((off + 1))" "$rgwlog" | awk -v b="$b" '
    / beast: / && match($0, /"[A-Z]+ \/[^ "]*/) {
      split(substr($0, RSTART + 1, RLENGTH - 1), r, " ")
      p = r[2]; sub(/^\//, "", p); bk = p; sub(/[\/?].*/, "", bk)
      if (bk != b) next
      n++
      key = p; sub(/^[^\/?]*/, "", key)
      if (r[1] == "PUT" || r[1] == "POST") put++
      else if (r[1] == "GET" && (key == "" || key == "/" || key ~ /^\/?\?/)) list++
      else if (r[1] == "GET") get++
      else if (r[1] == "HEAD") head++
      else other++
    }
    END { printf "%d %d %d %d %d %d\n", n, put, get, head, list, other }'
}

# cpu_now: "busy total" jiffies of the whole machine (/proc/stat), then the CPU
# jiffies of radosgw and of latencyfs (every process of each name).
cpu_now() {
  local busy total rgw=0 lfs=0 p
  read -r busy total < <(awk '/^cpu / {t=0; for (i=2;i<=NF;i++) t+=$i; print t-$5-$6, t}' /proc/stat)
  for p in $(pgrep -x radosgw); do rgw=$((rgw + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  for p in $(pgrep -x latencyfs); do lfs=$((lfs + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$busy $total $rgw $lfs"
}

# measure TOOL C SCENARIO RUN CMD...: runs CMD and appends one line to results.tsv,
# and to machine.tsv the share of the machine's CPU that was busy meanwhile and the
# CPU seconds of the server and the stand-in (what shared the cores with the tool).
measure() {
  local tool=$1 c=$2 scen=$3 run=$4
  shift 4
  local off rc=0 out="$W/logs/$c-$tool-$scen-r$run.log"
  mkdir -p "$W/logs"
  off=$(stat -c %s "$rgwlog")
  log "$c run $run: $tool $scen"
  local c0 c1
  c0=$(cpu_now)
  /usr/bin/time -f '%e %U %S %M' -o "$W/time.out" "$@" >"$out" 2>&1 || rc=$?
  c1=$(cpu_now)
  awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" -v key="$c\t$scen\t$tool\t$run" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    printf "%s\t%.3f\t%.2f\t%.2f\n", key, (y[2] > x[2] ? (y[1] - x[1]) / (y[2] - x[2]) : 0),
      (y[3] - x[3]) / hz, (y[4] - x[4]) / hz }' >>"$W/machine.tsv"
  local tm fsops="- - - -"
  tm=$(tail -n 1 "$W/time.out")
  if [[ "$LATENCY" == 1 && $scen != restore ]]; then
    fsops=$(jq -r '[.total, .ops.lookup + .ops.getattr, .ops.open, .in_flight_max] | @tsv' \
      "$mnt/.latencyfs-stats" | tr '\t' ' ')
  fi
  local req st
  if [[ $tool == efs2s3-local || $tool == restic-local ]]; then req="0 0 0 0 0 0"; else
    req=$(requests "$(bucket_of "$tool" "$c" "$run")" "$off")
  fi
  st=$(storage "$tool" "$c" "$run")
  [[ $rc == 0 || ($rc == 3 && $tool == efs2s3*) ]] || log "$tool $scen exited with $rc (see $out)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$scen" "$tool" "$run" "$rc" \
    "$(tr ' ' '\t' <<<"$tm")" "$(tr ' ' '\t' <<<"$st")" "$(tr ' ' '\t' <<<"$req")" \
    "$(tr ' ' '\t' <<<"$fsops")" >>"$results"
}

# backup TOOL C SCENARIO RUN
backup() {
  local tool=$1 c=$2 scen=$3 run=$4 b
  b=$(bucket_of "$tool" "$c" "$run")
  local efs=("$EFS2S3" --cache-dir "$W/cache/$tool-$c-r$run" --s3-endpoint "$EP" --s3-path-style)
  mount_src "$c"
  case $tool in
    efs2s3)
      [[ $scen == first ]] && "${efs[@]}" -r "s3://$b/repo" init >/dev/null
      # shellcheck disable=SC2086
      measure "$tool" "$c" "$scen" "$run" "${efs[@]}" -r "s3://$b/repo" backup "$SRC" ${EFS2S3_BACKUP_ARGS:-} ;;
    efs2s3-local)
      [[ $scen == first ]] && "${efs[@]}" -r "$W/repo-local-$c-r$run" init >/dev/null
      # shellcheck disable=SC2086
      measure "$tool" "$c" "$scen" "$run" "${efs[@]}" -r "$W/repo-local-$c-r$run" backup "$SRC" ${EFS2S3_BACKUP_ARGS:-} ;;
    efs2s3-sync)
      measure "$tool" "$c" "$scen" "$run" "${efs[@]}" sync "$SRC" "s3://$b/" ;;
    restic)
      local r=(restic -r "s3:$EP/$b" --cache-dir "$W/cache/$tool-$c-r$run" -o s3.connections=32 -o s3.bucket-lookup=path)
      [[ $scen == first ]] && "${r[@]}" init >/dev/null
      measure "$tool" "$c" "$scen" "$run" "${r[@]}" backup --host bench "$SRC" ;;
    restic-local)
      local r=(restic -r "$W/restic-local-$c-r$run" --cache-dir "$W/cache/$tool-$c-r$run")
      [[ $scen == first ]] && "${r[@]}" init >/dev/null
      measure "$tool" "$c" "$scen" "$run" "${r[@]}" backup --host bench "$SRC" ;;
    rclone)
      measure "$tool" "$c" "$scen" "$run" "${rclone[@]}" sync "$SRC" "bench:$b" --transfers 32 --checkers 64 --fast-list ;;
    aws)
      [[ $scen == first ]] && aws --endpoint-url "$EP" s3 mb "s3://$b" >/dev/null
      measure "$tool" "$c" "$scen" "$run" aws --endpoint-url "$EP" s3 sync "$SRC" "s3://$b" --only-show-errors --no-progress ;;
  esac
  unmount_src
}

restore() {
  local tool=$1 c=$2 run=$3 b t="${BENCH_RESTORE:-$W/restore}"
  b=$(bucket_of "$tool" "$c" "$run")
  rm -rf "$t"
  mkdir -p "$t"
  local efs=("$EFS2S3" --cache-dir "$W/cache/$tool-$c-r$run" --s3-endpoint "$EP" --s3-path-style)
  case $tool in
    efs2s3) measure "$tool" "$c" restore "$run" "${efs[@]}" -r "s3://$b/repo" restore latest --target "$t" ;;
    efs2s3-local) measure "$tool" "$c" restore "$run" "${efs[@]}" -r "$W/repo-local-$c-r$run" restore latest --target "$t" ;;
    efs2s3-sync) measure "$tool" "$c" restore "$run" "${efs[@]}" sync "s3://$b/" "$t" ;;
    restic) measure "$tool" "$c" restore "$run" restic -r "s3:$EP/$b" --cache-dir "$W/cache/$tool-$c-r$run" \
              -o s3.connections=32 -o s3.bucket-lookup=path restore latest --target "$t" ;;
    restic-local) measure "$tool" "$c" restore "$run" restic -r "$W/restic-local-$c-r$run" \
              --cache-dir "$W/cache/$tool-$c-r$run" restore latest --target "$t" ;;
    rclone) measure "$tool" "$c" restore "$run" "${rclone[@]}" copy "bench:$b" "$t" --transfers 32 --checkers 64 --fast-list ;;
    aws) measure "$tool" "$c" restore "$run" aws --endpoint-url "$EP" s3 sync "s3://$b" "$t" --only-show-errors --no-progress ;;
  esac
  local n
  n=$(find "$t" -type f | wc -l)
  log "  restored $n files"
  rm -rf "$t"
}

# ---- the machine's limits ----
limit() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$limits"; log "limit $1: $2 $3"; }

measure_cpu_limits() {
  local n
  n=$(nproc)
  local sha aes
  sha=$(openssl speed -multi "$n" -seconds 2 -bytes 16384 -evp sha256 2>/dev/null | awk '/^sha256/ {print $NF}')
  aes=$(openssl speed -multi "$n" -seconds 2 -bytes 16384 -evp aes-256-gcm 2>/dev/null | awk '/^(aes-256-gcm|AES-256-GCM)/ {print $NF}')
  limit "sha256, $n threads" "$(awk -v k="${sha%k}" 'BEGIN {printf "%.0f", k * 1000 / 1e6}')" "MB/s"
  limit "aes-256-gcm, $n threads" "$(awk -v k="${aes%k}" 'BEGIN {printf "%.0f", k * 1000 / 1e6}')" "MB/s"
  # zstd level 3 (efs2s3's default) on half text, half random data, all cores.
  local sample="$W/zstd-sample" t0 t1
  python3 "$here/gencorpus.py" large "$W/zstd-tmp" --mib 64 --seed 7 >/dev/null
  cat "$W/zstd-tmp/compressible.bin" "$W/zstd-tmp/random.bin" >"$sample"
  rm -rf "$W/zstd-tmp"
  t0=$(date +%s.%N)
  zstd -q -3 -T"$n" -c "$sample" >/dev/null
  t1=$(date +%s.%N)
  limit "zstd -3, $n threads" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", 128 * 1.048576 / (b - a)}')" "MB/s"
  rm -f "$sample"
}

measure_put_limits() {
  local r
  r=$(python3 "$here/s3put.py" "$EP" bench-put 4096 2000 32)
  limit "S3 PUT 4 KiB, 32 threads" "${r%% *}" "objects/s"
  r=$(python3 "$here/s3put.py" "$EP" bench-put $((16 << 20)) 24 8)
  limit "S3 PUT 16 MiB, 8 threads" "${r##* }" "MB/s"
}

# efs2s3's own chunk + hash + dedup + compress + encrypt on all cores over the
# corpus in the page cache (bench/cpulimit): the CPU limit of a backup of it.
measure_corpus_cpu_limit() {
  local c=$1 r
  find "$SRCROOT/corpora/$c" -type f -print0 | xargs -0 cat >/dev/null  # cache it
  r=$(find "$SRCROOT/corpora/$c" -type f | sort | "$CPULIMIT" -)
  limit "efs2s3 chunk+hash+compress+encrypt, corpus $c, $(nproc) threads" "${r%% *}" "MB/s"
}

measure_read_limit() {
  local c=$1 t0 t1 files bytes
  mount_src "$c"
  files=$(find "$SRCROOT/corpora/$c" -type f | wc -l)
  bytes=$(du -sb "$SRCROOT/corpora/$c" | cut -f1)
  local per=$((files / 128 + 1))
  ((per > 64)) && per=64
  t0=$(date +%s.%N)
  find "$SRC" -type f -print0 | xargs -0 -r -n "$per" -P 32 cat >/dev/null ||
    log "reading corpus $c failed"
  t1=$(date +%s.%N)
  unmount_src
  limit "read corpus $c, 32 readers$([[ $LATENCY == 1 ]] && echo ", latencyfs ${BENCH_DELAY_US} us")" \
    "$(awk -v a="$t0" -v b="$t1" -v f="$files" -v s="$bytes" 'BEGIN {printf "%.0f files/s, %.1f", f / (b - a), s / (b - a) / 1e6}')" "MB/s"
}

# ---- the run ----
started=$(date -u +%Y-%m-%dT%H:%MZ)
built_from="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src CMakeLists.txt || echo " with uncommitted changes in src/")"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
measure_cpu_limits
measure_put_limits
for c in $CORPORA; do
  for run in $(seq 1 "$RUNS"); do
    "$here/corpus.sh" "$SRCROOT/corpora" "$c" >&2
    if [[ $run == 1 ]]; then
      measure_read_limit "$c"
      measure_corpus_cpu_limit "$c"
    fi
    for t in "${tools[@]}"; do backup "$t" "$c" first "$run"; done
    for t in "${tools[@]}"; do backup "$t" "$c" nochange "$run"; done
    "$here/corpus.sh" change "$SRCROOT/corpora/$c" 1 >&2
    for t in "${tools[@]}"; do backup "$t" "$c" changed "$run"; done
    for t in "${tools[@]}"; do restore "$t" "$c" "$run"; done
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report ----
{
  echo "Run of $started, $(nproc) cores: $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, Linux $(uname -r)."
  echo "Load average at start $load_start, at end $load_end."
  echo "efs2s3 built from commit $built_from (the tree when the run started)."
  echo "Versions: efs2s3 $("$EFS2S3" version 2>/dev/null | head -n1 | tr -d '\n'); $(restic version | cut -d' ' -f1-2); $(rclone version | head -n1); $(aws --version 2>&1 | cut -d' ' -f1); radosgw $(radosgw --version | awk '{print $3}')."
  echo
  echo "Command: \`CORPORA=\"$CORPORA\" RUNS=$RUNS LATENCY=$LATENCY$([[ $LATENCY == 1 ]] && echo " BENCH_DELAY_US=$BENCH_DELAY_US") CORPUS_B_FILES=${CORPUS_B_FILES:-100000} CORPUS_C_MIB=${CORPUS_C_MIB:-1024}$([[ -n ${CORPUS_A_MAX_FILES:-} ]] && echo " CORPUS_A_MAX_FILES=$CORPUS_A_MAX_FILES")$([[ " $CORPORA " == *" D "* ]] && echo " CORPUS_D_FILES=${CORPUS_D_FILES:-30000}") TOOLS=\"$TOOLS\" bench/run.sh\`"
  echo
  python3 "$here/report.py" "$results" "$limits"
} >"$W/results.md"
log "results in $W/results.md"
if [[ -n "$BENCH_DOC" ]]; then
  python3 - "$BENCH_DOC" "$W/results.md" "$LATENCY" <<'EOF'
import sys
doc, res, lat = sys.argv[1], sys.argv[2], sys.argv[3]
begin, end = f"<!-- bench:results latency={lat} begin -->", f"<!-- bench:results latency={lat} end -->"
text = open(doc).read()
body = open(res).read()
if begin in text and end in text:
    text = text[:text.index(begin) + len(begin)] + "\n" + body + text[text.index(end):]
else:
    text += f"\n{begin}\n{body}{end}\n"
open(doc, "w").write(text)
EOF
  log "results written into $BENCH_DOC"
fi
