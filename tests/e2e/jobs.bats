#!/usr/bin/env bats
# Scheduled jobs (docs/JOBS.md): job run/list/status, the daemon and its
# signals, EFS mount discovery against local stand-ins, the generators.

load common

setup() {
  common_setup
  unset EFS2S3_PASSWORD
  SRC="$T/src"
  mkdir -p "$SRC/d"
  echo hello >"$SRC/a"
  echo world >"$SRC/d/b"
  echo "job password" >"$T/pw"
  EFS2S3_PASSWORD_FILE="$T/pw" "$EFS2S3" -r "$REPO" init -q
  CONF="$T/efs2s3.toml"
  write_config
}
teardown() {
  [[ -z "${BG_PID:-}" ]] || kill "$BG_PID" 2>/dev/null || true
  [[ -z "${MOTO_PID:-}" ]] || kill "$MOTO_PID" 2>/dev/null || true
  [[ -z "${IMDS_PID:-}" ]] || kill "$IMDS_PID" 2>/dev/null || true
  common_teardown
}

# write_config [PRE_HOOK] [SCHEDULE]: one job "nightly" on $SRC.
write_config() {
  local pre="${1:-true}" schedule="${2:-0 3 * * *}"
  cat >"$CONF" <<EOT
state_dir = "state"

[jobs.nightly]
repository = "$REPO"
password_file = "pw"
source = { paths = ["$SRC"] }
tags = ["nightly"]
schedule = "$schedule"
timezone = "Europe/Berlin"

[jobs.nightly.retention]
keep_last = 3

[jobs.nightly.prune]
every = "7d"

[jobs.nightly.check]
read_data_subset = "100%"

[jobs.nightly.hooks]
pre = '$pre'
post = 'echo "\$EFS2S3_JOB_EXIT_CODE" > "$T/post-hook-ran"'

[jobs.nightly.report]
file = "reports.jsonl"
EOT
}

job() { "$EFS2S3" job "$@" --config "$CONF"; }
last_report() { cat "$T/state/jobs/nightly/last.json"; }

# wait_for FILE [SECONDS]
wait_for() {
  local i
  for ((i = 0; i < ${2:-20} * 10; i++)); do
    [[ -e "$1" ]] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2
  return 1
}

# wait_for_line FILE TEXT: until FILE has a line with TEXT (bats' BATS_TEST_TIMEOUT,
# set by scripts/test.sh, bounds a wait that never ends).
wait_for_line() {
  until grep -q -- "$2" "$1" 2>/dev/null; do sleep 0.05; done
}

@test "job run: backup, forget, prune, check; a report; exit 0" {
  run --separate-stderr job run nightly
  assert_status 0
  assert_output_has "job nightly: ok (exit 0)"
  run jq -r '[.status, .exit_code, ([.steps[] | .name + "=" + .status] | join(","))] | join(" ")' \
    "$T/state/jobs/nightly/last.json"
  [[ "$output" == "ok 0 pre-hook=ok,backup=ok,forget=ok,prune=ok,check=ok,post-hook=ok" ]]
  [[ "$(last_report | jq '.steps[1].figures.files_new')" == 2 ]]
  [[ "$(last_report | jq '.steps[4].figures.ok')" == true ]]
  [[ "$(last_report | jq -r '.snapshot_id')" =~ ^[0-9a-f]{64}$ ]]
  [[ "$(cat "$T/post-hook-ran")" == 0 ]]
  [[ "$(wc -l <"$T/reports.jsonl")" == 1 ]]
  # The snapshot is in the repository, with the job's tag.
  run env EFS2S3_PASSWORD_FILE="$T/pw" "$EFS2S3" -r "$REPO" snapshots --json
  assert_status 0
  [[ "$(echo "$output" | jq -r '.[0].tags[0]')" == nightly ]]
  # Prune is not due again for 7 days; check has no interval: it runs each time.
  run --separate-stderr job run nightly --json
  assert_status 0
  [[ "$(echo "$output" | jq -r '.steps[] | select(.name=="prune") | .status')" == skipped ]]
  [[ "$(echo "$output" | jq -r '.steps[] | select(.name=="prune") | .reason')" == "not due until "* ]]
  [[ "$(echo "$output" | jq -r '.steps[] | select(.name=="check") | .status')" == ok ]]
  # list and status show it.
  run job list
  assert_status 0
  assert_output_has "ok (0)"
  run job status nightly --json
  assert_status 0
  [[ "$(echo "$output" | jq -r '.last_report.status')" == ok ]]
  [[ "$(echo "$output" | jq -r '.next_run')" == *"T01:00:00Z" || "$(echo "$output" | jq -r '.next_run')" == *"T02:00:00Z" ]]
}

@test "job run --only backup / --only maintenance: two schedules run one job's two parts" {
  # The backup part: hooks and backup; the maintenance steps are reported as
  # skipped, nothing is forgotten.
  sed -i 's/^keep_last = 3/keep_last = 1/' "$CONF"
  local i
  for i in 1 2; do
    echo "change $i" >"$SRC/a"
    run --separate-stderr job run nightly --only backup
    assert_status 0
    run jq -r '[.steps[] | .name + "=" + .status] | join(",")' "$T/state/jobs/nightly/last.json"
    [[ "$output" == "pre-hook=ok,backup=ok,forget=skipped,prune=skipped,check=skipped,post-hook=ok" ]]
  done
  last_report | jq -e '.steps[] | select(.name == "prune") | .reason == "not in this run (--only backup)"' >/dev/null
  [[ "$(cat "$T/post-hook-ran")" == 0 ]]
  rm "$T/post-hook-ran"
  run env EFS2S3_PASSWORD_FILE="$T/pw" "$EFS2S3" -r "$REPO" snapshots --json
  [[ "$(echo "$output" | jq length)" == 2 ]]
  # The maintenance part: forget, prune, check; no backup, no hooks.
  run --separate-stderr job run nightly --only maintenance --json
  assert_status 0
  [[ "$(echo "$output" | jq -r '[.steps[] | .name + "=" + .status] | join(",")')" == "backup=skipped,unlock=ok,forget=ok,prune=ok,check=ok" ]]
  [[ "$(echo "$output" | jq -r '.steps[0].reason')" == "not in this run (--only maintenance)" ]]
  [[ ! -e "$T/post-hook-ran" ]]
  run env EFS2S3_PASSWORD_FILE="$T/pw" "$EFS2S3" -r "$REPO" snapshots --json
  [[ "$(echo "$output" | jq length)" == 1 ]]
  run --separate-stderr job run nightly --only everything
  assert_status "$EXIT_USAGE"
}

@test "job run: lock extend is a maintenance step, after forget, more often than the lock period" {
  printf '\n[jobs.nightly.lock_extend]\nevery = "1d"\nlock_days = 30\n' >>"$CONF"
  run --separate-stderr job run nightly --only maintenance --dry-run
  assert_status 0
  assert_output_has "lock-extend efs2s3 --json -r $REPO lock extend"
  run --separate-stderr job run nightly --only maintenance --dry-run --json
  [[ "$(echo "$output" | jq -r '[.steps[] | .name] | join(",")')" == "backup,unlock,forget,lock-extend,prune,check" ]]
  run --separate-stderr job run nightly --only backup --dry-run --json
  [[ "$(echo "$output" | jq -r '.steps[] | select(.name == "lock-extend") | .reason')" == "not in this run (--only backup)" ]]
  # An interval the lock period does not allow is refused at load.
  sed -i 's/^every = "1d"/every = "30d"/' "$CONF"
  run --separate-stderr job run nightly --only maintenance
  assert_status 1
  [[ "$stderr" == *"jobs.nightly.lock_extend.every: lock extend would run only every 30d"*"lock_days = 30"* ]]
}

@test "job run: a configuration error names file, line and key; nothing runs" {
  sed -i 's/^keep_last = 3/keep_lats = 3/' "$CONF"
  run --separate-stderr job run nightly
  assert_status 1
  [[ "$stderr" == *"efs2s3.toml:12:1: jobs.nightly.retention.keep_lats: unknown key"* ]]
  [[ ! -e "$T/state" ]]
  write_config true "0 3 * * 8"
  run --separate-stderr job run nightly
  assert_status 1
  [[ "$stderr" == *"efs2s3.toml:8:12: jobs.nightly.schedule: "*"day-of-week field: 8 out of range 0-7"* ]]
}

@test "job run: check and prune values that would fail after the backup are refused at load" {
  local v
  for v in 0/0 200% 5/3; do
    sed -i "s|^read_data_subset = .*|read_data_subset = \"$v\"|" "$CONF"
    run --separate-stderr job run nightly
    assert_status 1
    [[ "$stderr" == "efs2s3: $CONF:18:"*": jobs.nightly.check.read_data_subset: '$v' is neither"* ]]
    (( $(wc -l <<<"$stderr") == 1 ))
  done
  write_config
  for v in -5% 200%; do
    sed -i "s|^every = \"7d\"|every = \"7d\"\nmax_unused = \"$v\"|" "$CONF"
    run --separate-stderr job run nightly
    assert_status 1
    [[ "$stderr" == "efs2s3: $CONF:"*": jobs.nightly.prune.max_unused: '$v' is not a percentage"* ]]
    (( $(wc -l <<<"$stderr") == 1 ))
    write_config
  done
  # Nothing ran: no snapshot, no state.
  [[ ! -e "$T/state" ]]
  run env EFS2S3_PASSWORD_FILE="$T/pw" "$EFS2S3" -r "$REPO" --json snapshots
  assert_status 0
  [[ "$output" == "[]" ]]
}

@test "job run: a failing pre-hook fails the job with a clear report" {
  write_config 'echo "database dump failed" >&2; exit 4'
  run --separate-stderr job run nightly
  assert_status 1
  assert_output_has "job nightly: failed (exit 1)"
  last_report | jq -e '.status == "failed" and .exit_code == 1' >/dev/null
  last_report | jq -e '.steps[0] | .name == "pre-hook" and .status == "failed" and .exit_code == 4' >/dev/null
  last_report | jq -e '.steps[0].errors | index("database dump failed")' >/dev/null
  last_report | jq -e '.steps[] | select(.name == "backup") | .status == "skipped" and .reason == "pre-hook failed"' >/dev/null
  # Post hooks still run and know the outcome.
  [[ "$(cat "$T/post-hook-ran")" == 1 ]]
  run env EFS2S3_PASSWORD_FILE="$T/pw" "$EFS2S3" -r "$REPO" snapshots --json
  [[ "$(echo "$output" | jq length)" == 0 ]]
}

@test "job run: the same job is not started twice" {
  write_config "touch $T/started; while [ ! -e $T/go ]; do sleep 0.1; done"
  "$EFS2S3" job run nightly --config "$CONF" >"$T/first.out" 2>&1 &
  BG_PID=$!
  wait_for "$T/started"
  run --separate-stderr job run nightly
  assert_status "$EXIT_LOCKED"
  [[ "$stderr" == *"job nightly is already running on $REPO (pid "* ]]
  touch "$T/go"
  wait "$BG_PID"
  BG_PID=
  last_report | jq -e '.status == "ok"' >/dev/null
}

@test "job run: SIGTERM stops the backup at a checkpoint, exit 130, post hooks run" {
  truncate -s 30G "$SRC/sparse"  # long to read, nothing to store
  # TERM arrives while the backup step waits at the test gate after listing the
  # source; the 30 GiB left to read keep it running until the job forwards it.
  gate_setup
  gate_start BACKUP_DIR_LISTED "$T/err" "$EFS2S3" job run nightly --config "$CONF"
  kill -TERM "$BG_PID"
  gate_release
  local rc=0
  wait "$BG_PID" || rc=$?
  BG_PID=
  [[ "$rc" == 130 ]] || { cat "$T/err"; false; }
  last_report | jq -e '.status == "interrupted" and .exit_code == 130' >/dev/null
  last_report | jq -e '.steps[] | select(.name == "backup") | .status == "interrupted" and .exit_code == 130' >/dev/null
  last_report | jq -e '.steps[] | select(.name == "forget") | .status == "skipped"' >/dev/null
  last_report | jq -e '.steps[] | select(.name == "post-hook") | .status == "ok"' >/dev/null
  [[ "$(cat "$T/post-hook-ran")" == 130 ]]
}

@test "job run --dry-run prints the commands, including the EFS mount" {
  cat >"$CONF" <<EOT
state_dir = "state"
[jobs.efs]
repository = "s3://bucket/efs"
password_command = "cat /etc/pw"
source = { efs = "fs-12345678", path = "/data", region = "eu-west-1", mount_point = "/mnt/fs" }
exclude = ["*.tmp"]
host = "efs-prod"
[jobs.efs.s3]
endpoint = "http://127.0.0.1:9"
path_style = true
EOT
  AWS_EC2_METADATA_DISABLED=true run --separate-stderr "$EFS2S3" job run efs --config "$CONF" --dry-run
  assert_status 0
  assert_output_has "efs2s3 --json -r s3://bucket/efs --s3-endpoint http://127.0.0.1:9 --s3-path-style backup /mnt/fs --host efs-prod --exclude '*.tmp'"
  # fs-12345678.efs.eu-west-1.amazonaws.com resolves only in AWS; without DNS
  # and instance metadata the plan is an error naming both.
  if getent hosts fs-12345678.efs.eu-west-1.amazonaws.com >/dev/null; then
    assert_output_has "mount -t nfs4 -o nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,ro fs-12345678.efs.eu-west-1.amazonaws.com:/data /mnt/fs"
  fi
}

@test "job run: an EFS job has the identity it has on AWS (host = fs ID, /mnt/efs/FS-ID); an exclude that can never match is named" {
  cat >"$CONF" <<EOT
state_dir = "state"
[jobs.efs]
repository = "s3://bucket/efs"
password_command = "cat /etc/pw"
source = { efs = "fs-12345678", region = "eu-west-1" }
exclude = ["*.tmp", "/mnt/efs/scratch/*", "/mnt/efs/fs-12345678/cache/*"]
EOT
  AWS_EC2_METADATA_DISABLED=true run --separate-stderr "$EFS2S3" job run efs --config "$CONF" --dry-run
  assert_status 0
  assert_output_has "backup /mnt/efs/fs-12345678 --host fs-12345678 --exclude '*.tmp'"
  [[ "$stderr" == *"warning: job efs: exclude '/mnt/efs/scratch/*' can never match: the backup reads /mnt/efs/fs-12345678"* ]]
  [[ "$(grep -c 'can never match' <<<"$stderr")" == 1 ]]
  # The stack generated from the same file backs up the same path, same host.
  run --separate-stderr "$EFS2S3" generate aws efs --config "$CONF" --bucket b --subnets s \
    --security-group g --image i -o "$T/stack.json"
  assert_status 0
  [[ "$stderr" == *"warning: job efs: exclude '/mnt/efs/scratch/*' can never match"*"(on AWS)"* ]]
  jq -e '.Resources.TaskDefinition.Properties.ContainerDefinitions[0].MountPoints[0].ContainerPath
    == {"Fn::Sub": "/mnt/efs/${FileSystemId}"}' "$T/stack.json" >/dev/null
  jq -r '.Resources.TaskDefinition.Properties.ContainerDefinitions[0].Environment[0].Value["Fn::Sub"][0]' \
    "$T/stack.json" >"$T/deployed.toml"
  grep -qF 'host = "${FileSystemId}"' "$T/deployed.toml"
  grep -qF 'paths = ["/mnt/efs/${FileSystemId}"]' "$T/deployed.toml"
}

@test "mount-efs: region from instance metadata, mount target IP from DescribeMountTargets when DNS fails" {
  command -v moto_server >/dev/null || skip "moto_server not installed"
  "$PYTHON" -c "import boto3" 2>/dev/null || PYTHON=python3
  python3 -c "import boto3" || skip "boto3 not installed"
  local port
  start_moto
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  export AWS_ENDPOINT_URL_EFS="http://127.0.0.1:$port"
  # Two mount targets; this instance is in eu-west-1b.
  local fs
  fs=$(python3 - "$port" <<'EOP'
import sys, time, boto3
url = "http://127.0.0.1:%s" % sys.argv[1]
for _ in range(100):
    try:
        ec2 = boto3.client("ec2", endpoint_url=url, region_name="eu-west-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        break
    except Exception:
        time.sleep(0.1)
efs = boto3.client("efs", endpoint_url=url, region_name="eu-west-1")
fs = efs.create_file_system(CreationToken="t")["FileSystemId"]
for i, az in enumerate(["eu-west-1a", "eu-west-1b"]):
    sn = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.%d.0/24" % i, AvailabilityZone=az)["Subnet"]["SubnetId"]
    efs.create_mount_target(FileSystemId=fs, SubnetId=sn, IpAddress="10.0.%d.25" % i)
print(fs)
EOP
)
  [[ "$fs" == fs-* ]]
  coproc IMDS { exec python3 "$TOOLS/fake_imds.py" eu-west-1 eu-west-1b; }
  IMDS_PID=$IMDS_PID
  local imds_port
  read -r imds_port <&"${IMDS[0]}"
  export AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$imds_port"
  unset AWS_REGION AWS_DEFAULT_REGION
  export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
  run --separate-stderr "$EFS2S3" mount-efs "$fs" /mnt/efs --dry-run --json
  assert_status 0
  echo "$output" | jq -e '.region == "eu-west-1" and .availability_zone == "eu-west-1b" and .resolved_by == "mount-target" and .host == "10.0.1.25"' >/dev/null
  echo "$output" | jq -e '.mount_command | join(" ") == "mount -t nfs4 -o nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,ro 10.0.1.25:/ /mnt/efs"' >/dev/null
  # An availability zone without a mount target is a clear error.
  kill "$IMDS_PID"
  coproc IMDS2 { exec python3 "$TOOLS/fake_imds.py" eu-west-1 eu-west-1c; }
  IMDS_PID=$IMDS2_PID
  read -r imds_port <&"${IMDS2[0]}"
  export AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$imds_port"
  run --separate-stderr "$EFS2S3" mount-efs "$fs" /mnt/efs --dry-run
  assert_status 1
  [[ "$stderr" == *"has no mount target in availability zone eu-west-1c (mount targets in: eu-west-1a, eu-west-1b)"* ]]
}

@test "daemon: runs a job on its schedule, reloads on SIGHUP, stops cleanly on SIGTERM" {
  write_config true "@every 1s"
  "$EFS2S3" daemon --config "$CONF" >"$T/daemon.out" 2>"$T/daemon.err" &
  BG_PID=$!
  wait_for "$T/state/jobs/nightly/last.json" 30
  # SIGHUP: a second job appears.
  sed 's/jobs.nightly/jobs.second/g' "$CONF" | sed -n '/^\[jobs.second\]/,$p' >>"$CONF"
  kill -HUP "$BG_PID"
  wait_for "$T/state/jobs/second/last.json" 30
  kill -TERM "$BG_PID"
  local rc=0
  wait "$BG_PID" || rc=$?
  BG_PID=
  [[ "$rc" == 0 ]] || { cat "$T/daemon.err"; false; }
  grep -q "daemon: reloaded" "$T/daemon.err"
  grep -q "daemon: job nightly finished: ok (exit 0)" "$T/daemon.err"
  grep -q "daemon: stopped" "$T/daemon.err"
  # Its first run finished ok (a later one may have been interrupted by the TERM).
  cat "$T/state/jobs/second/runs/"* | jq -r .status | grep -qx ok
}

@test "daemon: a broken file on SIGHUP keeps the previous configuration" {
  write_config true "@every 1s"
  "$EFS2S3" daemon --config "$CONF" 2>"$T/daemon.err" &
  BG_PID=$!
  wait_for "$T/state/jobs/nightly/last.json" 30
  echo "schedule = " >>"$CONF"
  kill -HUP "$BG_PID"
  wait_for_line "$T/daemon.err" "reload failed"
  # The old configuration goes on: one more run after the failed reload.
  runs=$(ls "$T/state/jobs/nightly/runs" | wc -l)
  until (( $(ls "$T/state/jobs/nightly/runs" | wc -l) > runs )); do sleep 0.05; done
  kill -TERM "$BG_PID"
  local rc=0
  wait "$BG_PID" || rc=$?
  BG_PID=
  [[ "$rc" == 0 ]]
  grep -q "reload failed, keeping the previous configuration: .*efs2s3.toml:" "$T/daemon.err"
  [[ "$(ls "$T/state/jobs/nightly/runs" | wc -l)" -ge 2 ]]
}

@test "generate systemd: units that systemd-analyze accepts" {
  run "$EFS2S3" generate systemd nightly --config "$CONF" --output-dir "$T/units"
  assert_status 0
  grep -q "^ExecStart=$EFS2S3 job run nightly --config $CONF$" "$T/units/efs2s3-nightly.service"
  grep -q "^OnCalendar=\*-\*-\* 3:0:00 Europe/Berlin$" "$T/units/efs2s3-nightly.timer"
  command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
  run systemd-analyze verify "$T/units/efs2s3-nightly.service" "$T/units/efs2s3-nightly.timer"
  [[ "$output" != *"efs2s3-nightly"* ]] || { echo "$output"; false; }
  run systemd-analyze calendar "*-*-* 3:0:00 Europe/Berlin"
  assert_status 0
}

@test "generate cron: a cron.d line whose output goes to syslog or a file; a zone cron ignores is converted or refused" {
  # The job's zone is the system's: the line as written, its output to syslog.
  run --separate-stderr env TZ=Europe/Berlin "$EFS2S3" generate cron nightly --config "$CONF"
  assert_status 0
  assert_output_has "0 3 * * * root $EFS2S3 job run nightly --config $CONF 2>&1 | logger -t efs2s3-nightly"
  [[ "$output" != *CRON_TZ=* && "$output" != */dev/null* ]]
  # On a UTC system, Europe/Berlin (daylight saving time) cannot be converted:
  # Debian's cron would run it in UTC, so it is refused, with what to do.
  run --separate-stderr env TZ=UTC "$EFS2S3" generate cron nightly --config "$CONF" -o "$T/cron"
  assert_status 1
  [[ "$stderr" == "efs2s3: job nightly: cannot convert the schedule from timezone Europe/Berlin to the system zone (UTC)"*"daylight saving time"*"--cron-tz"* ]]
  [[ ! -e "$T/cron" ]]
  # A cron that honours CRON_TZ (cronie); output appended to a file.
  run --separate-stderr env TZ=UTC "$EFS2S3" generate cron nightly --config "$CONF" --cron-tz     --log-file /var/log/efs2s3-nightly.log
  assert_status 0
  assert_output_has "CRON_TZ=Europe/Berlin"
  assert_output_has "0 3 * * * root $EFS2S3 job run nightly --config $CONF >>/var/log/efs2s3-nightly.log 2>&1"
  # A zone a fixed offset away is converted.
  sed -i 's|^timezone = .*|timezone = "Asia/Tokyo"|' "$CONF"
  run --separate-stderr env TZ=UTC "$EFS2S3" generate cron nightly --config "$CONF"
  assert_status 0
  assert_output_has "# '0 3 * * *' in Asia/Tokyo is '0 18 * * *' in UTC"
  assert_output_has "0 18 * * * root $EFS2S3 job run nightly"
  # --log-file is absolute: cron runs in no particular directory.
  run --separate-stderr "$EFS2S3" generate cron nightly --config "$CONF" --log-file relative.log
  assert_status 2
  [[ "$stderr" == "efs2s3: --log-file relative.log: give an absolute path" ]]
}

@test "generate aws: Fargate and EC2 templates pass cfn-lint; the backup role cannot delete, the maintenance role runs apart" {
  local kind
  for kind in fargate ec2; do
    local extra=()
    [[ "$kind" == ec2 ]] && extra=(--ec2 --binary-url s3://tools/efs2s3)
    run "$EFS2S3" generate aws nightly --config "$CONF" --efs fs-12345678 \
      --bucket backups --prefix efs/prod --subnets subnet-0123456789abcdef0,subnet-0123456789abcdef1 \
      --security-group sg-0123456789abcdef0 --image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/efs2s3:1 \
      --create-bucket -o "$T/$kind.json" "${extra[@]}"
    assert_status 0
    run python3 "$TOOLS/check_cfn.py" "$T/$kind.json" backups efs/prod "${extra[@]:0:1}"
    [[ "$status" == 0 ]] || { echo "$output"; false; }
    jq -e '.Parameters.ScheduleExpression.Default == "cron(0 3 * * ? *)" and .Parameters.ScheduleTimezone.Default == "Europe/Berlin"' "$T/$kind.json" >/dev/null
    # The maintenance runs at the job's prune interval (every = "7d").
    jq -e '.Parameters.MaintenanceScheduleExpression.Default == "rate(7 days)"' "$T/$kind.json" >/dev/null
    if command -v cfn-lint >/dev/null; then
      run cfn-lint "$T/$kind.json"
      [[ "$status" == 0 ]] || { echo "$output"; false; }
    fi
  done
  jq -e '.Resources.TaskDefinition.Properties.Volumes[0].EFSVolumeConfiguration | .TransitEncryption == "ENABLED" and .AuthorizationConfig.IAM == "ENABLED"' "$T/fargate.json" >/dev/null
  run "$EFS2S3" generate aws nightly --config "$CONF" --bucket b --subnets s --security-group g
  assert_status 1
}

@test "generate aws: every variant's stack reaches CREATE_COMPLETE in moto_server (moto's gaps named in tests/tools/moto_deploy.py)" {
  command -v moto_server >/dev/null || skip "moto_server not installed"
  python3 -c "import boto3" || skip "boto3 not installed"
  start_moto
  local common=(--efs fs-12345678 --bucket backups --subnets subnet-0123456789abcdef0
    --security-group sg-0123456789abcdef0)
  local n=0 variant
  for variant in "--image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/efs2s3:1" \
      "--create-ecr --architecture arm64" \
      "--ec2 --binary-url s3://tools/efs2s3" \
      "--ec2 --binary-url s3://tools/efs2s3 --architecture arm64 --alert-after 0"; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    run --separate-stderr "$EFS2S3" generate aws nightly --config "$CONF" "${common[@]}" $variant -o "$T/v$n.json"
    assert_status 0
    # Every optional piece on: the bucket, the NFS rule, the S3 endpoint, an SSM
    # password under a customer-managed key.
    run python3 "$TOOLS/moto_deploy.py" "http://127.0.0.1:$port" "$T/v$n.json" "stack$n" \
      BucketName="backups-$n" CreateBucket=true NotificationEmail=ops@example.com \
      SecurityGroups=@task-sg MountTargetSecurityGroup=@sg VpcId=@vpc RouteTableIds=@rtb \
      PasswordSecretArn=arn:aws:ssm:eu-west-1:123456789012:parameter/efs2s3/nightly \
      PasswordKmsKeyArn=arn:aws:kms:eu-west-1:123456789012:key/0b0c0d0e-1111-2222-3333-444455556666
    [[ "$status" == 0 ]] || { echo "$variant: $output"; false; }
    [[ "$output" == "stack$n CREATE_COMPLETE"* ]]
    [[ "$output" == *"created: "*"AccessPoint"*"BackupRole"*"Bucket"*"Dashboard"*"FailureTopicKey"*"NfsIngress"*"S3Endpoint"*"ScheduleDeadLetterQueue"* ]]
    [[ "$output" != *"(unexpected)"* ]]
  done
}

@test "generate aws --shards: AWS Batch workers and a merge run by a state machine: cfn-lint clean, every failure reaches the topic, CREATE_COMPLETE in moto_server" {
  local common=(--efs fs-12345678 --bucket backups --prefix efs/prod --subnets subnet-0123456789abcdef0
    --security-group sg-0123456789abcdef0)
  local n=0 variant
  for variant in "--image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/efs2s3:1 --shards 4" \
      "--create-ecr --architecture arm64 --shards 16 --alert-after 0"; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    run --separate-stderr "$EFS2S3" generate aws nightly --config "$CONF" "${common[@]}" $variant -o "$T/s$n.json"
    assert_status 0
    local shards=${variant##*--shards }
    shards=${shards%% *}
    local check=(--shards "$shards")
    [[ "$variant" == *"--alert-after 0"* ]] && check+=(--no-missed-backup-alarm)
    run python3 "$TOOLS/check_cfn.py" "$T/s$n.json" backups efs/prod "${check[@]}"
    [[ "$status" == 0 ]] || { echo "$variant: $output"; false; }
    if command -v cfn-lint >/dev/null; then
      run cfn-lint "$T/s$n.json"
      [[ "$status" == 0 && -z "$output" ]] || { echo "$variant: $output"; false; }
    fi
  done
  # Not one worker, not on EC2: exit 2, one line.
  run --separate-stderr "$EFS2S3" generate aws nightly --config "$CONF" "${common[@]}" --image i --shards 1
  assert_status 2
  [[ "$stderr" == "efs2s3: --shards 1: between 2 and 10000 workers"* && "$stderr" != *$'\n'* ]]
  run --separate-stderr "$EFS2S3" generate aws nightly --config "$CONF" "${common[@]}" --ec2 --shards 2
  assert_status 2
  [[ "$stderr" == "efs2s3: --shards runs its workers on AWS Batch with Fargate, not with --ec2" ]]
  command -v moto_server >/dev/null || skip "moto_server not installed"
  python3 -c "import boto3" || skip "boto3 not installed"
  start_moto
  for n in 1 2; do
    run python3 "$TOOLS/moto_deploy.py" "http://127.0.0.1:$port" "$T/s$n.json" "sharded$n" \
      BucketName="sharded-$n" CreateBucket=true Subnets=@subnet SecurityGroups=@task-sg \
      PasswordSecretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:efs2s3-AbCdEf
    [[ "$status" == 0 ]] || { echo "$output"; false; }
    [[ "$output" == "sharded$n CREATE_COMPLETE"* ]]
    [[ "$output" == *"created: "*"BatchFailureRule"*"ComputeEnvironment"*"ExecutionFailureRule"*"JobQueue"*"MergeJobDefinition"*"MergeRole"*"ShardJobDefinition"*"StateMachine"* ]]
    [[ "$output" != *"(unexpected)"* ]]
  done
}

@test "generate aws: the other variants (arm64, the stack's own ECR repository, no alarm) pass cfn-lint with zero warnings" {
  command -v cfn-lint >/dev/null || skip "cfn-lint not installed"
  local common=(--efs fs-12345678 --bucket backups --subnets subnet-0123456789abcdef0
    --security-group sg-0123456789abcdef0)
  local variant
  for variant in "--create-ecr --architecture arm64" \
      "--ec2 --binary-url s3://tools/efs2s3 --architecture arm64 --alert-after 0" \
      "--image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/efs2s3:1 --alert-after 0 --kms-key-arn arn:aws:kms:eu-west-1:123456789012:key/0b0c0d0e-1111-2222-3333-444455556666"; do
    # shellcheck disable=SC2086
    run --separate-stderr "$EFS2S3" generate aws nightly --config "$CONF" "${common[@]}" $variant -o "$T/v.json"
    assert_status 0
    run cfn-lint "$T/v.json"
    [[ "$status" == 0 && -z "$output" ]] || { echo "$variant: $output"; false; }
  done
  # --create-ecr and --image together, or an unknown architecture: exit 2.
  run --separate-stderr "$EFS2S3" generate aws nightly --config "$CONF" "${common[@]}" --create-ecr --image i
  assert_status 2
  [[ "$stderr" == "efs2s3: --create-ecr is for a Fargate task without --image" ]]
  run --separate-stderr "$EFS2S3" generate aws nightly --config "$CONF" "${common[@]}" --image i --architecture aarch64
  assert_status 2
  [[ "$stderr" == "efs2s3: --architecture aarch64: x86_64 or arm64" ]]
}

@test "generate aws: every failure reaches the topic (both variants, cfn-lint clean); no --image is exit 2; the deploy hint names the required parameters" {
  local kind
  # --alert-after 0 (no missed-backup alarm) and an unencrypted topic are valid too.
  for kind in fargate ec2 fargate-noalarm; do
    local extra=(--alert-after 30) check=()
    [[ "$kind" == ec2 ]] && extra=(--ec2 --alert-after 30) check=(--ec2)
    [[ "$kind" == fargate-noalarm ]] && extra=(--alert-after 0) check=(--no-missed-backup-alarm)
    run --separate-stderr "$EFS2S3" generate aws nightly --config "$CONF" --efs fs-0a1b2c3d4e5f60718 \
      --bucket acme-literal-bucket --prefix efs/prod --subnets subnet-0a1b2c3d4e5f60718 \
      --security-group sg-0a1b2c3d4e5f60718 --image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/efs2s3:1 \
      -o "$T/$kind.json" "${extra[@]}"
    assert_status 0
    # The hint: every parameter without a default (EC2 without --binary-url: BinaryUrl).
    [[ "$output" == *"deploy with: aws cloudformation deploy --template-file $T/$kind.json"*"PasswordSecretArn=arn:aws:secretsmanager:..."* ]]
    if [[ "$kind" == ec2 ]]; then [[ "$output" == *" BinaryUrl=s3://BUCKET/KEY"* ]]; fi
    run python3 "$TOOLS/check_cfn.py" "$T/$kind.json" acme-literal-bucket efs/prod "${check[@]}"
    [[ "$status" == 0 ]] || { echo "$output"; false; }
    if command -v cfn-lint >/dev/null; then
      run cfn-lint "$T/$kind.json"
      [[ "$status" == 0 ]] || { echo "$output"; false; }
    fi
  done
  jq -e '.Parameters.AlertAfterHours.Default == 30' "$T/fargate.json" >/dev/null
  jq -e '.Resources | has("MissedBackupAlarm") | not' "$T/fargate-noalarm.json" >/dev/null
  # The EC2 user data names the file system by its parameter only.
  jq -e '.Resources.LaunchTemplate.Properties.LaunchTemplateData.UserData["Fn::Base64"]["Fn::Sub"][0]
         | contains("efs = \"${FileSystemId}\"") and contains("host = \"${FileSystemId}\"")' "$T/ec2.json" >/dev/null
  # Fargate without --image: a usage error on one line, no template.
  run --separate-stderr "$EFS2S3" generate aws nightly --config "$CONF" --efs fs-12345678 \
    --bucket b --subnets s --security-group g -o "$T/noimage.json"
  assert_status 2
  [[ "$stderr" == *"--image is required for a Fargate task"* ]]
  [[ "$(printf '%s\n' "$stderr" | grep -c .)" == 1 ]]
  [[ ! -e "$T/noimage.json" ]]
  # An --alert-after the schedule cannot keep (daily backups, 20 hours).
  run "$EFS2S3" generate aws nightly --config "$CONF" --efs fs-12345678 --bucket b \
    --subnets s --security-group g --image i --alert-after 20
  assert_status 1
  assert_output_has "between two runs: --alert-after 20 would raise the missed-backup alarm"
}

@test "job run: EFS2S3_METRICS=emf prints the run's metrics as CloudWatch Embedded Metric Format" {
  run --separate-stderr env EFS2S3_METRICS=emf EFS2S3_METRICS_DIMENSIONS=Stack=efs2s3-nightly \
    "$EFS2S3" job run nightly --config "$CONF" --only backup
  assert_status 0
  # The summary line shows what the backup did.
  assert_output_has "job nightly: ok (exit 0), snapshot "
  assert_output_has ": files 2 new, 0 changed, 0 unchanged; 12 B read, 12 B added"
  local line
  line=$(printf '%s\n' "$output" | tail -n 1)
  echo "$line" | jq -e '._aws.CloudWatchMetrics[0].Namespace == "efs2s3"
    and ._aws.CloudWatchMetrics[0].Dimensions == [["Job", "Stack"]]
    and ([._aws.CloudWatchMetrics[0].Metrics[] | .Name + ":" + .Unit] | sort) ==
      (["BackupSucceeded:Count", "BackupDuration:Seconds", "BytesRead:Bytes",
        "BytesAdded:Bytes", "FilesNew:Count", "FilesChanged:Count", "FilesUnchanged:Count",
        "Errors:Count", "Requests:Count", "SnapshotAge:Seconds"] | sort)
    and ([._aws.CloudWatchMetrics[0].Metrics[].Name] | all(. as $n | $root[$n] | type == "number"))
    and .Job == "nightly" and .Stack == "efs2s3-nightly" and .BackupSucceeded == 1
    and .FilesNew == 2 and .BytesRead == 12 and .Errors == 0 and .Requests > 0
    and (._aws.Timestamp | type) == "number"' --argjson root "$line" >/dev/null
  # The maintenance has no backup: no metric; without EFS2S3_METRICS none either.
  run --separate-stderr env EFS2S3_METRICS=emf "$EFS2S3" job run nightly --config "$CONF" --only maintenance
  [[ "$output" != *'"_aws"'* ]]
  run --separate-stderr job run nightly --only backup
  assert_status 0
  [[ "$output" != *'"_aws"'* ]]
}

# prom_value FILE METRIC: the value of METRIC{efs2s3_job="nightly"} in a textfile.
prom_value() {
  awk -v m="$2{efs2s3_job=\"nightly\"}" '$1 == m { print $2 }' "$1"
}

@test "job run: metrics_file is a Prometheus textfile with the run's figures, rewritten atomically" {
  sed -i "/^tags = /a metrics_file = \"$T/prom/efs2s3-nightly.prom\"" "$CONF"
  mkdir -p "$T/prom"
  local prom="$T/prom/efs2s3-nightly.prom"
  run --separate-stderr job run nightly --only backup
  assert_status 0
  [[ -f "$prom" ]]
  # node_exporter (its own user) can read it; no temporary file is left.
  [[ "$(stat -c %a "$prom")" == 644 ]]
  [[ "$(ls "$T/prom")" == efs2s3-nightly.prom ]]
  [[ "$(prom_value "$prom" efs2s3_backup_succeeded)" == 1 ]]
  [[ "$(prom_value "$prom" efs2s3_backup_files_new)" == 2 ]]
  [[ "$(prom_value "$prom" efs2s3_backup_files_unchanged)" == 0 ]]
  [[ "$(prom_value "$prom" efs2s3_backup_read_bytes)" == 12 ]]
  [[ "$(prom_value "$prom" efs2s3_backup_errors)" == 0 ]]
  (( $(prom_value "$prom" efs2s3_backup_requests) > 0 ))
  grep -q '^# TYPE efs2s3_backup_succeeded gauge$' "$prom"
  # The same figures as the report.
  [[ "$(prom_value "$prom" efs2s3_backup_added_bytes)" == \
     "$(last_report | jq '.steps[] | select(.name == "backup") | .figures.bytes_added')" ]]
  # A second run: one file changed, the others unchanged; the file is replaced.
  echo "changed" >"$SRC/a"
  run --separate-stderr job run nightly --only backup
  assert_status 0
  [[ "$(prom_value "$prom" efs2s3_backup_files_new)" == 0 ]]
  [[ "$(prom_value "$prom" efs2s3_backup_files_changed)" == 1 ]]
  [[ "$(prom_value "$prom" efs2s3_backup_files_unchanged)" == 1 ]]
  [[ "$(grep -c '^efs2s3_backup_succeeded' "$prom")" == 1 ]]
  # A failed backup (its source is gone) says so, with when the last snapshot was.
  local last_snapshot
  last_snapshot=$(prom_value "$prom" efs2s3_last_snapshot_timestamp_seconds)
  mv "$SRC" "$T/moved"
  run --separate-stderr job run nightly --only backup
  [[ "$status" != 0 ]]
  [[ "$(prom_value "$prom" efs2s3_backup_succeeded)" == 0 ]]
  [[ "$(prom_value "$prom" efs2s3_last_snapshot_timestamp_seconds)" == "$last_snapshot" ]]
  # A maintenance run has no backup: the file stays as it was.
  cp "$prom" "$T/before"
  run --separate-stderr job run nightly --only maintenance
  cmp "$prom" "$T/before"
  # A name node_exporter would not read is refused.
  sed -i 's/efs2s3-nightly.prom/efs2s3-nightly.txt/' "$CONF"
  run job run nightly
  assert_status 1
  assert_output_has "metrics_file: '$T/prom/efs2s3-nightly.txt' must end in .prom"
}

# sqs_messages PORT QUEUE_URL: the SNS envelopes waiting in the queue, one JSON per line.
sqs_messages() {
  python3 - "$1" "$2" <<'EOP'
import json, sys, boto3
sqs = boto3.client("sqs", endpoint_url="http://127.0.0.1:%s" % sys.argv[1], region_name="us-east-1")
r = sqs.receive_message(QueueUrl=sys.argv[2], MaxNumberOfMessages=10, WaitTimeSeconds=1)
for m in r.get("Messages", []):
    print(json.dumps(json.loads(m["Body"])))
    sqs.delete_message(QueueUrl=sys.argv[2], ReceiptHandle=m["ReceiptHandle"])
EOP
}

@test "report: published to an SNS topic (moto_server); sns_when = problems; a missing topic is a warning" {
  command -v moto_server >/dev/null || skip "moto_server not installed"
  python3 -c "import boto3" || skip "boto3 not installed"
  local port
  start_moto
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
  export AWS_ENDPOINT_URL_SNS="http://127.0.0.1:$port"
  # A topic with an SQS queue subscribed, to read what was published.
  local out topic queue
  out=$(python3 - "$port" <<'EOP'
import sys, time, boto3
url = "http://127.0.0.1:%s" % sys.argv[1]
for _ in range(100):
    try:
        sns = boto3.client("sns", endpoint_url=url, region_name="us-east-1")
        topic = sns.create_topic(Name="efs2s3-reports")["TopicArn"]
        break
    except Exception:
        time.sleep(0.1)
sqs = boto3.client("sqs", endpoint_url=url, region_name="us-east-1")
q = sqs.create_queue(QueueName="reports")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
print(topic, q)
EOP
)
  read -r topic queue <<<"$out"
  [[ "$topic" == arn:aws:sns:us-east-1:*:efs2s3-reports ]]
  printf 'sns_topic = "%s"\n' "$topic" >>"$CONF"
  run --separate-stderr job run nightly
  assert_status 0
  assert_output_has "report published to $topic (message "
  run sqs_messages "$port" "$queue"
  [[ "$(echo "$output" | wc -l)" == 1 ]]
  [[ "$(echo "$output" | jq -r .Subject)" == "efs2s3 job nightly: ok (exit 0)" ]]
  echo "$output" | jq -r .Message | jq -e '.message_type == "job_report" and .job == "nightly" and .status == "ok" and (.steps | length) == 6' >/dev/null

  # sns_when = "problems": nothing for a good run, the report for a failed one.
  write_config
  printf 'sns_topic = "%s"\nsns_when = "problems"\n' "$topic" >>"$CONF"
  run --separate-stderr job run nightly
  assert_status 0
  run sqs_messages "$port" "$queue"
  [[ -z "$output" ]]
  write_config 'echo "no database" >&2; exit 4'
  printf 'sns_topic = "%s"\nsns_when = "problems"\n' "$topic" >>"$CONF"
  run --separate-stderr job run nightly
  assert_status 1
  run sqs_messages "$port" "$queue"
  [[ "$(echo "$output" | jq -r .Subject)" == "efs2s3 job nightly: failed (exit 1)" ]]
  echo "$output" | jq -r .Message | jq -e '.status == "failed" and (.steps[0].errors | index("no database"))' >/dev/null

  # A topic that does not exist: a warning; the job's exit code is its own.
  write_config
  printf 'sns_topic = "%s"\n' "${topic%:*}:missing" >>"$CONF"
  run --separate-stderr job run nightly
  assert_status 0
  assert_output_has "warning: report: sns: SNS Publish to ${topic%:*}:missing"
}
