#!/usr/bin/env bats
# --json on every command, against the contract of README.md ("JSON output"):
# stdout is JSON Lines (each line one complete JSON value, nothing else); a command
# prints one result document (after any "status" lines); ls, find and diff stream
# one object per entry; a failure ends with an "error" object.
#
# The first test lists every command of `efs2s3 --help-all`: a command added
# without a case here fails it.

load common

# Every command and subcommand this file runs with --json (see the first test).
COVERED=(
  init backup snapshots ls find diff restore dump stats tag rewrite forget prune check drill report
  "repair index" "repair snapshots" cat uploads sync key version unlock
  "lock extend"
  "job run" "job list" "job status" daemon
  "generate systemd" "generate cron" "generate aws" "generate k8s" mount-efs copy mount
)

# json_lines: $output is non-empty JSON Lines: every line one JSON value.
json_lines() {
  if [[ -z "$output" ]]; then
    echo "no JSON output" >&2
    return 1
  fi
  if ! jq -R -e 'fromjson | true' <<<"$output" >/dev/null; then
    printf 'not JSON Lines:\n%s\n' "$output" >&2
    return 1
  fi
}

# assert_result [N]: JSON Lines with N result documents (default 1) after any
# progress ("status") lines; $J is the last one.
assert_result() {
  local want="${1:-1}"
  json_lines || return 1
  local got
  got="$(jq -R -s 'split("\n") | map(select(length > 0) | fromjson)
          | (map(select(type == "object" and .message_type == "status")) | length) as $s
          | if (.[:$s] | all(type == "object" and .message_type == "status"))
            then length - $s else -1 end' <<<"$output")"
  if [[ "$got" != "$want" ]]; then
    printf 'want %s result document(s) after the status lines, got %s:\n%s\n' \
      "$want" "$got" "$output" >&2
    return 1
  fi
  J="$(tail -n 1 <<<"$output")"
}

# assert_stream TYPE [MIN]: JSON Lines, each an object with message_type TYPE, at
# least MIN (default 1) of them.
assert_stream() {
  local type="$1" min="${2:-1}"
  json_lines || return 1
  jq -R -s -e --arg t "$type" --argjson min "$min" 'split("\n") | map(select(length > 0) | fromjson)
      | length >= $min and all(type == "object" and .message_type == $t)' <<<"$output" >/dev/null || {
    printf 'not a stream of %s objects:\n%s\n' "$type" "$output" >&2
    return 1
  }
}

setup() {
  common_setup
  mkdir -p "$T/src/sub"
  echo hello >"$T/src/sub/file"
  printf 'odd\n' >"$T/src/name-$(printf '\xff')-not-utf8"
}

# The commands of --help-all, as "name" or "name sub".
all_commands() {
  "$EFS2S3" --help-all | awk '
    /^Subcommands:/ { in_sub = 1; next }
    !in_sub { next }
    /^[a-z]/ { top = $1; print top; next }
    /^  Subcommands:/ { nested = 1; next }
    /^$/ { nested = 0; next }
    nested && /^    [a-z]/ { print top " " $1 }'
}

@test "every command of --help-all is run with --json in this file" {
  run all_commands
  assert_status 0
  local missing=() c k covered
  while IFS= read -r c; do
    covered=0
    for k in "${COVERED[@]}"; do
      [[ "$k" == "$c" || "$k" == "$c "* ]] && covered=1
    done
    (( covered )) || missing+=("$c")
  done <<<"$output"
  (( $(wc -l <<<"$output") > 20 )) || { echo "too few commands found: $output" >&2; false; }
  [[ ${#missing[@]} == 0 ]] || { echo "not covered: ${missing[*]}" >&2; false; }
}

@test "init, version, backup, snapshots, unlock and key: one result document each" {
  run --separate-stderr efs --json init
  assert_status 0
  assert_result
  run --separate-stderr "$EFS2S3" --json version
  assert_status 0
  assert_result
  run --separate-stderr efs --json backup "$T/src" --tag one --host testhost
  assert_status 0
  assert_result
  jq -e '.message_type == "summary" and (.snapshot_id | type == "string")' <<<"$J"
  run --separate-stderr efs --json backup "$T/src" --dry-run
  assert_status 0
  assert_result
  run --separate-stderr efs --json snapshots
  assert_status 0
  assert_result
  jq -e 'type == "array" and length == 1' <<<"$J"
  run --separate-stderr efs --json unlock
  assert_status 0
  assert_result
  run --separate-stderr efs --json key list
  assert_status 0
  assert_result
  EFS2S3_NEW_PASSWORD=second run --separate-stderr efs --json key add --scrypt-n 1024
  assert_status 0
  assert_result
  local added
  added="$(jq -r .id <<<"$J")"
  EFS2S3_NEW_PASSWORD=third EFS2S3_PASSWORD=second run --separate-stderr efs --json key passwd --scrypt-n 1024
  assert_status 0
  assert_result
  run --separate-stderr efs --json key remove "$(jq -r .id <<<"$J" | cut -c1-12)"
  assert_status 0
  assert_result
  [[ -n "$added" ]]
}

@test "mount: a directory that cannot be mounted on ends with an error object (mount.bats mounts)" {
  init_repo
  run --separate-stderr efs --json mount "$T/no-such-dir"
  assert_status "$EXIT_FATAL"
  assert_result
  jq -e '.message_type == "error" and .exit_code == 1' <<<"$J"
}

@test "copy: one result document" {
  init_repo
  run efs backup "$T/src"
  assert_status 0
  run "$EFS2S3" -r "$T/dest" init
  assert_status 0
  EFS2S3_FROM_PASSWORD="$EFS2S3_PASSWORD" run --separate-stderr "$EFS2S3" \
    -r "$T/dest" --json copy --from-repo "$REPO"
  assert_status 0
  assert_result
  jq -e '.message_type == "summary" and .snapshots_copied == 1 and (.copied | length) == 1' <<<"$J"
}

@test "snapshots --json is an array with id, time, host, paths and tags" {
  init_repo
  run efs backup "$T/src" --tag one --host testhost --time "2021-06-07 08:09:10"
  assert_status 0
  run --separate-stderr efs --json snapshots
  assert_status 0
  assert_result
  jq -e 'type == "array" and length == 1' <<<"$output"
  jq -e '.[0] | (.id | type == "string") and (.hostname // .host) == "testhost"
         and (.tags | index("one")) != null and (.paths | length) == 1
         and (.time | startswith("2021-06-07"))' <<<"$output"
}

@test "ls, find and diff stream one object per entry, names that are not UTF-8 too" {
  init_repo
  run efs backup "$T/src"
  assert_status 0
  echo changed >"$T/src/sub/file"
  run efs backup "$T/src"
  assert_status 0
  run efs --json snapshots
  ids=($(jq -r 'sort_by(.time) | .[].id' <<<"$output"))
  (( ${#ids[@]} == 2 ))

  run --separate-stderr efs --json ls latest
  assert_status 0
  assert_stream node 4
  jq -s -e 'any(.name | startswith("name-"))' <<<"$output" >/dev/null
  run --separate-stderr efs --json ls -l --non-recursive latest "$T/src"
  assert_status 0
  assert_stream node 2
  run --separate-stderr efs --json find file
  assert_status 0
  assert_stream match 2
  jq -s -e 'all(.snapshot | type == "string")' <<<"$output"
  run --separate-stderr efs --json diff "${ids[0]}" "${ids[1]}"
  assert_status 0
  assert_stream change 1
  jq -s -e 'any(.change == "M" and (.path | endswith("/sub/file")))' <<<"$output"
  # Nothing found is an empty stream, not a document.
  run --separate-stderr efs --json find no-such-name
  assert_status 0
  [[ -z "$output" ]]
}

@test "restore, forget, prune, check, drill, report, repair and cat: one result document each" {
  init_repo
  run efs backup "$T/src"
  assert_status 0
  run efs backup "$T/src" --force
  assert_status 0
  run --separate-stderr efs --json restore "latest:$T/src" --target "$T/restore"
  assert_status 0
  assert_result
  cmp "$T/src/sub/file" "$T/restore/sub/file"
  mkdir "$T/r2"
  run --separate-stderr efs --json restore latest --target "$T/r2" --dry-run
  assert_status 0
  assert_result

  run --separate-stderr efs --json check --read-data
  assert_status 0
  assert_result
  run --separate-stderr efs --json drill --target "$T/drill"
  assert_status 0
  assert_result
  run --separate-stderr efs --json report --keep-last 1
  assert_status 0
  assert_result
  run --separate-stderr efs --json repair index
  assert_status 0
  assert_result
  run --separate-stderr efs --json repair snapshots
  assert_status 0
  assert_result

  run efs --json snapshots
  local id tree
  id="$(jq -r '.[0].id' <<<"$output")"
  tree="$(jq -r '.[0].tree' <<<"$output")"
  run --separate-stderr efs --json cat config
  assert_status 0
  assert_result
  run --separate-stderr efs --json cat snapshot "$id"
  assert_status 0
  assert_result
  run --separate-stderr efs --json cat tree "$tree"
  assert_status 0
  assert_result
  local blob
  blob="$(jq -r '.[] | select(.type == "dir") | .subtree' <<<"$J" | head -n 1)"
  run --separate-stderr efs --json cat blob "$blob"
  assert_status 0
  assert_result
  jq -e '.data_base64 | type == "string"' <<<"$J"
  run --separate-stderr efs --json cat index
  assert_status 0
  assert_result
  local index
  index="$(jq -r '.[0]' <<<"$J")"
  run --separate-stderr efs --json cat index "$index"
  assert_status 0
  assert_result
  local pack
  pack="$(jq -r '.blobs[0].pack' <<<"$J")"
  run --separate-stderr efs --json cat pack "$pack"
  assert_status 0
  assert_result
  run --separate-stderr efs --json cat key
  assert_status 0
  assert_result

  run --separate-stderr efs --json forget --keep-last 1 --dry-run
  assert_status 0
  assert_result
  run --separate-stderr efs --json forget
  assert_status 0
  assert_result
  run --separate-stderr efs --json prune --dry-run
  assert_status 0
  assert_result
  # forget --prune runs two commands: forget's document, then prune's.
  run --separate-stderr efs --json forget --keep-last 1 --prune
  assert_status 0
  assert_result 2
  jq -e '.message_type == "prune"' <<<"$J"
  run --separate-stderr efs --json prune
  assert_status 0
  assert_result
}

@test "job, daemon and generate: one result document each, daemon one per run" {
  unset EFS2S3_PASSWORD
  echo "job password" >"$T/pw"
  EFS2S3_PASSWORD_FILE="$T/pw" "$EFS2S3" -r "$REPO" init -q
  CONF="$T/efs2s3.toml"
  cat >"$CONF" <<EOT
state_dir = "state"

[jobs.nightly]
repository = "$REPO"
password_file = "pw"
source = { paths = ["$T/src"] }
schedule = "@every 1s"

[jobs.nightly.retention]
keep_last = 3
EOT
  run --separate-stderr "$EFS2S3" --json job run nightly --dry-run --config "$CONF"
  assert_status 0
  assert_result
  run --separate-stderr "$EFS2S3" --json job run nightly --config "$CONF"
  assert_status 0
  assert_result
  jq -e '.message_type == "job_report"' <<<"$J"
  run --separate-stderr "$EFS2S3" --json job list --config "$CONF"
  assert_status 0
  assert_result
  run --separate-stderr "$EFS2S3" --json job status --config "$CONF"
  assert_status 0
  assert_result
  run --separate-stderr "$EFS2S3" --json job status nightly --config "$CONF"
  assert_status 0
  assert_result
  run --separate-stderr timeout 60 "$EFS2S3" --json daemon --max-runs 2 --config "$CONF"
  assert_status 0
  assert_stream job_report 2

  run --separate-stderr "$EFS2S3" --json generate systemd nightly --config "$CONF"
  assert_status 0
  assert_result
  jq -e '."efs2s3-nightly.timer" | contains("OnUnitActiveSec")' <<<"$J"
  run --separate-stderr "$EFS2S3" --json generate systemd nightly --config "$CONF" --output-dir "$T/units"
  assert_status 0
  assert_result
  jq -e '.written | length == 2' <<<"$J"
  # cron cannot express @every: the failure is an error object.
  run --separate-stderr "$EFS2S3" --json generate cron nightly --config "$CONF"
  (( status != 0 ))
  assert_stream error 1
  sed -i 's/^schedule = .*/schedule = "0 3 * * *"/' "$CONF"
  run --separate-stderr "$EFS2S3" --json generate cron nightly --config "$CONF"
  assert_status 0
  assert_result
  jq -e '."efs2s3-nightly" | contains("job run nightly")' <<<"$J"
  run --separate-stderr "$EFS2S3" --json generate cron nightly --config "$CONF" -o "$T/cron"
  assert_status 0
  assert_result
  run --separate-stderr "$EFS2S3" --json generate aws nightly --config "$CONF" \
    --efs fs-12345678 --bucket b --subnets subnet-a --security-group sg-a --image img
  assert_status 0
  assert_result
  jq -e '.Resources | type == "object"' <<<"$J"
  run --separate-stderr "$EFS2S3" --json generate aws nightly --config "$CONF" \
    --efs fs-12345678 --bucket b --subnets subnet-a --security-group sg-a --image img -o "$T/stack.json"
  assert_status 0
  assert_result
  jq -e . "$T/stack.json" >/dev/null
  run --separate-stderr "$EFS2S3" --json generate k8s nightly --config "$CONF" --efs fs-12345678 \
    --bucket b --region eu-west-1 --image img --shards 2
  assert_status 0
  assert_result
  jq -e 'type == "array" and length > 0 and all(.[]; has("apiVersion") and has("kind"))' <<<"$J"
  run --separate-stderr "$EFS2S3" --json generate k8s nightly --config "$CONF" --efs fs-12345678 \
    --bucket b --region eu-west-1 --image img --out "$T/k8s"
  assert_status 0
  assert_result
  [ -n "$(ls "$T/k8s")" ]
}

@test "mount-efs --unmount --dry-run --json (the mount plan is tested in jobs.bats)" {
  run --separate-stderr "$EFS2S3" --json mount-efs fs-12345678 "$T/mnt" --unmount --dry-run
  assert_status 0
  assert_result
  jq -e '.unmount_command == ["umount", "'"$T/mnt"'"]' <<<"$J"
}

@test "uploads and sync against S3: one result document each" {
  require_s3_server
  local bucket="${EFS2S3_TEST_S3_BUCKET:-efs2s3-test}"
  local p="json-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  run --separate-stderr "$EFS2S3" --s3-endpoint "$EP" --s3-path-style --json \
    -r "s3://$bucket/$p/repo" init
  assert_status 0
  assert_result
  run --separate-stderr "$EFS2S3" --s3-endpoint "$EP" --s3-path-style --json \
    -r "s3://$bucket/$p/repo" uploads
  assert_status 0
  assert_result
  run --separate-stderr "$EFS2S3" --s3-endpoint "$EP" --s3-path-style --json \
    sync "$T/src" "s3://$bucket/$p/mirror" --dry-run
  assert_status 0
  assert_result
  run --separate-stderr "$EFS2S3" --s3-endpoint "$EP" --s3-path-style --json \
    sync "$T/src" "s3://$bucket/$p/mirror"
  assert_status 0
  assert_result
}

@test "lock extend: one result document; on a repository without Object Lock an error object, exit 2" {
  require_s3_server
  local bucket="efs2s3-jsonlock-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  run --separate-stderr "$EFS2S3" --s3-endpoint "$EP" --s3-path-style --json \
    -r "s3://$bucket/repo" init --object-lock governance --lock-days 1
  assert_status 0
  assert_result
  run --separate-stderr "$EFS2S3" --s3-endpoint "$EP" --s3-path-style --json \
    -r "s3://$bucket/repo" lock extend
  assert_status 0
  assert_result
  jq -e '.message_type == "lock_extend" and .mode == "GOVERNANCE" and .live_objects >= 2' <<<"$output"
  run --separate-stderr efs --json init
  run --separate-stderr efs --json lock extend
  assert_status "$EXIT_USAGE"
  assert_stream error 1
  jq -e '.message | test("no Object Lock")' <<<"$output"
}

@test "dump --json: dump writes raw bytes, so --json is refused with an error object, exit 2" {
  init_repo
  run efs backup "$T/src"
  assert_status 0
  run --separate-stderr efs --json dump latest "$T/src/sub/file"
  assert_status 2
  assert_result
  jq -e '.message_type == "error" and .exit_code == 2' <<<"$J"
}

@test "stats --json: one result document in every mode" {
  init_repo
  run efs backup "$T/src"
  assert_status 0
  local mode
  for mode in restore-size files-by-contents raw-data blobs-per-file; do
    run --separate-stderr efs --json stats --mode "$mode"
    assert_status 0
    assert_result
    jq -e --arg m "$mode" '.message_type == "stats" and .mode == $m' <<<"$J"
  done
}

@test "tag and rewrite --json: one result document each" {
  init_repo
  run efs backup "$T/src"
  assert_status 0
  run --separate-stderr efs --json tag latest --add t
  assert_status 0
  assert_result
  jq -e '.message_type == "summary" and (.changed | length == 1)' <<<"$J"
  run --separate-stderr efs --json rewrite latest --exclude file --forget
  assert_status 0
  assert_result
  jq -e '.message_type == "summary" and .changed[0].removed_files == 1' <<<"$J"
}

@test "errors with --json end with an error object and keep the documented exit code" {
  REPO="$T/missing"
  run --separate-stderr efs --json snapshots
  assert_status "$EXIT_NO_REPO"
  assert_stream error 1
  jq -e '.exit_code == 10' <<<"$output"
}
