#!/usr/bin/env bats
# Sharded backups (README, "Sharded backup"): N workers started together each
# back up their share of a tree, and the merge gives the tree one process would
# have stored (the same tree IDs), on a local and on an S3 repository.

load common
load either_repo

EXIT_SHARDS_MISSING=5

setup() {
  common_setup
  SRC="$T/src"
  gentree "$SRC" --small >/dev/null
}
teardown() { either_repo_teardown; }

# tree_at SNAPSHOT PATH: the tree ID of directory PATH (absolute) in SNAPSHOT.
# The merged snapshot is compared below the backup path: the directories above
# it (/tmp) change while the test runs, as other programs write there.
tree_at() {
  local id c
  id=$(r --json cat snapshot "$1" | jq -r .tree)
  IFS=/ read -ra parts <<<"${2#/}"
  for c in "${parts[@]}"; do
    id=$(r --json cat tree "$id" | jq -r --arg n "$c" \
      '.[] | select(.name == $n) | .subtree')
  done
  echo "$id"
}

# workers RUN N [ARGS...]: N workers of run RUN started together; fails unless
# each exits 0.
workers() {
  local run="$1" n="$2" i pids=()
  shift 2
  for ((i = 0; i < n; i++)); do
    r backup --shard "$i/$n" --run-id "$run" "$@" "$SRC" >"$T/w$i.out" 2>&1 &
    pids+=($!)
  done
  for ((i = 0; i < n; i++)); do
    if ! wait "${pids[$i]}"; then
      echo "worker $i of $n failed:" >&2
      cat "$T/w$i.out" >&2
      return 1
    fi
  done
}

# snap_of TAG: IDs of the snapshots tagged TAG.
snap_of() { r --json snapshots | jq -r --arg t "$1" '.[] | select(.tags // [] | index($t)) | .id'; }

shards_left() { r --json snapshots | jq '[.[] | select((.tags // []) | map(startswith("shard:")) | any)] | length'; }

merges_into_the_single_process_tree() {
  single=$(r --json backup "$SRC" |
    jq -r 'select(.message_type == "summary") | .snapshot_id')
  want=$(tree_at "$single" "$SRC")
  for n in "$@"; do
    workers "run$n" "$n"
    [[ $(shards_left) == "$n" ]]
    run r backup --merge "run$n"
    assert_status 0
    assert_output_has "$n shards merged into snapshot"
    [[ $(shards_left) == 0 ]]
    merged=$(snap_of "run:run$n")
    [[ $(echo "$merged" | wc -l) == 1 ]]
    got=$(tree_at "$merged" "$SRC")
    [[ "$got" == "$want" ]] || { echo "$n shards: $got != $want" >&2; return 1; }
  done
  # Restored, it is the source.
  r restore "$merged:$SRC" --target "$T/restored" --sparse >/dev/null
  comparetree "$SRC" "$T/restored"
}

@test "2, 3 and 4 workers merge into the tree of one backup (local)" {
  use_local
  merges_into_the_single_process_tree 2 3 4
}

@test "3 workers merge into the tree of one backup (S3)" {
  use_s3
  merges_into_the_single_process_tree 3
}

@test "--merge-if-last: concurrent workers yield one snapshot; a second run reads nothing" {
  use_local
  workers first 4 --merge-if-last
  [[ $(shards_left) == 0 ]]
  [[ $(snap_of run:first | wc -l) == 1 ]]
  grep -q "still missing" "$T"/w*.out
  # Unchanged data: each worker takes its units from the parent snapshot.
  workers second 2 --json --merge-if-last
  for i in 0 1; do
    [[ $(grep '"message_type":"summary"' "$T/w$i.out" | head -1 | jq .bytes_read) == 0 ]]
  done
  [[ $(tree_at "$(snap_of run:second)" "$SRC") == $(tree_at "$(snap_of run:first)" "$SRC") ]]
  # A second merge of a merged run: nothing to do.
  run r backup --merge second
  assert_status 0
  assert_output_has "already merged"
  [[ $(snap_of run:second | wc -l) == 1 ]]
}

@test "a killed worker: the merge refuses naming it; re-running it completes the run" {
  use_local
  gate_setup
  gate_start BACKUP_FILE_SAVED "$T/killed.out" "$EFS2S3" "${R[@]}" backup \
    --shard 1/3 --run-id k "$SRC"
  kill -9 "$BG_PID"
  gate_release
  wait "$BG_PID" || true
  for i in 0 2; do r backup --shard "$i/3" --run-id k "$SRC" >/dev/null; done
  run r backup --merge k
  assert_status "$EXIT_SHARDS_MISSING"
  assert_output_has "run k: shard 1 of 3 missing"
  r backup --shard 1/3 --run-id k "$SRC"
  run r backup --merge k
  assert_status 0
  r restore "$(snap_of run:k):$SRC" --target "$T/restored" --sparse >/dev/null
  comparetree "$SRC" "$T/restored"
}

@test "shard options: run ID and index are required and checked" {
  use_local
  run r backup --shard 0/2 "$SRC"
  assert_status "$EXIT_USAGE"
  assert_output_has "--run-id or \$EFS2S3_RUN_ID"
  run env -u JOB_COMPLETION_INDEX -u AWS_BATCH_JOB_ARRAY_INDEX \
    "$EFS2S3" "${R[@]}" backup --shard auto/2 --run-id x "$SRC"
  assert_status "$EXIT_USAGE"
  run r backup --shard 2/2 --run-id x "$SRC"
  assert_status "$EXIT_USAGE"
  run r backup --merge nosuchrun
  assert_status "$EXIT_FATAL"
  assert_output_has "no such sharded run"
  # auto: the index from the Kubernetes Indexed Job's variable.
  JOB_COMPLETION_INDEX=0 EFS2S3_RUN_ID=env r backup --shard auto/2 "$SRC"
  [[ $(snap_of shard:env:0/2 | wc -l) == 1 ]]
  # The same run with another shard count is refused.
  run r backup --shard 0/3 --run-id env "$SRC"
  assert_status "$EXIT_USAGE"
  # A shard snapshot is never a parent, and forget neither counts nor removes it.
  [[ $(r --json backup "$SRC" | jq -r 'select(.message_type == "summary") | .parent') == "" ]]
  r backup "$SRC" >/dev/null
  r forget --keep-last 1 >/dev/null
  [[ $(snap_of shard:env:0/2 | wc -l) == 1 ]]
  [[ $(r --json snapshots | jq length) == 2 ]]
}

@test "job run --shard runs only the backup as a worker; job run --merge merges, then the other steps" {
  use_local
  echo "$EFS2S3_PASSWORD" >"$T/pw"
  cat >"$T/efs2s3.toml" <<EOT
state_dir = "state"

[jobs.nightly]
repository = "$REPO"
password_file = "pw"
source = { paths = ["$SRC"] }

[jobs.nightly.retention]
keep_last = 3
EOT
  job() { "$EFS2S3" job "$@" --config "$T/efs2s3.toml"; }
  export EFS2S3_RUN_ID=jobrun
  job run nightly --shard 0/2 --json >"$T/j0.out" 2>&1 &
  p0=$!
  job run nightly --shard 1/2 --json >"$T/j1.out" 2>&1 &
  p1=$!
  wait "$p0"
  wait "$p1"
  # A worker's run has no maintenance: forget would run beside the others.
  [[ $(jq -r '.steps[] | select(.name == "forget") | .status' <(tail -1 "$T/j0.out")) == skipped ]]
  [[ $(shards_left) == 2 ]]
  run job run nightly --merge jobrun --json
  assert_status 0
  [[ $(echo "$output" | tail -1 | jq -r '.steps[] | select(.name == "forget") | .status') == ok ]]
  [[ $(shards_left) == 0 ]]
  [[ $(snap_of run:jobrun | wc -l) == 1 ]]
}
