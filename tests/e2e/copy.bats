#!/usr/bin/env bats
# copy --from-repo: snapshots and only the blobs the destination lacks, re-encrypted
# under the destination's keys; a second copy copies nothing; check passes on both
# sides; local -> S3 and S3 -> local (radosgw; the S3 tests skip without it unless
# EFS2S3_TEST_DISALLOW_SKIP contains S3); an interrupted copy leaves the destination
# consistent.

load common

setup() {
  common_setup
  BUCKET=""
  # The source (-r a) and destination repositories have different passwords,
  # each from its own source.
  printf 'source password\n' >"$T/pw-a"
  unset EFS2S3_PASSWORD
  export EFS2S3_PASSWORD_FILE="$T/pw-b"
  printf 'destination password\n' >"$T/pw-b"
  A="$T/a"
  "$EFS2S3" -r "$A" --password-file "$T/pw-a" init --scrypt-n 1024 >/dev/null
}

teardown() {
  if [[ -n "${BUCKET:-}" ]] && command -v aws >/dev/null; then
    aws --endpoint-url "$EP" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true
  fi
  common_teardown
}

# a ARGS...: the binary on the source repository.
a() { "$EFS2S3" -r "$A" --password-file "$T/pw-a" "$@"; }

# s3_repo: B is a new repository in a bucket of its own on the S3 server.
s3_repo() {
  require_s3_server || return 1
  BUCKET="efs2s3-copy-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  B="s3://$BUCKET/repo"
  S3=(--s3-endpoint "$EP" --s3-path-style)
}

# b ARGS...: the binary on the destination repository B.
b() { "$EFS2S3" -r "$B" "${S3[@]}" "$@"; }

json_field() { printf '%s\n' "$output" | tail -n1 | jq -r ".$1"; }

# two_snapshots: two backups of a generated tree into A, a file changed between them.
two_snapshots() {
  gentree "$T/src" --small
  run a backup "$T/src"
  assert_status 0
  random_file "$T/src/new-file" 300000
  run a backup "$T/src"
  assert_status 0
}

# copy_both_ways: A -> B (B created here), B -> C (a new local repository).
copy_both_ways() {
  two_snapshots
  run b init --scrypt-n 1024
  assert_status 0
  run --separate-stderr b --json copy --from-repo "$A" --from-password-file "$T/pw-a"
  assert_status 0
  [[ "$(json_field snapshots_copied)" == 2 ]]
  (( $(json_field blobs_added) > 0 ))
  run b --json snapshots
  assert_status 0
  [[ "$(printf '%s' "$output" | jq length)" == 2 ]]
  run b restore latest:"$T/src" --target "$T/r-b" --sparse
  assert_status 0
  run comparetree "$T/src" "$T/r-b"
  assert_status 0

  # Again: nothing is read, nothing uploaded.
  run --separate-stderr b --json copy --from-repo "$A" --from-password-file "$T/pw-a"
  assert_status 0
  [[ "$(json_field snapshots_copied)" == 0 ]]
  [[ "$(json_field snapshots_skipped)" == 2 ]]
  [[ "$(json_field blobs_read)" == 0 ]]
  [[ "$(json_field packs_uploaded)" == 0 ]]

  run a check --read-data
  assert_status 0
  run b check --read-data
  assert_status 0

  # B -> C, the source's password from a command (and EFS2S3_FROM_REPOSITORY).
  C="$T/c"
  printf 'third password\n' >"$T/pw-c"
  run "$EFS2S3" -r "$C" --password-file "$T/pw-c" init --scrypt-n 1024
  assert_status 0
  EFS2S3_FROM_REPOSITORY="$B" run --separate-stderr "$EFS2S3" -r "$C" \
    --password-file "$T/pw-c" "${S3[@]}" --json copy \
    --from-password-command "cat $T/pw-b"
  assert_status 0
  [[ "$(json_field snapshots_copied)" == 2 ]]
  run "$EFS2S3" -r "$C" --password-file "$T/pw-c" restore latest:"$T/src" \
    --target "$T/r-c" --sparse
  assert_status 0
  run comparetree "$T/src" "$T/r-c"
  assert_status 0
  run "$EFS2S3" -r "$C" --password-file "$T/pw-c" check --read-data
  assert_status 0
  # Copies of copies are recognised: C back into A copies nothing.
  run --separate-stderr a --json copy --from-repo "$C" --from-password-file "$T/pw-c"
  assert_status 0
  [[ "$(json_field snapshots_copied)" == 0 ]]
  [[ "$(json_field snapshots_skipped)" == 2 ]]
}

@test "copy: local -> local -> local, idempotent, check passes on every side" {
  B="$T/b"
  S3=()
  copy_both_ways
}

@test "copy: local -> S3 -> local, idempotent, check passes on every side" {
  s3_repo
  copy_both_ways
}

@test "copy: a new snapshot copies only its new data; named snapshots only" {
  B="$T/b"
  S3=()
  two_snapshots
  run b init --scrypt-n 1024
  assert_status 0
  local first
  first=$(a --json snapshots | jq -r '.[0].id')
  run --separate-stderr b --json copy --from-repo "$A" --from-password-file "$T/pw-a" \
    "${first:0:8}"
  assert_status 0
  [[ "$(json_field snapshots_copied)" == 1 ]]
  [[ "$(json_field 'copied[0].from')" == "$first" ]]
  # The second snapshot adds only the new file (300,000 bytes) and its trees.
  run --separate-stderr b --json copy --from-repo "$A" --from-password-file "$T/pw-a"
  assert_status 0
  [[ "$(json_field snapshots_copied)" == 1 ]]
  [[ "$(json_field snapshots_skipped)" == 1 ]]
  [[ "$(json_field bytes_added)" == 300000 ]]
  # Its parent is the copy of its parent.
  run b --json snapshots
  local ids parent
  ids=$(printf '%s' "$output" | jq -r '.[0].id')
  parent=$(printf '%s' "$output" | jq -r '.[1].parent')
  [[ "$parent" == "$ids" ]]
}

@test "copy: killed before its snapshot is saved, the destination stays consistent" {
  B="$T/b"
  S3=()
  two_snapshots
  run b init --scrypt-n 1024
  assert_status 0
  gate_setup
  gate_start COPY_TREE_COPIED "$T/copy.out" "$EFS2S3" -r "$B" copy --from-repo "$A" \
    --from-password-file "$T/pw-a"
  kill -9 "$BG_PID"
  wait "$BG_PID" || true
  gate_release
  run b --json snapshots
  assert_status 0
  [[ "$(printf '%s' "$output" | jq length)" == 0 ]]
  run b check
  assert_status 0
  run b unlock
  run --separate-stderr b --json copy --from-repo "$A" --from-password-file "$T/pw-a"
  assert_status 0
  [[ "$(json_field snapshots_copied)" == 2 ]]
  run b check --read-data
  assert_status 0
}

@test "copy: bad sources are named: wrong password, no repository, the destination itself" {
  B="$T/b"
  S3=()
  run b init --scrypt-n 1024
  assert_status 0
  printf 'wrong\n' >"$T/pw-wrong"
  run --separate-stderr b copy --from-repo "$A" --from-password-file "$T/pw-wrong"
  assert_status "$EXIT_WRONG_PASSWORD"
  run --separate-stderr b copy --from-repo "$T/none" --from-password-file "$T/pw-a"
  assert_status "$EXIT_NO_REPO"
  assert_output_has "$T/none"
  run --separate-stderr b copy --from-repo "$B" --from-password-file "$T/pw-b"
  assert_status "$EXIT_USAGE"
  assert_output_has "the destination repository itself"
  run --separate-stderr b copy
  assert_status "$EXIT_USAGE"
  assert_output_has "--from-repo"
}
