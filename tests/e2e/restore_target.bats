#!/usr/bin/env bats
# Restore never writes outside --target: escaping symlinks met during restore cannot
# redirect a write.

load common

# Layout: $T/outside must stay empty; restores go to $T/area/target, so that a symlink
# ../../outside inside the target points at $T/outside.
setup() {
  common_setup
  mkdir -p "$T/outside" "$T/area"
  init_repo
}

assert_outside_untouched() {
  local found
  found=$(find "$T/outside" -mindepth 1 | head -n5)
  if [[ -n "$found" ]]; then
    printf 'restore wrote outside the target:\n%s\n' "$found" >&2
    return 1
  fi
}

@test "a symlink to ../../outside and then a file of the same path: nothing outside" {
  # First snapshot: d is a symlink escaping the target.
  mkdir "$T/src"
  ln -s ../../outside "$T/src/d"
  run efs backup --time "2020-01-01 00:00:00" "$T/src"
  assert_status 0
  # Second snapshot: d is a directory holding a file.
  rm "$T/src/d"
  mkdir "$T/src/d"
  echo "must stay inside" >"$T/src/d/file"
  run efs backup --time "2020-01-02 00:00:00" "$T/src"
  assert_status 0
  run --separate-stderr efs --json snapshots
  assert_status 0
  first=$(jq -r 'sort_by(.time) | .[0].id' <<<"$output")
  [[ -n "$first" && "$first" != null ]]

  # Restore the first snapshot, then the second into the same target.
  run restore_tree "$first" "$T/src" "$T/area/target"
  assert_status 0
  [[ -L "$T/area/target/d" ]]
  run restore_tree latest "$T/src" "$T/area/target"
  assert_outside_untouched
  if (( status == 0 )); then
    # The symlink was replaced by the directory of the snapshot.
    [[ -d "$T/area/target/d" && ! -L "$T/area/target/d" ]]
    [[ "$(cat "$T/area/target/d/file")" == "must stay inside" ]]
  fi
}

@test "a pre-existing escaping symlink in the target does not redirect a write" {
  mkdir -p "$T/src/d"
  echo "must stay inside" >"$T/src/d/file"
  run efs backup "$T/src"
  assert_status 0
  mkdir -p "$T/area/target"
  ln -s ../../outside "$T/area/target/d"

  run restore_tree latest "$T/src" "$T/area/target"
  assert_outside_untouched
}

@test "a pre-existing absolute symlink at a file's path is replaced, not followed" {
  mkdir "$T/src"
  echo "inside" >"$T/src/f"
  run efs backup "$T/src"
  assert_status 0
  mkdir -p "$T/area/target"
  ln -s "$T/outside/victim" "$T/area/target/f"

  run restore_tree latest "$T/src" "$T/area/target"
  assert_outside_untouched
}

@test "escaping symlinks in the snapshot are restored as symlinks, never followed" {
  mkdir -p "$T/src/sub"
  ln -s ../../outside "$T/src/up"
  ln -s "$T/outside" "$T/src/abs"
  ln -s ../../../outside "$T/src/sub/upup"
  echo data >"$T/src/sub/file"
  run efs backup "$T/src"
  assert_status 0

  run restore_tree latest "$T/src" "$T/area/target"
  assert_status 0
  assert_outside_untouched
  [[ "$(readlink "$T/area/target/up")" == ../../outside ]]
  [[ "$(readlink "$T/area/target/abs")" == "$T/outside" ]]
  [[ "$(readlink "$T/area/target/sub/upup")" == ../../../outside ]]
}

@test "a snapshot path with .. components cannot escape the target" {
  mkdir -p "$T/src/sub"
  echo data >"$T/src/sub/file"
  run efs backup "$T/src"
  assert_status 0

  before=$(ls -A "$T" "$T/.." "$T/area")
  run restore_tree latest "$T/src/sub/../../.." "$T/area/target"
  assert_outside_untouched
  run efs restore "latest:../../outside" --target "$T/area/target"
  assert_outside_untouched
  [[ "$(ls -A "$T" "$T/.." "$T/area" | grep -v '^target$')" == "$before" ]]
}

@test "include and exclude patterns with .. do not escape the target" {
  mkdir -p "$T/src/sub"
  echo data >"$T/src/sub/file"
  run efs backup "$T/src"
  assert_status 0
  run restore_tree latest "$T/src" "$T/area/target" --include "../../outside/*"
  assert_outside_untouched
  run restore_tree latest "$T/src" "$T/area/target2" --include "sub/../../../outside"
  assert_outside_untouched
}
