#!/usr/bin/env bats
# Faults between client and S3: every command of a repository's life (init, backup,
# incremental backup, restore, check --read-data, forget + prune) runs through
# tests/tools/s3_fault_proxy.py, which sits between efs2s3 and radosgw and injects,
# at a set rate, 500 and 503 SlowDown answers, resets before and after the request
# reached the server, truncated answers, stalls past the client's stall timeout and
# flipped bytes in GET bodies.
#
# Every run either succeeds (a restore then gives identical files: a flipped byte never
# reaches a restored file) or fails with a clear one-line message, and then the
# repository, read without the proxy, passes `check --read-data` and restores every
# snapshot that was reported saved. Backups killed with SIGKILL at a moment drawn
# from the seed, under faults, leave a repository that passes `check --read-data`
# without the proxy and takes the next backup.
#
# Small by default (a few hundred requests per test, one killed backup, a few
# minutes in all). The full run, thousands of requests and four killed backups:
#   EFS2S3_FAULTS_FULL=1 bats tests/e2e/faults.bats
# EFS2S3_FAULTS_SEED chooses the proxy's seed (default: a fixed one per test); the
# proxy's figures (requests, faults per kind) and each run's outcome are printed, and
# appended to $EFS2S3_FAULTS_REPORT when set.
#
# Needs EFS2S3_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; skips
# without them unless EFS2S3_TEST_DISALLOW_SKIP contains S3.

load common

setup() {
  common_setup
  require_s3_server || return 1
  BUCKET="efs2s3-faults-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  URL="s3://$BUCKET/repo"
  PROXY_PID=""
  if [[ -n "${EFS2S3_FAULTS_FULL:-}" && "${EFS2S3_FAULTS_FULL}" != 0 ]]; then
    ROUNDS=12 FILES=60
  else
    ROUNDS=3 FILES=24
  fi
}

teardown() {
  stop_proxy
  if [[ -n "${BUCKET:-}" ]] && command -v aws >/dev/null; then
    aws --endpoint-url "$EP" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true
  fi
  common_teardown
}

# Short timeouts, so that a stall costs seconds: the proxy stalls for 4 s.
S3_TIMEOUTS=(--s3-connect-timeout 2 --s3-stall-timeout 2)

# faulty ARGS...: the binary through the proxy. direct ARGS...: without it.
faulty() {
  "$EFS2S3" -r "$URL" --s3-endpoint "$PROXY" --s3-path-style "${S3_TIMEOUTS[@]}" "$@"
}
direct() { "$EFS2S3" -r "$URL" --s3-endpoint "$EP" --s3-path-style "$@"; }

# report LINE: shown by bats (fd 3) and appended to $EFS2S3_FAULTS_REPORT.
report() {
  echo "# $1" >&3
  [[ -z "${EFS2S3_FAULTS_REPORT:-}" ]] || echo "$1" >>"$EFS2S3_FAULTS_REPORT"
}

# outcome NAME: after `run --separate-stderr faulty ...`: 0 when the command
# succeeded; 1 when it failed cleanly: an exit status of the CLI's (not a signal or
# an abort) and a last line of stderr that is one message naming what failed, without
# XML. Anything else fails the test.
outcome() {
  local name="$1" last
  if (( status == 0 )); then
    report "$RATE $name: ok"
    return 0
  fi
  last="$(tail -n1 <<<"$stderr")"
  if [[ -z "$stderr" && "$output" == *"errors found"* ]]; then
    # check reports the problems it found on stdout, one "error: ..." line each.
    last="$(grep -m1 '^error: ' <<<"$output" || true)"
    stderr="$output"
  fi
  report "$RATE $name: exit $status: $last"
  # A create-only write that met its own earlier attempt is not "already exists".
  if [[ "$last" == *"already exists"* ]]; then
    echo "$name: a create-only write failed on its own earlier attempt:" >&2
    printf '%s\n' "$stderr" >&2
    return 2
  fi
  if [[ "$last" =~ ^[0-9]+\ error\(s\)\ during\ restore$ ]]; then
    # restore lists the files it could not restore, one "error: ..." line each.
    last="$(grep -m1 '^error: ' <<<"$stderr$output" || true)"
  fi
  if (( status >= 126 )) || [[ "$last" != "efs2s3: "* && "$last" != "error: "* ]] ||
    [[ "$last" == *"<"* ]] ||
    [[ "$stderr" == *"terminate called"* || "$stderr" == *"Assertion"* ]]; then
    echo "$name: not a clean failure (exit $status):" >&2
    printf '%s\n' "$stderr" >&2
    return 2
  fi
  # A flipped byte in transit must not be called damage of the repository.
  if [[ "$stderr" == *"authentication failed"* || "$stderr" == *"damaged"* ]]; then
    report "$RATE $name: transient corruption reported as damage"
  fi
  return 1
}

# check_direct: the repository, read without the proxy, is intact.
check_direct() {
  run direct check --read-data
  assert_status 0
  assert_output_has "no errors found"
}

# make_files DIR N SEED: N files of 8-200 KiB of random data, some in subdirectories.
make_files() {
  local dir="$1" n="$2" i
  mkdir -p "$dir/d$3"
  for i in $(seq 1 "$n"); do
    random_file "$dir/d$3/f$i" $(( (8 + (i * 37) % 192) * 1024 ))
  done
}

# restore_and_compare HOW SNAPSHOT EXPECTED: restores SNAPSHOT's copy of $T/src with
# HOW (faulty or direct); a restore that succeeds must equal EXPECTED exactly.
restore_and_compare() {
  local how="$1" snap="$2" expected="$3"
  rm -rf "$T/restore"
  run --separate-stderr "$how" restore "$snap:$T/src" --target "$T/restore"
  if [[ "$how" == direct ]]; then
    assert_status 0
  else
    local rc=0
    outcome "restore ${snap:0:8}" || rc=$?
    (( rc < 2 )) || return 1
    if (( rc == 1 )); then
      # Failed cleanly: the snapshot must still restore without the proxy.
      restore_and_compare direct "$snap" "$expected"
      return
    fi
  fi
  comparetree "$expected" "$T/restore" --no-atime
}

# The life of one repository under faults at RATE (fraction of requests).
life_under_faults() {
  RATE="$1"
  start_proxy "$RATE" "${EFS2S3_FAULTS_SEED:-$2}"
  mkdir -p "$T/src" "$T/expected"
  local rc=0
  run --separate-stderr faulty init --pack-size 1
  outcome init || rc=$?
  (( rc < 2 )) || return 1
  if (( rc == 1 )); then
    # A failed init leaves no repository or one that opens; make sure there is one.
    run direct snapshots
    if (( status != 0 )); then
      run direct init --pack-size 1
      assert_status 0
    fi
  fi
  local round snaps=() n=0
  for round in $(seq 1 "$ROUNDS"); do
    # New files, changed files and a removed file: backups after the first are
    # incremental.
    make_files "$T/src" "$FILES" "$round"
    (( round == 1 )) || random_file "$T/src/d1/f1" 70000
    (( round < 3 )) || rm -f "$T/src/d2/f2"
    run --separate-stderr faulty --json backup "$T/src"
    rc=0
    outcome "backup $round" || rc=$?
    (( rc < 2 )) || return 1
    if (( rc == 0 )); then
      local id
      id=$(jq -r 'select(.message_type == "summary") | .snapshot_id' <<<"$output")
      rm -rf "$T/expected/$round"
      cp -a "$T/src" "$T/expected/$round"
      snaps+=("$id:$round")
      n=$((n + 1))
    else
      check_direct
    fi
  done
  # Every snapshot reported saved restores through the proxy to exactly its files.
  local s
  for s in "${snaps[@]}"; do
    restore_and_compare faulty "${s%%:*}" "$T/expected/${s##*:}"
  done
  run --separate-stderr faulty check --read-data
  rc=0
  outcome "check --read-data" || rc=$?
  (( rc < 2 )) || return 1
  (( rc == 1 )) || assert_output_has "no errors found"
  check_direct
  run --separate-stderr faulty forget --keep-last 1 --prune
  rc=0
  outcome "forget --keep-last 1 --prune" || rc=$?
  (( rc < 2 )) || return 1
  check_direct
  # Whatever prune did or did not finish, the latest snapshot restores.
  if (( n > 0 )); then
    s="${snaps[-1]}"
    restore_and_compare direct "${s%%:*}" "$T/expected/${s##*:}"
  fi
  report "$RATE proxy: $(cat "$T/proxy-stats.json")"
}

@test "faults: a repository's life with 5% of requests failing" {
  life_under_faults 0.05 5
}

@test "faults: a repository's life with 20% of requests failing" {
  life_under_faults 0.20 20
}

@test "faults: backups SIGKILLed at random moments leave a repository that checks and backs up" {
  # Given backups through the proxy (5%) killed with SIGKILL at a moment drawn
  # from the seed, then the repository, read without the proxy, passes
  # `check --read-data`, and a backup afterwards succeeds and restores exactly.
  RATE=0.05
  local seed="${EFS2S3_FAULTS_SEED:-9}" kills=1 k pid ms
  [[ "$ROUNDS" -le 3 ]] || kills=4
  RANDOM="$seed"
  start_proxy "$RATE" "$seed"
  run direct init --pack-size 1
  assert_status 0
  for k in $(seq 1 "$kills"); do
    # Three rounds' worth of files: the backup takes a few seconds.
    make_files "$T/src" "$((3 * FILES))" "$k"
    ms=$((100 + RANDOM % 1000))
    faulty backup "$T/src" >"$T/killed.out" 2>&1 &
    pid=$!
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    if kill -KILL "$pid" 2>/dev/null; then
      report "$RATE kill $k: backup killed after ${ms} ms"
    else
      report "$RATE kill $k: backup ended before ${ms} ms: $(tail -n1 "$T/killed.out")"
    fi
    wait "$pid" || true
  done
  stop_proxy
  check_direct
  run --separate-stderr direct --json backup "$T/src"
  assert_status 0
  local id
  id=$(jq -r 'select(.message_type == "summary") | .snapshot_id' <<<"$output")
  cp -a "$T/src" "$T/expected"
  restore_and_compare direct "$id" "$T/expected"
  check_direct
}
