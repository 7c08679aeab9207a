#!/usr/bin/env bats
# efs2s3 sync against a real S3 server (radosgw from scripts/test.sh or
# scripts/radosgw.sh): round trip, no-change runs, partial changes, deletion with
# backups, and interoperability with aws s3 and rclone.
#
# Needs EFS2S3_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; skips
# without them unless EFS2S3_TEST_DISALLOW_SKIP contains S3.

load common
load sync_common

# small_tree DIR N: N files of 1-3 KiB in 10 directories, plain names.
small_tree() {
  "$PYTHON" - "$1" "$2" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
for i in range(n):
    d = os.path.join(root, f"d{i % 10}", "sub" if i % 3 else "")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, f"file {i}.txt")
    with open(p, "wb") as f:
        f.write(rng.randbytes(1024 + rng.randrange(2048)))
    t = 1_600_000_000 + i * 1000 + 0.123456789
    os.utime(p, ns=(int(t * 1e9), int(t * 1e9) + 7))
PY
}

# mtimes_match_rclone DIR REMOTE: rclone lsjson times equal the files' mtimes (ns).
mtimes_match_rclone() {
  rcl lsjson -R --files-only --exclude .efs2s3-sync-manifest "$2" >"$T/rclone.json"
  "$PYTHON" - "$1" "$T/rclone.json" <<'PY'
import datetime, json, os, sys
root, listing = sys.argv[1], json.load(open(sys.argv[2]))
bad = 0
for it in listing:
    base, _, frac = it["ModTime"].rstrip("Z").partition(".")
    dt = datetime.datetime.strptime(base[:19], "%Y-%m-%dT%H:%M:%S")
    ns = int(dt.replace(tzinfo=datetime.timezone.utc).timestamp()) * 10**9 + int((frac + "0" * 9)[:9])
    want = os.lstat(os.path.join(root, it["Path"])).st_mtime_ns
    if ns != want:
        bad += 1
        print(f"{it['Path']}: rclone {it['ModTime']} file {want}")
print(f"{len(listing)} objects, {bad} with other times")
sys.exit(1 if bad or not listing else 0)
PY
}

@test "sync: round trip keeps contents, modes, owners and times of what it carries" {
  gentree "$T/src" --small >/dev/null
  # S3 keys end at 1024 bytes: shorten the 200-level chain.
  find "$T/src/deep" -mindepth 60 -maxdepth 60 -type d -exec rm -rf {} +
  run esync "$T/src" "$URL" --links --keep-empty-dirs
  assert_status 0
  assert_output_has "skipped (not a regular file"
  run esync "$URL" "$T/dst" --links
  assert_status 0
  run comparetree "$T/src" "$T/dst" --sync
  assert_status 0
}

@test "sync: object keys longer than S3 allows are reported, the rest is copied" {
  mkdir -p "$T/src"
  long=$(printf 'x%.0s' {1..200})
  mkdir -p "$T/src/$long/$long/$long/$long/$long"
  echo a >"$T/src/$long/$long/$long/$long/$long/$long"
  echo b >"$T/src/ok"
  run esync "$T/src" "$URL"
  assert_status "$EXIT_INCOMPLETE"
  assert_output_has "longer than S3 allows (1024)"
  run awss3 ls "$URL/ok"
  assert_status 0
}

@test "sync: a second run sends no PUT; after changing 1 % only those files move" {
  small_tree "$T/src" 200
  json_of "$T/src" "$URL"
  [[ $(jget .files_uploaded) == 200 ]]
  json_of "$T/src" "$URL"
  [[ $(jget .files_uploaded) == 0 && $(jget .files_unchanged) == 200 ]]
  [[ $(jget .requests.put) == 0 && $(jget .requests.post) == 0 && $(jget .requests.head) -le 1 ]]
  [[ $(jget .manifest_used) == true && $(jget .objects_looked_up) == 0 ]]
  # 1 %: one file with new content of the same size, one touched, nothing else.
  f1="$T/src/d1/sub/file 1.txt"
  head -c "$(stat -c %s "$f1")" /dev/urandom >"$f1"
  touch -d '2030-01-01 00:00:00.5' "$T/src/d2/sub/file 2.txt"
  json_of "$T/src" "$URL"
  [[ $(jget .files_uploaded) == 2 && $(jget .files_unchanged) == 198 ]]
  [[ $(jget .requests.put) == 3 ]]  # two files and the manifest
  # Downloads: the first copies all, the second nothing (one GET: the manifest).
  json_of "$URL" "$T/dst"
  [[ $(jget .files_downloaded) == 200 ]]
  json_of "$URL" "$T/dst"
  [[ $(jget .files_downloaded) == 0 && $(jget .requests.get) == 1 && $(jget .requests.head) == 0 ]]
  run comparetree "$T/src" "$T/dst" --sync
  assert_status 0
}

@test "sync: --dry-run changes nothing; --delete with --backup-prefix keeps old versions" {
  small_tree "$T/src" 20
  run esync "$T/src" "$URL"
  assert_status 0
  rm "$T/src/d3/file 3.txt"
  echo changed >"$T/src/d4/sub/file 4.txt"
  run esync "$T/src" "$URL" --delete --dry-run
  assert_status 0
  assert_output_has "would delete d3/file 3.txt (extra)"
  assert_output_has "would upload d4/sub/file 4.txt (size)"
  run awss3 ls "$URL/d3/file 3.txt"
  assert_status 0
  run esync "$T/src" "$URL" --delete --backup-prefix "s3://$BUCKET/$P-old/run1"
  assert_status 0
  assert_output_has "1 deleted, 2 backed up"
  run awss3 ls "$URL/d3/file 3.txt"
  [[ -z "$output" ]]
  awss3 cp "s3://$BUCKET/$P-old/run1/d3/file 3.txt" "$T/old3" --only-show-errors
  awss3 cp "s3://$BUCKET/$P-old/run1/d4/sub/file 4.txt" "$T/old4" --only-show-errors
  [[ $(stat -c %s "$T/old4") -gt 1000 ]]
  awss3 cp "$URL/d4/sub/file 4.txt" "$T/new4" --only-show-errors
  [[ $(cat "$T/new4") == changed ]]
}

@test "sync: --exclude and --include choose files in both directions" {
  small_tree "$T/src" 30
  run esync "$T/src" "$URL" --exclude 'd1' --exclude '*9.txt'
  assert_status 0
  run awss3 ls --recursive "$URL/"
  [[ "$output" != *"d1/"* && "$output" != *"9.txt"* && "$output" == *"d2/"* ]]
  run esync "$URL" "$T/dst" --include 'd2'
  assert_status 0
  [[ -d "$T/dst/d2" && ! -e "$T/dst/d3" ]]
}

@test "sync: aws s3 and rclone fetch what efs2s3 wrote, and rclone sees the same mtimes" {
  small_tree "$T/src" 50
  head -c $((40 << 20)) /dev/urandom >"$T/src/big.bin"  # a multipart upload
  run esync "$T/src" "$URL"
  assert_status 0
  awss3 sync "$URL" "$T/aws" --only-show-errors --exclude .efs2s3-sync-manifest
  diff -r "$T/src" "$T/aws"
  awss3 cp "$URL/d5/sub/file 5.txt" "$T/one" --only-show-errors
  cmp "$T/one" "$T/src/d5/sub/file 5.txt"
  rcl copy "T:$BUCKET/$P" "$T/rclone" --exclude .efs2s3-sync-manifest
  diff -r "$T/src" "$T/rclone"
  run mtimes_match_rclone "$T/src" "T:$BUCKET/$P"
  echo "$output"
  assert_status 0
  # rclone keeps the times when it downloads, as efs2s3 does.
  [[ $(stat -c %Y "$T/rclone/d7/sub/file 7.txt") == $(stat -c %Y "$T/src/d7/sub/file 7.txt") ]]
}

@test "sync: a prefix written by aws s3 sync downloads, with Last-Modified as mtime" {
  small_tree "$T/src" 40
  awss3 sync "$T/src" "$URL" --only-show-errors
  json_of "$URL" "$T/dst"
  [[ $(jget .files_downloaded) == 40 ]]
  diff -r "$T/src" "$T/dst"
  now=$(date +%s)
  mt=$(stat -c %Y "$T/dst/d1/sub/file 1.txt")
  (( mt <= now && mt > now - 600 ))
  # Unchanged objects are not fetched again.
  json_of "$URL" "$T/dst"
  [[ $(jget .files_downloaded) == 0 && $(jget .requests.get) -le 1 ]]
  # An upload over it replaces nothing that is older than the local files'
  # mtimes would suggest: local files are older than the objects.
  json_of "$T/src" "$URL"
  [[ $(jget .files_uploaded) == 0 ]]
}

@test "sync: a prefix written by rclone downloads with rclone's mtimes" {
  small_tree "$T/src" 10
  rcl copy "$T/src" "T:$BUCKET/$P"
  run esync "$URL" "$T/dst"
  assert_status 0
  diff -r "$T/src" "$T/dst"
  for f in "d1/sub/file 1.txt" "d3/file 3.txt"; do
    [[ $(stat -c %Y "$T/dst/$f") == $(stat -c %Y "$T/src/$f") ]]
  done
}
