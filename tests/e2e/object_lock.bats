#!/usr/bin/env bats
# S3 Object Lock on a real server (radosgw enforces it): a repository whose objects
# cannot be deleted by anyone until their retention ends, `lock extend` that keeps
# live data locked and lets unused data expire, prune that waits for retention, check
# that reports what is not locked long enough, and backups run with credentials that
# may not delete (a bucket policy denying s3:DeleteObject).
#
# Retention is in days; a test build shortens it to seconds with
# EFS2S3_TEST_LOCK_SECONDS so that expiry can be seen within a test. Needs
# EFS2S3_TEST_S3_ENDPOINT and the aws CLI (to look at objects as S3 stores them);
# skips without them unless EFS2S3_TEST_DISALLOW_SKIP contains S3.

load common

setup() {
  common_setup
  require_s3_server || return 1
  command -v aws >/dev/null || skip "no aws CLI"
  "$EFS2S3" version | grep -q "test hooks" || skip "needs a test build"
  BUCKET="efs2s3-lock-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  URL="s3://$BUCKET/repo"
  mkdir -p "$T/src/sub"
  local i
  for i in $(seq 1 40); do random_file "$T/src/sub/f$i" $((20000 + i * 997)); done
  random_file "$T/src/big" 3000000
}

teardown() {
  # Locked objects stay until their retention ends; the test server's buckets are
  # left behind (GOVERNANCE, seconds long).
  common_teardown
}

s3e() { "$EFS2S3" -r "$URL" --s3-endpoint "$EP" --s3-path-style "$@"; }
s3api() { aws --endpoint-url "$EP" s3api "$@"; }

# first_key PREFIX: the first object key under repo/PREFIX.
first_key() {
  s3api list-objects-v2 --bucket "$BUCKET" --prefix "repo/$1" \
    --query 'Contents[0].Key' --output text
}
# retain_until KEY: the retain-until date of KEY's current version, in epoch seconds.
retain_until() {
  date -d "$(s3api get-object-retention --bucket "$BUCKET" --key "$1" \
    --query 'Retention.RetainUntilDate' --output text)" +%s
}

@test "init --object-lock creates a locked bucket; every object but locks carries the retention; a locked version cannot be deleted" {
  run s3e --json init --object-lock compliance --lock-days 3
  assert_status 0
  [[ "$(jq -r .object_lock.mode <<<"$output")" == COMPLIANCE ]]
  [[ "$(s3api get-object-lock-configuration --bucket "$BUCKET" \
    --query ObjectLockConfiguration.ObjectLockEnabled --output text)" == Enabled ]]
  run s3e backup "$T/src"
  assert_status 0
  local now key until n=0
  now=$(date +%s)
  for key in $(s3api list-objects-v2 --bucket "$BUCKET" --prefix repo/ \
    --query 'Contents[].Key' --output text); do
    [[ "$key" == repo/locks/* ]] && continue
    run s3api get-object-retention --bucket "$BUCKET" --key "$key" --output json
    assert_status 0
    [[ "$(jq -r .Retention.Mode <<<"$output")" == COMPLIANCE ]]
    until=$(date -d "$(jq -r .Retention.RetainUntilDate <<<"$output")" +%s)
    # three days from the write, give or take the test's own duration
    ((until > now + 3 * 86400 - 600 && until <= now + 3 * 86400 + 60))
    n=$((n + 1))
  done
  ((n >= 5)) # config, key, snapshot, index, packs
  # A delete of a locked version is refused by the server, whoever asks.
  key=$(first_key data/)
  local version
  version=$(s3api head-object --bucket "$BUCKET" --key "$key" --query VersionId --output text)
  run s3api delete-object --bucket "$BUCKET" --key "$key" --version-id "$version"
  [[ "$status" -ne 0 ]]
  run s3api head-object --bucket "$BUCKET" --key "$key" --version-id "$version"
  assert_status 0
  # No lock object is left behind by the backup (locks carry no retention).
  [[ "$(s3api list-objects-v2 --bucket "$BUCKET" --prefix repo/locks/ --query 'length(Contents || `[]`)')" == 0 ]]
  run s3e check
  assert_status 0
  assert_output_has "Object Lock: retention of"
}

@test "init --object-lock refuses a bucket without Object Lock, and a local repository" {
  s3api create-bucket --bucket "$BUCKET" >/dev/null
  run s3e init --object-lock governance --lock-days 1
  assert_status "$EXIT_USAGE"
  assert_output_has "s3:$BUCKET: the bucket has no Object Lock"
  [[ "${#lines[@]}" -eq 1 ]]
  run "$EFS2S3" -r "$T/local" init --object-lock governance --lock-days 1
  [[ "$status" -ne 0 ]]
  assert_output_has "cannot hold locked objects"
  run s3e init --object-lock governance
  assert_status "$EXIT_USAGE"
  assert_output_has "--object-lock needs --lock-days N"
}

# sleep_until EPOCH: sleeps until the clock reaches EPOCH (seconds).
sleep_until() {
  local now
  now=$(date +%s)
  if (($1 > now)); then sleep $(($1 - now)); fi
}

@test "lock extend renews only live objects, only when due; prune keeps what is retained and deletes it once retention ended" {
  # A 40 s "period": lock extend renews what has less than 20 s left.
  export EFS2S3_TEST_LOCK_SECONDS=40
  local t_init
  t_init=$(date +%s)
  run s3e init --object-lock governance --lock-days 1
  assert_status 0
  # What only the first snapshot holds (packs of its own) becomes unused once it
  # is forgotten.
  mkdir "$T/old"
  random_file "$T/old/only-here" 2000000
  run s3e --json backup "$T/old"
  assert_status 0
  local old_id
  old_id=$(jq -r .snapshot_id <<<"$output")
  run s3e backup "$T/src"
  assert_status 0
  run s3e forget "$old_id"
  assert_status 0
  run s3e --json lock extend
  assert_status 0
  [[ "$(jq -r .unused_packs <<<"$output")" -ge 1 ]]
  local live
  live=$(jq -r .live_objects <<<"$output")
  # Everything was written less than 20 s ago: nothing is due (on a machine slow
  # enough to take longer, the config would be due, so only then is this skipped).
  if (($(date +%s) < t_init + 18)); then
    [[ "$(jq -r .extended <<<"$output")" == 0 ]]
  fi
  # Prune now: the unused packs' retention lasts, so they are kept for later.
  run s3e --json prune
  assert_status 0
  [[ "$(jq -r .plan.retained.packs <<<"$output")" -ge 1 ]]
  [[ "$(jq -r .result.packs_deleted <<<"$output")" == 0 ]]
  local packs_before t_written
  t_written=$(date +%s)
  packs_before=$(s3api list-objects-v2 --bucket "$BUCKET" --prefix repo/data/ --query 'length(Contents || `[]`)')
  # Past half the period of the last write: every live object is due, and only
  # the live ones are extended, one request each.
  sleep_until $((t_written + 21))
  run s3e --json lock extend
  assert_status 0
  [[ "$(jq -r .live_objects <<<"$output")" == "$live" ]]
  [[ "$(jq -r .extended <<<"$output")" == "$live" ]]
  [[ "$(jq -r '.failed | length' <<<"$output")" == 0 ]]
  # Run again at once: the ledger knows, nothing is sent.
  run s3e --json lock extend
  assert_status 0
  [[ "$(jq -r .extended <<<"$output")" == 0 ]]
  # Past the unused packs' retention (never extended), within the live ones'.
  sleep_until $((t_written + 41))
  run s3e --json prune
  assert_status 0
  [[ "$(jq -r .plan.retained.packs <<<"$output")" == 0 ]]
  [[ "$(jq -r .result.packs_deleted <<<"$output")" -ge 1 ]]
  local packs_after
  packs_after=$(s3api list-objects-v2 --bucket "$BUCKET" --prefix repo/data/ --query 'length(Contents || `[]`)')
  ((packs_after < packs_before))
  # Deleted for good: no version and no delete marker of the pruned packs is left.
  [[ "$(s3api list-object-versions --bucket "$BUCKET" --prefix repo/data/ \
    --query 'length(DeleteMarkers || `[]`)')" == 0 ]]
  [[ "$(s3api list-object-versions --bucket "$BUCKET" --prefix repo/data/ \
    --query 'length(Versions || `[]`)')" == "$packs_after" ]]
  run s3e check --read-data
  assert_status 0
  restore_check
}

restore_check() {
  run s3e restore latest --target "$T/out"
  assert_status 0
  diff -r "$T/src" "$T/out$T/src"
}

@test "check reports live objects whose retention ends too soon; lock extend mends it" {
  # A 40 s "period": check wants at least 10 s left on every live object.
  export EFS2S3_TEST_LOCK_SECONDS=40
  run s3e init --object-lock governance --lock-days 1
  assert_status 0
  run s3e backup "$T/src"
  assert_status 0
  local t_written
  t_written=$(date +%s)
  run s3e check
  assert_status 0
  # Less than a quarter of the period left everywhere, and no lock extend ran.
  sleep_until $((t_written + 31))
  run s3e --json check
  assert_status 1
  local n
  n=$(jq '[.errors[] | select(.kind == "short_retention")] | length' <<<"$output")
  ((n >= 5))
  jq -r '.errors[].message' <<<"$output" | grep -q "before it should (run \`efs2s3 lock extend\`)"
  run s3e lock extend
  assert_status 0
  run s3e check
  assert_status 0
}

@test "backups with credentials that may not delete: full, incremental, interrupted and resumed succeed; forget and prune clean up after" {
  run s3e init --object-lock governance --lock-days 1
  assert_status 0
  cat >"$T/deny.json" <<EOF
{"Version":"2012-10-17","Statement":[{"Sid":"BackupCannotDelete","Effect":"Deny",
 "Principal":{"AWS":["arn:aws:iam:::user/test"]},
 "Action":["s3:DeleteObject","s3:DeleteObjectVersion"],
 "Resource":["arn:aws:s3:::$BUCKET/*"]}]}
EOF
  s3api put-bucket-policy --bucket "$BUCKET" --policy "file://$T/deny.json"
  # The policy is in force: a delete is refused.
  run s3api delete-object --bucket "$BUCKET" --key repo/config
  run s3api head-object --bucket "$BUCKET" --key repo/config
  assert_status 0
  run s3e backup "$T/src"
  assert_status 0
  echo changed >>"$T/src/sub/f1"
  run s3e backup "$T/src"
  assert_status 0
  # Interrupted (SIGINT saves a partial snapshot at once), then resumed.
  local i rc=0
  for i in $(seq 1 60); do random_file "$T/src/sub/g$i" 200000; done
  gate_setup
  gate_start BACKUP_FILE_SAVED "$T/int.out" "$EFS2S3" -r "$URL" --s3-endpoint "$EP" \
    --s3-path-style backup "$T/src"
  kill -INT "$BG_PID"
  gate_release
  wait "$BG_PID" || rc=$?
  [[ "$rc" == "$EXIT_INTERRUPTED" ]]
  run s3e --json snapshots
  [[ "$(jq '[.[] | select(.tags // [] | index("partial"))] | length' <<<"$output")" -ge 1 ]]
  run s3e backup "$T/src"
  assert_status 0
  # Nothing could be deleted: the locks are released by records, so nothing waits.
  run s3e --json snapshots
  [[ "$(jq '[.[] | select(.tags // [] | index("partial"))] | length' <<<"$output")" -ge 1 ]]
  run s3e check
  assert_status 0
  # Maintenance credentials (the policy removed): forget drops the superseded
  # partial snapshots, prune removes the released locks.
  s3api delete-bucket-policy --bucket "$BUCKET"
  run s3e forget --keep-last 10
  assert_status 0
  assert_output_has "partial, superseded by a complete snapshot"
  run s3e --json snapshots
  [[ "$(jq '[.[] | select(.tags // [] | index("partial"))] | length' <<<"$output")" == 0 ]]
  [[ "$(s3api list-objects-v2 --bucket "$BUCKET" --prefix repo/locks/ --query 'length(Contents || `[]`)')" -ge 1 ]]
  run s3e prune
  assert_status 0
  [[ "$(s3api list-objects-v2 --bucket "$BUCKET" --prefix repo/locks/ --query 'length(Contents || `[]`)')" == 0 ]]
  run s3e check --read-data
  assert_status 0
  restore_check
}
