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
  # The directory that holds it is stored flagged incomplete, and listed.
  [[ "$stderr" == *"$U/src  [incomplete]"* ]]
  run as_nobody "$EFS2S3" -r "$REPO" ls -l latest "$U"
  assert_status 0
  grep -q " $U/src  \[incomplete\]$" <<<"$output"
  grep -q " $U/src/open$" <<<"$output"

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

# node_flags SNAPSHOT NAME: the flags of the entry NAME in SNAPSHOT (ls --json, one document
# or one object per line), joined by ",".
node_flags() {
  efs --json ls "$1" "$T/src" | jq -rs --arg n "$2" \
    'flatten | .[] | select(.name == $n) | .flags | join(",")'
}

@test "a file rewritten in place while read is flagged in the snapshot: backup, ls, find, diff, restore" {
  mkdir "$T/src"
  random_file "$T/src/restless" $((32 * 1024 * 1024))
  echo "stays" >"$T/src/other"
  init_repo

  # Rewrites 64 KiB at a random offset every 2 ms, in place (same size), for at most
  # 60 seconds: each of the backup's reads of the 32 MiB file sees it change.
  before=$(stat -c %y "$T/src/restless")
  "$PYTHON" -c '
import os, random, sys, time
end = time.monotonic() + 60
size = os.path.getsize(sys.argv[1])
with open(sys.argv[1], "r+b", buffering=0) as f:
    while time.monotonic() < end:
        f.seek(random.randrange(0, size - 65536))
        f.write(os.urandom(65536))
        time.sleep(0.002)
' "$T/src/restless" &
  BG_PID=$!
  # The writer is running before the backup starts.
  while [[ "$(stat -c %y "$T/src/restless")" == "$before" ]]; do sleep 0.01; done

  run --separate-stderr efs backup "$T/src"
  kill "$BG_PID"
  wait "$BG_PID" 2>/dev/null || true
  BG_PID=
  assert_status "$EXIT_INCOMPLETE"
  [[ "$stderr" == *"changed while being read (3 reads)"* ]]
  [[ "$stderr" == *"1 stored but flagged in the snapshot (1 changed while read, 0 incomplete"* ]]
  [[ "$stderr" == *"$T/src/restless  [changed-while-read]"* ]]
  first=$(efs --json snapshots | jq -rs 'flatten | .[-1].id')
  [[ "$(efs --json snapshots | jq -rs 'flatten | .[-1].summary.errors')" == 1 ]]

  # ls -l marks the file, and only it; ls --json has the field.
  run efs ls -l latest "$T/src"
  assert_status 0
  grep -q " $T/src/restless  \[changed-while-read\]$" <<<"$output"
  grep -q " $T/src/other$" <<<"$output"
  [[ "$(node_flags latest restless)" == "changed-while-read" ]]
  [[ "$(node_flags latest other)" == "" ]]

  # find shows the flag.
  run efs find restless
  assert_status 0
  assert_output_has "$T/src/restless  [changed-while-read]"

  # The next backup reads the file again (still now) and stores it clean, exit 0.
  run --separate-stderr efs --json backup "$T/src"
  assert_status 0
  summary=$(tail -n 1 <<<"$output")
  [[ "$(jq '.files_changed' <<<"$summary")" == 1 ]]
  [[ "$(jq '.files_unchanged' <<<"$summary")" == 1 ]]
  [[ "$(jq '.changed_while_read' <<<"$summary")" == 0 ]]
  [[ "$(node_flags latest restless)" == "" ]]
  second=$(efs --json snapshots | jq -rs 'flatten | .[-1].id')

  # diff reports the flag going away (and the new content).
  run efs diff "$first" "$second"
  assert_status 0
  assert_output_has "M    $T/src/restless"
  assert_output_has "F    $T/src/restless  [clean]"
  assert_output_has "flags changed: 1"

  # Restoring the first snapshot warns about the file, counts it, and succeeds.
  run --separate-stderr efs restore "$first:$T/src" --target "$T/restore"
  assert_status 0
  [[ "$stderr" == *"warning: $T/src/restless was stored changed-while-read"* ]]
  [[ "$stderr" == *"1 restored entry was flagged"* ]]
  cmp "$T/src/other" "$T/restore/other"
  [[ "$(stat -c %s "$T/restore/restless")" == $((32 * 1024 * 1024)) ]]
  run efs --json restore "$second:$T/src" --target "$T/restore2"
  assert_status 0
  [[ "$(tail -n 1 <<<"$output" | jq '.flagged_restored')" == 0 ]]
  cmp "$T/src/restless" "$T/restore2/restless"
}
