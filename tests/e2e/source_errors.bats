#!/usr/bin/env bats
# Source files that cannot be read, vanish, or change while read are listed, the rest of
# the backup completes, and the exit code is 3.

load common

teardown() {
  [[ -z "${BG_PID:-}" ]] || kill "$BG_PID" 2>/dev/null || true
  [[ -z "${U:-}" ]] || { chmod -R u+rwx "$U" 2>/dev/null; rm -rf "$U"; }
  common_teardown
}

# snapshot_count: number of snapshots in the repository (via --json).
snapshot_count() { efs --json snapshots | jq 'length'; }

@test "an unreadable file is listed, the rest is backed up, exit 3" {
  require_nobody
  nobody_dir
  as_nobody mkdir "$U/src" "$U/src/sub"
  as_nobody sh -c "echo one >'$U/src/ok-1'; echo two >'$U/src/sub/ok-2'; echo secret >'$U/src/secret'"
  as_nobody chmod 000 "$U/src/secret"
  run as_nobody "$EFS2S3" -r "$REPO" init
  assert_status 0

  run --separate-stderr as_nobody "$EFS2S3" -r "$REPO" backup "$U/src"
  assert_status "$EXIT_INCOMPLETE"
  assert_output_has "secret"
  assert_no_terminal_codes "$output$stderr"

  # The snapshot exists and holds the readable files.
  run as_nobody "$EFS2S3" -r "$REPO" restore "latest:$U/src" --target "$U/restore"
  assert_status 0
  cmp "$U/src/ok-1" "$U/restore/ok-1"
  cmp "$U/src/sub/ok-2" "$U/restore/sub/ok-2"
}

@test "an unreadable directory is listed, the rest is backed up, exit 3" {
  require_nobody
  nobody_dir
  as_nobody mkdir -p "$U/src/closed/inner" "$U/src/open"
  as_nobody sh -c "echo a >'$U/src/open/a'; echo b >'$U/src/closed/inner/b'"
  as_nobody chmod 000 "$U/src/closed"
  run as_nobody "$EFS2S3" -r "$REPO" init
  assert_status 0

  run --separate-stderr as_nobody "$EFS2S3" -r "$REPO" backup "$U/src"
  assert_status "$EXIT_INCOMPLETE"
  assert_output_has "closed"

  run as_nobody "$EFS2S3" -r "$REPO" restore "latest:$U/src" --target "$U/restore"
  assert_status 0
  cmp "$U/src/open/a" "$U/restore/open/a"
}

@test "files that vanish during the backup are listed, exit 3" {
  # The files are deleted while the backup waits at the test gate after listing the
  # directory, that is before it looks at them.
  mkdir "$T/src"
  for i in $(seq -w 1 50); do echo "vanishing $i" >"$T/src/z-vanish-$i"; done
  echo "stays" >"$T/src/zz-stays"
  init_repo
  gate_setup
  gate_start BACKUP_DIR_LISTED "$T/out" "$EFS2S3" -r "$REPO" backup "$T/src"
  rm -f "$T/src"/z-vanish-*
  gate_release
  status=0
  wait "$BG_PID" || status=$?
  BG_PID=
  output=$(cat "$T/out")
  assert_status "$EXIT_INCOMPLETE"
  assert_output_has "z-vanish-50"
  run efs ls latest "$T/src"
  assert_status 0
  assert_output_has "zz-stays"
  [[ "$output" != *z-vanish-* ]]
}

@test "a file that grows while read is listed, exit 3" {
  mkdir "$T/src"
  random_file "$T/src/growing" $((32 * 1024 * 1024))
  echo "stays" >"$T/src/other"
  init_repo

  # Appends 64 KiB every few milliseconds for at most 60 seconds.
  "$PYTHON" -c '
import os, sys, time
end = time.monotonic() + 60
with open(sys.argv[1], "ab", buffering=0) as f:
    while time.monotonic() < end:
        f.write(os.urandom(65536))
        time.sleep(0.002)
' "$T/src/growing" &
  BG_PID=$!
  # The appender is running before the backup starts.
  while (( $(stat -c %s "$T/src/growing") == 32 * 1024 * 1024 )); do sleep 0.01; done

  run --separate-stderr efs backup "$T/src"
  kill "$BG_PID"
  BG_PID=
  assert_status "$EXIT_INCOMPLETE"
  assert_output_has "growing"
  run efs ls latest "$T/src"
  assert_status 0
  assert_output_has "other"
}

@test "an interrupted backup exits 130 and leaves a usable repository" {
  mkdir "$T/src"
  for i in $(seq -w 1 16); do random_file "$T/src/big-$i" $((8 * 1024 * 1024)); done
  init_repo
  run efs backup "$T/src"
  assert_status 0
  random_file "$T/src/new" $((64 * 1024 * 1024))
  touch "$T/src"/big-*   # changed mtimes: everything is read again

  # Interrupted while it waits at the test gate after saving its first file.
  gate_setup
  gate_start BACKUP_FILE_SAVED "$T/out" "$EFS2S3" -r "$REPO" backup "$T/src"
  kill -INT "$BG_PID"
  gate_release
  status=0
  wait "$BG_PID" || status=$?
  BG_PID=
  output=$(cat "$T/out")
  assert_status "$EXIT_INTERRUPTED"

  # A partial snapshot (tagged "partial") records what was completed; no stale lock.
  (( $(snapshot_count) == 2 ))
  [[ "$(efs snapshots --json | jq -r '.[-1].tags | join(",")')" == "partial" ]]
  partial_files=$(efs snapshots --json | jq '.[-1].summary.files_new + .[-1].summary.files_changed')
  run efs backup "$T/src" --json
  assert_status 0
  # The resumed run replaces the partial snapshot with a complete one ...
  (( $(snapshot_count) == 2 ))
  [[ "$(efs snapshots --json | jq -r '.[-1].tags | join(",")')" == "" ]]
  # ... and does not read again what the partial snapshot holds.
  unchanged=$(tail -n 1 <<<"$output" | jq '.files_unchanged')
  (( unchanged >= partial_files ))
}
