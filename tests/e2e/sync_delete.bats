#!/usr/bin/env bats
# sync --delete never deletes what it could not read: objects under a local
# directory the walk could not read completely are kept, the run exits 3 naming it,
# and no other deletion is made unless --ignore-errors is given (rsync's rule). A
# directory that vanishes during the walk keeps its objects for this run. Run as an
# unprivileged user (root reads mode-000 directories); the tree changes at test gates
# (src/base/test_hooks.h), not at a guessed moment.

load common
load sync_common

teardown() {
  [[ -z "${BG_PID:-}" ]] || kill -9 "$BG_PID" 2>/dev/null || true
  [[ -z "${U:-}" ]] || { chmod -R u+rwx "$U" 2>/dev/null; rm -rf "$U"; }
  common_teardown
}

# nsync ARGS...: efs2s3 sync as the unprivileged user.
NSYNC=("$EFS2S3" --s3-endpoint "$EFS2S3_TEST_S3_ENDPOINT" --s3-path-style sync)
nsync() { as_nobody "${NSYNC[@]}" "$@"; }

# remote_keys: the object keys below the test prefix, relative, sorted.
remote_keys() {
  awss3 ls --recursive "$URL/" | awk '{print $4}' | sed "s|^$P/||" |
    grep -v '^\.efs2s3-sync-manifest$' | sort
}

# A tree of the unprivileged user, uploaded once:
#   open/a open/old closed/c closed/inner/b later/f
nobody_tree() {
  require_nobody
  nobody_dir
  as_nobody mkdir -p "$U/src/open" "$U/src/closed/inner" "$U/src/later"
  as_nobody sh -c "cd '$U/src' && echo a >open/a && echo old >open/old &&
    echo b >closed/inner/b && echo c >closed/c && echo f1 >later/f"
  run nsync "$U/src" "$URL"
  assert_status 0
  [[ "$(remote_keys | tr '\n' ' ')" == "closed/c closed/inner/b later/f open/a open/old " ]]
}

@test "sync --delete: a directory that cannot be read keeps its objects; nothing else is deleted without --ignore-errors" {
  nobody_tree
  as_nobody rm "$U/src/open/old"
  as_nobody chmod 000 "$U/src/closed"
  run --separate-stderr nsync "$U/src" "$URL" --delete
  assert_status "$EXIT_INCOMPLETE"
  assert_output_has "closed: opening the directory"
  assert_output_has "3 deletion(s) withheld"
  assert_output_has "--ignore-errors"
  [[ "$(remote_keys | tr '\n' ' ')" == "closed/c closed/inner/b later/f open/a open/old " ]]
  # --ignore-errors: open/old goes, what is under closed/ stays.
  run --separate-stderr nsync "$U/src" "$URL" --delete --ignore-errors
  assert_status "$EXIT_INCOMPLETE"
  assert_output_has "2 deletion(s) withheld"
  [[ "$(remote_keys | tr '\n' ' ')" == "closed/c closed/inner/b later/f open/a " ]]
  # Readable again, a plain --delete run is complete and deletes nothing more.
  as_nobody chmod 755 "$U/src/closed"
  run nsync "$U/src" "$URL" --delete
  assert_status 0
  [[ "$(remote_keys | tr '\n' ' ')" == "closed/c closed/inner/b later/f open/a " ]]
}

@test "sync --delete: a directory that vanishes during the walk keeps its objects for this run" {
  nobody_tree
  as_nobody rm "$U/src/open/old"
  gate_setup "$U"
  gate_start WALK_ROOT_LISTED "$T/out" "${NOBODY[@]}" "${NSYNC[@]}" "$U/src" "$URL" --delete
  # The walk has listed the top directory; closed/ goes before it is looked at.
  rm -rf "$U/src/closed"
  gate_release
  s=0
  wait "$BG_PID" || s=$?
  BG_PID=
  cat "$T/out"
  (( s == 0 ))
  grep -q "closed: vanished during the walk" "$T/out"
  grep -q "2 deletion(s) withheld" "$T/out"
  [[ "$(remote_keys | tr '\n' ' ')" == "closed/c closed/inner/b later/f open/a " ]]
  # The next run sees it gone and deletes its objects.
  run nsync "$U/src" "$URL" --delete
  assert_status 0
  [[ "$(remote_keys | tr '\n' ' ')" == "later/f open/a " ]]
}

@test "sync --delete: a directory that becomes unreadable after the walk keeps its old objects" {
  nobody_tree
  as_nobody rm "$U/src/open/old"
  as_nobody sh -c "echo f2-changed >'$U/src/later/f'"
  gate_setup "$U"
  gate_start SYNC_PLANNED "$T/out" "${NOBODY[@]}" "${NSYNC[@]}" "$U/src" "$URL" --delete
  # Planned: upload later/f, delete open/old. Now later/ cannot be read.
  chmod 000 "$U/src/later"
  gate_release
  s=0
  wait "$BG_PID" || s=$?
  BG_PID=
  cat "$T/out"
  (( s == EXIT_INCOMPLETE ))
  grep -q "later/f" "$T/out"
  # The walk was complete: open/old is deleted; later/f keeps its old content.
  [[ "$(remote_keys | tr '\n' ' ')" == "closed/c closed/inner/b later/f open/a " ]]
  [[ "$(awss3 cp "$URL/later/f" -)" == f1 ]]
}

@test "sync --delete from S3: a local directory that cannot be listed keeps its files and withholds deletions" {
  nobody_tree
  as_nobody mkdir -p "$U/dst"
  run nsync "$URL" "$U/dst"
  assert_status 0
  as_nobody sh -c "echo extra >'$U/dst/open/extra' && mkdir '$U/dst/closed/inner/more' && echo x >'$U/dst/closed/inner/more/x'"
  as_nobody chmod 000 "$U/dst/closed/inner"
  run --separate-stderr nsync "$URL" "$U/dst" --delete
  assert_status "$EXIT_INCOMPLETE"
  assert_output_has "closed/inner: opening the directory"
  [[ -f "$U/dst/open/extra" ]]
  run --separate-stderr nsync "$URL" "$U/dst" --delete --ignore-errors
  [[ ! -e "$U/dst/open/extra" ]]
  chmod 755 "$U/dst/closed/inner"
  [[ -f "$U/dst/closed/inner/more/x" ]]
}
