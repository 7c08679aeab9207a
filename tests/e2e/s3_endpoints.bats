#!/usr/bin/env bats
# Endpoints that are wrong or broken, as a user meets them: a web server that is not
# S3, https:// to a plain-HTTP port, a server that fails every request or never
# answers, a wrong secret key, a region the server does not name so. Each command
# fails at once or within its documented budget (docs/S3.md, "Time to fail"), with
# one line that says what is wrong.
#
# The tests that need a real S3 server (radosgw) skip without EFS2S3_TEST_S3_ENDPOINT
# (unless EFS2S3_TEST_DISALLOW_SKIP contains S3); the others run anywhere.

load common

setup() {
  common_setup
  BG_PIDS=""
  mkdir -p "$T/src"
  echo data >"$T/src/file"
  # No credentials chain lookups (IMDS) for the tests without a server.
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-AKIDEXAMPLE}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-secret}"
}

teardown() {
  local p
  for p in $BG_PIDS; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [[ -n "${BUCKET:-}" ]] && command -v aws >/dev/null; then
    aws --endpoint-url "$EP" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true
  fi
  common_teardown
}

# background_port NAME CMD...: starts CMD, which prints its port first; sets PORT.
background_port() {
  local name="$1" i
  shift
  "$@" >"$T/$name.port" 2>"$T/$name.err" &
  BG_PIDS+=" $!"
  for i in $(seq 200); do
    [[ -s "$T/$name.port" ]] && break
    sleep 0.05
  done
  PORT="$(head -n1 "$T/$name.port")"
  [[ -n "$PORT" ]] || { cat "$T/$name.err" >&2; return 1; }
}

# web_server: a plain HTML web server (python's http.server) on a free port.
web_server() {
  mkdir -p "$T/www/bkt"
  echo "<html>hello</html>" >"$T/www/index.html"
  background_port www "$PYTHON" -c '
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
print(s.server_address[1], flush=True)
s.serve_forever()' "$T/www"
}

# fault_proxy ARGS...: tests/tools/s3_fault_proxy.py with ARGS; sets PORT.
fault_proxy() {
  background_port proxy "$PYTHON" "$TOOLS/s3_fault_proxy.py" --log "$T/proxy.log" "$@"
}

# assert_one_line_error TEXT: the command failed with exit 1 and one line on stderr
# that contains TEXT.
assert_one_line_error() {
  assert_status 1
  if [[ "$(wc -l <<<"$stderr")" != 1 || "$stderr" != "efs2s3: "*"$1"* ]]; then
    printf 'expected one line with: %s\nstderr:\n%s\n' "$1" "$stderr" >&2
    return 1
  fi
}

@test "endpoints: a web server that is not S3 is named as such, for every command" {
  web_server
  local ep="http://127.0.0.1:$PORT" c
  for c in init snapshots "backup $T/src" check; do
    run --separate-stderr "$EFS2S3" -r s3://bkt/repo --s3-endpoint "$ep" $c
    assert_one_line_error "$ep: the endpoint does not answer like S3"
    [[ "$stderr" != *"gave up after"* ]]
  done
}

@test "endpoints: https:// to a plain-HTTP port fails at once, saying TLS failed" {
  web_server
  run --separate-stderr "$EFS2S3" -r s3://bkt/repo --s3-endpoint "https://127.0.0.1:$PORT" \
    snapshots
  assert_one_line_error "the TLS handshake failed; does the endpoint speak https?"
  [[ "$stderr" != *"gave up after"* ]]
}

@test "endpoints: each command reaches a failing server once, with one retry budget" {
  # Every request answered 503 by the proxy (no server behind it), 3 attempts each:
  # a command gives up after exactly 3 requests, not 6.
  fault_proxy --upstream 127.0.0.1:1 --rate 1 --kinds 503
  local c
  for c in init snapshots "backup $T/src" "restore latest --target $T/r" check prune; do
    : >"$T/proxy.log"
    run --separate-stderr "$EFS2S3" -r s3://bkt/repo --s3-endpoint "http://127.0.0.1:$PORT" \
      --s3-max-attempts 3 $c
    assert_one_line_error "(gave up after 3 attempts)"
    if [[ "$(wc -l <"$T/proxy.log")" != 3 ]]; then
      echo "$c: $(wc -l <"$T/proxy.log") requests, not 3:" >&2
      cat "$T/proxy.log" >&2
      return 1
    fi
  done
}

@test "endpoints: a server that never answers: the stall timeout fires on time, after an upload too" {
  require_s3_server
  # Every PUT is forwarded (radosgw stores it), then its answer never comes.
  fault_proxy --upstream "${EP#http://}" --rate 1 --kinds stall --methods PUT --stall 60
  BUCKET="efs2s3-stall-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  local start end
  start=$(date +%s%N)
  run --separate-stderr "$EFS2S3" -r "s3://$BUCKET/repo" --s3-path-style \
    --s3-endpoint "http://127.0.0.1:$PORT" --s3-max-attempts 2 --s3-stall-timeout 3 init
  end=$(date +%s%N)
  assert_one_line_error "nothing moved for 3 s (gave up after 2 attempts)"
  # Two attempts of 3 s and a backoff of at most 0.2 s: 6.2 s; libcurl's own
  # low-speed check took 8-9 s per attempt after an upload.
  local ms=$(( (end - start) / 1000000 ))
  (( ms < 12000 )) || { echo "init took $ms ms" >&2; false; }
}

@test "endpoints: a wrong secret key is named as the likely cause" {
  require_s3_server
  BUCKET="efs2s3-badkey-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  local c
  for c in init snapshots; do
    run --separate-stderr env AWS_SECRET_ACCESS_KEY=wrong-secret "$EFS2S3" \
      -r "s3://$BUCKET/repo" --s3-endpoint "$EP" --s3-path-style $c
    assert_one_line_error "is the secret access key right?"
    [[ "$stderr" != *wrong-secret* ]]
  done
}

@test "endpoints: init in another region than us-east-1 on radosgw" {
  require_s3_server
  # radosgw names its region (zonegroup) "default" and refuses eu-west-1 as a
  # LocationConstraint; init asks again without one.
  BUCKET="efs2s3-region-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  run --separate-stderr "$EFS2S3" -r "s3://$BUCKET/repo" --s3-endpoint "$EP" \
    --s3-path-style --s3-region eu-west-1 init
  assert_status 0
  run --separate-stderr "$EFS2S3" -r "s3://$BUCKET/repo" --s3-endpoint "$EP" \
    --s3-path-style --s3-region eu-west-1 backup "$T/src"
  assert_status 0
}
