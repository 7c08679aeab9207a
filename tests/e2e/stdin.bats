#!/usr/bin/env bats
# backup --stdin and --stdin-from-command: a stream stored as one file, chunked and
# deduplicated like any file; a failing command fails the backup and keeps no
# snapshot. Each test runs on a local repository and on the S3 server (radosgw; the
# S3 tests skip without it unless EFS2S3_TEST_DISALLOW_SKIP contains S3).

load common

setup() {
  common_setup
  BUCKET=""
}

teardown() {
  if [[ -n "${BUCKET:-}" ]] && command -v aws >/dev/null; then
    aws --endpoint-url "$EP" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true
  fi
  common_teardown
}

# use_local / use_s3: the repository of the test (`r ARGS...` runs the binary on
# it), created with small chunks (64/128/256 KiB) so that streams of a few MiB
# make many of them.
use_local() {
  r() { "$EFS2S3" -r "$REPO" "$@"; }
  run r init --chunk-min 64 --chunk-avg 128 --chunk-max 256
  assert_status 0
}

use_s3() {
  require_s3_server || return 1
  BUCKET="efs2s3-stdin-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  URL="s3://$BUCKET/repo"
  r() { "$EFS2S3" -r "$URL" --s3-endpoint "$EP" --s3-path-style "$@"; }
  run r init --chunk-min 64 --chunk-avg 128 --chunk-max 256
  assert_status 0
}

# json_field NAME: NAME of the last JSON line of $output.
json_field() { printf '%s\n' "$output" | tail -n1 | jq -r ".$1"; }

snapshot_count() { r --json snapshots | jq length; }

round_trip() {
  random_file "$T/dump" 3000000
  run --separate-stderr r --json backup --stdin --stdin-filename db/dump.sql \
    --tag db <"$T/dump"
  assert_status 0
  local first
  first=$(json_field snapshot_id)
  [[ "$(json_field files_new)" == 1 ]]
  # A stream larger than a chunk is stored as many blobs.
  (( $(json_field blobs_added) > 3 ))
  run r --json snapshots
  assert_status 0
  [[ "$(printf '%s' "$output" | jq -r '.[0].paths[0]')" == /db/dump.sql ]]
  run r ls latest
  assert_status 0
  [[ "$output" == *"/db/dump.sql"* ]]
  run r restore "$first" --target "$T/r1"
  assert_status 0
  cmp "$T/dump" "$T/r1/db/dump.sql"
  [[ "$(stat -c %a "$T/r1/db/dump.sql")" == 644 ]]

  # The same through a command (no shell: the argument with a space and a
  # quote is one argument).
  cp "$T/dump" "$T/my 'dump"
  run --separate-stderr r --json backup --stdin-from-command --stdin-filename cmd.out \
    -- cat "$T/my 'dump"
  assert_status 0
  # Nothing new: every chunk is already stored.
  [[ "$(json_field bytes_added)" == 0 ]]
  run r restore latest --target "$T/r2"
  assert_status 0
  cmp "$T/dump" "$T/r2/cmd.out"
  run r check --read-data
  assert_status 0
}

failing_command() {
  local before
  before=$(snapshot_count)
  # Exit status: one line naming the command; its stderr passes through.
  run --separate-stderr r backup --stdin-from-command -- \
    sh -c 'head -c 1000000 /dev/urandom; echo "dump failed here" >&2; exit 3'
  assert_status "$EXIT_FATAL"
  [[ "$stderr" == *"dump failed here"* ]]
  [[ "$stderr" == *"command 'sh' failed: exit status 3; no snapshot saved"* ]]
  [[ "$(printf '%s\n' "$stderr" | grep -c '^efs2s3:')" == 1 ]]
  # Death by a signal.
  run --separate-stderr r backup --stdin-from-command -- sh -c 'echo x; kill -9 $$'
  assert_status "$EXIT_FATAL"
  [[ "$stderr" == *"killed by signal 9 (SIGKILL); no snapshot saved"* ]]
  # A command that does not exist.
  run --separate-stderr r backup --stdin-from-command -- /nonexistent/dumper
  assert_status "$EXIT_FATAL"
  [[ "$stderr" == *"could not start /nonexistent/dumper: No such file or directory"* ]]
  [[ "$(snapshot_count)" == "$before" ]]
  # What was uploaded is consistent (indexed or unused, never damage).
  run r check
  assert_status 0
}

incremental() {
  random_file "$T/v1" 4000000
  { cat "$T/v1"; printf 'appended rows\n'; } >"$T/v2"
  run --separate-stderr r --json backup --stdin-from-command --stdin-filename db.sql \
    -- cat "$T/v1"
  assert_status 0
  local first added1
  first=$(json_field snapshot_id)
  added1=$(json_field bytes_added)
  (( added1 >= 4000000 ))
  run --separate-stderr r --json backup --stdin-from-command --stdin-filename db.sql \
    -- cat "$T/v2"
  assert_status 0
  # The same name: the first snapshot is the parent, and only the chunks at the
  # end are new (at most two maximum chunks, 512 KiB).
  [[ "$(json_field parent)" == "$first" ]]
  [[ "$(json_field files_changed)" == 1 ]]
  (( $(json_field bytes_added) <= 524288 ))
  (( $(json_field bytes_read) == 4000014 ))
  run r restore latest --target "$T/r"
  assert_status 0
  cmp "$T/v2" "$T/r/db.sql"
}

@test "stdin: round trip through --stdin and --stdin-from-command (local)" {
  use_local
  round_trip
}

@test "stdin: round trip through --stdin and --stdin-from-command (S3)" {
  use_s3
  round_trip
}

@test "stdin: a failing command fails the backup and keeps no snapshot (local)" {
  use_local
  failing_command
}

@test "stdin: a failing command fails the backup and keeps no snapshot (S3)" {
  use_s3
  failing_command
}

@test "stdin: a second run of a changed stream stores only the new chunks (local)" {
  use_local
  incremental
}

@test "stdin: a second run of a changed stream stores only the new chunks (S3)" {
  use_s3
  incremental
}

@test "stdin: SIGTERM stops the command and saves no snapshot, not even a partial one" {
  use_local
  "$EFS2S3" -r "$REPO" backup --stdin-from-command -- \
    sh -c 'head -c 300000 /dev/urandom; exec sleep 300' >"$T/out" 2>&1 &
  local pid=$! child="" p
  # Waits for the command to be running (its sleep), then interrupts efs2s3.
  while [[ -z "$child" ]]; do
    kill -0 "$pid"
    for p in $(process_tree "$pid"); do
      [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == sleep ]] && child=$p
    done
    sleep 0.05
  done
  kill -TERM "$pid"
  status=0
  wait "$pid" || status=$?
  assert_status "$EXIT_INTERRUPTED"
  # The command's process group got SIGTERM too.
  run kill -0 "$child"
  (( status != 0 ))
  [[ "$(snapshot_count)" == 0 ]]
}

@test "stdin: bad combinations are usage errors naming the option" {
  use_local
  run r backup --stdin "$T"
  assert_status "$EXIT_USAGE"
  assert_output_has "--stdin: takes no PATH"
  run r backup --stdin-from-command
  assert_status "$EXIT_USAGE"
  assert_output_has "--stdin-from-command: needs a command after --"
  run r backup --stdin-filename x "$T"
  assert_status "$EXIT_USAGE"
  assert_output_has "--stdin-filename: needs --stdin or --stdin-from-command"
  run r backup --stdin --exclude '*.tmp'
  assert_status "$EXIT_USAGE"
  run r backup --stdin --stdin-filename .. </dev/null
  assert_status "$EXIT_USAGE"
  assert_output_has "--stdin-filename: '..' names no file"
}
