#!/usr/bin/env bats
# docs/MAINTENANCE.md, "What each kind of damage does", row by row: each test damages
# one object of a small repository the way its row says, checks what the row says the
# commands do (exit codes, the object or files named, how many files restore byte for
# byte), follows the row's way out, and checks that the repository then passes
# `check --read-data` and that no file restorable before the repair is lost.
#
# The repository is built once (setup_file) and copied for each test: 300 files of 1 to
# 16 KiB in ten directories (snapshot 1), then 10 more in new/ (snapshot 2, the
# latest); 1 MiB packs, so the files of snapshot 1 fill three data packs and its trees
# one tree pack; two key files (two passwords). tests/tools/repo_map.py maps it
# (index entries, trees) and says how many files must still restore after a given
# damage, so every count below is exact.
#
# The row "one byte flipped in transit" needs the S3 server of scripts/test.sh and the
# fault proxy of faults.bats; it skips without EFS2S3_TEST_S3_ENDPOINT (fails instead
# when EFS2S3_TEST_DISALLOW_SKIP contains S3).

load common

NFILES=310   # in the latest snapshot
NFILES1=300  # in the first

setup_file() {
  export G="$BATS_FILE_TMPDIR"
  export SRC="$G/src"
  export EFS2S3_PASSWORD="correct horse battery staple"
  export PASSWORD2="second key"
  export XDG_CACHE_HOME="$G/cache"
  unset EFS2S3_REPOSITORY EFS2S3_PASSWORD_FILE
  local repo="$G/repo"
  gen_files "$SRC" 10 30
  "$EFS2S3" -r "$repo" init --pack-size 1 --scrypt-n 1024 >/dev/null
  "$EFS2S3" -r "$repo" backup "$SRC" >/dev/null
  gen_files "$SRC/new" 1 10
  "$EFS2S3" -r "$repo" backup "$SRC" >/dev/null
  EFS2S3_NEW_PASSWORD="$PASSWORD2" "$EFS2S3" -r "$repo" key add --scrypt-n 1024 \
    >/dev/null
  "$PYTHON" "$TOOLS/repo_map.py" dump "$EFS2S3" "$repo" "$SRC" "$G/map.json"
  # The map agrees with the repository: every file restorable, nothing to repair.
  [[ $("$PYTHON" "$TOOLS/repo_map.py" expect "$G/map.json") == "$NFILES" ]]
  "$EFS2S3" -r "$repo" check --read-data >/dev/null
}

setup() {
  common_setup
  cp -a "$G/repo" "$REPO"
  MAP="$G/map.json"
}

# gen_files DIR NDIRS NFILES: NFILES random files of 1 to 16 KiB in each of NDIRS
# directories (DIR/d0 ...), or in DIR itself when NDIRS is 1.
gen_files() {
  "$PYTHON" - "$@" <<'PY'
import os, random, sys
root, ndirs, nfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(root)
for d in range(ndirs):
    path = root if ndirs == 1 else f"{root}/d{d}"
    os.makedirs(path)
    for f in range(nfiles):
        with open(f"{path}/f{f:02d}", "wb") as out:
            out.write(rng.randbytes(rng.randint(1024, 16 * 1024)))
PY
}

map() { "$PYTHON" "$TOOLS/repo_map.py" "$@"; }

# pack_file ID: the pack object's file.
pack_file() { echo "$REPO/data/${1:0:2}/$1"; }

# locate --file REL | --tree REL: sets BLOB, PACK (ID), OFF and LEN.
locate() {
  read -r BLOB PACK OFF LEN < <(map locate "$MAP" "$@")
  [[ -n "$LEN" ]]
}

# snapshot_ids: S1 and S2, the full IDs of the first and the latest snapshot.
snapshot_ids() {
  S1=$(jq -r '.snapshots | sort_by(.time) | .[0].id' "$MAP")
  S2=$(jq -r '.snapshots | sort_by(.time) | .[1].id' "$MAP")
}

# index_of BLOB: the index file that names BLOB (there is one per backup).
index_of() { jq -r --arg b "$1" '.blobs[$b].index[0]' "$MAP"; }

# restorable: how many files of $SRC some readable snapshot restores byte for byte.
restorable() {
  local id n=0 dirs=()
  # (an error is a JSON object, not the list)
  for id in $(efs --json snapshots 2>/dev/null |
    jq -r 'if type == "array" then .[].id else empty end'); do
    efs restore "$id:$SRC" --target "$T/r$n" >/dev/null 2>&1 || true
    dirs+=("$T/r$n")
    n=$((n + 1))
  done
  map count "$SRC" "${dirs[@]}"
  rm -rf "${dirs[@]}"
}

# restore_latest [ARGS...]: restores the latest snapshot into a fresh $T/restore;
# $status, $output and $stderr are restore's, $RESTORED the files intact.
restore_latest() {
  rm -rf "$T/restore"
  run --separate-stderr restore_tree latest "$SRC" "$T/restore" "$@"
  RESTORED=$(map count "$SRC" "$T/restore")
  echo "restore (exit $status): $RESTORED files intact; $(head -c 2000 <<<"$stderr")" >&2
}

# run_check [ARGS...]: check --json; $CHECK is its document, $KINDS the error kinds
# (sorted, unique, space-separated).
run_check() {
  run --separate-stderr efs --json check "$@"
  CHECK=$output
  echo "check $* (exit $status): $CHECK $stderr" >&2
  KINDS=$(jq -r '[.errors[]?.kind] | unique | join(" ")' <<<"$CHECK")
}

# check_paths KIND ID: the snapshot paths that check lists for error KIND of object ID.
check_paths() {
  jq -r --arg k "$1" --arg id "$2" \
    '.errors[] | select(.kind == $k and .id == $id) | .paths[] | "\(.snapshot) \(.path)"' \
    <<<"$CHECK" | sort
}

# assert_repaired BEFORE AFTER: check --read-data finds no error, and AFTER files
# restore, which is not fewer than BEFORE (repair never makes data less restorable).
assert_repaired() {
  run_check --read-data
  if (( status != 0 )) || [[ -n "$KINDS" ]]; then
    echo "check --read-data after the repair ($status): $CHECK $stderr" >&2
    return 1
  fi
  local after
  after=$(restorable)
  echo "restorable: $1 before the repair, $after after (expected $2)" >&2
  (( after == $2 && after >= $1 ))
}

# names_all TEXT FILE...: TEXT names every FILE (relative to $SRC).
names_all() {
  local text="$1" f
  shift
  for f in "$@"; do
    [[ "$text" == *"$SRC/$f"* ]] || { echo "not named: $f" >&2; return 1; }
  done
}

teardown() {
  stop_proxy
  if [[ -n "${BUCKET:-}" ]] && command -v aws >/dev/null; then
    aws --endpoint-url "$EP" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true
  fi
  common_teardown
}

# ---------------------------------------------------------------------------------
# Any object, in transit: the repository in the S3 server, every GET through the fault
# proxy, which flips one byte in the body of the first GET of every object (config, key
# files, locks, index files, snapshots, packs) and passes the others on intact.

@test "any object, one byte flipped in transit: read again; restore, check and repair succeed" {
  require_s3_server
  BUCKET="efs2s3-dmatrix-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  direct() { "$EFS2S3" -r "s3://$BUCKET/repo" --s3-endpoint "$EP" --s3-path-style "$@"; }
  faulty() { "$EFS2S3" -r "s3://$BUCKET/repo" --s3-endpoint "$PROXY" --s3-path-style "$@"; }
  run direct init --pack-size 1 --scrypt-n 1024
  assert_status 0
  run direct backup "$SRC"
  assert_status 0
  start_proxy 1 19 --kinds flip --methods GET --once-per-path

  run --separate-stderr faulty snapshots
  assert_status 0
  rm -rf "$T/restore"
  run --separate-stderr faulty restore "latest:$SRC" --target "$T/restore" --verify
  assert_status 0
  (( $(map count "$SRC" "$T/restore") == NFILES ))
  run --separate-stderr faulty --json check --read-data
  assert_status 0
  jq -e '.errors == [] and .blobs_failed == 0' <<<"$output"
  run --separate-stderr faulty repair index --read-data
  assert_status 0
  [[ "$stderr" != *"lost"* ]]
  flips=$(jq -r '.faults.flip' "$T/proxy-stats.json")
  echo "flipped GETs: $flips" >&2
  grep ' flip$' "$T/proxy.log" >&2
  for kind in config keys/ index/ snapshots/ data/; do
    grep -q "^GET /$BUCKET/repo/$kind.* flip$" "$T/proxy.log"
  done

  stop_proxy
  run direct check --read-data
  assert_status 0
  rm -rf "$T/restore"
  run direct restore "latest:$SRC" --target "$T/restore"
  assert_status 0
  (( $(map count "$SRC" "$T/restore") == NFILES ))
}

# expect_loss DAMAGE...: $expected, how many files must still restore after DAMAGE
# (options of `repo_map.py expect`), and $lost, the others (more than 10).
expect_loss() {
  expected=$(map expect "$MAP" "$@")
  mapfile -t lost < <(map expect "$MAP" "$@" --lost)
  echo "expected restorable: $expected, lost: ${#lost[@]}" >&2
  (( expected + ${#lost[@]} == NFILES && ${#lost[@]} > 10 ))
}

# restore_names_lost [ARGS...]: restore exits 1, $expected files come back intact and
# every one of $lost is named.
restore_names_lost() {
  restore_latest "$@"
  assert_status "$EXIT_FATAL"
  (( RESTORED == expected ))
  names_all "$stderr" "${lost[@]}"
}

# way_out STATUS [--read-data] [--forget]: the way out of damage to packs: `repair index`
# (exit STATUS; its stderr in $REPAIRED), `repair snapshots` (with --forget: first
# without, exit 1, a root tree being lost; its output in $DROPPED), `prune`; then the
# repository checks clean and the $before files restorable before still restore.
way_out() {
  local status_index="$1" index_args=() forget=""
  shift
  [[ "${1:-}" == --read-data ]] && { index_args=(--read-data); shift; }
  [[ "${1:-}" == --forget ]] && forget=1
  run --separate-stderr efs repair index "${index_args[@]}"
  assert_status "$status_index"
  REPAIRED=$stderr
  run --separate-stderr efs repair snapshots
  if [[ -n "$forget" ]]; then
    assert_status "$EXIT_FATAL"
    run --separate-stderr efs repair snapshots --forget
  fi
  assert_status 0
  DROPPED=$output
  run efs prune
  assert_status 0
  assert_repaired "$before" "$before"
}

# ---------------------------------------------------------------------------------
# Data packs.

@test "data pack, flip in a blob: every other file restored, the file named; repair drops it, the next backup stores it again" {
  locate --file d3/f07
  flip_byte "$(pack_file "$PACK")" $((OFF + LEN / 2))
  (( $(map expect "$MAP" --blob "$BLOB") == NFILES - 1 ))

  restore_latest --verify
  assert_status "$EXIT_FATAL"
  (( RESTORED == NFILES - 1 ))
  names_all "$stderr" d3/f07
  run_check
  assert_status 0
  run_check --read-data
  assert_status "$EXIT_FATAL"
  [[ "$KINDS" == "damaged_blob damaged_pack" ]]
  snapshot_ids
  [[ "$(check_paths damaged_blob "$BLOB")" == "$(printf '%s %s\n' "$S1" "$SRC/d3/f07" "$S2" "$SRC/d3/f07" | sort)" ]]
  before=$(restorable)
  (( before == NFILES - 1 ))

  way_out "$EXIT_INCOMPLETE" --read-data
  [[ "$REPAIRED" == *"1 damaged blob(s) lost: $BLOB"* ]]
  (( $(grep -c "dropped $SRC/d3/f07" <<<"$DROPPED") == 2 ))
  run efs backup "$SRC"
  assert_status 0
  (( $(restorable) == NFILES ))
  run efs check --read-data
  assert_status 0
}

# header_damage: the pack of d3/f07 keeps every blob; check --read-data names it,
# `repair index` saves every blob ($1: the way it found them).
header_damage() {
  restore_latest --verify
  assert_status 0
  (( RESTORED == NFILES ))
  run_check
  assert_status 0
  run_check --read-data
  assert_status "$EXIT_FATAL"
  [[ "$KINDS" == damaged_pack ]]
  [[ $(jq -r '.errors[0].id' <<<"$CHECK") == "$PACK" ]]
  before=$(restorable)
  (( before == NFILES ))

  way_out 0
  [[ "$REPAIRED" == *"$PACK"*"saved $(jq --arg p "$PACK" '[.blobs[] | select(.pack == $p)] | length' "$MAP") blobs by $1"* ]]
}

@test "data pack, flip in its header: every file restored; repair index saves every blob" {
  locate --file d3/f07
  size=$(stat -c %s "$(pack_file "$PACK")")
  flip_byte "$(pack_file "$PACK")" $((size - 20))
  header_damage "the old index"
}

@test "data pack, truncated by 4 bytes: every file restored; repair index saves every blob" {
  locate --file d3/f07
  chmod u+w "$(pack_file "$PACK")"
  truncate -s -4 "$(pack_file "$PACK")"
  header_damage "the header found"
}

@test "data pack, truncated by more: files past the cut named, the rest restored; repair saves the blobs before the cut" {
  locate --file d3/f07
  f=$(pack_file "$PACK")
  cut=$(( $(stat -c %s "$f") / 2 ))
  chmod u+w "$f"
  truncate -s "$cut" "$f"
  expect_loss --cut "$PACK" "$cut"
  restore_names_lost --verify
  run_check
  assert_status "$EXIT_FATAL"
  [[ "$KINDS" == "missing_blob pack_too_short" ]]
  names_all "$(jq -r '.errors[].paths[].path' <<<"$CHECK")" "${lost[@]}"
  run_check --read-data
  assert_status "$EXIT_FATAL"
  [[ "$KINDS" == "damaged_pack missing_blob pack_too_short" ]]
  before=$(restorable)
  (( before == expected ))

  way_out "$EXIT_INCOMPLETE"
  [[ "$REPAIRED" == *"damaged blob(s) lost: "* ]]
}

@test "data pack, deleted: the files using it named; repair index, repair snapshots keep the rest" {
  locate --file d3/f07
  rm -f "$(pack_file "$PACK")"
  expect_loss --pack "$PACK"
  restore_names_lost
  run_check
  assert_status "$EXIT_FATAL"
  [[ "$KINDS" == "missing_blob missing_pack" ]]
  [[ $(jq -r '[.errors[] | select(.kind == "missing_pack")][0].id' <<<"$CHECK") == "$PACK" ]]
  names_all "$(jq -r '.errors[].paths[].path' <<<"$CHECK")" "${lost[@]}"
  before=$(restorable)
  (( before == expected ))

  way_out 0
}

# ---------------------------------------------------------------------------------
# Tree packs. The trees of snapshot 1 (d0 ... d9, $SRC and the directories above it,
# the root last) are in one pack; snapshot 2 has its own root, $SRC and new/ in
# another and shares d0 ... d9.

# tree_damage EXPECTED LOST_DIR: restore and check after damage to the tree pack of
# snapshot 1: EXPECTED files restore, LOST_DIR (relative to $SRC) is named and `ls`
# of it fails; sets $before.
tree_damage() {
  restore_latest
  assert_status "$EXIT_FATAL"
  (( RESTORED == $1 ))
  [[ "$stderr" == *"error: $SRC/$2: directory not restored: "* ]]
  run --separate-stderr efs ls latest "$SRC/$2"
  assert_status "$EXIT_FATAL"
  run_check
  assert_status "$EXIT_FATAL"
  snapshot_ids
  [[ "$(jq -r '.errors[].paths[] | "\(.snapshot) \(.path)"' <<<"$CHECK")" == *"$S2 $SRC/$2"* ]]
  before=$(restorable)
  (( before == $1 ))
}

@test "tree pack, flip in a tree: the directory named, ls of it fails; repair snapshots drops it" {
  locate --tree d3
  flip_byte "$(pack_file "$PACK")" $((OFF + LEN / 2))
  expected=$(map expect "$MAP" --blob "$BLOB")
  (( expected == NFILES - 30 ))
  tree_damage "$expected" d3
  [[ "$KINDS" == bad_tree && $(jq -r '.errors[].id' <<<"$CHECK") == "$BLOB" ]]

  # The pack is salvaged without the damaged tree; repair snapshots drops d3.
  way_out "$EXIT_INCOMPLETE" --read-data
  [[ "$REPAIRED" == *"1 damaged blob(s) lost: $BLOB"* ]]
  (( $(grep -c "dropped $SRC/d3" <<<"$DROPPED") == 2 ))
}

@test "tree pack, truncated: the directories past the cut named; repair index, repair snapshots --forget (root tree lost)" {
  locate --tree d3
  f=$(pack_file "$PACK")
  cut=$(( $(stat -c %s "$f") / 2 ))
  chmod u+w "$f"
  truncate -s "$cut" "$f"
  expected=$(map expect "$MAP" --cut "$PACK" "$cut")
  # A directory of d0 ... d9 whose tree is past the cut (some are before it).
  lost_dir=$(map expect "$MAP" --cut "$PACK" "$cut" --lost | head -n1)
  lost_dir=${lost_dir%%/*}
  echo "expected restorable: $expected; lost: $lost_dir ..." >&2
  (( expected > NFILES - NFILES1 && expected < NFILES ))
  tree_damage "$expected" "$lost_dir"
  [[ "$KINDS" == "bad_tree pack_too_short" ]]

  way_out "$EXIT_INCOMPLETE" --forget
}

@test "tree pack, deleted: the directories named; repair index, repair snapshots --forget (root tree lost)" {
  locate --tree d3
  rm -f "$(pack_file "$PACK")"
  expected=$(map expect "$MAP" --pack "$PACK")
  (( expected == NFILES - NFILES1 ))
  tree_damage "$expected" d3
  [[ "$KINDS" == "missing_blob missing_pack" ]]

  way_out 0 --forget
}

# ---------------------------------------------------------------------------------
# Index files: one per backup. IDX is the one of snapshot 1 (every blob of d0 ... d9).

index_file() {
  locate --file d3/f07
  IDX=$(index_of "$BLOB")
  OBJ="$REPO/index/$IDX"
  chmod u+w "$OBJ"
}

# index_damage: commands fail naming index/$IDX; repair index restores every file.
index_damage() {
  restore_latest
  assert_status "$EXIT_FATAL"
  (( RESTORED == 0 ))
  [[ "$stderr" == *"index/$IDX"* ]]
  run --separate-stderr efs backup "$SRC"
  assert_status "$EXIT_FATAL"
  [[ "$stderr" == *"index/$IDX"* ]]
  run_check
  assert_status "$EXIT_FATAL"
  # It names the index file (once), and the blobs it located are missing.
  [[ "$KINDS" == "missing_blob unreadable_index" ]]
  message=$(jq -r '.errors[] | select(.kind == "unreadable_index") | .id + " " + .message' <<<"$CHECK")
  [[ "$message" == "$IDX index/$IDX: "* && "$message" != *"index/$IDX: index/$IDX"* ]]
  before=$(restorable)
  run efs repair index
  assert_status 0
  assert_repaired "$before" "$NFILES"
}

@test "index file, flip: commands fail naming it; repair index rebuilds it" {
  index_file
  flip_byte "$OBJ" $(( $(stat -c %s "$OBJ") / 2 ))
  index_damage
}

@test "index file, truncated: commands fail naming it; repair index rebuilds it" {
  index_file
  truncate -s -3 "$OBJ"
  index_damage
}

@test "index file, older (another index file's content): commands fail naming it; repair index rebuilds it" {
  index_file
  other=$(find "$REPO/index" -type f ! -name "$IDX" | head -n1)
  [[ -n "$other" ]]
  cat "$other" >"$OBJ"
  index_damage
}

@test "index file, deleted: the files whose blobs it located are not in the index; repair index restores them" {
  index_file
  rm -f "$OBJ"
  expected=$(map expect "$MAP" --index "$IDX")
  (( expected == NFILES - NFILES1 ))
  restore_latest
  assert_status "$EXIT_FATAL"
  (( RESTORED == expected ))
  [[ "$stderr" == *"not in the index"* ]]
  run_check
  assert_status "$EXIT_FATAL"
  [[ "$KINDS" == missing_blob ]]
  before=$(restorable)
  (( before == expected ))
  run efs repair index
  assert_status 0
  assert_repaired "$before" "$NFILES"
}

# ---------------------------------------------------------------------------------
# Snapshots. The latest (S2) is damaged; S1 remains.

# snapshot_damage: skipped and named (exit 3), prune refuses, repair snapshots
# --forget removes it; S1's files restore throughout.
snapshot_damage() {
  run --separate-stderr efs snapshots
  assert_status "$EXIT_INCOMPLETE"
  [[ "$stderr" == *"snapshots/$S2: unreadable"* ]]
  restore_latest
  assert_status "$EXIT_INCOMPLETE"
  (( RESTORED == NFILES1 ))
  run --separate-stderr efs prune
  assert_status "$EXIT_FATAL"
  [[ "$stderr" == *"snapshots/$S2"* ]]
  run_check
  assert_status "$EXIT_FATAL"
  [[ "$KINDS" == unreadable_snapshot ]]
  [[ $(jq -r '.errors[0].id' <<<"$CHECK") == "$S2" ]]
  before=$(restorable)
  (( before == $(map expect "$MAP" --snapshot "$S2") ))
  run --separate-stderr efs repair snapshots --forget
  assert_status 0
  run efs prune
  assert_status 0
  assert_repaired "$before" "$NFILES1"
}

snapshot_file() {
  snapshot_ids
  OBJ="$REPO/snapshots/$S2"
  chmod u+w "$OBJ"
}

@test "snapshot, flip: skipped and named (exit 3), prune refuses; repair snapshots --forget" {
  snapshot_file
  flip_byte "$OBJ" $(( $(stat -c %s "$OBJ") / 2 ))
  snapshot_damage
}

@test "snapshot, truncated: skipped and named (exit 3), prune refuses; repair snapshots --forget" {
  snapshot_file
  truncate -s -3 "$OBJ"
  snapshot_damage
}

@test "snapshot, older (the other snapshot's content): skipped and named (exit 3), prune refuses; repair snapshots --forget" {
  snapshot_file
  cat "$REPO/snapshots/$S1" >"$OBJ"
  snapshot_damage
}

# ---------------------------------------------------------------------------------
# Key files: K1 opens with $EFS2S3_PASSWORD, K2 with $PASSWORD2.

key_files() {
  K1=$(efs --json key list | jq -r '.[] | select(.current) | .id')
  K2=$(efs --json key list | jq -r '.[] | select(.current | not) | .id')
  [[ -n "$K1" && -n "$K2" ]]
  chmod u+w "$REPO/keys/$K1" "$REPO/keys/$K2"
}

# key_damage: K1 damaged, K2 intact. K2's password opens; K1's is refused naming K1;
# check names it; key remove K1, key add gives the password back.
key_damage() {
  run --separate-stderr efs snapshots
  assert_status "$EXIT_WRONG_PASSWORD"
  [[ "$stderr" == *"keys/$K1"* ]]
  (( $(restorable) == 0 ))
  EFS2S3_PASSWORD="$PASSWORD2" run --separate-stderr efs snapshots
  assert_status 0
  EFS2S3_PASSWORD="$PASSWORD2" run_check
  assert_status "$EXIT_FATAL"
  [[ "$KINDS" == key ]]
  [[ $(jq -r '.errors[0].id' <<<"$CHECK") == "$K1" ]]
  before=$(EFS2S3_PASSWORD="$PASSWORD2" restorable)
  (( before == NFILES ))
  EFS2S3_PASSWORD="$PASSWORD2" run efs key remove "$K1"
  assert_status 0
  local first="$EFS2S3_PASSWORD"
  EFS2S3_NEW_PASSWORD="$first" EFS2S3_PASSWORD="$PASSWORD2" \
    run efs key add --scrypt-n 1024
  assert_status 0
  assert_repaired "$before" "$NFILES"
}

@test "key file, flip (another key remains): it opens with the other key, check names it; key remove, key add" {
  key_files
  flip_byte "$REPO/keys/$K1" $(( $(stat -c %s "$REPO/keys/$K1") / 2 ))
  key_damage
}

@test "key file, truncated (another key remains): it opens with the other key, check names it; key remove, key add" {
  key_files
  truncate -s -3 "$REPO/keys/$K1"
  key_damage
}

@test "key file, older (the other key's content): it opens with the other key, check names it; key remove, key add" {
  key_files
  cat "$REPO/keys/$K2" >"$REPO/keys/$K1"
  key_damage
}

@test "key file, every key damaged: no intact key file (exit 1); a key file restored from a copy opens" {
  key_files
  flip_byte "$REPO/keys/$K1" 100
  truncate -s -3 "$REPO/keys/$K2"
  for pw in "$EFS2S3_PASSWORD" "$PASSWORD2"; do
    EFS2S3_PASSWORD="$pw" run --separate-stderr efs snapshots
    assert_status "$EXIT_FATAL"
    [[ "$stderr" == *"damaged key file(s) "*"keys/$K1"* && "$stderr" == *"keys/$K2"* ]]
    [[ "$stderr" == *"no intact key file"* ]]
  done
  run_check
  assert_status "$EXIT_FATAL"
  [[ $(jq -r .message <<<"$CHECK") == *"no intact key file"* ]]
  (( $(restorable) == 0 ))
  # K1 from a copy opens; K2, still damaged, is removed (key add replaces it).
  cp "$G/repo/keys/$K1" "$REPO/keys/$K1"
  run efs key remove "$K2"
  assert_status 0
  assert_repaired 0 "$NFILES"
}

# ---------------------------------------------------------------------------------
# Config.

# config_damage STATUS TEXT: every command exits STATUS with TEXT; the config restored
# from a copy opens again.
config_damage() {
  local cmd
  for cmd in snapshots "restore latest --target $T/restore" check "backup $SRC" prune; do
    # shellcheck disable=SC2086  # the command's words
    run --separate-stderr efs $cmd
    assert_status "$1"
    [[ "$stderr" == *"$2"* ]]
  done
  (( $(restorable) == 0 ))
  cp "$G/repo/config" "$REPO/config"
  assert_repaired 0 "$NFILES"
}

@test "config, flip: config: authentication failed (exit 1); restored from a copy" {
  chmod u+w "$REPO/config"
  flip_byte "$REPO/config" 40
  config_damage "$EXIT_FATAL" "config: authentication failed"
}

@test "config, truncated: config: authentication failed (exit 1); restored from a copy" {
  chmod u+w "$REPO/config"
  truncate -s -3 "$REPO/config"
  config_damage "$EXIT_FATAL" "config: authentication failed"
}

@test "config, deleted: no repository here (exit 10); restored from a copy" {
  rm -f "$REPO/config"
  config_damage "$EXIT_NO_REPO" "no repository here"
}

# ---------------------------------------------------------------------------------
# Locks.

# lock_left: a lock object left behind by a backup killed while holding it; sets LOCK.
lock_left() {
  gate_setup
  gate_start LOCKED "$T/backup.out" "$EFS2S3" -r "$REPO" backup "$SRC"
  kill -KILL "$BG_PID"
  wait "$BG_PID" || true
  gate_release
  LOCK=$(find "$REPO/locks" -type f -printf '%f\n')
  [[ $(wc -l <<<"$LOCK") == 1 && -n "$LOCK" ]]
  chmod u+w "$REPO/locks/$LOCK"
}

# lock_damage: every command that locks exits 11 naming the lock; unlock --remove-all
# removes it.
lock_damage() {
  local cmd
  for cmd in "backup $SRC" "restore latest --target $T/restore" check prune \
    "repair index"; do
    # shellcheck disable=SC2086  # the command's words
    run --separate-stderr efs $cmd
    assert_status "$EXIT_LOCKED"
    [[ "$stderr" == *"locked by a damaged lock, locks/$LOCK"* ]]
  done
  before=$(restorable)
  (( before == 0 ))
  run efs unlock
  assert_status 0
  [[ -e "$REPO/locks/$LOCK" ]]
  run efs unlock --remove-all
  assert_status 0
  [[ ! -e "$REPO/locks/$LOCK" ]]
  assert_repaired "$before" "$NFILES"
}

@test "lock, flip: locked by a damaged lock (exit 11); unlock --remove-all" {
  lock_left
  flip_byte "$REPO/locks/$LOCK" 30
  lock_damage
}

@test "lock, truncated: locked by a damaged lock (exit 11); unlock --remove-all" {
  lock_left
  truncate -s -3 "$REPO/locks/$LOCK"
  lock_damage
}

# ---------------------------------------------------------------------------------
# The local cache: filled by `ls`, then damaged; nothing to repair.

# cache_damage GLOB: flips a byte in the middle of every cached file matching GLOB
# (below the repository's cache directory); the commands fetch them again.
cache_damage() {
  run efs ls latest
  assert_status 0
  local files f
  mapfile -t files < <(find "$XDG_CACHE_HOME/efs2s3" -path "*/$1" -type f)
  (( ${#files[@]} > 0 ))
  for f in "${files[@]}"; do
    flip_byte "$f" $(( $(stat -c %s "$f") / 2 ))
  done
  run --separate-stderr efs ls latest "$SRC"
  assert_status 0
  (( $(grep -c "^$SRC/.*/f[0-9]*$" <<<"$output") == NFILES ))
  restore_latest --verify
  assert_status 0
  (( RESTORED == NFILES ))
  run efs snapshots
  assert_status 0
  assert_repaired "$NFILES" "$NFILES"
}

@test "local cache, flipped index runs: fetched again from the repository" {
  cache_damage "index/*.run"
}

@test "local cache, flipped tree packs: fetched again from the repository" {
  cache_damage "packs/*"
}
