#!/usr/bin/env bats
# A scheduled job (docs/JOBS.md) whose repository is on a real S3 server (radosgw
# from scripts/test.sh or scripts/radosgw.sh): init, two runs with backup, forget,
# prune and check, the reports, and a restore of the latest snapshot.
#
# Needs EFS2S3_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; skips
# without them unless EFS2S3_TEST_DISALLOW_SKIP contains S3.

load common

setup() {
  common_setup
  require_s3_server || return 1
  unset EFS2S3_PASSWORD
  EP="$EFS2S3_TEST_S3_ENDPOINT"
  BUCKET="${EFS2S3_TEST_S3_BUCKET:-efs2s3-test}"
  P="job-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  URL="s3://$BUCKET/$P"
  echo "s3 job password" >"$T/pw"
  CONF="$T/efs2s3.toml"
}

teardown() { common_teardown; }

# s3efs ARGS...: efs2s3 on the job's repository, with the job's S3 settings.
s3efs() {
  EFS2S3_PASSWORD_FILE="$T/pw" "$EFS2S3" -r "$URL" --s3-endpoint "$EP" --s3-path-style "$@"
}
last_report() { cat "$T/state/jobs/s3job/last.json"; }
# step NAME JQ: a field of the last report's step NAME.
step() { last_report | jq -r --arg n "$1" ".steps[] | select(.name == \$n) | $2"; }

@test "job run on S3: init, two runs (backup, forget, prune, check), restore matches" {
  gentree "$T/src" --small
  cat >"$CONF" <<EOT
state_dir = "state"

[jobs.s3job]
repository = "$URL"
password_file = "pw"
source = { paths = ["$T/src"] }
tags = ["s3job"]
schedule = "@daily"

[jobs.s3job.retention]
keep_last = 1

[jobs.s3job.prune]
every = "0"

[jobs.s3job.check]
read_data_subset = "100%"

[jobs.s3job.report]
file = "reports.jsonl"

[jobs.s3job.s3]
endpoint = "$EP"
path_style = true
region = "${AWS_REGION:-us-east-1}"
connections = 8
EOT
  # Before init the job fails at the backup with "no repository" (10) and skips the rest.
  run --separate-stderr "$EFS2S3" job run s3job --config "$CONF"
  assert_status "$EXIT_NO_REPO"
  [[ "$(step backup .status)" == failed && "$(step forget .status)" == skipped ]]

  run s3efs init -q
  assert_status 0

  # First run: a snapshot, nothing to forget, prune and check pass.
  run --separate-stderr "$EFS2S3" job run s3job --config "$CONF"
  assert_status 0
  assert_output_has "job s3job: ok (exit 0)"
  run last_report
  [[ "$(echo "$output" | jq -r '[.status, .exit_code, ([.steps[] | .name + "=" + .status] | join(","))] | join(" ")')" \
    == "ok 0 backup=ok,forget=ok,prune=ok,check=ok" ]]
  [[ "$(echo "$output" | jq -r .repository)" == "$URL" ]]
  run step backup .command
  [[ "$output" == *" -r $URL "* && "$output" == *"--s3-endpoint $EP "* ]]
  [[ "$output" == *"--s3-path-style"* && "$output" == *" backup $T/src "* ]]
  local first
  first=$(last_report | jq -r .snapshot_id)
  [[ "$first" =~ ^[0-9a-f]{64}$ ]]
  [[ "$(step forget .figures.removed)" == 0 ]]
  [[ "$(step check .figures.ok)" == true ]]

  # Second run after a change: a new snapshot; keep_last = 1 forgets the first, prune
  # (every run) removes what only it used.
  echo "changed after the first run" >"$T/src/new-file"
  run --separate-stderr "$EFS2S3" job run s3job --config "$CONF" --json
  assert_status 0
  echo "$output" | jq -e '.status == "ok" and .exit_code == 0' >/dev/null
  local second
  second=$(last_report | jq -r .snapshot_id)
  [[ "$second" =~ ^[0-9a-f]{64}$ && "$second" != "$first" ]]
  [[ "$(step backup .figures.files_new)" == 1 ]]
  [[ "$(step forget .figures.removed)" == 1 ]]
  [[ "$(step prune .status)" == ok && "$(step check .status)" == ok ]]
  [[ "$(step check .figures.ok)" == true ]]
  [[ "$(wc -l <"$T/reports.jsonl")" == 3 ]]

  # The repository has exactly the second snapshot, with the job's tag.
  run --separate-stderr s3efs snapshots --json
  assert_status 0
  [[ "$(echo "$output" | jq length)" == 1 ]]
  [[ "$(echo "$output" | jq -r '.[0].id')" == "$second" ]]
  [[ "$(echo "$output" | jq -r '.[0].tags[0]')" == s3job ]]

  # job list and status read the state.
  run "$EFS2S3" job status s3job --config "$CONF" --json
  assert_status 0
  [[ "$(echo "$output" | jq -r '.last_report.snapshot_id')" == "$second" ]]

  # Restore of the latest snapshot from S3 equals the source.
  run s3efs restore "latest:$T/src" --target "$T/restore" --sparse
  assert_status 0
  run comparetree "$T/src" "$T/restore"
  [[ "$status" == 0 ]] || { echo "$output"; false; }
  run s3efs check
  assert_status 0
}

@test "job run on S3 with Object Lock: --only backup, then --only maintenance runs lock extend" {
  "$EFS2S3" version | grep -q "test hooks" || skip "needs a test build"
  command -v aws >/dev/null || skip "no aws CLI"
  # A bucket of its own: Object Lock is set when a bucket is created.
  BUCKET="efs2s3-joblock-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  URL="s3://$BUCKET/repo"
  # A 40 s "period": lock extend renews what has less than 20 s left.
  export EFS2S3_TEST_LOCK_SECONDS=40
  mkdir -p "$T/src"
  random_file "$T/src/a" 300000
  cat >"$CONF" <<EOT
state_dir = "state"

[jobs.s3job]
repository = "$URL"
password_file = "pw"
source = { paths = ["$T/src"] }
schedule = "@daily"

[jobs.s3job.retention]
keep_last = 5

[jobs.s3job.lock_extend]
every = "0"

[jobs.s3job.prune]
every = "0"

[jobs.s3job.s3]
endpoint = "$EP"
path_style = true
region = "${AWS_REGION:-us-east-1}"
EOT
  run s3efs init -q --object-lock governance --lock-days 1
  assert_status 0
  run --separate-stderr "$EFS2S3" job run s3job --config "$CONF" --only backup
  assert_status 0
  [[ "$(step backup .status)" == ok && "$(step lock-extend .status)" == skipped ]]
  local t_written
  t_written=$(date +%s)
  sleep $((t_written + 21 - $(date +%s)))
  run --separate-stderr "$EFS2S3" job run s3job --config "$CONF" --only maintenance
  assert_status 0
  [[ "$(step lock-extend .status)" == ok ]]
  local live
  live=$(step lock-extend .figures.live_objects)
  ((live >= 5))
  [[ "$(step lock-extend .figures.extended)" == "$live" ]]
  # Every live object now has more than half the period left.
  local key until now
  now=$(date +%s)
  key=$(aws --endpoint-url "$EP" s3api list-objects-v2 --bucket "$BUCKET" \
    --prefix repo/snapshots/ --query 'Contents[0].Key' --output text)
  until=$(date -d "$(aws --endpoint-url "$EP" s3api get-object-retention --bucket "$BUCKET" \
    --key "$key" --query Retention.RetainUntilDate --output text)" +%s)
  ((until > now + 20))
}
