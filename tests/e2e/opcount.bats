#!/usr/bin/env bats
# Operation counts on the EFS stand-in (bench/latencyfs): what an incremental backup
# asks of the file system, counted per path, without timing anything.
#
# Needs root, /dev/fuse and the latencyfs binary (${LATENCYFS:-build/bench/latencyfs/
# latencyfs}, built when libfuse3 is installed, as scripts/install-deps.sh does);
# skips otherwise.

load common

setup() {
  common_setup
  latencyfs_setup
  # 600 files of 1-16 KiB in 12 directories, a symlink and an empty directory.
  "$PYTHON" "$E2E_ROOT/bench/gencorpus.py" small "$SRC" --files 600 --per-dir 50 >/dev/null
  ln -s d00/s0000/f000.dat "$SRC/link"
  mkdir "$SRC/empty"
  init_repo
}

teardown() {
  mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
  common_teardown
}

# A fresh mount: the kernel has no names or attributes cached, as on a new day on EFS.
mount_fs() { "$LATENCYFS" --delay-us 100 "$SRC" "$MNT"; }

# files_table: the per-path counters (header, then type lookup getattr open read ...).
files_table() { cat "$MNT/.latencyfs-files"; }

@test "a no-change backup opens no file and stats each file at most once" {
  mount_fs
  run efs backup "$MNT"
  assert_status 0
  umount "$MNT"

  mount_fs
  cat "$MNT/.latencyfs-reset" >/dev/null
  run efs backup "$MNT"
  assert_status 0
  table=$(files_table)
  stats=$(cat "$MNT/.latencyfs-stats")
  umount "$MNT"

  # Columns: 1 type, 2 lookup, 3 getattr, 4 open, 5 read, ..., last path.
  files=$(awk -F'\t' '$1 == "f"' <<<"$table" | wc -l)
  opened=$(awk -F'\t' '$1 == "f" && ($4 > 0 || $5 > 0)' <<<"$table")
  restated=$(awk -F'\t' '$1 == "f" && $2 + $3 > 1' <<<"$table")
  echo "operation totals of the no-change backup: $stats"
  echo "regular files seen: $files"
  if [[ -n "$opened" || -n "$restated" ]]; then
    echo "PIPELINE: an unchanged file must cost one stat (lookup+getattr <= 1) and no open." >&2
    echo "files opened or read: $(grep -c . <<<"$opened"); stat'ed more than once: $(grep -c . <<<"$restated")" >&2
    echo "first offenders (type lookup getattr open read opendir readdir readlink listxattr getxattr path):" >&2
    { head -n 5 <<<"$opened"; head -n 5 <<<"$restated"; } >&2
    false
  fi
  (( files == 600 ))
}

@test "a first backup opens each file once" {
  mount_fs
  run efs backup "$MNT"
  assert_status 0
  table=$(files_table)
  umount "$MNT"
  not_once=$(awk -F'\t' '$1 == "f" && $4 != 1' <<<"$table")
  if [[ -n "$not_once" ]]; then
    echo "files not opened exactly once:" >&2
    head -n 10 <<<"$not_once" >&2
    false
  fi
}

@test "latencyfs serves many operations in flight" {
  # 16 readers of 16 files each; with 20 ms per operation they overlap on any
  # machine (each reader spends nearly all its time waiting on the file system).
  "$LATENCYFS" --delay-us 20000 "$SRC" "$MNT"
  find "$MNT/" -name '*.dat' | head -n 256 | xargs -P 16 -n 16 cat >/dev/null
  stats=$(cat "$MNT/.latencyfs-stats")
  umount "$MNT"
  echo "$stats"
  in_flight=$(jq .in_flight_max <<<"$stats")
  (( in_flight >= 4 ))
  (( $(jq .ops.open <<<"$stats") == 256 ))
}
