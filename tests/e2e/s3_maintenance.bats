#!/usr/bin/env bats
# Retention and maintenance on a real S3 server (radosgw from scripts/test.sh or
# scripts/radosgw.sh): backup / restore / forget / prune / check on S3; two backups from
# two hosts racing a prune; a backup killed with SIGKILL at random moments.
#
# Needs EFS2S3_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; skips
# without them unless EFS2S3_TEST_DISALLOW_SKIP contains S3. Each test uses a bucket
# of its own (init creates it; teardown removes it when the aws CLI is installed).

load common

setup() {
  common_setup
  require_s3_server || return 1
  BUCKET="efs2s3-maint-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  URL="s3://$BUCKET/repo"
  mkdir "$T/src"
  run s3e init
  assert_status 0
}

teardown() {
  local p
  for p in ${BG_PIDS:-}; do kill -9 "$p" 2>/dev/null || true; done
  if [[ -n "${BUCKET:-}" ]] && command -v aws >/dev/null; then
    aws --endpoint-url "$EP" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true
  fi
  common_teardown
}

# s3e ARGS...: the binary on the test repository.
s3e() { "$EFS2S3" -r "$URL" --s3-endpoint "$EP" --s3-path-style "$@"; }

# make_files DIR N SEED: N files of 8-40 KiB of random data.
make_files() {
  local dir="$1" n="$2" i
  mkdir -p "$dir/sub"
  for i in $(seq 1 "$n"); do
    random_file "$dir/sub/file-$3-$i" $(( (8 + (i * 7) % 32) * 1024 ))
  done
}

# random_delay MAX_MS: sleeps a random time below MAX_MS milliseconds.
random_delay() { sleep "$(awk -v ms=$((RANDOM % $1)) 'BEGIN { print ms / 1000 }')"; }

check_clean() {
  run s3e check "$@"
  assert_status 0
  assert_output_has "no errors found"
}

# snapshot_of HOST: the ID of HOST's latest snapshot, or "" when it has none.
snapshot_of() {
  s3e --json snapshots --host "$1" | jq -r 'if length > 0 then .[-1].id else "" end'
}

snapshot_count() { s3e --json snapshots --host "$1" | jq length; }

# restores_to SNAPSHOT SOURCE [EXPECTED]: the snapshot of SOURCE restores and equals
# EXPECTED (default: SOURCE as it is now).
restores_to() {
  rm -rf "$T/restore"
  run s3e restore "$1" --target "$T/restore"
  assert_status 0
  comparetree "${3:-$2}" "$T/restore$2" --no-atime
}

@test "S3: backup, restore, forget, prune, check" {
  make_files "$T/src" 6 0
  for k in 1 2 3; do
    make_files "$T/src" 3 "$k"
    run s3e backup "$T/src"
    assert_status 0
  done
  run s3e forget --keep-last 1
  assert_status 0
  assert_output_has "remove"
  run --separate-stderr s3e --json prune --dry-run
  assert_status 0
  before=$(jq -r .plan.total.packs <<<"$output")
  (( $(jq -r .plan.delete.packs <<<"$output") + $(jq -r .plan.repack.packs <<<"$output") > 0 ))
  # --dry-run changed nothing.
  run --separate-stderr s3e --json prune --dry-run
  [[ $(jq -r .plan.total.packs <<<"$output") == "$before" ]]
  run s3e prune
  assert_status 0
  run --separate-stderr s3e --json prune --dry-run
  assert_status 0
  (( $(jq -r .plan.total.packs <<<"$output") < before ))
  run s3e prune
  assert_status 0
  assert_output_has "nothing to prune"
  check_clean --read-data
  [[ "$output" != *"hint:"* ]] || { printf '%s\n' "$output" >&2; false; }
  restores_to latest "$T/src"
  # The forgotten files are gone from the repository, the kept ones restore.
  run s3e --json snapshots
  (( $(jq length <<<"$output") == 1 ))
}

# The race. Per docs/FORMAT.md "Concurrency", backups take shared locks and prune the
# exclusive one; acquiring never waits: a conflicting lock means exit 11. So each of
# the three exits 0 or 11: prune fails while a backup holds its lock, a backup fails
# while prune holds its lock, and when they start at the same instant both may see
# each other's lock and back off. Never allowed: any other exit status, a check error,
# a snapshot that does not restore, or data a successful backup relies on deleted by
# a successful prune. To make that last danger real, the data the backups store was
# stored before by a snapshot that is then forgotten: it is unused, prune would
# delete it, and the backups deduplicate against it.
@test "S3: two backups from two hosts and a prune racing: check clean, every snapshot restores" {
  make_files "$T/a" 12 a
  make_files "$T/b" 12 b
  cp "$T/a/sub/file-a-1" "$T/b/copy-of-a-1"
  outcomes=()
  # Round 1 starts all three at once, round 2 starts prune up to 0.3 s before the
  # backups, round 3 up to 3 s after them (a backup here takes 1-5 s).
  for round in 1 2 3; do
    # New files, stored by a snapshot that is then forgotten: unused but indexed when
    # the race starts, and deduplicated against by the racing backups.
    make_files "$T/a" 2 "a$round"
    make_files "$T/b" 2 "b$round"
    run s3e backup "$T/a" "$T/b" --host old
    assert_status 0
    run s3e forget "$(snapshot_of old)"
    assert_status 0
    na=$(snapshot_count alpha) nb=$(snapshot_count beta)
    start_prune() {
      # Each "host" has a cache of its own, as two machines would.
      "$EFS2S3" -r "$URL" --s3-endpoint "$EP" --s3-path-style --cache-dir "$T/cache-prune" \
        prune --max-unused 0 >"$T/prune.out" 2>&1 &
      pp=$!
    }
    (( round != 2 )) || { start_prune; random_delay 300; }
    "$EFS2S3" -r "$URL" --s3-endpoint "$EP" --s3-path-style --cache-dir "$T/cache-alpha" \
      backup "$T/a" --host alpha >"$T/alpha.out" 2>&1 &
    pa=$!
    "$EFS2S3" -r "$URL" --s3-endpoint "$EP" --s3-path-style --cache-dir "$T/cache-beta" \
      backup "$T/b" --host beta >"$T/beta.out" 2>&1 &
    pb=$!
    (( round != 3 )) || random_delay 3000
    (( round == 2 )) || start_prune
    BG_PIDS="$pa $pb $pp"
    sa=0 sb=0 sp=0
    wait "$pa" || sa=$?
    wait "$pb" || sb=$?
    wait "$pp" || sp=$?
    BG_PIDS=
    outcomes+=("round $round: backup alpha $sa, backup beta $sb, prune $sp")
    for s in "$sa" "$sb" "$sp"; do
      if [[ "$s" != 0 && "$s" != "$EXIT_LOCKED" ]]; then
        for f in alpha beta prune; do echo "--- $f:" >&2; cat "$T/$f.out" >&2; done
        echo "unexpected exit status $s (${outcomes[-1]})" >&2
        false
      fi
    done
    # A backup that succeeded added a snapshot of its host; one that failed on the
    # lock added none.
    (( $(snapshot_count alpha) == na + (sa == 0) ))
    (( $(snapshot_count beta) == nb + (sb == 0) ))
    # What each host's latest snapshot must restore to.
    (( sa != 0 )) || { rm -rf "$T/expect-a"; cp -a "$T/a" "$T/expect-a"; }
    (( sb != 0 )) || { rm -rf "$T/expect-b"; cp -a "$T/b" "$T/expect-b"; }
    check_clean
    # Whatever happened, prune now finishes the job, and then every host's latest
    # snapshot still restores exactly (its data survived every prune).
    run s3e prune --max-unused 0
    assert_status 0
    check_clean --read-data
    for h in a b; do
      snap=$(snapshot_of "$( [[ $h == a ]] && echo alpha || echo beta)")
      [[ -z "$snap" ]] || restores_to "$snap" "$T/$h" "$T/expect-$h"
    done
  done
  printf '# %s\n' "${outcomes[@]}" >&3
}

@test "S3: backup killed with SIGKILL at random moments 10 times: check clean, then backup succeeds" {
  make_files "$T/src" 20 0
  killed=0
  for i in $(seq 1 10); do
    # New data for every attempt, so that each one has packs to upload: a backup of
    # it takes 1-3 s here; kill anywhere in that span.
    make_files "$T/src" 4 "k$i"
    random_file "$T/src/big-$i" $((2 * 1024 * 1024))
    "$EFS2S3" -r "$URL" --s3-endpoint "$EP" --s3-path-style backup "$T/src" >/dev/null 2>&1 &
    pid=$!
    BG_PIDS=$pid
    random_delay 2500
    kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
    wait "$pid" || true
    BG_PIDS=
  done
  echo "# $killed of 10 backups were killed before they finished" >&3
  check_clean --read-data
  run s3e backup "$T/src"
  (( status == 0 || status == EXIT_INCOMPLETE ))
  check_clean
  restores_to latest "$T/src"
  run s3e prune
  assert_status 0
  check_clean --read-data
  [[ "$output" != *"hint:"* ]] || { printf '%s\n' "$output" >&2; false; }
}

@test "S3: backups started while prune deletes index files exit 0 or 11, never fail" {
  # 16 snapshots, each with an index file of its own; forget all but one, so that prune
  # writes one new index file and then deletes the 16 old ones, one request each.
  for i in $(seq 1 16); do
    random_file "$T/src/f$i" 2000
    run s3e backup "$T/src"
    assert_status 0
  done
  run s3e forget --keep-last 1
  assert_status 0
  s3e prune >"$T/prune.out" 2>&1 &
  pp=$!
  BG_PIDS=$pp
  # Back-to-back backups for as long as prune runs: some open the repository while the
  # index files they listed are being deleted; they must list again, then either take
  # their lock after prune (0) or find prune's lock (11).
  n=0
  while kill -0 "$pp" 2>/dev/null && (( n < 40 )); do
    n=$((n + 1))
    run s3e --cache-dir "$T/cache-$n" backup "$T/src"
    if [[ "$status" != 0 && "$status" != "$EXIT_LOCKED" ]]; then
      printf 'backup %d exited %d:\n%s\n' "$n" "$status" "$output" >&2
      false
    fi
  done
  # Prune itself may have found a backup's lock (11): then it changed nothing, and
  # runs again to its end.
  ps=0
  wait "$pp" || ps=$?
  BG_PIDS=
  cat "$T/prune.out"
  (( ps == 0 || ps == EXIT_LOCKED ))
  if (( ps == EXIT_LOCKED )); then
    run s3e prune
    assert_status 0
  fi
  echo "# $n backups ran while prune did (prune exited $ps)" >&3
  check_clean --read-data
  restores_to latest "$T/src"
}
