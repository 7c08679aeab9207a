#!/usr/bin/env bash
# Installs the Debian 12 packages efs2s3 needs to build and test.
# Usage: scripts/install-deps.sh [--with-s3-server] [--with-bench] [--with-browser]
#   --with-browser: headless Chromium for the test of report --html (tests/e2e/report.bats)
#   --with-bench: the peers bench/run.sh compares with (restic, rclone, awscli) and
#   corpus A (linux-source-6.1); the EFS stand-in (libfuse3) is always installed
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config git python3
      libssl-dev libzstd-dev libcurl4-openssl-dev libcli11-dev libfmt-dev
      nlohmann-json3-dev libexpected-dev libgtest-dev libgmock-dev libpugixml-dev
      libtomlplusplus-dev libarchive-dev
      attr acl bats jq clang-format python3-jsonschema
      python3-yaml  # tests/tools/check_k8s.py: the manifests of generate k8s
      libarchive-tools  # bsdtar: dump's archives read back in tests/e2e/dump.bats
      zsh fish man-db dpkg-dev  # completions, man pages and the .deb: tests/e2e/package.bats
      fuse3 libfuse3-dev)  # `mount`, and the EFS stand-in: op-count and resume tests
for arg in "$@"; do
  case "$arg" in
    --with-s3-server)
      # rclone and awscli: the sync interoperability tests (tests/e2e/sync.bats).
      pkgs+=(radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl rclone)
      command -v aws >/dev/null || pkgs+=(awscli) ;;
    --with-browser)
      pkgs+=(chromium) ;;
    --with-bench)
      pkgs+=(restic rclone time linux-source-6.1 xz-utils
             radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl)
      command -v aws >/dev/null || pkgs+=(awscli) ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
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
