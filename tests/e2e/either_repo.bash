# Tests that run once on a local repository and once on S3 (radosgw): load it
# after common. use_local / use_s3 choose and initialise the repository, and
# `r ARGS...` runs the binary on it. Call either_repo_teardown from teardown:
# it removes the test's bucket.

BUCKET=""

use_local() { R=(-r "$REPO"); init_repo; }

use_s3() {
  require_s3_server || return 1
  BUCKET="efs2s3-e2e-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  R=(-r "s3://$BUCKET/repo" --s3-endpoint "$EP" --s3-path-style)
  run r init
  assert_status 0
}

r() { "$EFS2S3" "${R[@]}" "$@"; }

either_repo_teardown() {
  if [[ -n "$BUCKET" ]] && command -v aws >/dev/null; then
    aws --endpoint-url "$EP" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true
  fi
  common_teardown
}
