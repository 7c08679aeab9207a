#!/usr/bin/env bats
# One unreadable snapshot object (a flipped byte, truncated) among three: every command
# skips it, names it in one warning line and exits 3; prune refuses (exit 1) and
# deletes nothing; `repair snapshots --forget` removes it (keeping a copy of its bytes),
# and everything exits 0 again (docs/MAINTENANCE.md, "An unreadable snapshot").

load common

# Three snapshots of $T/src, oldest first: S1 S2 S3 (full IDs); file-N is new in SN.
setup() {
  common_setup
  mkdir "$T/src"
  init_repo
  for i in 1 2 3; do
    random_file "$T/src/file-$i" 1000
    run efs backup "$T/src"
    assert_status 0
    cp -a "$T/src" "$T/src-$i"
  done
  mapfile -t IDS < <(efs snapshots --json | jq -r '.[].id')
  (( ${#IDS[@]} == 3 ))
  S1=${IDS[0]} S2=${IDS[1]} S3=${IDS[2]}
  OBJ="$REPO/snapshots/$S3"
  [[ -f "$OBJ" ]]
}

# damage_newest flip|truncate: damages S3's object and keeps a copy in $T/damaged.
damage_newest() {
  chmod u+w "$OBJ"
  case "$1" in
    flip)
      "$PYTHON" - "$OBJ" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    data = bytearray(f.read())
    data[len(data) // 2] ^= 0x40
    f.seek(0)
    f.write(data)
PY
      ;;
    truncate) truncate -s -3 "$OBJ" ;;
  esac
  cp "$OBJ" "$T/damaged"
}

# assert_one_warning: stderr names S3 as unreadable and skipped, in exactly one line.
assert_one_warning() {
  local n
  n=$(grep -c "unreadable" <<<"$stderr" || true)
  if (( n != 1 )) ||
    ! grep -q "^warning: snapshots/$S3: unreadable: .*; skipped (\`efs2s3 repair snapshots --forget\` removes it)$" <<<"$stderr"; then
    echo "expected one warning line naming snapshots/$S3; stderr:" >&2
    printf '%s\n' "$stderr" >&2
    return 1
  fi
}

# assert_no_warning: nothing about unreadable snapshots.
assert_no_warning() {
  if grep -q "unreadable" <<<"$stderr"; then
    printf 'unexpected warning:\n%s\n' "$stderr" >&2
    return 1
  fi
}

@test "a snapshot with a flipped byte is skipped and named by every command, then removed by repair" {
  damage_newest flip

  # snapshots: the two readable ones, and the damaged one named.
  run --separate-stderr efs snapshots
  assert_status $EXIT_INCOMPLETE
  assert_one_warning
  [[ "$output" == *"${S1:0:8}"* && "$output" == *"${S2:0:8}"* ]]
  [[ "$output" != *"${S3:0:8}"* ]]
  [[ "$output" == *"2 snapshot(s)"* ]]

  # latest: the newest readable one (S2), with a warning (S3 could be newer).
  run --separate-stderr efs ls latest
  assert_status $EXIT_INCOMPLETE
  assert_one_warning
  [[ "$output" == *"/file-2"* && "$output" != *"/file-3"* ]]

  # An intact snapshot by full ID: the damaged one cannot change the answer.
  run --separate-stderr efs ls "$S1"
  assert_status 0
  assert_no_warning
  [[ "$output" == *"/file-1"* && "$output" != *"/file-2"* ]]

  run --separate-stderr efs find 'file-*'
  assert_status $EXIT_INCOMPLETE
  assert_one_warning
  (( $(grep -c "/file-" <<<"$output") == 3 ))  # file-1 in S1 and S2, file-2 in S2

  run --separate-stderr efs diff "$S1" latest
  assert_status $EXIT_INCOMPLETE
  assert_one_warning
  [[ "$output" == *"+    "*"/file-2"* ]]

  run --separate-stderr efs cat snapshot latest
  assert_status $EXIT_INCOMPLETE
  assert_one_warning
  # The damaged one by its ID: an error naming it.
  run --separate-stderr efs cat snapshot "$S3"
  assert_status $EXIT_FATAL
  [[ "$stderr" == *"snapshots/$S3: unreadable: "* ]]

  run --separate-stderr restore_tree "$S1" "$T/src" "$T/r1"
  assert_status 0
  assert_no_warning
  comparetree "$T/src-1" "$T/r1" --no-atime
  run --separate-stderr restore_tree latest "$T/src" "$T/r2"
  assert_status $EXIT_INCOMPLETE
  assert_one_warning
  comparetree "$T/src-2" "$T/r2" --no-atime

  # forget: the policy over the readable ones; the damaged one neither kept nor removed.
  run --separate-stderr efs forget --keep-last 1
  assert_status $EXIT_INCOMPLETE
  assert_one_warning
  [[ "$stderr" == *"removed 1 snapshot(s)"* || "$output" == *"removed 1 snapshot(s)"* ]]
  [[ ! -e "$REPO/snapshots/$S1" && -e "$REPO/snapshots/$S2" && -e "$OBJ" ]]

  # prune: refuses in one line naming the snapshot and the fix, and deletes nothing.
  before=$(find "$REPO" -type f | sort)
  run --separate-stderr efs prune
  assert_status $EXIT_FATAL
  (( $(grep -c . <<<"$stderr") == 1 ))
  [[ "$stderr" == "efs2s3: prune: 1 snapshot(s) cannot be read: snapshots/$S3 ("*"nothing was deleted"*"\`efs2s3 repair snapshots --forget\` removes them" ]]
  [[ "$(find "$REPO" -type f | sort)" == "$before" ]]

  # repair snapshots without --forget: names it, removes nothing, exit 3.
  run --separate-stderr efs repair snapshots
  assert_status $EXIT_INCOMPLETE
  [[ "$output" == *"snapshots/$S3: unreadable: "*"cannot be repaired (--forget removes it)"* ]]
  [[ -e "$OBJ" ]]
  run --separate-stderr efs repair snapshots --forget --dry-run
  assert_status 0
  [[ "$output" == *"snapshots/$S3: unreadable: "*"would be removed"* ]]
  [[ -e "$OBJ" ]]

  # repair snapshots --forget: removed, its bytes kept in the cache.
  run --separate-stderr efs repair snapshots --forget
  assert_status 0
  [[ "$output" == *"snapshots/$S3: unreadable: "*"removed; its stored bytes are kept in "* ]]
  [[ ! -e "$OBJ" ]]
  copy=$(find "$XDG_CACHE_HOME/efs2s3/removed" -type f -name "$S3")
  [[ -n "$copy" ]]
  cmp "$copy" "$T/damaged"

  # Everything exits 0 again.
  for cmd in "snapshots" "ls latest" "find file-2" "cat snapshot latest" \
    "forget --keep-last 1" "prune" "check" "repair snapshots"; do
    # shellcheck disable=SC2086
    run --separate-stderr efs $cmd
    echo "efs $cmd: $status" >&2
    assert_status 0
    assert_no_warning
  done
  run --separate-stderr restore_tree latest "$T/src" "$T/r3"
  assert_status 0
  comparetree "$T/src-2" "$T/r3" --no-atime
}

@test "a truncated snapshot object is skipped and named too" {
  damage_newest truncate
  run --separate-stderr efs snapshots
  assert_status $EXIT_INCOMPLETE
  assert_one_warning
  [[ "$output" == *"2 snapshot(s)"* ]]
  run --separate-stderr efs forget --keep-last 5 --dry-run
  assert_status $EXIT_INCOMPLETE
  assert_one_warning
  run --separate-stderr efs snapshots --json
  assert_status $EXIT_INCOMPLETE
  [[ $(jq length <<<"$output") == 2 ]]
}

@test "backup beside an unreadable snapshot: the parent is the newest readable one, nothing is read again, exit 3" {
  damage_newest flip
  # file-1 and file-2 are in S2 (the newest readable snapshot); file-3 is new to it.
  run --separate-stderr efs --json backup "$T/src"
  assert_status $EXIT_INCOMPLETE
  assert_one_warning
  local summary
  summary=$(tail -n 1 <<<"$output")
  [[ "$(jq -r .parent <<<"$summary")" == "$S2" ]]
  [[ "$(jq '.files_unchanged' <<<"$summary")" == 2 ]]
  [[ "$(jq '.files_new' <<<"$summary")" == 1 ]]
  # A listing that fails for another reason fails the backup, naming the cause,
  # instead of reading everything again without a parent.
  mv "$REPO/snapshots" "$REPO/snapshots.away"
  echo "not a directory" >"$REPO/snapshots"
  run --separate-stderr efs backup "$T/src"
  rm "$REPO/snapshots"
  mv "$REPO/snapshots.away" "$REPO/snapshots"
  assert_status $EXIT_FATAL
  [[ "$stderr" == *"snapshots"* ]]
  (( $(wc -l <<<"$stderr") == 1 ))
}
