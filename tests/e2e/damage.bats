#!/usr/bin/env bats
# A damaged, truncated or missing pack object: restore saves what it can, names what it
# cannot, and exits non-zero.

load common

NFILES=5

# Five files of 200 KiB random data: one blob each (below the minimum chunk size), all
# in one data pack. Compression cannot shrink them, so the pack is about 1 MiB.
setup() {
  common_setup
  mkdir "$T/src"
  for i in $(seq 1 $NFILES); do
    random_file "$T/src/file-$i" $((200 * 1024))
  done
  init_repo
  run efs backup "$T/src"
  assert_status 0
  # Data and tree blobs go to separate packs: the data pack is the largest object.
  PACK=$(data_objects | head -n1)
  [[ -n "$PACK" ]]
  PACK_NAME=$(basename "$PACK")
  PACK_NAME=${PACK_NAME%%.*}
  echo "data pack: $PACK ($(stat -c %s "$PACK") bytes)" >&2
  (( $(stat -c %s "$PACK") > NFILES * 200 * 1024 ))
}

# count_restored: how many source files were restored byte for byte; names the rest
# in $BROKEN.
count_restored() {
  local ok=0 i
  BROKEN=()
  for i in $(seq 1 $NFILES); do
    if cmp -s "$T/src/file-$i" "$T/restore/file-$i"; then
      ok=$((ok + 1))
    else
      BROKEN+=("file-$i")
    fi
  done
  echo "$ok"
}

@test "one flipped byte in a data pack: every other file is restored, the damaged one reported" {
  flip_byte "$PACK" $((100 * 1024))

  run --separate-stderr restore_tree latest "$T/src" "$T/restore"
  (( status != 0 )) || { echo "restore exited 0 despite a damaged blob" >&2; false; }
  (( status != EXIT_INTERRUPTED ))
  stdout_and_err="$output"$'\n'"$stderr"

  ok=$(count_restored)
  echo "restored intact: $ok of $NFILES; broken: ${BROKEN[*]}" >&2
  (( ok == NFILES - 1 ))
  # The damaged file is reported by name.
  [[ "$stdout_and_err" == *"${BROKEN[0]}"* ]]
}

@test "restore errors off a terminal are plain lines without terminal control codes" {
  flip_byte "$PACK" $((100 * 1024))
  run --separate-stderr restore_tree latest "$T/src" "$T/restore"
  (( status != 0 ))
  assert_no_terminal_codes "$stderr"
  assert_no_terminal_codes "$output"
}

@test "a damaged restore never leaves a wrong file without reporting it" {
  flip_byte "$PACK" $((500 * 1024))
  run --separate-stderr restore_tree latest "$T/src" "$T/restore"
  (( status != 0 ))
  count_restored >/dev/null
  for name in "${BROKEN[@]}"; do
    [[ "$output$stderr" == *"$name"* ]] || { echo "$name is wrong but not reported" >&2; false; }
  done
}

@test "restore --verify of an intact repository restores every file and exits 0" {
  run restore_tree latest "$T/src" "$T/restore" --verify
  assert_status 0
  (( $(count_restored) == NFILES ))
}

@test "truncated pack: an error names the object and the intact files are restored" {
  size=$(stat -c %s "$PACK")
  chmod u+w "$PACK"
  truncate -s $((size / 2)) "$PACK"

  run --separate-stderr restore_tree latest "$T/src" "$T/restore"
  (( status != 0 ))
  (( status != EXIT_INTERRUPTED ))
  assert_output_has "${PACK_NAME:0:8}"
  ok=$(count_restored)
  echo "restored intact: $ok of $NFILES; broken: ${BROKEN[*]}" >&2
  (( ok >= 1 && ok < NFILES ))
  # Each error is one line naming the object: no line is a multi-line dump.
  while IFS= read -r line; do
    (( ${#line} < 1000 ))
  done <<<"$stderr"
}

@test "missing pack: an error names the object, exit non-zero" {
  rm -f "$PACK"
  run --separate-stderr restore_tree latest "$T/src" "$T/restore"
  (( status != 0 ))
  (( status != EXIT_INTERRUPTED ))
  assert_output_has "${PACK_NAME:0:8}"
}

@test "damaged tree pack: a one-line error naming the object" {
  tree_pack=$(data_objects | tail -n1)
  [[ "$tree_pack" != "$PACK" ]]
  tree_name=$(basename "$tree_pack")
  tree_name=${tree_name%%.*}
  flip_byte "$tree_pack" 40

  run --separate-stderr restore_tree latest "$T/src" "$T/restore"
  (( status != 0 ))
  (( status != EXIT_INTERRUPTED ))
  assert_output_has "${tree_name:0:8}"
}

@test "check reports a flipped byte in a data pack" {
  run efs check --read-data
  assert_status 0
  flip_byte "$PACK" $((100 * 1024))
  run --separate-stderr efs check --read-data
  (( status != 0 ))
  assert_output_has "${PACK_NAME:0:8}"
}

@test "check --read-data counts the blob that failed, not all as authenticated" {
  flip_byte "$PACK" $((100 * 1024))
  run --separate-stderr efs check --read-data
  assert_status 1
  [[ "$output" =~ ([0-9]+)\ blobs:\ ([0-9]+)\ authenticated,\ 1\ failed ]] || {
    echo "no honest count in: $output" >&2
    false
  }
  (( BASH_REMATCH[2] == BASH_REMATCH[1] - 1 ))
  run --separate-stderr efs --json check --read-data
  assert_status 1
  jq -e '.blobs_failed == 1 and .blobs_authenticated == .blobs_read - 1' <<<"$output"
}

@test "snapshots lists the readable snapshots and names a damaged one, exit 3" {
  random_file "$T/src/file-new" 1000
  run efs backup "$T/src"
  assert_status 0
  run efs --json snapshots
  local damaged kept
  damaged=$(jq -r '.[1].id' <<<"$output")
  kept=$(jq -r '.[0].id' <<<"$output")
  flip_byte "$(find "$REPO/snapshots" -name "$damaged*" -type f)" 40
  run --separate-stderr efs snapshots
  assert_status "$EXIT_INCOMPLETE"
  assert_output_has "${kept:0:8}"
  assert_output_has "1 snapshot(s)"
  [[ "$stderr" == *"$damaged"* ]]
  # prune must not go on without it: a snapshot it cannot read may use any blob.
  # (tests/e2e/unreadable_snapshot.bats covers every command.)
  run efs prune
  assert_status "$EXIT_FATAL"
}

# repair_then_prune: the documented way out of damage (repair index, repair
# snapshots, prune), then a restore; sets $ok to the number of files intact.
repair_then_prune() {
  run --separate-stderr efs repair index
  echo "repair index ($status): $output $stderr" >&2
  REPAIR_STATUS=$status
  REPAIR_ERR=$stderr
  run --separate-stderr efs repair snapshots
  echo "repair snapshots ($status): $output" >&2
  run --separate-stderr efs prune
  assert_status 0
  rm -rf "$T/restore"
  run --separate-stderr restore_tree latest "$T/src" "$T/restore"
  ok=$(count_restored)
  echo "restored intact: $ok of $NFILES; broken: ${BROKEN[*]}" >&2
}

@test "repair never makes data less restorable: a pack cut by 3 bytes keeps every file" {
  # The pack's last bytes are its header's length: the blobs are all intact.
  chmod u+w "$PACK"
  truncate -s -3 "$PACK"
  run restore_tree latest "$T/src" "$T/restore" --verify
  [[ $(count_restored) == "$NFILES" ]]
  repair_then_prune
  (( REPAIR_STATUS == 0 ))
  [[ "$REPAIR_ERR" == *"${PACK_NAME}"*"saved $NFILES blobs by the header found"* ]]
  (( ok == NFILES ))
  run efs check --read-data
  assert_status 0
}

@test "repair never makes data less restorable: a damaged pack header keeps every file by the old index" {
  size=$(stat -c %s "$PACK")
  flip_byte "$PACK" $((size - 20))
  repair_then_prune
  (( REPAIR_STATUS == 0 ))
  [[ "$REPAIR_ERR" == *"saved $NFILES blobs by the old index"* ]]
  (( ok == NFILES ))
  run efs check --read-data
  assert_status 0
}

@test "repair names exactly the blob it lost: damaged header and one damaged blob" {
  size=$(stat -c %s "$PACK")
  flip_byte "$PACK" $((size - 20))
  flip_byte "$PACK" $((100 * 1024))
  repair_then_prune
  (( REPAIR_STATUS == EXIT_INCOMPLETE ))
  [[ "$REPAIR_ERR" == *"saved $((NFILES - 1)) blobs by the old index, 1 damaged blob(s) lost: "* ]]
  (( ok == NFILES - 1 ))
}

@test "a damaged blob: repair index --read-data drops it from the index, the next backup stores the file again" {
  flip_byte "$PACK" $((100 * 1024))
  run efs check --read-data
  (( status != 0 ))
  run --separate-stderr efs repair index --read-data
  assert_status "$EXIT_INCOMPLETE"
  [[ "$stderr" == *"damaged blobs; saved $((NFILES - 1)) blobs by the header, 1 damaged blob(s) lost"* ]]
  run efs repair snapshots
  assert_status 0
  run efs prune
  assert_status 0
  # No index names the damaged blob: the backup does not deduplicate against it.
  run efs backup "$T/src"
  assert_status 0
  run --separate-stderr restore_tree latest "$T/src" "$T/restore"
  assert_status 0
  [[ $(count_restored) == "$NFILES" ]]
  run efs check --read-data
  assert_status 0
}
