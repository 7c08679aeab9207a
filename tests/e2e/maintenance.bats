#!/usr/bin/env bats
# Retention and repository maintenance: forget + prune, check (structure and
# --read-data), repair index|snapshots, and crash safety of prune and backup under
# SIGKILL.

load common

# make_files DIR N SEED: N files of 20-60 KiB of random data, plus a subdirectory.
make_files() {
  local dir="$1" n="$2" i
  mkdir -p "$dir/sub"
  for i in $(seq 1 "$n"); do
    random_file "$dir/file-$3-$i" $(( (20 + (i * 7) % 40) * 1024 ))
  done
  random_file "$dir/sub/deep-$3" $((50 * 1024))
}

# backups N: N snapshots of $T/src, each changing a few files.
backups() {
  local k
  for k in $(seq 1 "$1"); do
    make_files "$T/src" 3 "$k"
    run efs backup "$T/src"
    assert_status 0
  done
}

# largest_pack: the biggest data pack (a data pack, not a tree pack).
largest_pack() { data_objects | head -n1; }

# check_clean: check exits 0 (hints about leftovers are fine).
check_clean() {
  run efs check "$@"
  assert_status 0
}

# random_delay MAX_MS: sleeps a random time below MAX_MS milliseconds.
random_delay() { sleep "$(printf '0.%03d' $((RANDOM % $1)))"; }

setup() {
  common_setup
  mkdir "$T/src"
  init_repo
}

@test "backup, forget, prune, check: space is reclaimed and the kept snapshot restores" {
  make_files "$T/src" 10 0
  backups 4
  run efs forget --keep-last 1
  assert_status 0
  before=$(repo_size)
  run efs prune --dry-run
  assert_status 0
  assert_output_has "delete"
  (( $(repo_size) == before ))
  run efs prune
  assert_status 0
  (( $(repo_size) < before ))
  check_clean --read-data
  [[ "$output" == *"no errors found"* ]]
  run efs restore latest --target "$T/restore"
  assert_status 0
  comparetree "$T/src" "$T/restore$T/src" --no-atime
  # A second prune has nothing to do.
  run efs prune
  assert_status 0
  assert_output_has "nothing to prune"
}

@test "forget --prune removes snapshots and their data in one command" {
  backups 3
  before=$(repo_size)
  run efs forget --keep-last 1 --prune
  assert_status 0
  (( $(repo_size) < before ))
  check_clean
}

@test "prune --json and check --json print one JSON document each" {
  backups 2
  run --separate-stderr efs prune --json --dry-run
  assert_status 0
  [[ $(jq -r .message_type <<<"$output") == prune ]]
  [[ $(jq -r .plan.snapshots <<<"$output") == 2 ]]
  run --separate-stderr efs check --json --read-data
  assert_status 0
  [[ $(jq -r .ok <<<"$output") == true ]]
  [[ $(jq -r '.errors | length' <<<"$output") == 0 ]]
}

@test "a deleted pack: check names the pack and the snapshot paths that use it" {
  make_files "$T/src" 5 0
  backups 1
  pack=$(largest_pack)
  name=$(basename "$pack")
  rm -f "$pack"
  run efs check
  assert_status 1
  assert_output_has "pack $name"
  assert_output_has "$T/src/file-"
  run --separate-stderr efs check --json
  assert_status 1
  [[ $(jq -r '[.errors[] | select(.kind == "missing_pack")][0].id' <<<"$output") == "$name" ]]
  jq -e '[.errors[] | select(.kind == "missing_blob") | .paths[].path] | length > 0' <<<"$output"
  # prune refuses to run on a damaged repository and changes nothing.
  run efs prune
  (( status != 0 ))
}

@test "a flipped byte: check passes, check --read-data reports the damaged blob and file" {
  make_files "$T/src" 5 0
  backups 1
  pack=$(largest_pack)
  flip_byte "$pack" 1000
  check_clean
  run efs check --read-data
  assert_status 1
  assert_output_has "damaged"
  assert_output_has "$T/src/"
  # Read-data subsets: the slices 1/2 and 2/2 together find it, exactly one of them.
  found=0
  for n in 1 2; do
    run efs check --read-data-subset "$n/2"
    (( status == 0 || status == 1 ))
    found=$((found + status))
  done
  (( found == 1 ))
  run efs check --read-data-subset 100%
  assert_status 1
  run efs check --read-data-subset 0/2
  assert_status 1
  assert_output_has "read-data-subset"
}

@test "repair index after deleting every index file: restore works and check is clean" {
  make_files "$T/src" 5 0
  backups 2
  rm -f "$REPO"/index/*
  rm -rf "$XDG_CACHE_HOME"
  run efs restore latest --target "$T/broken"
  (( status != 0 ))
  run efs repair index
  assert_status 0
  check_clean --read-data
  run efs restore latest --target "$T/restore"
  assert_status 0
  comparetree "$T/src" "$T/restore$T/src" --no-atime
}

@test "repair index replaces a damaged index file" {
  backups 2
  idx=$(ls "$REPO"/index/* | head -n1)
  flip_byte "$idx" 20
  rm -rf "$XDG_CACHE_HOME"
  run efs check
  assert_status 1
  assert_output_has "index/"
  run efs repair index
  assert_status 0
  check_clean --read-data
}

@test "repair snapshots drops files whose data is gone and keeps the rest" {
  make_files "$T/src" 5 0
  backups 1
  data_objects | sort >"$T/first"
  make_files "$T/src" 3 second
  run efs backup "$T/src"
  assert_status 0
  # The largest pack of the second backup holds only its new files.
  pack=$(data_objects | grep -vxF -f "$T/first" | head -n1)
  [[ -n "$pack" ]]
  rm -f "$pack"
  run efs repair index
  assert_status 0
  run efs repair snapshots --dry-run
  assert_status 0
  assert_output_has "would be rewritten"
  run efs repair snapshots
  assert_status 0
  assert_output_has "dropped $T/src/file-second-1"
  check_clean --read-data
  run efs snapshots
  assert_output_has "repaired"
  run efs restore latest --target "$T/restore"
  assert_status 0
  # The files of the first backup survive intact; the lost ones are gone.
  for f in "$T/src"/file-0-*; do
    cmp "$f" "$T/restore$f"
  done
  [[ ! -e "$T/restore$T/src/file-second-1" ]]
}

@test "prune killed with SIGKILL at random moments 20 times: check clean, then prune finishes" {
  # 24 snapshots, each of its own files: forgetting one frees its packs.
  for k in $(seq 1 24); do
    rm -rf "$T/src"/*
    make_files "$T/src" 4 "$k"
    run efs backup "$T/src"
    assert_status 0
  done
  interrupted=0
  for i in $(seq 1 20); do
    # More work for each attempt: forget the oldest snapshot.
    oldest=$(efs snapshots --json | jq -r '.[0].id')
    run efs forget "$oldest"
    assert_status 0
    # The binary itself, not a shell function: SIGKILL must hit efs2s3.
    "$EFS2S3" -r "$REPO" prune --max-unused 0 >/dev/null 2>&1 &
    pid=$!
    # An uninterrupted prune takes about 0.3 s here: kill anywhere in that span.
    random_delay 450
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" || true
    run efs check
    [[ "$output" != *"hint:"* ]] || interrupted=$((interrupted + 1))
    if (( status != 0 )); then
      echo "check after kill $i failed:" >&2
      printf '%s\n' "$output" >&2
      false
    fi
  done
  echo "# $interrupted of 20 kills left leftovers of an interrupted prune" >&3
  run efs prune --max-unused 0
  assert_status 0
  check_clean --read-data
  [[ "$output" != *"hint:"* ]] || { printf '%s\n' "$output" >&2; false; }
  run efs restore latest --target "$T/restore"
  assert_status 0
  comparetree "$T/src" "$T/restore$T/src" --no-atime
}

@test "backup killed with SIGKILL at random moments 20 times: check clean, then backup succeeds" {
  gentree "$T/tree" --small
  for i in $(seq 1 20); do
    "$EFS2S3" -r "$REPO" backup "$T/tree" >/dev/null 2>&1 &
    pid=$!
    random_delay 900
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" || true
  done
  check_clean --read-data
  run efs backup "$T/tree"
  (( status == 0 || status == EXIT_INCOMPLETE ))
  check_clean --read-data
  run efs prune
  assert_status 0
  check_clean --read-data
  [[ "$output" != *"hint:"* ]]
}

@test "forget without a policy removes only partial snapshots superseded by a complete one" {
  mkdir -p "$T/src"
  echo a >"$T/src/a"
  run efs backup "$T/src" --tag partial --time "2026-01-01 00:00:00"
  assert_status 0
  # --force: a run that resumes from the partial snapshot would remove it itself.
  run efs backup "$T/src" --force --time "2026-01-02 00:00:00"
  assert_status 0
  run efs backup "$T/src" --tag partial --time "2026-01-03 00:00:00"
  assert_status 0
  run efs --json forget
  assert_status 0
  [[ "$(jq -r .removed <<<"$output")" == 1 ]]
  [[ "$(efs --json snapshots | jq -c '[.[].tags]')" == '[[],["partial"]]' ]]
  # Nothing left to supersede: no policy, nothing removed.
  run efs forget
  assert_status 0
  assert_output_has "no policy given: nothing removed"
}
