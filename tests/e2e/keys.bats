#!/usr/bin/env bats
# Passwords (key files): add, list, passwd, remove; password sources.

load common

setup() {
  common_setup
  efs init --scrypt-n 1024 >/dev/null
}

@test "a second password opens the repository; removing it locks it out again" {
  EFS2S3_NEW_PASSWORD=second run efs key add --scrypt-n 1024
  [ "$status" -eq 0 ]
  run efs key list --json
  [ "$status" -eq 0 ]
  [ "$(jq length <<<"$output")" -eq 2 ]
  second=$(EFS2S3_PASSWORD=second efs key list --json | jq -r '.[] | select(.current) | .id')
  EFS2S3_PASSWORD=second run efs snapshots
  [ "$status" -eq 0 ]
  # The key in use cannot remove itself.
  EFS2S3_PASSWORD=second run efs key remove "${second:0:12}"
  [ "$status" -ne 0 ]
  run efs key remove "${second:0:12}"
  [ "$status" -eq 0 ]
  EFS2S3_PASSWORD=second run efs snapshots
  [ "$status" -eq "$EXIT_WRONG_PASSWORD" ]
}

@test "passwd replaces the password: the old one no longer opens" {
  EFS2S3_NEW_PASSWORD=newpw run efs key passwd --scrypt-n 1024
  [ "$status" -eq 0 ]
  run efs snapshots
  [ "$status" -eq "$EXIT_WRONG_PASSWORD" ]
  EFS2S3_PASSWORD=newpw run efs snapshots
  [ "$status" -eq 0 ]
  [ "$(EFS2S3_PASSWORD=newpw efs key list --json | jq length)" -eq 1 ]
}

@test "password from a command; the password never appears in the process list" {
  unset EFS2S3_PASSWORD
  run efs --password-command "echo 'correct horse battery staple'" snapshots
  [ "$status" -eq 0 ]
  run efs --password-command "exit 3" snapshots
  [ "$status" -ne 0 ]
  [[ "$output" == *"password command failed"* ]]
  [[ "$output" != *"staple"* ]]
}

@test "key add without a new password off a terminal is a clear error" {
  run efs key add </dev/null
  [ "$status" -ne 0 ]
  [[ "$output" == *"EFS2S3_NEW_PASSWORD"* ]]
}

@test "a key file whose content does not match its name is damaged, not a wrong password" {
  EFS2S3_NEW_PASSWORD=second efs key add --scrypt-n 1024 >/dev/null
  first=$(efs key list --json | jq -r '.[] | select(.current) | .id')
  f="$REPO/keys/$first"
  [[ -f "$f" ]]
  # An edited hostname: still valid JSON, still opens with the password.
  chmod u+w "$f"
  jq -c '.hostname = "evil"' "$f" >"$f.new" && cat "$f.new" >"$f" && rm "$f.new"
  run --separate-stderr efs snapshots
  assert_status "$EXIT_WRONG_PASSWORD"
  [[ "$stderr" == *"damaged: keys/$first"* ]]
  # The other key still opens; key list and check name the damaged one.
  EFS2S3_PASSWORD=second run --separate-stderr efs key list
  assert_status "$EXIT_FATAL"
  [[ "$stderr" == *"keys/$first: damaged key file"* ]]
  EFS2S3_PASSWORD=second run efs check
  assert_status "$EXIT_FATAL"
  assert_output_has "keys/$first: damaged key file"
  # With only the damaged key left: "damaged key file", exit 1, not 12.
  for k in "$REPO"/keys/*; do
    [[ "$k" == "$f" ]] || rm -f "$k"
  done
  run --separate-stderr efs snapshots
  assert_status "$EXIT_FATAL"
  [[ $(printf "%s" "$stderr" | grep -c "") == 1 ]]
  [[ "$stderr" == *"damaged key file(s) keys/$first"* ]]
}
