#!/usr/bin/env bats
# generate k8s (docs/DEPLOY.md, "Many workers"): manifests for EKS with the EFS
# CSI driver. tests/tools/check_k8s.py checks the objects and their cross
# references; where the npm package kubernetes-models can be installed (or is in
# $EFS2S3_K8S_MODELS), its Kubernetes schemas validate every object too.

load common

setup() {
  common_setup
  CONF="$T/efs2s3.toml"
  cat >"$CONF" <<EOT
[jobs.nightly]
repository = "s3://elsewhere/x"
password_file = "pw"
source = { efs = "fs-0a1b2c3d", path = "/exports", mount_point = "/mnt/data" }
schedule = "30 1 * * *"
timezone = "Europe/Berlin"
host = "efs-prod"
exclude = ["/mnt/data/tmp"]

[jobs.nightly.retention]
keep_daily = 7

[jobs.nightly.prune]
weekdays = ["sat"]

[jobs.hourly]
repository = "s3://elsewhere/y"
password_file = "pw"
source = { paths = ["/data"] }
schedule = "@every 1h"
EOT
}

k8s() { "$EFS2S3" generate k8s --config "$CONF" --bucket backups --region eu-west-1 --image registry.example/efs2s3:1 "$@"; }

@test "generate k8s --shards N: an Indexed Job of N workers in a CronJob, the run ID its name, the last one merges; the objects' references hold" {
  local n
  for n in 1 2 4; do
    run --separate-stderr k8s nightly --shards "$n"
    assert_status 0
    echo "$output" >"$T/k$n.yaml"
    run python3 "$TOOLS/check_k8s.py" "$T/k$n.yaml" nightly --shards "$n" --repository s3://backups/nightly
    [[ "$status" == 0 ]] || { echo "shards $n: $output"; false; }
  done
  # The volume: the job's EFS path, read-only; the CronJob in the job's zone;
  # maintenance on Saturdays, twelve hours after the backup.
  grep -q 'volumeHandle: "fs-0a1b2c3d:/exports"' "$T/k4.yaml"
  grep -q 'timeZone: "Europe/Berlin"' "$T/k4.yaml"
  grep -q 'schedule: "30 13 \* \* 6"' "$T/k4.yaml"
  grep -q -- '- "auto/4"' "$T/k4.yaml"
  # Only with shards: the suspended CronJob to merge or re-run a shard by hand.
  grep -q 'name: "efs2s3-nightly-manual"' "$T/k4.yaml"
  ! grep -q 'efs2s3-nightly-manual' "$T/k1.yaml"
  # The checker fails on a broken reference.
  sed 's/key: "password"/key: "pass"/' "$T/k4.yaml" >"$T/broken.yaml"
  run python3 "$TOOLS/check_k8s.py" "$T/broken.yaml" nightly --shards 4 --repository s3://backups/nightly
  assert_status 1
  assert_output_has "EFS2S3_PASSWORD from a missing secret key"
  # --out: one file per object, in the order to apply; IRSA: no S3 keys.
  run --separate-stderr k8s nightly --shards 3 --out "$T/dir" --role-arn arn:aws:iam::123456789012:role/efs2s3 \
    --access-point fsap-0123456789abcdef0 --prefix efs/prod --namespace backup
  assert_status 0
  [[ "$(ls "$T/dir" | head -1)" == 01-persistentvolume-efs2s3-nightly.yaml ]]
  [[ "$(ls "$T/dir" | wc -l)" == 8 ]]
  run python3 "$TOOLS/check_k8s.py" "$T/dir" nightly --shards 3 --repository s3://backups/efs/prod
  [[ "$status" == 0 ]] || { echo "$output"; false; }
  grep -q 'eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/efs2s3"' "$T/dir/03-serviceaccount-efs2s3-nightly.yaml"
  grep -q 'volumeHandle: "fs-0a1b2c3d::fsap-0123456789abcdef0"' "$T/dir/01-persistentvolume-efs2s3-nightly.yaml"
  ! grep -q AWS_ACCESS_KEY_ID "$T"/dir/*.yaml
}

@test "generate k8s: bad options are one line and a usage error; an @every schedule cannot be a CronJob" {
  run --separate-stderr k8s nightly --shards 0
  assert_status 2
  [[ "$stderr" == "efs2s3: --shards 0: between 1 and 10000 workers" ]]
  run --separate-stderr k8s nightly --namespace Backup
  assert_status 2
  [[ "$stderr" == "efs2s3: --namespace Backup: lowercase letters, digits and '-'" ]]
  run --separate-stderr "$EFS2S3" generate k8s nightly --config "$CONF" --bucket b --region r
  assert_status 2
  run --separate-stderr k8s hourly --efs fs-12345678
  assert_status 1
  [[ "$stderr" == "efs2s3: job hourly: schedule '@every 1h': a CronJob takes cron fields, not an interval" ]]
}

@test "generate k8s: every object validates against the Kubernetes schemas of the npm package kubernetes-models" {
  command -v node >/dev/null || skip "node not installed"
  # Installed once into $HOME (common_setup points XDG_CACHE_HOME at the test's
  # directory).
  local models="${EFS2S3_K8S_MODELS:-$HOME/.cache/efs2s3-k8s-models}"
  if [[ ! -d "$models/node_modules/kubernetes-models" ]]; then
    command -v npm >/dev/null || skip "npm not installed"
    mkdir -p "$models"
    timeout 300 npm install --prefix "$models" --no-audit --no-fund --silent kubernetes-models@5.1.0 >&2 ||
      skip "npm could not install kubernetes-models"
  fi
  local n
  for n in 1 4; do
    run --separate-stderr "$EFS2S3" --json generate k8s nightly --config "$CONF" --bucket backups \
      --region eu-west-1 --image registry.example/efs2s3:1 --shards "$n"
    assert_status 0
    echo "$output" >"$T/k$n.json"
    run node "$TOOLS/check_k8s_schema.mjs" "$models" "$T/k$n.json"
    [[ "$status" == 0 && "$output" == ok ]] || { echo "shards $n: $output"; false; }
  done
  # The validator fails on an object the schema refuses.
  jq '.[5].spec.jobTemplate.spec.completions = "four"' "$T/k4.json" >"$T/bad.json"
  run node "$TOOLS/check_k8s_schema.mjs" "$models" "$T/bad.json"
  assert_status 1
  assert_output_has "completions must be integer"
}
