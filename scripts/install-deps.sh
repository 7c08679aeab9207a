#!/usr/bin/env bash
# Installs the Debian 12 packages efs2s3 needs to build and test.
# Usage: scripts/install-deps.sh [--with-s3-server]
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config git python3
      libssl-dev libzstd-dev libcurl4-openssl-dev libcli11-dev libfmt-dev
      nlohmann-json3-dev libexpected-dev libgtest-dev libgmock-dev libpugixml-dev
      attr acl bats jq)
if [[ "${1:-}" == "--with-s3-server" ]]; then
  pkgs+=(radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
