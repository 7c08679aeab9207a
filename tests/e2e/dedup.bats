#!/usr/bin/env bats
# Backing up the same data again, or a copy of a file, adds almost nothing.

load common

@test "a second backup of unchanged data adds almost nothing" {
  mkdir "$T/src"
  random_file "$T/src/a" $((6 * 1024 * 1024))
  random_file "$T/src/b" $((3 * 1024 * 1024))
  init_repo
  run efs backup "$T/src"
  assert_status 0
  before=$(repo_size)

  run efs backup "$T/src"
  assert_status 0
  after=$(repo_size)

  # A snapshot, perhaps an index and a lock that is gone: far below one MiB of data.
  echo "repository grew from $before to $after bytes" >&2
  (( after - before < 64 * 1024 ))
}

@test "a copy of a file under another name adds almost nothing" {
  mkdir "$T/src"
  random_file "$T/src/a" $((6 * 1024 * 1024))
  init_repo
  run efs backup "$T/src"
  assert_status 0
  before=$(repo_size)

  mkdir "$T/src/sub"
  cp "$T/src/a" "$T/src/sub/copy-of-a"
  run efs backup "$T/src"
  assert_status 0
  after=$(repo_size)

  echo "repository grew from $before to $after bytes" >&2
  (( after - before < 256 * 1024 ))
}

@test "the same data under another backup path is deduplicated" {
  mkdir "$T/one" "$T/two"
  random_file "$T/one/a" $((4 * 1024 * 1024))
  cp "$T/one/a" "$T/two/a"
  init_repo
  run efs backup "$T/one"
  assert_status 0
  before=$(repo_size)
  run efs backup "$T/two"
  assert_status 0
  after=$(repo_size)
  echo "repository grew from $before to $after bytes" >&2
  (( after - before < 256 * 1024 ))
}

@test "data inserted at the start of a large file re-stores only nearby chunks" {
  mkdir "$T/src"
  random_file "$T/src/big" $((24 * 1024 * 1024))
  init_repo
  run efs backup "$T/src"
  assert_status 0
  before=$(repo_size)

  { printf 'inserted'; cat "$T/src/big"; } >"$T/src/big.new"
  mv "$T/src/big.new" "$T/src/big"
  run efs backup "$T/src"
  assert_status 0
  after=$(repo_size)

  # Content-defined chunking: the chunks after the first cut point are unchanged.
  # Allow a maximum chunk (8 MiB) plus metadata.
  echo "repository grew from $before to $after bytes" >&2
  (( after - before < 9 * 1024 * 1024 ))
}

@test "a restored copy deduplicates to the same files" {
  mkdir "$T/src"
  random_file "$T/src/a" $((2 * 1024 * 1024))
  init_repo
  run efs backup "$T/src"
  assert_status 0
  run restore_tree latest "$T/src" "$T/restore"
  assert_status 0
  cmp "$T/src/a" "$T/restore/a"
}
