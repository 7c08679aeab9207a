#!/usr/bin/env bats
# Wrong password, missing repository, misuse: one-line errors and documented exit codes.

load common

# one_line_error: the error output is exactly one line.
one_line_error() {
  local lines
  lines=$(printf '%s' "$stderr" | grep -c '' || true)
  if (( lines != 1 )); then
    printf 'expected a one-line error, got %s lines:\n%s\n' "$lines" "$stderr" >&2
    return 1
  fi
}

@test "wrong password exits 12 with a one-line error" {
  init_repo
  EFS2S3_PASSWORD="wrong" run --separate-stderr efs snapshots
  assert_status "$EXIT_WRONG_PASSWORD"
  one_line_error
}

@test "wrong password on backup and restore exits 12 and changes nothing" {
  init_repo
  mkdir "$T/src"
  echo hello >"$T/src/f"
  before=$(find "$REPO" -type f | sort)
  EFS2S3_PASSWORD="wrong" run --separate-stderr efs backup "$T/src"
  assert_status "$EXIT_WRONG_PASSWORD"
  EFS2S3_PASSWORD="wrong" run --separate-stderr efs restore latest --target "$T/restore"
  assert_status "$EXIT_WRONG_PASSWORD"
  [[ ! -e "$T/restore" ]] || [[ -z "$(ls -A "$T/restore")" ]]
  after=$(find "$REPO" -type f | sort)
  [[ "$before" == "$after" ]]
}

@test "missing repository exits 10 with a one-line error" {
  REPO="$T/does-not-exist"
  run --separate-stderr efs snapshots
  assert_status "$EXIT_NO_REPO"
  one_line_error
  [[ ! -e "$REPO" ]]
}

@test "backup into a missing repository exits 10 and does not create it" {
  REPO="$T/does-not-exist"
  mkdir "$T/src"
  run --separate-stderr efs backup "$T/src"
  assert_status "$EXIT_NO_REPO"
  [[ ! -e "$REPO" ]]
}

@test "an empty directory is not a repository: exit 10" {
  mkdir "$REPO"
  run --separate-stderr efs snapshots
  assert_status "$EXIT_NO_REPO"
}

@test "the repository can come from EFS2S3_REPOSITORY" {
  init_repo
  EFS2S3_REPOSITORY="$REPO" run "$EFS2S3" snapshots
  assert_status 0
}

@test "init on an existing repository fails and keeps it usable" {
  init_repo
  config_before=$(find "$REPO" -type f -exec sha256sum {} + | sort)
  EFS2S3_PASSWORD="another password" run --separate-stderr efs init
  (( status != 0 ))
  [[ "$(find "$REPO" -type f -exec sha256sum {} + | sort)" == "$config_before" ]]
  run efs snapshots
  assert_status 0
}

@test "a missing password is an error, not a prompt" {
  init_repo
  unset EFS2S3_PASSWORD
  run --separate-stderr efs snapshots </dev/null
  (( status != 0 ))
  (( status != 130 ))
}

@test "the password can come from a file" {
  init_repo
  printf '%s\n' "$EFS2S3_PASSWORD" >"$T/pw"
  unset EFS2S3_PASSWORD
  run efs --password-file "$T/pw" snapshots
  assert_status 0
}

@test "an unknown snapshot ID is an error" {
  init_repo
  run --separate-stderr efs restore deadbeefdeadbeef --target "$T/restore"
  (( status != 0 ))
  [[ ! -e "$T/restore" ]] || [[ -z "$(ls -A "$T/restore")" ]]
}

@test "an unknown command exits 2 with one line, and a near miss gets a suggestion" {
  run --separate-stderr "$EFS2S3" no-such-command
  assert_status "$EXIT_USAGE"
  [[ "$stderr" == "efs2s3: unknown command 'no-such-command' (commands: "*")" ]]
  run --separate-stderr "$EFS2S3" -r "$REPO" --json snapshot
  assert_status "$EXIT_USAGE"
  [[ "$stderr" == "efs2s3: unknown command 'snapshot' (did you mean 'snapshots'?)" ]]
  [[ -z "$output" ]]
  run --separate-stderr "$EFS2S3" repair indx
  assert_status "$EXIT_USAGE"
  [[ "$stderr" == "efs2s3: unknown command 'repair indx' (did you mean 'repair index'?)" ]]
  # Values of options are not commands; other parse errors keep their message.
  run --separate-stderr "$EFS2S3" -r snapshot backup --readers 0 /x
  assert_status "$EXIT_USAGE"
  [[ "$stderr" == "efs2s3: --readers: "* ]]
}

@test "an unknown option is named with the command and the closest option, exit 2" {
  run --separate-stderr "$EFS2S3" backup --exlude x /tmp
  assert_status "$EXIT_USAGE"
  [[ "$stderr" == "efs2s3: unknown option '--exlude' of 'backup' (did you mean '--exclude'?)" ]]
  [[ -z "$output" ]]
  # Global options count, wherever they stand; and those of the subcommand.
  run --separate-stderr "$EFS2S3" snapshots --repoo x
  assert_status "$EXIT_USAGE"
  [[ "$stderr" == "efs2s3: unknown option '--repoo' of 'snapshots' (did you mean '--repo'?)" ]]
  run --separate-stderr "$EFS2S3" repair snapshots --forgt
  assert_status "$EXIT_USAGE"
  [[ "$stderr" == "efs2s3: unknown option '--forgt' of 'repair snapshots' (did you mean '--forget'?)" ]]
  # --opt=value; nothing close: a pointer to --help; no guess for one letter.
  run --separate-stderr "$EFS2S3" restore latest --targt=/x
  [[ "$stderr" == *"unknown option '--targt' of 'restore' (did you mean '--target'?)" ]]
  run --separate-stderr "$EFS2S3" backup --zzzzzzzz /x
  [[ "$stderr" == "efs2s3: unknown option '--zzzzzzzz' of 'backup' (see --help)" ]]
  run --separate-stderr "$EFS2S3" backup -Z /x
  [[ "$stderr" == "efs2s3: unknown option '-Z' of 'backup' (see --help)" ]]
  # A known option before the command is not taken for one.
  run --separate-stderr "$EFS2S3" --json snapshot
  [[ "$stderr" == "efs2s3: unknown command 'snapshot' (did you mean 'snapshots'?)" ]]
}

@test "an ambiguous snapshot ID prefix lists its candidates, exit 2" {
  init_repo
  mkdir -p "$T/src"
  echo a >"$T/src/a"
  # Snapshots until two IDs share their first digit (at most 17).
  local i prefix=""
  for i in $(seq 1 17); do
    run efs backup "$T/src" --host "host$i" --time "2021-01-01 00:00:$(printf %02d "$i")"
    assert_status 0
    prefix="$(efs --json snapshots | jq -r '.[].id[0:1]' | sort | uniq -d | head -n 1)"
    [[ -z "$prefix" ]] || break
  done
  [[ -n "$prefix" ]]
  local n before
  n="$(efs --json snapshots | jq --arg p "$prefix" '[.[] | select(.id | startswith($p))] | length')"
  before="$(efs --json snapshots | jq length)"
  for cmd in "ls $prefix" "restore $prefix --target $T/r" "diff $prefix latest" "forget $prefix"; do
    run --separate-stderr efs $cmd
    assert_status "$EXIT_USAGE"
    (( $(wc -l <<<"$stderr") == 1 ))
    [[ "$stderr" == "efs2s3: snapshot ID prefix '$prefix' is ambiguous: $n snapshots match: $prefix"* ]]
    # Each candidate with its time, host and path.
    while read -r id host; do
      [[ "$stderr" == *"${id:0:8}"*"T"*" $host $T/src)"* ]] || { echo "missing $id $host: $stderr" >&2; false; }
    done < <(efs --json snapshots | jq -r --arg p "$prefix" '.[] | select(.id | startswith($p)) | "\(.id) \(.hostname)"')
  done
  [[ ! -e "$T/r" ]]
  # The refused forget removed nothing.
  run efs --json snapshots
  (( $(jq length <<<"$output") == before ))
}

@test "counts and sizes out of range exit 2 with one line, never abort" {
  # Each of these aborted (SIGABRT) or overflowed before they were bounded.
  init_repo
  mkdir "$T/src"
  echo x >"$T/src/f"
  local -a bad=(
    "backup $T/src --readers 99999999"
    "backup $T/src --readers 0"
    "backup $T/src --walkers 100000"
    "backup $T/src --uploads 100000000"
    "restore latest --target $T/r --workers 100000000"
    "--s3-connections 100000 snapshots"
    "--s3-max-attempts 0 snapshots"
    "sync $T/src s3://bucket/p --part-size 1"
    "sync $T/src s3://bucket/p --transfers 0"
    "sync $T/src s3://bucket/p --part-parallel 1000"
  )
  for args in "${bad[@]}"; do
    # shellcheck disable=SC2086
    run --separate-stderr efs $args
    [[ "$status" == "$EXIT_USAGE" ]] || { echo "$args: exit $status: $stderr" >&2; return 1; }
    [[ "$stderr" == *"not in range"* ]] || { echo "$args: $stderr" >&2; return 1; }
    one_line_error
  done
  for n in 0 1 3 1000 33554432 1099511627776 18446744073709551615 abc; do
    REPO="$T/repo-$n"
    run --separate-stderr efs init --scrypt-n "$n"
    [[ "$status" == "$EXIT_USAGE" ]] || { echo "scrypt $n: exit $status: $stderr" >&2; return 1; }
    [[ "$stderr" == *"scrypt N must be a power of two"* ]] || { echo "$stderr" >&2; return 1; }
    [[ ! -e "$T/repo-$n" ]]
  done
  for p in 0 4096 5000; do
    REPO="$T/repo-p$p"
    run --separate-stderr efs init --pack-size "$p"
    assert_status "$EXIT_USAGE"
    [[ ! -e "$T/repo-p$p" ]]
  done
}

@test "a repository location of an unknown kind is refused, not made a directory" {
  mkdir "$T/cwd"
  cd "$T/cwd"
  for loc in "https://s3.amazonaws.com/b" "ftp://host/x" "s3:///prefix" "file://relative/x"; do
    REPO="$loc"
    run --separate-stderr efs init
    [[ "$status" == "$EXIT_FATAL" ]] || { echo "$loc: exit $status: $stderr" >&2; return 1; }
    one_line_error
    [[ "$stderr" == *"$loc"* ]]
  done
  [[ -z "$(ls -A "$T/cwd")" ]] || { ls -la "$T/cwd" >&2; return 1; }
  # file:///ABSOLUTE is the local path.
  REPO="file://$T/repo"
  run efs init
  assert_status 0
  [[ -f "$T/repo/config" ]]
  REPO="$T/repo" run efs snapshots
  assert_status 0
}

@test "password sources are bounded in size and time, and an empty one is named" {
  init_repo
  local pw=$EFS2S3_PASSWORD
  unset EFS2S3_PASSWORD
  run --separate-stderr efs --password-file /dev/zero snapshots
  assert_status "$EXIT_FATAL"
  one_line_error
  [[ "$stderr" == *"password file /dev/zero: longer than 4096 bytes"* ]]
  run --separate-stderr efs --password-command yes snapshots
  assert_status "$EXIT_FATAL"
  [[ "$stderr" == *"password command: output longer than 4096 bytes (killed)"* ]]
  # A command that hangs is killed, with its children (sleep is one).
  EFS2S3_PASSWORD_TIMEOUT=1 run --separate-stderr efs \
    --password-command "sleep 300; echo $pw" snapshots
  assert_status "$EXIT_FATAL"
  [[ "$stderr" == *"password command gave no password within 1 s (killed)"* ]]
  ! pgrep -f "sleep 300" >/dev/null
  : >"$T/empty"
  run --separate-stderr efs --password-file "$T/empty" snapshots
  assert_status "$EXIT_FATAL"
  [[ "$stderr" == *"empty password (from the password file)"* ]]
  run --separate-stderr efs --password-command "true" snapshots
  [[ "$stderr" == *"empty password (from the password command)"* ]]
  # And the good ones still work.
  printf '%s\n' "$pw" >"$T/pw"
  run efs --password-file "$T/pw" snapshots
  assert_status 0
  run efs --password-command "echo $pw" snapshots
  assert_status 0
}

@test "a repository the user can only read: the lock error points at --no-lock, which works" {
  require_nobody
  nobody_dir
  mkdir "$U/src"
  echo data >"$U/src/f"
  # The repository belongs to root; uid 65534 may read it but not write locks.
  efs init
  efs backup "$U/src" >/dev/null
  chmod -R a+rX "$REPO"
  # restore and check take a shared lock, which is an object to write.
  run --separate-stderr as_nobody "$EFS2S3" -r "$REPO" -q restore latest --target "$U/out"
  assert_status "$EXIT_FATAL"
  one_line_error
  [[ "$stderr" == *"--no-lock reads it without a lock"* ]]
  [[ ! -e "$U/out" ]]
  # The cache is root's too: the commands run without it, and say so.
  run --separate-stderr as_nobody "$EFS2S3" -r "$REPO" snapshots
  assert_status 0
  [[ "$stderr" == "warning: cache $U/cache/efs2s3 is not writable"*"running without a cache"* ]]
  run as_nobody "$EFS2S3" -r "$REPO" --no-lock restore latest --target "$U/out"
  assert_status 0
  cmp "$U/src/f" "$U/out$U/src/f"
  rm -rf "$U"
}
