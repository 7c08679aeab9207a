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
