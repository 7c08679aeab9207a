#!/usr/bin/env bats
# Backup -> restore gives back every node, name and attribute (tests/tools/comparetree.py).

load common

@test "round trip of the generated tree restores every attribute" {
  gentree "$T/src" --small
  init_repo

  run efs backup "$T/src"
  assert_status 0

  run restore_tree latest "$T/src" "$T/restore" --sparse
  assert_status 0
  run comparetree "$T/src" "$T/restore"
  assert_status 0
}

@test "restore with --verify of the generated tree succeeds" {
  gentree "$T/src" --small
  init_repo
  run efs backup "$T/src"
  assert_status 0
  run restore_tree latest "$T/src" "$T/restore" --sparse --verify
  assert_status 0
  run comparetree "$T/src" "$T/restore"
  assert_status 0
}

@test "restore under a limit of 300 open files restores 2,000 files in small batches" {
  # The restorer keeps every file of two batches open; it must size its batches
  # to the limit it finds instead of failing with "Too many open files".
  hard=$(ulimit -Hn)
  [[ "$hard" == unlimited || "$hard" -ge 300 ]] || skip "hard limit on open files below 300"
  mkdir -p "$T/src"
  for d in 0 1 2 3; do
    mkdir "$T/src/d$d"
    for i in $(seq 1 500); do echo "file $d $i" >"$T/src/d$d/f$i"; done
  done
  init_repo
  run efs backup "$T/src"
  assert_status 0
  run bash -c 'ulimit -n 300 && "$@"' _ "$EFS2S3" -r "$REPO" restore \
    "latest:$T/src" --target "$T/restore"
  assert_status 0
  run comparetree "$T/src" "$T/restore"
  assert_status 0
}

@test "round trip of the full tree with the 50 MiB and the sparse 1 GiB file" {
  [[ "${EFS2S3_E2E_LARGE:-1}" != 0 ]] || skip "EFS2S3_E2E_LARGE=0"
  gentree "$T/src"
  init_repo

  run efs backup "$T/src"
  assert_status 0
  # 50 MiB of one repeated MiB and a 1 GiB file of mostly holes store little.
  size=$(repo_size)
  (( size < 40 * 1024 * 1024 )) || { echo "repository is $size bytes" >&2; false; }

  run restore_tree latest "$T/src" "$T/restore" --sparse
  assert_status 0
  run comparetree "$T/src" "$T/restore"
  assert_status 0
}

@test "restore of a subdirectory gives exactly that subtree" {
  gentree "$T/src" --small
  init_repo
  run efs backup "$T/src"
  assert_status 0
  run restore_tree latest "$T/src/hard" "$T/restore"
  assert_status 0
  run comparetree "$T/src/hard" "$T/restore"
  assert_status 0
}

@test "ls lists names that are not UTF-8 or contain a newline" {
  gentree "$T/src" --small
  init_repo
  run efs backup "$T/src"
  assert_status 0
  run efs ls latest "$T/src/names"
  assert_status 0
  assert_output_has "colon:in:name"
  assert_output_has "-leading-dash"
  assert_output_has "unicode-名前-ñ-🎉"
}

@test "a second backup from the parent snapshot restores identically" {
  gentree "$T/src" --small
  init_repo
  run efs backup "$T/src"
  assert_status 0
  echo "changed" >"$T/src/files/new-after-first-backup"
  # atime after mtime, so that reading the file does not update it (relatime).
  touch -m -d "2001-02-03 04:05:06.789" "$T/src/files/new-after-first-backup"
  touch -a -d "2110-01-01 00:00:00.123456789" "$T/src/files/new-after-first-backup"
  run efs backup "$T/src"
  assert_status 0
  run restore_tree latest "$T/src" "$T/restore" --sparse
  assert_status 0
  run comparetree "$T/src" "$T/restore"
  assert_status 0
}

@test "a backup leaves the access times of the directories it reads as they were" {
  # Under relatime, the first read of a directory whose atime is not after its
  # mtime sets its atime: a backup that did so would find every directory it
  # read changed on its next run.
  mkdir -p "$T/atime/sub/deeper"
  echo x >"$T/atime/sub/deeper/file"
  touch -a -d '2001-01-01 00:00:00' "$T/atime/sub" "$T/atime/sub/deeper"
  before=$(stat -c '%X' "$T/atime/sub" "$T/atime/sub/deeper" | tr '\n' ' ')
  init_repo
  run efs backup "$T/atime"
  assert_status 0
  after=$(stat -c '%X' "$T/atime/sub" "$T/atime/sub/deeper" | tr '\n' ' ')
  [[ "$before" == "$after" ]]
  run efs --json backup "$T/atime"
  assert_status 0
  [[ $(tail -n 1 <<<"$output" | jq '.dirs_changed + .dirs_new') == 0 ]]
}

@test "directories and files read by others between two backups: no new tree, atimes of the first kept" {
  # A read changes only the access time. Storing it would give the read
  # directory, and every directory above it, a new tree on the next backup.
  mkdir -p "$T/atime/sub/deeper"
  echo x >"$T/atime/sub/deeper/file"
  # The backup's own readlink sets a symlink's atime: no O_NOATIME for it.
  ln -s deeper/file "$T/atime/sub/link"
  touch -a -d @978307200 "$T/atime/sub" "$T/atime/sub/deeper" \
    "$T/atime/sub/deeper/file"
  touch -h -a -d @978307200 "$T/atime/sub/link"
  init_repo
  run efs backup "$T/atime"
  assert_status 0
  # Another program reads them (relatime: the first read after a change sets
  # the atime).
  ls "$T/atime/sub" "$T/atime/sub/deeper" >/dev/null
  cat "$T/atime/sub/deeper/file" >/dev/null
  [[ $(stat -c '%X' "$T/atime/sub/deeper") -gt 978307200 ]] ||
    skip "this file system does not update access times on reads"
  run efs --json backup "$T/atime"
  assert_status 0
  summary=$(tail -n 1 <<<"$output")
  [[ $(jq '.dirs_changed + .dirs_new' <<<"$summary") == 0 ]]
  [[ $(jq '.files_changed + .files_new' <<<"$summary") == 0 ]]
  # Nothing below the backup path is stored again. The directories above it
  # (the test's temporary directory, /tmp) may be changed by any program
  # meanwhile and then get new trees: at most one pack of them.
  [[ $(jq '.packs_uploaded' <<<"$summary") -le 1 ]]
  local ids
  mapfile -t ids < <(efs --json snapshots | jq -r '.[].id')
  run efs diff "${ids[0]}" "${ids[1]}"
  assert_status 0
  [[ "$output" != *"$T/atime"* ]]
  # The restore gives the atimes of the first backup.
  run restore_tree latest "$T/atime" "$T/restore"
  assert_status 0
  [[ $(stat -c '%X' "$T/restore/sub/deeper") == 978307200 ]]
  [[ $(stat -c '%X' "$T/restore/sub/deeper/file") == 978307200 ]]
  [[ $(stat -c '%X' "$T/restore/sub/link") == 978307200 ]]
}
