#!/usr/bin/env bats
# tag and rewrite: new snapshots in place of old ones, referring to the old
# trees wherever nothing changed; crash-safe (killed with SIGKILL between
# saving the new snapshot and removing the old: both remain, the repository
# checks clean, and the same command run again completes the replacement).
# On a local and an S3 repository (radosgw).

load common
load either_repo

setup() {
  common_setup
  mkdir -p "$T/src/a/b" "$T/src/c"
  echo one >"$T/src/a/b/x.tmp"
  echo two >"$T/src/a/b/keep"
  echo three >"$T/src/c/keep"
  random_file "$T/src/c/data" 200000
}

teardown() {
  [[ -n "${BG_PID:-}" ]] && kill -9 "$BG_PID" 2>/dev/null
  either_repo_teardown
}

# snap_field FIELD [ID]: a field of snapshot ID (default latest).
snap_field() { r cat snapshot "${2:-latest}" | jq -r "$1"; }
snapshot_count() { r --json snapshots | jq length; }

tag_and_rewrite() {
  run r backup "$T/src" --tag one
  assert_status 0
  local tree
  tree=$(snap_field .tree)
  # tag: the same tree, new tags, still one snapshot.
  run r tag latest --add two --remove one
  assert_status 0
  [[ "$(snapshot_count)" == 1 ]]
  [[ "$(snap_field '.tags | join(",")')" == two ]]
  [[ "$(snap_field .tree)" == "$tree" ]]
  run r tag latest --set three --set four
  assert_status 0
  [[ "$(snap_field '.tags | join(",")')" == three,four ]]
  # A tag change that changes nothing saves nothing.
  local id
  id=$(r --json snapshots | jq -r '.[0].id')
  run r tag latest --add three
  assert_status 0
  [[ "$(r --json snapshots | jq -r '.[0].id')" == "$id" ]]

  # rewrite: x.tmp leaves; new trees for its directory and those above only.
  run --separate-stderr r --json rewrite latest --exclude '*.tmp'
  assert_status 0
  local depth
  depth=$(tr -cd / <<<"$T/src/a/b" | wc -c)
  jq -e --argjson d "$((depth + 1))" '.changed | length == 1 and .[0].trees_saved == $d and
      .[0].removed_files == 1 and .[0].old_forgotten == false' <<<"$output"
  # The new snapshot has the old one's time: name it by its ID.
  local new
  new=$(jq -r '.changed[0].new' <<<"$output")
  [[ "$(snapshot_count)" == 2 ]]
  run r ls "$new" "$T/src"
  assert_status 0
  [[ "$output" != *x.tmp* && "$output" == *"a/b/keep"* && "$output" == *"c/data"* ]]
  run r restore "$new:$T/src" --target "$T/restored"
  assert_status 0
  rm "$T/src/a/b/x.tmp"
  diff -r "$T/src" "$T/restored"
  # Again with --forget: nothing more to exclude; then another pattern.
  run r rewrite "$new" --exclude '*.tmp' --forget
  assert_status 0
  assert_output_has "nothing excluded"
  run r rewrite "$new" --exclude data --forget
  assert_status 0
  [[ "$(snapshot_count)" == 2 ]]
  run r check --read-data
  assert_status 0
}

@test "tag and rewrite: same tree for a tag, new trees only above what is excluded (local)" {
  use_local
  tag_and_rewrite
}

@test "tag and rewrite on S3" {
  use_s3
  tag_and_rewrite
}

# killed_between ARGS...: runs `r ARGS...`, kills it with SIGKILL once the new
# snapshot is saved and before the old one is removed, and removes its stale
# lock.
killed_between() {
  gate_setup "$(mktemp -d "$T/gate.XXXXXX")"
  gate_start SNAPSHOT_REPLACED "$T/killed.log" "$EFS2S3" "${R[@]}" "$@"
  kill -9 "$BG_PID"
  wait "$BG_PID" || true
  BG_PID=""
  gate_release
  run r unlock --remove-all
  assert_status 0
}

crash_safety() {
  run r backup "$T/src" --tag one
  assert_status 0
  local old
  old=$(r --json snapshots | jq -r '.[0].id')
  # tag killed half way: old and new both there, nothing lost.
  killed_between tag "$old" --set two
  [[ "$(snapshot_count)" == 2 ]]
  run r check
  assert_status 0
  # Run again: the replacement is completed, with no duplicate.
  run r tag "$old" --set two
  assert_status 0
  [[ "$(snapshot_count)" == 1 ]]
  [[ "$(snap_field '.tags | join(",")')" == two ]]
  old=$(r --json snapshots | jq -r '.[0].id')
  # rewrite --forget killed half way: the same.
  killed_between rewrite "$old" --exclude '*.tmp' --forget
  [[ "$(snapshot_count)" == 2 ]]
  run r check --read-data
  assert_status 0
  run r rewrite "$old" --exclude '*.tmp' --forget
  assert_status 0
  [[ "$(snapshot_count)" == 1 ]]
  run r ls latest "$T/src"
  [[ "$output" != *x.tmp* && "$output" == *"c/data"* ]]
  run r check --read-data
  assert_status 0
}

@test "tag and rewrite killed between saving the new snapshot and removing the old (local)" {
  use_local
  crash_safety
}

@test "tag and rewrite killed half way, on S3" {
  use_s3
  crash_safety
}

@test "tag and rewrite: what is wrong is named" {
  use_local
  run r backup "$T/src"
  assert_status 0
  run --separate-stderr r tag latest
  assert_status "$EXIT_USAGE"
  assert_output_has "give --add, --remove or --set"
  run --separate-stderr r tag latest --set a --add b
  assert_status "$EXIT_USAGE"
  run --separate-stderr r rewrite latest
  assert_status "$EXIT_USAGE"
  assert_output_has "give --exclude"
  run --separate-stderr r tag ffffffff --add x
  assert_status "$EXIT_FATAL"
}
