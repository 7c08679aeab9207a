#!/usr/bin/env bats
# Cold storage (docs/S3.md, "Cold storage"): data packs in DEEP_ARCHIVE, on
# moto_server, which has storage classes and RestoreObject (radosgw has
# neither). moto restores at once; where a restore must take time,
# tests/tools/s3_fault_proxy.py --restore-polls sits in front and keeps each
# restored object unreadable for a few HEADs of it (the n-th for K*(1+n%3)).
# moto does not check signatures: SigV4 is radosgw's to test (s3_*.bats).

load common

setup() {
  common_setup
  command -v moto_server >/dev/null || skip_or_fail "moto_server not installed"
  BOTO=python3
  "$BOTO" -c "import boto3" 2>/dev/null || skip_or_fail "boto3 not installed"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
  start_moto
  MOTO="http://127.0.0.1:$MOTO_PORT"
  SRC="$T/src"
  mkdir -p "$SRC/a" "$SRC/b"
  # 1 MiB packs: each 900 KB file lands in a pack of its own or two.
  for i in 1 2 3 4; do
    head -c 900000 /dev/urandom >"$SRC/a/big$i"
    head -c 3000 /dev/urandom >"$SRC/b/small$i"
  done
  ln -s big1 "$SRC/a/link"
  URL="s3://cold/repo"
  cold init -q --pack-size 1
  # One reader, one walker: a's big files fill the first packs and b's small
  # ones come last, whatever the load, so b's files are in fewer packs than
  # all (the subtree test counts on it).
  cold backup -q --readers 1 --walkers 1 "$SRC"
}

teardown() {
  [[ -z "${MOTO_PID:-}" ]] || kill "$MOTO_PID" 2>/dev/null || true
  [[ -z "${PROXY_PID:-}" ]] || kill "$PROXY_PID" 2>/dev/null || true
  common_teardown
}

skip_or_fail() {
  if [[ "${EFS2S3_TEST_DISALLOW_SKIP:-}" == *S3* ]]; then
    echo "$1, but EFS2S3_TEST_DISALLOW_SKIP=S3" >&2
    return 1
  fi
  skip "$1"
}


# cold ARGS: efs2s3 on the repository in moto, data packs in DEEP_ARCHIVE.
cold() {
  "$EFS2S3" -r "$URL" --s3-endpoint "${ENDPOINT:-$MOTO}" --s3-path-style \
    --s3-storage-class-data DEEP_ARCHIVE --cache-dir "$T/cache" "$@"
}

# proxy K: the slow-restore proxy in front of moto; sets ENDPOINT.
proxy() {
  "$PYTHON" "$TOOLS/s3_fault_proxy.py" --upstream "127.0.0.1:$MOTO_PORT" --rate 0 \
    --restore-polls "$1" --stats "$T/proxy.json" --log "$T/proxy.log" >"$T/proxy.port" &
  PROXY_PID=$!
  for _ in $(seq 200); do [[ -s "$T/proxy.port" ]] && break; sleep 0.05; done
  ENDPOINT="http://127.0.0.1:$(head -n1 "$T/proxy.port")"
}

# archived_keys: the keys of the DEEP_ARCHIVE objects, one per line.
archived_keys() {
  "$BOTO" - "$MOTO" <<'EOP'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="cold"):
    for o in page.get("Contents", []):
        if o.get("StorageClass") == "DEEP_ARCHIVE":
            print(o["Key"])
EOP
}

# gets_of KEYS_FILE LOG: GET requests of those keys in a moto log.
gets_of() {
  local n=0 k
  while read -r k; do
    n=$((n + $(grep -c "\"GET /cold/$k[ ?]" "$2" || true)))
  done <"$1"
  echo "$n"
}

@test "cold: restore --dry-run prints the plan and requests nothing; the costs follow the table" {
  archived_keys >"$T/keys"
  local packs
  packs=$(wc -l <"$T/keys")
  ((packs >= 2))
  run cold --json restore latest --target "$T/r" --dry-run
  [ "$status" -eq 0 ]
  local plan
  plan=$(grep '"cold_plan"' <<<"$output")
  [ "$(jq .archived_packs <<<"$plan")" -eq "$packs" ]
  [ "$(jq .request_packs <<<"$plan")" -eq "$packs" ]
  [ "$(jq '.archived_by_class.DEEP_ARCHIVE.packs' <<<"$plan")" -eq "$packs" ]
  # DEEP_ARCHIVE has no Expedited tier; Standard: $0.02/GB + $0.10 per 1000
  # requests + the copy at STANDARD's $0.023/GB-month for 7 days.
  [ "$(jq -r '[.tiers[].tier] | join(",")' <<<"$plan")" = "Standard,Bulk" ]
  local bytes want
  bytes=$(jq .request_bytes <<<"$plan")
  want=$(python3 -c "g=$bytes/2**30; print(round(g*0.02 + $packs/1000*0.10 + g*0.023*7/30, 9))")
  python3 -c "import sys; a=$(jq '.tiers[0].usd' <<<"$plan"); sys.exit(0 if abs(a-$want) < 1e-9 else 1)"
  [ "$(jq -r .prices_of <<<"$plan")" != "" ]
  ! grep -q "?restore" "$T/moto.log"
  [ ! -e "$T/r" ]
  # Expedited is refused for DEEP_ARCHIVE, naming the tiers it has.
  run cold restore latest --target "$T/r" --cold-tier expedited
  [ "$status" -eq 1 ]
  [[ "$output" == *"--cold-tier Expedited: not offered for DEEP_ARCHIVE (use Standard, Bulk)"* ]]
  ! grep -q "?restore" "$T/moto.log"
}

@test "cold: restore requests each pack once, never GETs one before it is readable, and restores files as their packs arrive" {
  archived_keys >"$T/keys"
  proxy 2
  run cold --json restore latest --target "$T/r" --cold-poll 0.05 --cold-tier bulk
  [ "$status" -eq 0 ]
  "$PYTHON" "$TOOLS/comparetree.py" --no-atime "$SRC" "$T/r$SRC"
  # One RestoreObject per archived pack, none twice.
  [ "$(jq '.restores | length' "$T/proxy.json")" -eq "$(wc -l <"$T/keys")" ]
  [ "$(jq '[.restores[]] | max' "$T/proxy.json")" -eq 1 ]
  # The proxy answered no GET with InvalidObjectState: none was sent too early.
  ! grep -q "^GET .* 403 " "$T/proxy.log"
  # Packs became readable at different polls: some files were written in a
  # pass while others still waited.
  grep '"cold_pass"' <<<"$output" >"$T/passes"
  (($(wc -l <"$T/passes") >= 3))
  jq -se 'map(select(.files_restored > 0 and .files_waiting > 0)) | length > 0' \
    "$T/passes" >/dev/null
  [ "$(jq -s 'map(.files_restored) | add' "$T/passes")" -eq 8 ]
  [ "$(grep '"summary"' <<<"$output" | jq .files_waiting)" -eq 0 ]
}

@test "cold: an interrupted restore resumes without requesting anything twice" {
  archived_keys >"$T/keys"
  proxy 3
  run cold restore latest --target "$T/r" --no-wait
  [ "$status" -eq 4 ]
  [[ "$output" == *"files wait for archived packs; run the same restore again"* ]]
  local first
  first=$(jq '.restores | length' "$T/proxy.json")
  [ "$first" -eq "$(wc -l <"$T/keys")" ]
  # Again, still without waiting: nothing is requested again.
  run cold restore latest --target "$T/r" --no-wait
  [[ "$status" -eq 4 || "$status" -eq 0 ]]
  # Then to the end.
  run cold --json restore latest --target "$T/r" --cold-poll 0.05
  [ "$status" -eq 0 ]
  [ "$(grep '"cold_plan"' <<<"$output" | jq .resumed)" = true ]
  [ "$(grep '"cold_plan"' <<<"$output" | jq .request_packs)" -eq 0 ]
  [ "$(jq '[.restores[]] | max' "$T/proxy.json")" -eq 1 ]
  [ "$(jq '.restores | length' "$T/proxy.json")" -eq "$first" ]
  "$PYTHON" "$TOOLS/comparetree.py" --no-atime "$SRC" "$T/r$SRC"
  ! grep -q "^GET .* 403 " "$T/proxy.log"
}

@test "cold: a subtree restore requests only the packs of its files" {
  run cold --json restore "latest:$SRC/b" --target "$T/r" --dry-run
  [ "$status" -eq 0 ]
  local sub all
  sub=$(grep '"cold_plan"' <<<"$output" | jq .request_packs)
  all=$(wc -l < <(archived_keys))
  ((sub >= 1 && sub < all))
  run cold restore "latest:$SRC/b" --target "$T/r" --cold-poll 0.05
  [ "$status" -eq 0 ]
  [ "$(grep -c '?restore' "$T/moto.log")" -eq "$sub" ]
  cmp "$SRC/b/small3" "$T/r/small3"
  [ ! -e "$T/r/big1" ]
}

@test "cold: a pack that cannot be read is named once, not once per blob or file" {
  # The pack holding the small files (several files in one pack) goes.
  local key
  key=$(cold --json ls latest "$SRC/b" >/dev/null; "$BOTO" - "$MOTO" <<'EOP'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
objs = [o for o in s3.list_objects_v2(Bucket="cold", Prefix="repo/data/")["Contents"]
        if o.get("StorageClass") == "DEEP_ARCHIVE"]
print(min(objs, key=lambda o: o["Size"])["Key"])
EOP
)
  "$BOTO" -c "import sys, boto3; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1').delete_object(Bucket='cold', Key=sys.argv[2])" "$MOTO" "$key"
  run cold restore latest --target "$T/r" --cold-poll 0.05
  [ "$status" -eq 1 ]
  [ "$(grep -c "^error: .*files with data in this pack not restored: $SRC/" <<<"$output")" -eq 1 ]
  [ "$(grep -c "^error: " <<<"$output")" -eq 1 ]
  [[ "$output" == *"${key##*/}"* ]]
}

@test "cold: check reads no archived pack; --cold-tier requests them (exit 4) and a later check reads them" {
  archived_keys >"$T/keys"
  run cold check
  [ "$status" -eq 0 ]
  run cold --json check --read-data
  [ "$status" -eq 1 ]
  [ "$(jq .cold_unread_packs <<<"$output")" -eq "$(wc -l <"$T/keys")" ]
  [ "$(jq -r '.errors[0].kind' <<<"$output")" = cold_unread ]
  [ "$(jq '.errors | length' <<<"$output")" -eq 1 ]
  [ "$(gets_of "$T/keys" "$T/moto.log")" -eq 0 ]
  run cold check --read-data --cold-tier bulk
  [ "$status" -eq 4 ]
  [[ "$output" == *"Requested $(wc -l <"$T/keys") restores now"* ]]
  [ "$(grep -c '?restore' "$T/moto.log")" -eq "$(wc -l <"$T/keys")" ]
  run cold --json check --read-data
  [ "$status" -eq 0 ]
  [ "$(jq .cold_unread_packs <<<"$output")" -eq 0 ]
  [ "$(jq .blobs_failed <<<"$output")" -eq 0 ]
}

@test "cold: prune never repacks archived packs, reports the early deletion charge, and can keep young packs" {
  # big1 and big2 share packs with others; forgetting the snapshot that has
  # them leaves packs partly unused (repack candidates) or unused (deleted).
  rm "$SRC/a/big1" "$SRC/a/big2" "$SRC/a/link"
  cold backup -q "$SRC"
  cold forget -q --keep-last 1
  run cold --json prune --dry-run
  [ "$status" -eq 0 ]
  local plan
  plan=$(jq .plan <<<"$output")
  (($(jq .cold_kept.packs <<<"$plan") + $(jq .delete.packs <<<"$plan") >= 1))
  [ "$(jq .early_delete.packs <<<"$plan")" -eq "$(jq .delete.packs <<<"$plan")" ]
  if (($(jq .delete.packs <<<"$plan") > 0)); then
    python3 -c "import sys; sys.exit(0 if $(jq .early_delete_usd <<<"$plan") > 0 else 1)"
  fi
  run cold --json prune --dry-run --respect-min-duration
  [ "$status" -eq 0 ]
  [ "$(jq .plan.delete.packs <<<"$output")" -eq 0 ]
  [ "$(jq .plan.min_duration_kept.packs <<<"$output")" -eq "$(jq .delete.packs <<<"$plan")" ]
  archived_keys >"$T/keys"
  : >"$T/moto.log.before"
  local before
  before=$(wc -l <"$T/moto.log")
  run cold prune
  [ "$status" -eq 0 ]
  [[ "$output" == *"early deletion charge"* || "$(jq .delete.packs <<<"$plan")" -eq 0 ]]
  tail -n +"$before" "$T/moto.log" >"$T/prune.log"
  [ "$(gets_of "$T/keys" "$T/prune.log")" -eq 0 ]
  run cold check
  [ "$status" -eq 0 ]
}

@test "cold: metadata in an archive class is refused" {
  run "$EFS2S3" -r "s3://cold/other" --s3-endpoint "$MOTO" --s3-path-style \
    --s3-storage-class-meta GLACIER init
  [ "$status" -eq 1 ]
  [[ "$output" == *"--s3-storage-class-meta GLACIER: metadata must stay readable"* ]]
}

@test "cold: dump refuses archived data before writing a byte, and works once it is restored" {
  archived_keys >"$T/keys"
  run --separate-stderr cold dump latest "$SRC/a/big2"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"packs are archived and not restored; \`efs2s3 restore "*":$SRC/a/big2 --target DIR\`"* ]]
  [ -z "$output" ]
  [ "$(gets_of "$T/keys" "$T/moto.log")" -eq 0 ]
  # Small files in a hot class would dump at once; here: restore them first.
  run cold check --read-data --cold-tier bulk
  [ "$status" -eq 4 ]
  cold dump latest "$SRC/a/big2" >"$T/big2"
  cmp "$SRC/a/big2" "$T/big2"
}

@test "cold: stats shows the bytes per storage class and their monthly cost" {
  run cold --json stats
  [ "$status" -eq 0 ]
  local deep
  deep=$(jq -c '.. | objects | select(.storage_class? == "DEEP_ARCHIVE")' <<<"$output")
  [ "$(jq .objects <<<"$deep")" -eq "$(wc -l < <(archived_keys))" ]
  # $0.00099 per GB-month, plus 32 KB per object at that rate and 8 KB at
  # STANDARD's $0.023.
  python3 -c "
import json, sys
d = json.loads(sys.argv[1])
want = d['bytes'] / 2**30 * 0.00099 + d['objects'] * (32 * 0.00099 + 8 * 0.023) / 2**20
sys.exit(0 if abs(d['usd_per_month'] - want) < 1e-12 else 1)" "$deep"
  run cold stats
  [[ "$output" == *"DEEP_ARCHIVE"*"/month"* ]]
}
