#!/usr/bin/env bats
# mount: the snapshots as a read-only FUSE file system, compared with the source tree
# (content, modes, owners, times, symlinks, xattrs, hard links), on a local repository
# and on the S3 server (radosgw; skips without it unless EFS2S3_TEST_DISALLOW_SKIP
# contains S3); SIGINT and SIGTERM unmount. Skips where FUSE cannot be used (no
# /dev/fuse, no fusermount3, a binary built without libfuse3).

load common

setup() {
  common_setup
  BUCKET=""
  MOUNT_PID=""
  [[ -c /dev/fuse ]] || skip "no /dev/fuse"
  command -v fusermount3 >/dev/null || skip "fusermount3 not installed"
  MNT="$T/mnt"
  mkdir -p "$MNT"
}

teardown() {
  if [[ -n "${MOUNT_PID:-}" ]]; then
    kill -TERM "$MOUNT_PID" 2>/dev/null || true
    wait "$MOUNT_PID" 2>/dev/null || true
  fi
  mountpoint -q "$MNT" 2>/dev/null && fusermount3 -u "$MNT"
  if [[ -n "${BUCKET:-}" ]] && command -v aws >/dev/null; then
    aws --endpoint-url "$EP" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true
  fi
  common_teardown
}

# r ARGS...: the binary on the test's repository (R_ARGS).
r() { "$EFS2S3" "${R_ARGS[@]}" "$@"; }

# start_mount: `efs2s3 mount $MNT` in the background (the binary itself, not a
# shell that would ignore SIGINT); returns once it is mounted (or fails if the
# command ended first; skips if this binary has no FUSE).
start_mount() {
  "$EFS2S3" "${R_ARGS[@]}" mount "$MNT" >"$T/mount.out" 2>&1 &
  MOUNT_PID=$!
  until mountpoint -q "$MNT"; do
    if ! kill -0 "$MOUNT_PID" 2>/dev/null; then
      wait "$MOUNT_PID" || true
      MOUNT_PID=""
      if grep -q "built without FUSE" "$T/mount.out"; then
        skip "efs2s3 built without FUSE"
      fi
      cat "$T/mount.out" >&2
      return 1
    fi
    sleep 0.05
  done
}

# stop_mount SIGNAL: the mount ends on SIGNAL, exit 0, and is gone.
stop_mount() {
  kill "-$1" "$MOUNT_PID"
  status=0
  wait "$MOUNT_PID" || status=$?
  MOUNT_PID=""
  assert_status 0
  ! mountpoint -q "$MNT"
}

mount_and_compare() {
  gentree "$T/src" --small
  run r init --scrypt-n 1024
  assert_status 0
  run r backup "$T/src" --tag nightly --host h1
  assert_status 0
  echo changed >"$T/src/new-in-second"
  run r backup "$T/src" --host h1
  assert_status 0
  local first second
  first=$(r --json snapshots | jq -r '.[0].id')
  second=$(r --json snapshots | jq -r '.[1].id')

  start_mount
  # The layout: snapshots by time with a latest link, by short ID, by host, by tag.
  local latest
  latest=$(readlink "$MNT/snapshots/latest")
  [[ -d "$MNT/snapshots/$latest" ]]
  [[ -d "$MNT/ids/${first:0:8}$T/src" ]]
  [[ -f "$MNT/ids/${second:0:8}$T/src/new-in-second" ]]
  [[ ! -e "$MNT/ids/${first:0:8}$T/src/new-in-second" ]]
  [[ "$(readlink "$MNT/hosts/h1/latest")" == "$latest" ]]
  [[ "$(ls "$MNT/hosts/h1" | wc -l)" == 3 ]]
  # Only the first snapshot has the tag.
  [[ "$(ls "$MNT/tags/nightly" | grep -vc latest)" == 1 ]]
  [[ -d "$MNT/tags/nightly/latest$T/src" ]]

  # The latest snapshot is the source tree (allocation aside: no holes in FUSE).
  local flags=(--no-sparse)
  is_root || flags+=(--no-owner)
  run "$PYTHON" "$TOOLS/comparetree.py" "$T/src" "$MNT/snapshots/latest$T/src" "${flags[@]}"
  assert_status 0
  # Read-only.
  run touch "$MNT/ids/${first:0:8}$T/src/x"
  (( status != 0 ))
}

@test "mount: local repository, the tree as backed up; SIGINT unmounts" {
  R_ARGS=(-r "$REPO")
  mount_and_compare
  stop_mount INT
}

@test "mount: S3 repository, the tree as backed up; SIGTERM unmounts" {
  require_s3_server || return 1
  BUCKET="efs2s3-mount-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  R_ARGS=(-r "s3://$BUCKET/repo" --s3-endpoint "$EP" --s3-path-style)
  mount_and_compare
  stop_mount TERM
}

@test "mount: a large file reads back whole, sequentially and at random offsets" {
  R_ARGS=(-r "$REPO")
  run r init --scrypt-n 1024 --chunk-min 64 --chunk-avg 128 --chunk-max 256
  assert_status 0
  mkdir "$T/src"
  random_file "$T/src/big" 20000000
  run r backup "$T/src"
  assert_status 0
  start_mount
  local f="$MNT/snapshots/latest$T/src/big"
  cmp "$T/src/big" "$f"
  # Reads across blob boundaries at odd offsets.
  local off
  for off in 0 131071 5000000 19999990; do
    cmp <(tail -c +$((off + 1)) "$T/src/big" | head -c 300000) \
      <(tail -c +$((off + 1)) "$f" | head -c 300000)
  done
  stop_mount INT
}
