#!/usr/bin/env bats
# Restore drills (docs/MAINTENANCE.md, "Restore drills"): a sample of a snapshot's
# files restored into a scratch directory and checked against the snapshot and the
# unchanged source; a damaged pack is a mismatch (exit 1, a failed job step), a source
# file changed since the snapshot is not; --max-duration bounds the drill. On a local
# repository and on the S3 server (radosgw).

load common

# The tree: "old" (a first backup: its data in one pack) and five 200 KiB random
# files added for a second backup (their data in another pack, the largest), so that
# damaging the largest pack damages some of the new files and never "old".
make_tree() {
  mkdir -p "$T/src/sub"
  echo "first version" >"$T/src/old"
  run drill_efs backup -q "$T/src"
  assert_status 0
  for i in 1 2 3 4 5; do random_file "$T/src/sub/new-$i" $((200 * 1024)); done
  : >"$T/src/empty"
  run drill_efs backup -q "$T/src"
  assert_status 0
  NFILES=7
}

setup() {
  common_setup
  mkdir -p "$T/scratch"
  drill_efs() { efs "$@"; }
  damage_largest_pack() { flip_byte "$(data_objects | head -n1)" $((300 * 1024)); }
}
teardown() {
  [[ -z "${BG_PID:-}" ]] || kill "$BG_PID" 2>/dev/null || true
  [[ -z "${MOTO_PID:-}" ]] || kill "$MOTO_PID" 2>/dev/null || true
  if [[ -n "${BUCKET:-}" ]]; then
    aws --endpoint-url "$EP" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true
  fi
  common_teardown
}

# use_s3: the repository in a new bucket of the S3 server; damage_largest_pack flips
# a byte of the largest pack object in place (downloaded, changed, uploaded).
use_s3() {
  require_s3_server
  BUCKET="efs2s3-drill-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  aws --endpoint-url "$EP" s3 mb "s3://$BUCKET" >/dev/null
  drill_efs() { "$EFS2S3" -r "s3://$BUCKET/repo" --s3-endpoint "$EP" --s3-path-style "$@"; }
  damage_largest_pack() {
    local key
    key=$(aws --endpoint-url "$EP" s3api list-objects-v2 --bucket "$BUCKET" \
      --prefix repo/data/ --query 'sort_by(Contents, &Size)[-1].Key' --output text)
    aws --endpoint-url "$EP" s3 cp "s3://$BUCKET/$key" "$T/pack" >/dev/null
    flip_byte "$T/pack" $((300 * 1024))
    aws --endpoint-url "$EP" s3 cp "$T/pack" "s3://$BUCKET/$key" >/dev/null
  }
}

# drill_json ARGS...: drill --json into $output (the document) and $status.
drill_json() {
  run --separate-stderr drill_efs --json drill --target "$T/scratch" "$@"
  echo "drill exit $status: $output" >&2
  echo "$stderr" >&2
}

# The whole scenario of the issue, on either repository.
intact_then_changed_then_damaged() {
  run drill_efs init -q --scrypt-n 1024
  assert_status 0
  make_tree

  # Intact: every file restored and checked, each against the source too.
  drill_json --sample 100% --seed 1
  assert_status 0
  [[ $(jq -r .ok <<<"$output") == true ]]
  [[ $(jq -r .files_checked <<<"$output") == "$NFILES" ]]
  [[ $(jq -r .source_compared <<<"$output") == "$NFILES" ]]
  [[ $(jq -r '.mismatches | length' <<<"$output") == 0 ]]
  (( $(jq -r .bytes_restored <<<"$output") == 5 * 200 * 1024 + 14 ))
  # The scratch copy is gone.
  [[ -z "$(ls -A "$T/scratch")" ]]

  # A source file changed since the snapshot: checked against the snapshot only.
  echo "second version" >"$T/src/old"
  drill_json --sample 100%
  assert_status 0
  [[ $(jq -r .source_changed <<<"$output") == 1 ]]
  [[ $(jq -r .source_compared <<<"$output") == $((NFILES - 1)) ]]

  # A damaged pack: the files whose data it holds are mismatches, exit 1.
  damage_largest_pack
  drill_json --sample 100%
  assert_status 1
  [[ $(jq -r .ok <<<"$output") == false ]]
  [[ $(jq -r .files_checked <<<"$output") == "$NFILES" ]]
  local n
  n=$(jq -r '.mismatches | length' <<<"$output")
  (( n >= 1 && n <= 5 ))
  jq -e '.mismatches | all(.path | test("/sub/new-[1-5]$"))' <<<"$output"
  jq -e '.mismatches | all(.error | test("not restored: .*authentication failed"))' <<<"$output"
  [[ "$stderr" == *"mismatch: $T/src/sub/new-"* ]]
  [[ -z "$(ls -A "$T/scratch")" ]]
}

@test "drill: passes on an intact repository, ignores a changed source file, finds a damaged pack (local)" {
  intact_then_changed_then_damaged
}

@test "drill: the same on the S3 server" {
  use_s3
  intact_then_changed_then_damaged
}

@test "drill: a sample of N files covers every stratum; text output names the mismatch" {
  run efs init -q --scrypt-n 1024
  make_tree
  drill_json --sample 3 --seed 7
  assert_status 0
  [[ $(jq -r .files_checked <<<"$output") == 3 ]]
  # Three strata (empty, small, medium): one file of each.
  [[ $(jq -c '.strata | keys | map(split("/")[0])' <<<"$output") == '["empty","medium","small"]' ]]

  damage_largest_pack
  run efs drill --sample 100% --target "$T/scratch"
  assert_status 1
  assert_output_has "mismatch: $T/src/sub/new-"
  assert_output_has "mismatches"
}

@test "drill: --max-duration stops starting files once it has passed" {
  gate_setup
  run efs init -q --scrypt-n 1024
  make_tree
  # Held after the first file until the limit has surely passed.
  gate_start DRILL_FILE_CHECKED "$T/out" "$EFS2S3" -r "$REPO" --json drill \
    --sample 100% --target "$T/scratch" --max-duration 1s
  sleep 2
  gate_release
  wait "$BG_PID"
  BG_PID=
  cat "$T/out" >&2
  local doc
  doc=$(grep '"message_type":"drill"' "$T/out")
  [[ $(jq -r .time_limit_reached <<<"$doc") == true ]]
  [[ $(jq -r .files_checked <<<"$doc") == 1 ]]
  [[ $(jq -r .files_sampled <<<"$doc") == "$NFILES" ]]
  [[ -z "$(ls -A "$T/scratch")" ]]
}

@test "drill: bad --sample and --max-duration are usage errors naming the option" {
  run efs init -q --scrypt-n 1024
  for bad in 0 0% 101% x 1.5 ""; do
    run --separate-stderr efs drill --sample "$bad" --target "$T/scratch"
    assert_status 2
    [[ "$stderr" == *"--sample: '$bad'"* ]]
  done
  run --separate-stderr efs drill --max-duration 5x --target "$T/scratch"
  assert_status 2
  [[ "$stderr" == *"--max-duration:"* ]]
}

@test "job: a drill step; a damaged pack fails it and the job, with the mismatch in the report" {
  run efs init -q --scrypt-n 1024
  mkdir -p "$T/src"
  for i in 1 2 3; do random_file "$T/src/f-$i" $((200 * 1024)); done
  cat >"$T/efs2s3.toml" <<EOT
state_dir = "state"
[jobs.d]
repository = "$REPO"
source = { paths = ["$T/src"] }
[jobs.d.drill]
sample = "100%"
max_duration = "1h"
EOT
  run --separate-stderr "$EFS2S3" job run d --config "$T/efs2s3.toml" --json
  echo "$output" "$stderr" >&2
  assert_status 0
  [[ $(jq -r '.steps[] | select(.name == "drill") | .status' <<<"$output") == ok ]]
  [[ $(jq -r '.steps[] | select(.name == "drill") | .figures.files_checked' <<<"$output") == 3 ]]
  # The default scratch parent is in the state directory, and left empty.
  [[ -z "$(ls -A "$T/state/drill")" ]]

  damage_largest_pack
  # Not due again before its interval? No interval: every run.
  run --separate-stderr "$EFS2S3" job run d --config "$T/efs2s3.toml" --json
  echo "$output" "$stderr" >&2
  assert_status 1
  [[ $(jq -r '.steps[] | select(.name == "drill") | .status' <<<"$output") == failed ]]
  [[ $(jq -r .status <<<"$output") == failed ]]
  jq -e '.steps[] | select(.name == "drill") | .errors | any(test("mismatch: .*/f-[1-3]: not restored"))' <<<"$output"
  jq -e '.steps[] | select(.name == "drill") | .figures.ok == false' <<<"$output"
}

# radosgw keeps no storage classes but those its placement defines; moto_server (a
# stand-in for S3 here) records GLACIER and refuses to GET such an object until it is
# restored (InvalidObjectState), as S3 does.
@test "drill: files in GLACIER packs are left out unless --allow-cold (moto_server)" {
  command -v moto_server >/dev/null || skip "moto_server not installed"
  start_moto
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  aws --endpoint-url "http://127.0.0.1:$port" s3 mb s3://cold >/dev/null
  cold() {
    "$EFS2S3" -r s3://cold/repo --s3-endpoint "http://127.0.0.1:$port" --s3-path-style "$@"
  }
  drill_efs() { cold --s3-storage-class-data GLACIER "$@"; }
  run drill_efs init -q --scrypt-n 1024
  assert_status 0
  mkdir -p "$T/src"
  for i in 1 2 3; do random_file "$T/src/f-$i" 1000; done
  run drill_efs backup -q "$T/src"
  assert_status 0

  drill_json --sample 100%
  assert_status 0
  [[ $(jq -r .skipped_cold <<<"$output") == 3 ]]
  [[ $(jq -r .files_checked <<<"$output") == 0 ]]

  # Asked to: the files are sampled, and their packs cannot be read before a restore.
  drill_json --sample 100% --allow-cold
  assert_status 1
  [[ $(jq -r .skipped_cold <<<"$output") == 0 ]]
  [[ $(jq -r .files_checked <<<"$output") == 3 ]]
  [[ $(jq -r '.mismatches | length' <<<"$output") == 3 ]]
  jq -e '.strata | keys | all(endswith("/GLACIER"))' <<<"$output"
}
