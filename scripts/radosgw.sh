#!/usr/bin/env bash
# A single-node Ceph radosgw on loopback: a real S3 server for tests and benchmarks.
#
# Usage:
#   scripts/radosgw.sh start DIR   # prints `export ...` lines; eval them
#   scripts/radosgw.sh stop DIR    # stops the daemons and removes DIR
#   scripts/radosgw.sh env DIR     # prints the export lines of a running server again
#
# Example:
#   eval "$(scripts/radosgw.sh start build/rgw)"
#   ctest --test-dir build -R S3
#   scripts/radosgw.sh stop build/rgw
#
# One monitor, one OSD on a sparse file, no manager, no systemd. Works as root or as
# an ordinary user (the daemons run as the caller). Missing packages are installed with
# scripts/install-deps.sh --with-s3-server. Ports: RGW_PORT (default 7480), MON_PORT
# (default RGW_PORT+1), messenger ports RGW_PORT+2..RGW_PORT+7.
set -euo pipefail

die() { echo "radosgw.sh: $*" >&2; exit 1; }
log() { echo "radosgw.sh: $*" >&2; }

cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || die "usage: $0 start|stop|env DIR"

rgw_port=${RGW_PORT:-7480}
mon_port=${MON_PORT:-$((rgw_port + 1))}
ms_min=$((rgw_port + 2))
ms_max=$((rgw_port + 7))
access_key=${RGW_ACCESS_KEY:-efs2s3testaccesskey}
secret_key=${RGW_SECRET_KEY:-efs2s3testsecretkey0123456789}

print_env() {
  echo "export EFS2S3_TEST_S3_ENDPOINT=http://127.0.0.1:${rgw_port}"
  echo "export AWS_ACCESS_KEY_ID=${access_key}"
  echo "export AWS_SECRET_ACCESS_KEY=${secret_key}"
  echo "export AWS_REGION=us-east-1"
}

stop_daemons() {
  local d=$1 pidfile pid
  for pidfile in "$d"/rgw.pid "$d"/osd.0.pid "$d"/mon.a.pid; do
    [[ -f "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    [[ -n "$pid" ]] || continue
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
  done
}

case "$cmd" in
  stop)
    [[ -d "$dir" ]] || exit 0
    [[ -f "$dir/ceph.conf" ]] || die "$dir does not look like a radosgw.sh directory"
    stop_daemons "$dir"
    rm -rf "$dir"
    exit 0
    ;;
  env)
    [[ -f "$dir/ceph.conf" ]] || die "no server in $dir"
    print_env
    exit 0
    ;;
  start) ;;
  *) die "unknown command $cmd (start, stop or env)" ;;
esac

script_dir=$(cd "$(dirname "$0")" && pwd)
for tool in ceph-authtool monmaptool ceph-mon ceph-osd ceph radosgw radosgw-admin uuidgen curl; do
  if ! command -v "$tool" >/dev/null; then
    log "$tool is missing; installing the S3 server packages"
    "$script_dir/install-deps.sh" --with-s3-server >&2
    break
  fi
done

[[ -e "$dir/ceph.conf" ]] && die "$dir already holds a server (stop it first)"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf="$dir/ceph.conf"
fsid=$(uuidgen)
trap 'log "start failed; logs are in $dir"; stop_daemons "$dir"' ERR

cat >"$conf" <<EOF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$mon_port]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_msgr2 = true
ms_bind_port_min = $ms_min
ms_bind_port_max = $ms_max
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
run_dir = $dir
crash_dir = $dir/crash
log_file = $dir/\$name.log
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
mon_osd_full_ratio = .99
mon_osd_nearfull_ratio = .99
mon_osd_backfillfull_ratio = .99
osd_failsafe_full_ratio = .99
mon_data_avail_warn = 2
mon_data_avail_crit = 1

[client]
keyring = $dir/keyring

[mon]
mon_data = $dir/mon.\$id
pid_file = $dir/mon.\$id.pid
admin_socket = $dir/mon.\$id.asok

[osd]
osd_data = $dir/osd.\$id
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = 21474836480
bluestore_fsck_on_mount = false
osd_memory_target = 2147483648
pid_file = $dir/osd.\$id.pid
admin_socket = $dir/osd.\$id.asok
keyring = $dir/osd.\$id/keyring

[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$rgw_port
rgw_dns_name = localhost
pid_file = $dir/rgw.pid
admin_socket = $dir/rgw.asok
EOF
mkdir -p "$dir/crash"

log "creating the monitor"
ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
  --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" \
  "$dir/monmap" >/dev/null
ceph-mon --mkfs -i a -c "$conf" --monmap "$dir/monmap" --keyring "$dir/keyring"
ceph-mon -i a -c "$conf"

ceph_() { ceph -c "$conf" -n client.admin --connect-timeout 30 "$@"; }

log "creating the OSD"
osd_uuid=$(uuidgen)
osd_key=$(ceph-authtool --gen-print-key)
echo "{\"cephx_secret\": \"$osd_key\"}" | ceph_ osd new "$osd_uuid" 0 -i - >/dev/null
mkdir -p "$dir/osd.0"
ceph-authtool --create-keyring "$dir/osd.0/keyring" --name osd.0 --add-key "$osd_key" >/dev/null
ceph-osd -i 0 -c "$conf" --mkfs --osd-uuid "$osd_uuid" 2>"$dir/osd-mkfs.err" ||
  { cat "$dir/osd-mkfs.err" >&2; false; }
ceph-osd -i 0 -c "$conf"
for i in $(seq 1 120); do
  ceph_ osd dump 2>/dev/null | grep -q '^osd.0 up' && break
  [[ $i -eq 120 ]] && die "osd.0 did not come up; see $dir/osd.0.log"
  sleep 0.5
done

log "starting radosgw on 127.0.0.1:$rgw_port"
ceph_ auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' mgr 'allow rw' \
  >>"$dir/keyring"
radosgw -c "$conf" -n client.rgw.a

log "creating the S3 user"
for i in $(seq 1 60); do
  if radosgw-admin -c "$conf" -n client.admin user info --uid=test >/dev/null 2>&1 ||
    radosgw-admin -c "$conf" -n client.admin user create --uid=test --display-name=Test \
      --access-key="$access_key" --secret-key="$secret_key" >/dev/null 2>&1; then
    break
  fi
  [[ $i -eq 60 ]] && die "could not create the S3 user; see $dir/client.rgw.a.log"
  sleep 1
done

for i in $(seq 1 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$rgw_port/" || true)
  [[ "$code" == 200 ]] && break
  [[ $i -eq 60 ]] && die "radosgw does not answer on port $rgw_port"
  sleep 0.5
done
trap - ERR
log "ready"
print_env
