#!/usr/bin/env bats
# --json gives machine-readable output on every command: one JSON document, or JSON
# lines (one document per line) for progress.

load common

# assert_json: $output is one JSON document or a sequence of JSON lines, and nothing else.
assert_json() {
  if [[ -z "$output" ]]; then
    echo "no JSON output" >&2
    return 1
  fi
  if ! jq -e -s 'length > 0' <<<"$output" >/dev/null; then
    printf 'not JSON:\n%s\n' "$output" >&2
    return 1
  fi
  # JSON lines: every non-empty line is a document of its own, unless the whole output is
  # one (pretty-printed) document.
  if ! jq -e . <<<"$output" >/dev/null 2>&1 || (( $(jq -s length <<<"$output") > 1 )); then
    while IFS= read -r line; do
      [[ -z "$line" ]] || jq -e . <<<"$line" >/dev/null || { echo "bad JSON line: $line" >&2; return 1; }
    done <<<"$output"
  fi
}

setup() {
  common_setup
  mkdir -p "$T/src/sub"
  echo hello >"$T/src/sub/file"
  printf 'odd\n' >"$T/src/name-$(printf '\xff')-not-utf8"
}

@test "init --json" {
  run --separate-stderr efs --json init
  assert_status 0
  assert_json
}

@test "backup --json ends with a summary document" {
  init_repo
  run --separate-stderr efs --json backup "$T/src" --tag one --host testhost
  assert_status 0
  assert_json
}

@test "snapshots --json is an array with id, time, host, paths and tags" {
  init_repo
  run efs backup "$T/src" --tag one --host testhost --time "2021-06-07 08:09:10"
  assert_status 0
  run --separate-stderr efs --json snapshots
  assert_status 0
  assert_json
  jq -e 'type == "array" and length == 1' <<<"$output"
  jq -e '.[0] | (.id | type == "string") and (.hostname // .host) == "testhost"
         and (.tags | index("one")) != null and (.paths | length) == 1
         and (.time | startswith("2021-06-07"))' <<<"$output"
}

@test "ls --json lists names that are not UTF-8" {
  init_repo
  run efs backup "$T/src"
  assert_status 0
  run --separate-stderr efs --json ls latest
  assert_status 0
  assert_json
}

@test "restore --json" {
  init_repo
  run efs backup "$T/src"
  assert_status 0
  run --separate-stderr efs --json restore "latest:$T/src" --target "$T/restore"
  assert_status 0
  assert_json
  cmp "$T/src/sub/file" "$T/restore/sub/file"
}

@test "diff, find, key list, cat config and version with --json" {
  init_repo
  run efs backup "$T/src"
  assert_status 0
  echo changed >"$T/src/sub/file"
  run efs backup "$T/src"
  assert_status 0
  run efs --json snapshots
  ids=($(jq -r 'sort_by(.time) | .[].id' <<<"$output"))
  (( ${#ids[@]} == 2 ))

  run --separate-stderr efs --json diff "${ids[0]}" "${ids[1]}"
  assert_status 0
  assert_json
  run --separate-stderr efs --json find file
  assert_status 0
  assert_json
  run --separate-stderr efs --json key list
  assert_status 0
  assert_json
  run --separate-stderr efs --json cat config
  assert_status 0
  assert_json
  run --separate-stderr "$EFS2S3" --json version
  assert_status 0
  assert_json
}

@test "errors with --json still give the documented exit code" {
  REPO="$T/missing"
  run --separate-stderr efs --json snapshots
  assert_status "$EXIT_NO_REPO"
}
