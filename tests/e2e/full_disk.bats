#!/usr/bin/env bats
# A file system that fills up, under the repository or under a restore's target:
# the repository's error stops a backup and is printed once (not once per file
# that was being saved); a restore names each file it could not write once.
#
# Mounts a 2 MiB tmpfs, so it needs root; skips otherwise.

load common

setup() {
  common_setup
  FULL=""
  is_root || skip "needs root to mount a small tmpfs"
  mkdir -p "$T/full"
  mount -t tmpfs -o size=2m tmpfs "$T/full" || skip "cannot mount a tmpfs"
  FULL="$T/full"
}

teardown() {
  [[ -z "${FULL:-}" ]] || umount "$FULL" || true
  common_teardown
}

# many_files DIR N: N files of 96 KiB of random data (they do not compress).
many_files() {
  local i
  mkdir -p "$1"
  for i in $(seq 1 "$2"); do
    random_file "$1/f$i" $((96 * 1024))
  done
}

@test "a backup into a full repository prints the repository's error once" {
  REPO="$FULL/repo"
  # Packs of 1 MiB: the disk fills up while most files are still to be saved.
  run efs init --pack-size 1
  assert_status 0
  many_files "$T/src/a" 40
  many_files "$T/src/b" 40
  run --separate-stderr efs backup "$T/src"
  (( status != 0 ))
  local n
  n=$(grep -c "No space left on device" <<<"$stderr" || true)
  if (( n != 1 )); then
    printf 'expected the error once, got it %s times:\n%s\n' "$n" "$stderr" >&2
    return 1
  fi
  # It is the run's error, not a file's: the last line, and no file is listed.
  [[ "$(tail -n1 <<<"$stderr")" == *"No space left on device"* ]]
  [[ "$stderr" != *"could not be read"* ]]
}

@test "a restore into a full target names each file it could not write once" {
  init_repo
  many_files "$T/src" 40
  run efs backup "$T/src"
  assert_status 0
  run --separate-stderr efs restore latest --target "$FULL/out"
  (( status != 0 ))
  local errors dups
  errors=$(grep '^error: ' <<<"$stderr" || true)
  [[ -n "$errors" ]]
  # One line per file: no file is named twice, and no line is repeated.
  dups=$(sed -E 's/^error: ([^:]*):.*/\1/' <<<"$errors" | sort | uniq -d)
  if [[ -n "$dups" ]]; then
    printf 'files named more than once:\n%s\n%s\n' "$dups" "$stderr" >&2
    return 1
  fi
}
