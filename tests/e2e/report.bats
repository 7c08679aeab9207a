#!/usr/bin/env bats
# report --json and report --html (docs/REPORT.md): a repository of 30 snapshots made
# with backup --time; the JSON document against docs/report.schema.json; the page
# rendered in headless Chromium (tests/tools/render_report.py): no network request,
# no console error, one point per snapshot in each timeline chart, a screenshot in
# $EFS2S3_ARTIFACTS_DIR. Skips the browser test without chromium (fails instead when
# EFS2S3_TEST_DISALLOW_SKIP contains BROWSER, as scripts/test.sh sets).

load common

setup_file() {
  export EFS2S3_PASSWORD="correct horse battery staple"
  R="$BATS_FILE_TMPDIR"
  mkdir -p "$R/src"
  E="${EFS2S3:-build/src/cli/efs2s3}"
  [[ "$E" == /* ]] || E="$BATS_TEST_DIRNAME/../../$E"
  "$E" -r "$R/repo" init -q --scrypt-n 1024
  local day
  for day in $(seq 1 30); do
    head -c $((day * 1000)) /dev/urandom >"$R/src/f$day"
    "$E" -r "$R/repo" backup -q "$R/src" --time "2026-10-$(printf %02d "$day")T03:00:00Z"
  done
}

setup() {
  common_setup
  REPO="$BATS_FILE_TMPDIR/repo"
}

# report_json ARGS...: report --json into $output.
report_json() {
  run --separate-stderr efs --json report "$@"
  echo "$stderr" >&2
  assert_status 0
}

require_jsonschema() {
  python3 -c "import jsonschema" 2>/dev/null || skip "python3-jsonschema not installed"
}

@test "report --json: 30 snapshots, valid against the schema, retention by rule, --since" {
  require_jsonschema
  report_json --keep-daily 7 --keep-monthly 2
  printf '%s' "$output" >"$T/doc.json"
  python3 - "$E2E_ROOT/docs/report.schema.json" "$T/doc.json" <<'PY'
import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
PY
  [[ $(jq -r .snapshots <<<"$output") == 30 ]]
  [[ $(jq -r '.timeline | length' <<<"$output") == 1 ]]
  [[ $(jq -r '.timeline[0].snapshots | length' <<<"$output") == 30 ]]
  [[ $(jq -r '.growth.per_snapshot | length' <<<"$output") == 30 ]]
  # Bytes added grow with the files: 1000 * day bytes new each day.
  [[ $(jq -r '.timeline[0].snapshots[29].bytes_added' <<<"$output") -ge 30000 ]]
  # Daily: the last 7 days; monthly: October's newest (already kept) and nothing older.
  [[ $(jq -r .retention.keep <<<"$output") == 7 ]]
  [[ $(jq -r .retention.remove <<<"$output") == 23 ]]
  [[ $(jq -r '[.retention.snapshots[] | select(.action == "keep") | .reasons[]] | index("monthly snapshot") != null' <<<"$output") == true ]]
  # The stored bytes are the packs' sizes.
  local packs
  packs=$(find "$REPO/data" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
  [[ $(jq -r .growth.stored_bytes <<<"$output") == "$packs" ]]
  [[ $(jq -r .growth.monthly_cost_usd <<<"$output") == null ]]

  report_json --since 2026-10-21T00:00:00Z
  [[ $(jq -r .snapshots <<<"$output") == 10 ]]
  [[ $(jq -r .retention.policy <<<"$output") == null ]]
}

@test "report --html: loads in headless Chromium without requests or errors, a point per snapshot" {
  if ! command -v chromium >/dev/null; then
    if [[ "${EFS2S3_TEST_DISALLOW_SKIP:-}" == *BROWSER* ]]; then
      echo "chromium is not installed but EFS2S3_TEST_DISALLOW_SKIP=BROWSER" >&2
      return 1
    fi
    skip "chromium not installed (scripts/install-deps.sh --with-browser)"
  fi
  report_json --html "$T/report.html" --keep-last 5
  local doc="$output" classes
  [[ -s "$T/report.html" ]]
  # Nothing in the page can reach the network.
  ! grep -Eiq '(src|href)="(https?:)?//' "$T/report.html"
  local artifacts="${EFS2S3_ARTIFACTS_DIR:-$T}"
  mkdir -p "$artifacts"
  run python3 "$TOOLS/render_report.py" "$T/report.html" "$artifacts/report.png"
  echo "$output" >&2
  assert_status 0
  [[ $(jq -c .requests <<<"$output") == "[]" ]]
  [[ $(jq -c .errors <<<"$output") == "[]" ]]
  local c
  for c in bytes-added files-changed duration stored; do
    [[ $(jq -r ".charts[\"$c\"]" <<<"$output") == 30 ]]
  done
  # One point per storage class and day of pack writes.
  classes=$(jq '[.growth.per_day[] | select(.date != "unknown") | .bytes_by_class | length] | add' <<<"$doc")
  [[ $(jq -r '.charts["storage-classes"]' <<<"$output") == "$classes" ]]
  (( $(jq -r .tables <<<"$output") >= 5 ))
  [[ -s "$artifacts/report.png" ]]
  [[ "$(head -c 8 "$artifacts/report.png" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]]
}

@test "report: a bad --since is a usage error naming the option" {
  run --separate-stderr efs report --since yesterday
  assert_status 2
  [[ "$stderr" == *"--since: 'yesterday'"* ]]
}

@test "job: report.html after every run, with the job's runs, its drill and its retention" {
  mkdir -p "$T/jsrc"
  echo data >"$T/jsrc/a"
  run "$EFS2S3" -r "$T/jrepo" init -q --scrypt-n 1024
  assert_status 0
  cat >"$T/efs2s3.toml" <<EOT
state_dir = "state"
[jobs.j]
repository = "$T/jrepo"
source = { paths = ["$T/jsrc"] }
[jobs.j.retention]
keep_last = 1
[jobs.j.drill]
sample = "1"
[jobs.j.report]
html = "report.html"
EOT
  run "$EFS2S3" job run j --config "$T/efs2s3.toml"
  assert_status 0
  run "$EFS2S3" job run j --config "$T/efs2s3.toml"
  assert_status 0
  [[ -s "$T/report.html" ]]
  grep -q "job j" "$T/report.html"
  # Every run is in it (the last one included: its report is saved first), and
  # the last drill. (Two runs within one second share one run file.)
  local runs
  runs=$(ls "$T/state/jobs/j/runs" | wc -l)
  (( runs >= 1 ))
  report_json --job j --config "$T/efs2s3.toml"
  [[ $(jq -r '.job_runs | length' <<<"$output") == "$runs" ]]
  [[ $(jq -r .last_drill.status <<<"$output") == ok ]]
  [[ $(jq -r .retention.policy_source <<<"$output") == "job j" ]]
  [[ $(jq -r .retention.keep <<<"$output") == 1 ]]
  [[ $(grep -c '<tr><td>j</td>' "$T/report.html") == "$runs" ]]
}
