#!/usr/bin/env bats
# Point-in-time recovery (--point-in-time, docs/S3.md): a repository in a versioned
# bucket, wiped and overwritten by someone holding its own credentials, is read as it
# was before: snapshots, restore byte for byte, check --read-data; writing commands
# refuse the option.
#
# Needs EFS2S3_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (radosgw from
# scripts/test.sh or scripts/radosgw.sh) and the aws CLI, which plays the attacker;
# skips without them unless EFS2S3_TEST_DISALLOW_SKIP contains S3. Each test uses a
# versioned bucket of its own, removed with all its versions in teardown.

load common

# require_s3_and_aws: the S3 server and the aws CLI, or skip (fail when
# EFS2S3_TEST_DISALLOW_SKIP contains S3); sets EP, BUCKET (a new name) and URL.
require_s3_and_aws() {
  require_s3_server || return 1
  if ! command -v aws >/dev/null; then
    if [[ "${EFS2S3_TEST_DISALLOW_SKIP:-}" == *S3* ]]; then
      echo "the aws CLI is not installed but EFS2S3_TEST_DISALLOW_SKIP=S3" >&2
      return 1
    fi
    skip "the aws CLI is not installed"
  fi
  BUCKET="efs2s3-pit-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  URL="s3://$BUCKET/repo"
}

# s3_setup: a versioned bucket $BUCKET and an initialised repository $URL in it.
s3_setup() {
  require_s3_and_aws || return 1
  s3api create-bucket --bucket "$BUCKET" >/dev/null
  s3api put-bucket-versioning --bucket "$BUCKET" \
    --versioning-configuration Status=Enabled
  run s3e init
  assert_status 0
}

teardown() {
  if [[ -n "${BUCKET:-}" && -z "${LOCKED:-}" ]]; then
    delete_all_versions || true
    s3api delete-bucket --bucket "$BUCKET" >/dev/null 2>&1 || true
  fi
  common_teardown
}

# s3e ARGS...: the binary on the test repository.
s3e() { "$EFS2S3" -r "$URL" --s3-endpoint "$EP" --s3-path-style "$@"; }
s3api() { aws --endpoint-url "$EP" s3api "$@"; }

# versions: every version and delete marker of the bucket, one "KEY VERSION TIME" per
# line.
versions() {
  s3api list-object-versions --bucket "$BUCKET" --output json |
    jq -r '(.Versions // []) + (.DeleteMarkers // []) | .[] |
           "\(.Key) \(.VersionId) \(.LastModified)"' | sort
}

# newest_time: the server's time of the latest write or delete in the bucket, as it
# stamps them (RFC 3339, milliseconds on radosgw).
newest_time() {
  s3api list-object-versions --bucket "$BUCKET" --output json |
    jq -r '(.Versions // []) + (.DeleteMarkers // []) | map(.LastModified) | max'
}

# wait_past TIME: returns once the server stamps a new write later than TIME. An
# object's time has milliseconds (whole seconds on Amazon S3), so a write in the same
# tick as TIME would count as "at TIME": a scratch object outside the repository is
# written until its time is past TIME (not a sleep that hopes for the best).
wait_past() {
  local t
  while :; do
    echo tick >"$T/tick"
    s3api put-object --bucket "$BUCKET" --key scratch --body "$T/tick" >/dev/null
    t=$(s3api list-object-versions --bucket "$BUCKET" --prefix scratch --output json |
      jq -r '.Versions | map(.LastModified) | max')
    [[ "$t" > "$1" ]] && return 0
    sleep 0.05
  done
}

# delete_all_versions: removes every version and delete marker of the bucket (500 a
# round, at most 8 rounds: the tests' buckets hold far fewer).
delete_all_versions() {
  local batch _
  for _ in 1 2 3 4 5 6 7 8; do
    batch=$(s3api list-object-versions --bucket "$BUCKET" --max-items 500 --output json |
      jq -c '{Objects: (((.Versions // []) + (.DeleteMarkers // [])) |
                         map({Key, VersionId})), Quiet: true}')
    [[ $(jq '.Objects | length' <<<"$batch") == 0 ]] && return 0
    echo "$batch" >"$T/delete.json"
    s3api delete-objects --bucket "$BUCKET" --delete "file://$T/delete.json" >/dev/null
  done
}

# attack: with the repository's own credentials, delete every current object of the
# repository (delete markers), then write garbage over config, every key file and
# one snapshot.
attack() {
  local keys snaps k
  keys=$(s3api list-objects-v2 --bucket "$BUCKET" --prefix repo/ --output json |
    jq -r '.Contents // [] | .[].Key')
  [[ -n "$keys" ]]
  jq -Rn '{Objects: [inputs | select(length > 0) | {Key: .}], Quiet: true}' \
    <<<"$keys" >"$T/delete.json"
  s3api delete-objects --bucket "$BUCKET" --delete "file://$T/delete.json" >/dev/null
  head -c 4096 /dev/urandom >"$T/garbage"
  s3api put-object --bucket "$BUCKET" --key repo/config --body "$T/garbage" >/dev/null
  for k in $(grep '^repo/keys/' <<<"$keys"); do
    s3api put-object --bucket "$BUCKET" --key "$k" --body "$T/garbage" >/dev/null
  done
  snaps=$(grep '^repo/snapshots/' <<<"$keys" | head -n1)
  s3api put-object --bucket "$BUCKET" --key "$snaps" --body "$T/garbage" >/dev/null
  # Nothing current is left but garbage.
  [[ $(s3api list-objects-v2 --bucket "$BUCKET" --prefix repo/ --output json |
    jq '.Contents | length') == $((2 + $(grep -c '^repo/keys/' <<<"$keys"))) ]]
}

# attack_and_recover: on the initialised repository, back up $T/src twice, wreck the
# repository (attack), then read it back at a time before the attack and at one
# between the backups.
attack_and_recover() {
  run s3e backup "$T/src"
  assert_status 0
  wait_past "$(newest_time)"
  between=$(newest_time)
  first=$(s3e --json snapshots | jq -r '.[].id')
  wait_past "$between"
  echo "a file of the second backup" >"$T/src/added"
  run s3e backup "$T/src"
  assert_status 0
  before=$(s3e --json snapshots | jq -r '.[].id' | sort)
  [[ $(wc -l <<<"$before") == 2 ]]
  t=$(newest_time)
  wait_past "$t"

  attack
  # Plain commands now fail, clearly.
  run s3e snapshots
  (( status != 0 ))
  [[ $(wc -l <<<"$output") == 1 ]]
  assert_output_has "damaged key file"
  run s3e restore latest --target "$T/lost"
  (( status != 0 ))

  versions >"$T/versions.before"
  run --separate-stderr s3e --point-in-time "$t" --json snapshots
  assert_status 0
  [[ $(jq -r '.[].id' <<<"$output" | sort) == "$before" ]]

  run s3e --point-in-time "$t" restore "latest:$T/src" --target "$T/restore" --sparse
  assert_status 0
  run comparetree "$T/src" "$T/restore"
  assert_status 0

  run s3e --point-in-time "$t" check --read-data
  assert_status 0
  assert_output_has "no errors found"
  run s3e --point-in-time "$t" ls latest
  assert_status 0
  assert_output_has "added"

  # Between the two backups: only the first snapshot.
  run --separate-stderr s3e --point-in-time "$between" --json snapshots
  assert_status 0
  [[ $(jq -r '.[].id' <<<"$output") == "$first" ]]

  # The views wrote nothing, not even a lock.
  versions >"$T/versions.after"
  diff "$T/versions.before" "$T/versions.after"
}

@test "point in time: after the repository is wiped and overwritten, the snapshots from before list, restore byte for byte and check" {
  s3_setup
  gentree "$T/src" --small
  attack_and_recover
}

@test "point in time: the same attack on a repository with Object Lock (delete markers over locked versions)" {
  require_s3_and_aws || return 1
  LOCKED=1  # its versions stay until their retention ends: teardown leaves them
  run s3e init --object-lock governance --lock-days 1
  assert_status 0
  mkdir -p "$T/src/sub"
  for i in $(seq 1 20); do random_file "$T/src/sub/f$i" $((20000 + i * 997)); done
  attack_and_recover
}

@test "point in time: writing commands refuse the option before touching the repository" {
  s3_setup
  mkdir "$T/src"
  echo data >"$T/src/f"
  run s3e backup "$T/src"
  assert_status 0
  t=$(newest_time)
  versions >"$T/versions.before"
  for cmd in "backup $T/src" "forget --keep-last 1" "prune" "repair index" \
    "key add" "init" "unlock" "forget --keep-last 1 --dry-run"; do
    # shellcheck disable=SC2086 # the words of $cmd are its arguments
    run s3e --point-in-time "$t" $cmd
    assert_status "$EXIT_USAGE"
    [[ $(wc -l <<<"$output") == 1 ]]
    assert_output_has "--point-in-time opens the repository read-only"
  done
  versions >"$T/versions.after"
  diff "$T/versions.before" "$T/versions.after"

  run s3e --point-in-time "not a time" snapshots
  assert_status "$EXIT_USAGE"
  assert_output_has "--point-in-time: cannot parse time"
  # Before the repository existed there is none.
  run s3e --point-in-time "2001-01-01T00:00:00Z" snapshots
  assert_status "$EXIT_NO_REPO"
  assert_output_has "no repository here at --point-in-time"
}

@test "point in time: a local repository refuses the option with one line" {
  init_repo
  run efs --point-in-time "2026-12-01 12:00:00" snapshots
  assert_status "$EXIT_USAGE"
  [[ $(wc -l <<<"$output") == 1 ]]
  assert_output_has "--point-in-time needs an S3 repository"
}
