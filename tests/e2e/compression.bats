#!/usr/bin/env bats
# backup --compression auto|off|fastest|default|max: every mode round-trips, stores
# what its mode says, and auto stores data that does not compress as it is.

load common

# text_file PATH MIB: log-like lines, compressible about 5 to 10 times.
text_file() {
  "$PYTHON" - "$1" "$2" <<'EOF'
import random, sys
rng = random.Random(1)
with open(sys.argv[1], "w") as f:
    n = 0
    while f.tell() < int(sys.argv[2]) << 20:
        f.write(f"2026-12-03T13:{n % 60:02d}:{rng.randrange(60):02d} GET "
                f"/api/v1/items/{rng.randrange(100003)} 200 {rng.randrange(977)}ms\n")
        n += 1
EOF
}

# json_field A.B: the field A.B of the JSON document in the last line of $output.
json_field() {
  "$PYTHON" -c '
import functools, json, sys
doc = json.loads(sys.argv[1].strip().splitlines()[-1])
print(functools.reduce(lambda d, k: d[k], sys.argv[2].split("."), doc))' "$output" "$1"
}

@test "every compression mode round-trips and stores what it says" {
  mkdir "$T/src"
  text_file "$T/src/log.txt" 6
  random_file "$T/src/random.bin" $((1024 * 1024))
  declare -A stored
  for mode in auto off fastest default max; do
    REPO="$T/repo-$mode"
    init_repo
    run efs --json backup --compression "$mode" "$T/src"
    assert_status 0
    added=$(json_field bytes_added)
    stored[$mode]=$(json_field bytes_stored)
    echo "$mode: $added bytes added, ${stored[$mode]} stored" >&2
    run efs --json stats --mode raw-data
    assert_status 0
    # stats agrees with the backup on what is stored (one snapshot: every blob
    # is its own; stats counts the few trees too).
    in_stats=$(json_field raw_data.stored_size)
    (( in_stats >= stored[$mode] && in_stats - stored[$mode] < 16384 ))
    run efs snapshots --json
    snap=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])[0]["id"])' "$output")
    run restore_tree "$snap" "$T/src" "$T/restored-$mode"
    assert_status 0
    comparetree "$T/src" "$T/restored-$mode"
    if [[ $mode == off ]]; then
      # Nothing compressed: every byte is stored, plus the encryption's overhead.
      (( stored[off] >= added ))
    else
      # The text shrinks to a fraction; the random MiB stays as it is.
      (( stored[$mode] < added / 2 ))
    fi
  done
  # The highest level stores the least, the fastest the most of the compressing
  # modes.
  (( stored[max] <= stored[default] && stored[default] <= stored[fastest] ))
}

@test "auto stores random data uncompressed and compresses text" {
  mkdir "$T/src"
  random_file "$T/src/random.bin" $((3 * 1024 * 1024))
  text_file "$T/src/log.txt" 2
  init_repo
  run efs backup --compression auto "$T/src"
  assert_status 0
  run efs --json cat index
  assert_status 0
  index=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])[0])' "$output")
  run efs --json cat index "$index"
  assert_status 0
  # Blobs are per file here: random.bin's chunks are at least 512 KiB each and
  # compress by nothing, log.txt's by far more than half.
  counts=$("$PYTHON" -c '
import json, sys
blobs = [b for b in json.loads(sys.argv[1])["blobs"] if b["type"] == "data"]
raw = [b for b in blobs if not b["compressed"]]
packed = [b for b in blobs if b["compressed"]]
assert all(b["length"] > b["raw_length"] for b in raw), raw
assert all(b["length"] * 2 < b["raw_length"] for b in packed), packed
print(sum(b["raw_length"] for b in raw), sum(b["raw_length"] for b in packed))
' "$output")
  echo "uncompressed, compressed bytes: $counts" >&2
  [[ "$counts" == "$((3 * 1024 * 1024)) "* ]]
  (( ${counts#* } >= 2 * 1024 * 1024 ))
}

@test "copy and rewrite take --compression; an unknown mode is a usage error" {
  mkdir "$T/src"
  text_file "$T/src/log.txt" 2
  init_repo
  run efs backup --compression max "$T/src"
  assert_status 0
  # copy into a repository that stores it uncompressed: the copy is larger.
  run "$EFS2S3" -r "$T/dest" init
  assert_status 0
  EFS2S3_FROM_PASSWORD=$EFS2S3_PASSWORD \
    run "$EFS2S3" -r "$T/dest" --json copy --from-repo "$REPO" --compression off
  assert_status 0
  run "$EFS2S3" -r "$T/dest" --json stats --mode raw-data
  assert_status 0
  (( $(json_field raw_data.stored_size) > 2 * 1024 * 1024 ))
  run efs --json stats --mode raw-data
  (( $(json_field raw_data.stored_size) < 1024 * 1024 ))

  run efs backup --compression fast "$T/src"
  assert_status "$EXIT_USAGE"
  assert_output_has "--compression: 'fast' is not a compression mode (auto, off, fastest, default or max)"
  run efs rewrite --compression zstd --exclude '/nothing' latest
  assert_status "$EXIT_USAGE"
  assert_output_has "'zstd' is not a compression mode"
}

@test "packs in memory and in temporary files (--pack-memory 0) store the same" {
  mkdir "$T/src"
  text_file "$T/src/log.txt" 3
  random_file "$T/src/random.bin" $((40 * 1024 * 1024))
  declare -A stored
  for mib in 0 64; do
    REPO="$T/repo-$mib"
    init_repo
    run efs --json backup --pack-memory "$mib" --compression default "$T/src"
    assert_status 0
    stored[$mib]="$(json_field packs_uploaded) $(json_field bytes_stored)"
    echo "$mib: packs and bytes stored: ${stored[$mib]}" >&2
    [[ $(json_field packs_uploaded) -ge 3 ]]
    run restore_tree latest "$T/src" "$T/restored-$mib"
    assert_status 0
    comparetree "$T/src" "$T/restored-$mib"
  done
  # As many packs, and the same bytes but for the trees: they record the
  # atimes that the first backup's reads set and the times of the directories
  # above the source, which the first iteration changed; compressed, their
  # sizes differed by up to 1,338 bytes in 8 runs. A data blob stored
  # differently would differ by far more (the text is 3 MiB).
  [[ "${stored[0]% *}" == "${stored[64]% *}" ]]
  diff=$(( ${stored[0]#* } - ${stored[64]#* } ))
  (( diff > -8192 && diff < 8192 ))
}

@test "a job's compression key is its backup's --compression" {
  mkdir "$T/src"
  text_file "$T/src/log.txt" 1
  init_repo
  echo "$EFS2S3_PASSWORD" >"$T/pw"
  for mode in off fastest; do
    cat >"$T/jobs.toml" <<EOT
state_dir = "state"

[jobs.j]
repository = "$REPO"
password_file = "pw"
source = { paths = ["$T/src"] }
compression = "$mode"
EOT
    echo "$mode" >>"$T/src/log.txt"  # a new blob each time
    run "$EFS2S3" job run j --only backup --config "$T/jobs.toml"
    assert_status 0
  done
  run efs --json cat index
  assert_status 0
  # Two index files, one per backup: the first stores its blob raw, the second
  # compressed.
  flags=$("$PYTHON" -c '
import json, subprocess, sys
names = json.loads(sys.argv[1])
out = []
for n in names:
    doc = subprocess.run(sys.argv[2:] + [n], capture_output=True, check=True).stdout
    out += [b["compressed"] for b in json.loads(doc)["blobs"] if b["type"] == "data"]
print(sorted(out))' "$output" "$EFS2S3" -r "$REPO" --json cat index)
  [[ "$flags" == "[False, True]" ]]
  # A job file with another value is refused at load (exit 1, as every
  # configuration error), naming the line and the key.
  sed -i 's/"fastest"/"fast"/' "$T/jobs.toml"
  run "$EFS2S3" job run j --only backup --config "$T/jobs.toml"
  assert_status "$EXIT_FATAL"
  assert_output_has "jobs.toml:7:15: jobs.j.compression: 'fast' is not a compression mode"
}
