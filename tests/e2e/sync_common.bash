# Set-up shared by the sync tests (sync.bats, sync_delete.bats): load it after
# common. Needs EFS2S3_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY;
# skips without them unless EFS2S3_TEST_DISALLOW_SKIP contains S3. Each test gets
# its own prefix, s3://$BUCKET/$P ($URL).

setup() {
  common_setup
  require_s3_server || return 1
  BUCKET="${EFS2S3_TEST_S3_BUCKET:-efs2s3-test}"
  P="sync-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  URL="s3://$BUCKET/$P"
  # rclone reads its remote from the environment; its SDK rejects a CA bundle
  # on a plain-HTTP endpoint.
  export RCLONE_CONFIG_T_TYPE=s3 RCLONE_CONFIG_T_PROVIDER=Ceph
  export RCLONE_CONFIG_T_ENDPOINT="$EP" RCLONE_CONFIG_T_FORCE_PATH_STYLE=true
  export RCLONE_CONFIG_T_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
  export RCLONE_CONFIG_T_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
  export RCLONE_CONFIG="$T/rclone.conf"
  : >"$RCLONE_CONFIG"
}

teardown() { common_teardown; }

# esync ARGS...: efs2s3 sync against the test server.
esync() { "$EFS2S3" --s3-endpoint "$EP" --s3-path-style sync "$@"; }
awss3() { aws --endpoint-url "$EP" s3 "$@"; }
rcl() { env -u AWS_CA_BUNDLE rclone "$@"; }

# json_of ARGS...: runs esync --json and keeps the summary in $J.
json_of() {
  run --separate-stderr "$EFS2S3" --s3-endpoint "$EP" --s3-path-style --json sync "$@"
  assert_status 0
  J="$output"
}
jget() { jq -r "$1" <<<"$J"; }

