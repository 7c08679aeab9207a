#!/usr/bin/env bats
# Resuming after a backup killed without warning (SIGKILL, a lost instance):
# the checkpoint (a partial snapshot saved every --checkpoint-interval seconds)
# is consistent, and the next run neither reads again nor uploads again what it
# holds. Counted on the EFS stand-in (bench/latencyfs), which also slows the
# walk down enough to kill it half way.
#
# Needs root, /dev/fuse and latencyfs (see opcount.bats); skips otherwise.

load common

setup() {
  common_setup
  latencyfs_setup
  gate_setup
  "$PYTHON" "$E2E_ROOT/bench/gencorpus.py" small "$SRC" --files 1500 --per-dir 50 >/dev/null
  init_repo
}

teardown() {
  [[ -n "${BG_PID:-}" ]] && kill -9 "$BG_PID" 2>/dev/null
  mountpoint -q "$MNT" 2>/dev/null && { umount "$MNT" || umount -l "$MNT"; }
  common_teardown
}

# resumed_backup: backs up through a fresh mount; sets `opened` to the number of
# files the run opened.
resumed_backup() {
  "$LATENCYFS" --delay-us 100 "$SRC" "$MNT"
  run efs backup "$MNT"
  assert_status 0
  table=$(cat "$MNT/.latencyfs-files")
  umount "$MNT"
  opened=$(awk -F'\t' '$1 == "f" && $4 > 0' <<<"$table" | wc -l)
  echo "files opened by the resumed run: $opened"
}

# partial_ids: IDs of the snapshots tagged "partial".
partial_ids() {
  efs --json snapshots 2>/dev/null | jq -r '.[] | select(.tags | index("partial")) | .id'
}

@test "a backup killed with SIGKILL resumes from its last checkpoint: nothing in it is read again" {
  # 3 ms per operation and 2 readers: the walk takes several seconds. Killed while it
  # waits at the test gate after its second checkpoint (which replaced the first).
  "$LATENCYFS" --delay-us 3000 "$SRC" "$MNT"
  gate_start CHECKPOINT_2 "$T/killed.log" \
    "$EFS2S3" -r "$REPO" backup "$MNT" --readers 2 --walkers 1 --checkpoint-interval 1
  kill -9 "$BG_PID"
  wait "$BG_PID" || true
  BG_PID=""
  umount "$MNT"

  # The checkpoint is a consistent snapshot: every blob it names is stored and
  # indexed.
  checkpoint=$(partial_ids)
  [[ $(wc -l <<<"$checkpoint") == 1 ]]
  run efs check --read-data
  assert_status 0
  saved=$(efs ls "$checkpoint" | grep -c '\.dat$' || true)
  echo "files in the checkpoint: $saved of 1500"
  (( saved > 0 && saved < 1500 ))

  # The next run reads only what the checkpoint does not hold.
  resumed_backup
  (( opened <= 1500 - saved ))
  [[ "$output" == *"$((1500 - opened)) unchanged"* ]]

  # The resumed run's snapshot is complete and replaces the checkpoint.
  [[ -z "$(partial_ids)" ]]
  run efs restore latest --target "$T/restore"
  assert_status 0
  diff -r "$SRC" "$T/restore$MNT"
  run efs check
  assert_status 0
}

@test "an incremental run killed after a checkpoint: the resumed run reads only the changed files" {
  "$LATENCYFS" --delay-us 100 "$SRC" "$MNT"
  run efs backup "$MNT"
  assert_status 0
  umount "$MNT"
  # 20 files change; the run that sees them is killed after a checkpoint.
  for f in $(find "$SRC" -name '*.dat' | sort | awk 'NR % 75 == 0'); do
    printf 'changed' >>"$f"
  done
  "$LATENCYFS" --delay-us 3000 "$SRC" "$MNT"
  gate_start CHECKPOINT_1 "$T/killed.log" \
    "$EFS2S3" -r "$REPO" backup "$MNT" --readers 1 --walkers 1 --checkpoint-interval 1
  kill -9 "$BG_PID"
  wait "$BG_PID" || true
  BG_PID=""
  umount "$MNT"

  # Resumed: the files that the checkpoint does not hold are compared with
  # the last complete snapshot, so only the 20 changed files are opened.
  resumed_backup
  (( opened <= 20 ))
  run efs restore latest --target "$T/restore"
  assert_status 0
  diff -r "$SRC" "$T/restore$MNT"
}
