#!/usr/bin/env bash
# Set-up on a fresh Debian 12 machine: installs the build dependencies, builds
# efs2s3 in build/, then runs the main job on a small built-in example: a backup of an
# example tree into a local repository, a second (incremental) backup, a restore and
# a byte-for-byte and metadata comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build
bin=build/src/cli/efs2s3
demo=$(mktemp -d "${TMPDIR:-/tmp}/efs2s3-demo.XXXXXX")
trap 'rm -rf "$demo"' EXIT
export EFS2S3_PASSWORD=demo-password
python3 tests/tools/gentree.py "$demo/source" --small --seed 1 >/dev/null
echo "== efs2s3 init"
$bin -r "$demo/repo" --cache-dir "$demo/cache" init
echo "== efs2s3 backup (first)"
$bin -r "$demo/repo" --cache-dir "$demo/cache" backup "$demo/source" --tag demo
echo "hello again" >"$demo/source/new-file.txt"
echo "== efs2s3 backup (incremental)"
$bin -r "$demo/repo" --cache-dir "$demo/cache" backup "$demo/source" --tag demo
echo "== efs2s3 snapshots"
$bin -r "$demo/repo" --cache-dir "$demo/cache" snapshots
echo "== efs2s3 restore latest:$demo/source --sparse --verify"
$bin -r "$demo/repo" --cache-dir "$demo/cache" restore "latest:$demo/source" --target "$demo/restored" --sparse --verify
echo "== compare source and restore"
python3 tests/tools/comparetree.py "$demo/source" "$demo/restored" --no-atime
echo "set-up done: the binary is $bin"
