#!/usr/bin/env bats
# stats: restic's four modes, the deduplication and compression ratios and the
# bytes per storage class, checked against what the source trees and the
# repository's files hold; on a local and an S3 repository (radosgw).

load common
load either_repo

setup() {
  common_setup
  # Three files with one content, one with another, a hard link, a symlink,
  # a compressible and an incompressible file.
  mkdir -p "$T/src/sub"
  random_file "$T/src/a" 100000
  cp "$T/src/a" "$T/src/b"
  cp "$T/src/a" "$T/src/sub/c"
  random_file "$T/src/d" 70000
  ln "$T/src/d" "$T/src/sub/d-link"
  ln -s a "$T/src/link"
  head -c 2000000 /dev/zero >"$T/src/zeros"
  random_file "$T/src/random" 3000000
}

teardown() { either_repo_teardown; }

# stats_json ARGS...: $J, the stats document.
stats_json() {
  run --separate-stderr r --json stats "$@"
  assert_status 0
  J="$output"
}

# The source's file bytes with each inode once.
source_bytes() {
  find "$T/src" -type f -printf '%i %s\n' | sort -u | awk '{ s += $2 } END { print s }'
}

check_stats() {
  run r backup "$T/src"
  assert_status 0
  # restore-size: every entry of the snapshot (ls lists the same), the file
  # bytes with the hard link once.
  stats_json latest
  local entries
  entries=$(r ls latest | wc -l)
  jq -e --argjson n "$entries" --argjson b "$(source_bytes)" \
    '.mode == "restore-size" and .snapshots_processed == 1 and
     .total_file_count == $n and .total_size == $b and
     .restore_size.files == 7' <<<"$J"
  # files-by-contents: a, b and sub/c are one content; d and d-link one.
  stats_json latest --mode files-by-contents
  jq -e '.total_file_count == 4' <<<"$J"
  jq -e --argjson b "$((100000 + 70000 + 2000000 + 3000000))" '.total_size == $b' <<<"$J"
  stats_json latest --mode blobs-per-file
  jq -e '.total_file_count == 4 and .total_size > 0' <<<"$J"
  # raw-data: the distinct blobs; zeros compress, so stored < uncompressed.
  stats_json latest --mode raw-data
  jq -e '.raw_data.tree_blobs >= 2 and .raw_data.data_blobs >= 4 and
         .total_blob_count == .raw_data.blobs and
         .total_size == .raw_data.stored_size and
         .raw_data.stored_size < .raw_data.uncompressed_size and
         .compression_ratio > 1' <<<"$J"
  local data_blobs
  data_blobs=$(jq .raw_data.data_blobs <<<"$J")
  # A second snapshot of the same files: twice the restore size, the same
  # data blobs (only the trees of the directories above the source, whose
  # times changed, are new); the ratio is restore size / distinct data.
  run r backup "$T/src" --force
  assert_status 0
  stats_json
  jq -e --argjson b "$(source_bytes)" --argjson n "$data_blobs" \
    '.snapshots_processed == 2 and .total_size == 2 * $b and
     .raw_data.data_blobs == $n and
     (.dedup_ratio - .total_size / .raw_data.uncompressed_size | fabs) < 0.0001 and
     .dedup_ratio > 1.9' <<<"$J"
  # Text output names the mode and the ratios.
  run --separate-stderr r stats
  assert_status 0
  assert_output_has "stats in restore-size mode"
  assert_output_has "deduplication ratio"
}

@test "stats: the four modes and the ratios (local), bytes per storage class = the files of the repository" {
  use_local
  check_stats
  stats_json
  local bytes
  bytes=$(find "$REPO" -type f ! -path "$REPO/locks/*" -printf '%s\n' | awk '{ s += $1 } END { print s }')
  jq -e --argjson b "$bytes" '.repository.bytes == $b and
      (.repository.storage_classes | length == 1 and .[0].storage_class == "" and .[0].bytes == $b)' <<<"$J"
}

@test "stats: the same on S3; objects listed by their storage class" {
  use_s3
  check_stats
  stats_json
  jq -e '.repository.storage_classes | length == 1 and .[0].storage_class == "STANDARD" and .[0].bytes > 0' <<<"$J"
}

@test "stats: --host and --tag choose the snapshots" {
  use_local
  run r backup "$T/src" --host h1 --tag a
  assert_status 0
  run r backup "$T/src" --host h2 --tag b --force
  assert_status 0
  stats_json --host h1
  jq -e '.snapshots_processed == 1' <<<"$J"
  stats_json --tag b
  jq -e '.snapshots_processed == 1' <<<"$J"
  stats_json --tag c
  jq -e '.snapshots_processed == 0 and .total_size == 0' <<<"$J"
  stats_json
  jq -e '.snapshots_processed == 2' <<<"$J"
}

@test "stats: a mode that does not exist and a snapshot that does not exist are named" {
  use_local
  run --separate-stderr r stats --mode everything
  assert_status "$EXIT_USAGE"
  assert_output_has "--mode"
  run --separate-stderr r stats 0123abcd
  assert_status "$EXIT_FATAL"
  assert_output_has "0123abcd"
}
