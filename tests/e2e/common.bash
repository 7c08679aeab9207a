# Shared set-up for the end-to-end tests: load it with `load common`.
#
# Run the suite from the repository root:
#   bats tests/e2e                       # default suite (a few minutes on 2 cores)
#   EFS2S3=path/to/efs2s3 bats tests/e2e # another binary
#   EFS2S3_E2E_LARGE=0 bats tests/e2e    # skip the 1 GiB round trip
#
# Each test gets a fresh temporary directory ($T) with a repository ($REPO), a cache
# ($XDG_CACHE_HOME) and room for source trees and restore targets. The binary is
# ${EFS2S3:-build/src/cli/efs2s3}, relative paths taken from the repository root.
# The password comes from EFS2S3_PASSWORD, as a user would set it.

bats_require_minimum_version 1.5.0

E2E_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
TOOLS="$E2E_ROOT/tests/tools"
EFS2S3="${EFS2S3:-build/src/cli/efs2s3}"
[[ "$EFS2S3" == /* ]] || EFS2S3="$E2E_ROOT/$EFS2S3"
# Under sudo or in a container the first python3 on PATH may not be readable by the
# unprivileged user of some tests; prefer the system one.
PYTHON="$(command -v /usr/bin/python3 || command -v python3)"

# Exit codes (issue #2, one switch in the CLI).
EXIT_OK=0
EXIT_FATAL=1
EXIT_USAGE=2
EXIT_INCOMPLETE=3
EXIT_NO_REPO=10
EXIT_LOCKED=11
EXIT_WRONG_PASSWORD=12
EXIT_INTERRUPTED=130

common_setup() {
  if [[ ! -x "$EFS2S3" ]]; then
    echo "efs2s3 binary not found: $EFS2S3 (build it, or set EFS2S3)" >&2
    return 1
  fi
  T="$BATS_TEST_TMPDIR"
  REPO="$T/repo"
  export EFS2S3_PASSWORD="correct horse battery staple"
  export XDG_CACHE_HOME="$T/cache"
  unset EFS2S3_REPOSITORY EFS2S3_PASSWORD_FILE
}

# Generated trees have 0000 and read-only directories: make them removable.
common_teardown() {
  if [[ -n "${T:-}" && -d "$T" ]]; then
    chmod -R u+rwx "$T" 2>/dev/null || true
  fi
}

setup() { common_setup; }
teardown() { common_teardown; }

is_root() { [[ "$(id -u)" == 0 ]]; }

# efs ARGS...: the binary on the test repository.
efs() { "$EFS2S3" -r "$REPO" "$@"; }

init_repo() {
  run efs init
  if (( status != 0 )); then
    echo "init failed ($status): $output" >&2
    return 1
  fi
}

# gentree DIR [ARGS...]: a generated tree (see tests/tools/gentree.py).
gentree() { "$PYTHON" "$TOOLS/gentree.py" "$@"; }

# comparetree A B [FLAGS...]: fails and prints every difference unless identical.
# Ownership is compared only when running as root (only root restores it).
comparetree() {
  local flags=()
  is_root || flags+=(--no-owner)
  "$PYTHON" "$TOOLS/comparetree.py" "$@" "${flags[@]}"
}

# restore_tree SNAPSHOT SOURCE TARGET [ARGS...]: restore the backed-up directory SOURCE
# so that TARGET corresponds to SOURCE itself.
restore_tree() {
  local snap="$1" source="$2" target="$3"
  shift 3
  efs restore "$snap:$source" --target "$target" "$@"
}

# repo_size: bytes in the repository (apparent sizes, not blocks).
repo_size() { du -sb "$REPO" | cut -f1; }

# data_objects: the pack objects under REPO/data, largest first, one per line.
data_objects() {
  find "$REPO/data" -type f -printf '%s %p\n' | sort -rn | cut -d' ' -f2-
}

# random_file PATH BYTES: incompressible content.
random_file() { head -c "$2" /dev/urandom >"$1"; }

# assert_status N: with a useful message.
assert_status() {
  if [[ "$status" != "$1" ]]; then
    echo "expected exit status $1, got $status; output:" >&2
    printf '%s\n' "$output" >&2
    [[ -z "${stderr:-}" ]] || printf 'stderr:\n%s\n' "$stderr" >&2
    return 1
  fi
}

# assert_output_has TEXT: $output (and $stderr, when separated) contains TEXT.
assert_output_has() {
  if [[ "$output" != *"$1"* && "${stderr:-}" != *"$1"* ]]; then
    echo "output does not contain: $1" >&2
    printf 'output:\n%s\n' "$output" >&2
    [[ -z "${stderr:-}" ]] || printf 'stderr:\n%s\n' "$stderr" >&2
    return 1
  fi
}

# as_nobody CMD...: run CMD as an unprivileged user (uid/gid 65534), keeping the
# environment. Tests that need it skip when not root or when setpriv is missing.
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
as_nobody() { "${NOBODY[@]}" "$@"; }

require_nobody() {
  is_root || skip "needs root to switch to an unprivileged user"
  command -v setpriv >/dev/null || skip "setpriv not installed"
  # The binary must be reachable by the unprivileged user.
  as_nobody test -x "$EFS2S3" || skip "$EFS2S3 not executable by uid 65534"
}

# nobody_dir: $U, a directory the unprivileged user owns and can reach (bats' own
# temporary directory is 0700), with REPO and the cache in it; remove it in teardown.
nobody_dir() {
  U=$(mktemp -d "${TMPDIR:-/tmp}/efs2s3-e2e-XXXXXX")
  chmod 755 "$U"
  chown 65534:65534 "$U"
  REPO="$U/repo"
  export XDG_CACHE_HOME="$U/cache"
}

# assert_no_terminal_codes TEXT: no carriage returns or escape sequences in TEXT (output
# that is not a terminal gets plain lines).
assert_no_terminal_codes() {
  if [[ "$1" == *$'\r'* || "$1" == *$'\e'* ]]; then
    printf 'terminal control characters in output that is not a terminal:\n' >&2
    printf '%s' "$1" | od -c | head -n5 >&2
    return 1
  fi
}

# latencyfs_setup: for tests on the EFS stand-in (bench/latencyfs): skips unless
# root, /dev/fuse and the binary (${LATENCYFS:-build/bench/latencyfs/latencyfs})
# are there; sets LATENCYFS, SRC and MNT (created).
latencyfs_setup() {
  LATENCYFS="${LATENCYFS:-build/bench/latencyfs/latencyfs}"
  [[ "$LATENCYFS" == /* ]] || LATENCYFS="$E2E_ROOT/$LATENCYFS"
  is_root || skip "needs root to mount FUSE"
  [[ -c /dev/fuse ]] || skip "no /dev/fuse"
  [[ -x "$LATENCYFS" ]] || skip "latencyfs not built: $LATENCYFS"
  SRC="$T/src"
  MNT="$T/mnt"
  mkdir -p "$MNT"
}

# require_s3_server: skips without the S3 server of scripts/test.sh (fails instead
# when EFS2S3_TEST_DISALLOW_SKIP contains S3); sets EP, its endpoint.
require_s3_server() {
  if [[ -z "${EFS2S3_TEST_S3_ENDPOINT:-}" ]]; then
    if [[ "${EFS2S3_TEST_DISALLOW_SKIP:-}" == *S3* ]]; then
      echo "EFS2S3_TEST_S3_ENDPOINT is not set but EFS2S3_TEST_DISALLOW_SKIP=S3" >&2
      return 1
    fi
    skip "no S3 server (EFS2S3_TEST_S3_ENDPOINT)"
  fi
  EP="$EFS2S3_TEST_S3_ENDPOINT"
}

# Test gates (src/base/test_hooks.h): a command started with
# EFS2S3_TEST_GATE_<POINT>=$GATE in its environment stops at POINT until the test
# releases it; no sleeps, no race against the command's speed.
#   gate_setup [DIR]      a FIFO in $GATE (DIR/gate, default $T/gate), held open by
#                         the test (fd 9; start the gated command with 9>&- so that
#                         it does not hold it too); any user may open it
#   gate_start POINT OUT CMD...
#                         runs the program CMD (not a shell function) in the
#                         background, gated at POINT, output to OUT; sets BG_PID and
#                         returns once it waits at the gate (fails if it exited first)
#   gate_reached PID      returns 0 once PID (or a process it started) waits at the
#                         gate, 1 if PID exited first
#   gate_release          lets the command go on
# Skips when the binary was built without EFS2S3_TEST_HOOKS (fails instead when
# EFS2S3_TEST_DISALLOW_SKIP contains HOOKS, as scripts/test.sh sets).
gate_setup() {
  if ! "$EFS2S3" version | grep -q "test hooks"; then
    if [[ "${EFS2S3_TEST_DISALLOW_SKIP:-}" == *HOOKS* ]]; then
      echo "$EFS2S3 was built without EFS2S3_TEST_HOOKS" >&2
      return 1
    fi
    skip "binary built without EFS2S3_TEST_HOOKS"
  fi
  GATE="${1:-$T}/gate"
  mkfifo -m 666 "$GATE"
  exec 9<>"$GATE"
}

gate_reached() {
  local pid="$1" state p fd
  while [[ -r "/proc/$pid/stat" ]]; do
    read -r _ _ state _ <"/proc/$pid/stat" || break
    [[ "$state" == Z ]] && break
    # PID or one of its descendants (job run starts efs2s3 as a child).
    for p in $(process_tree "$pid"); do
      for fd in "/proc/$p/fd/"*; do
        [[ "$(readlink "$fd" 2>/dev/null)" == "$GATE" ]] && return 0
      done
    done
    sleep 0.01
  done
  return 1
}

# process_tree PID: PID and its descendants, one per line.
process_tree() {
  local c
  echo "$1"
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do process_tree "$c"; done
}

gate_start() {
  local point="$1" out="$2"
  shift 2
  env "EFS2S3_TEST_GATE_$point=$GATE" "$@" >"$out" 2>&1 9>&- &
  BG_PID=$!
  if ! gate_reached "$BG_PID"; then
    cat "$out" >&2
    echo "$1 exited before it reached the gate $point" >&2
    return 1
  fi
}

gate_release() { exec 9>&-; }

# flip_byte FILE OFFSET: one byte of FILE changed in place (objects may be stored
# read-only).
flip_byte() {
  "$PYTHON" - "$1" "$2" <<'PY'
import os, sys
path, offset = sys.argv[1], int(sys.argv[2])
os.chmod(path, 0o644)
with open(path, "r+b") as f:
    f.seek(offset)
    b = f.read(1)
    f.seek(offset)
    f.write(bytes([b[0] ^ 0x40]))
PY
}

# start_proxy RATE SEED [ARGS...]: the fault proxy (tests/tools/s3_fault_proxy.py,
# more ARGS passed on) in front of the S3 server at $EP, stalling for 4 s; sets PROXY
# and PROXY_PID, its statistics in $T/proxy-stats.json. stop_proxy stops it.
start_proxy() {
  local upstream="${EP#http://}"
  upstream="${upstream%%/*}"
  "$PYTHON" "$TOOLS/s3_fault_proxy.py" --upstream "$upstream" --rate "$1" \
    --seed "$2" --stall 4 --stats "$T/proxy-stats.json" --log "$T/proxy.log" "${@:3}" \
    >"$T/proxy.port" 2>"$T/proxy.err" &
  PROXY_PID=$!
  local i
  for i in $(seq 100); do
    [[ -s "$T/proxy.port" ]] && break
    sleep 0.05
  done
  PROXY="http://127.0.0.1:$(head -n1 "$T/proxy.port")"
}

stop_proxy() {
  if [[ -n "${PROXY_PID:-}" ]]; then
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=""
  fi
}

# start_moto: moto_server on a free port ($MOTO_PORT, also $port; MOTO_PID), once
# it answers; fails if it exits first (its log is in $T/moto.log). The caller's
# teardown kills MOTO_PID.
start_moto() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  MOTO_PORT=$port
  moto_server -H 127.0.0.1 -p "$port" >"$T/moto.log" 2>&1 &
  MOTO_PID=$!
  until curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; do
    kill -0 "$MOTO_PID" 2>/dev/null || { cat "$T/moto.log" >&2; return 1; }
    sleep 0.1
  done
}
