#!/usr/bin/env bash
# Cross-builds efs2s3 for arm64 (AWS Graviton) with Debian's cross toolchain and
# runs its unit tests under qemu-user. Optional CI step (.ci/run with
# EFS2S3_CI_ARM64=1); on a fresh Debian 12 machine it installs what it needs.
#   scripts/arm64-test.sh [ctest arguments...]
# The arm64 libraries are not installed as :arm64 packages (multiarch would
# have apt change the host's amd64 -dev packages whenever the versions differ):
# apt, with a configuration of its own under build-arm64/apt, resolves and
# downloads them, and `dpkg -x` unpacks them into build-arm64/sysroot. The C
# library and libstdc++ come from the cross toolchain (/usr/aarch64-linux-gnu).
# The S3 server tests run when EFS2S3_TEST_S3_ENDPOINT is set, as on x86-64.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-arm64}
sysroot=$PWD/$build/sysroot
# The libraries the build links (scripts/install-deps.sh, CMakeLists.txt), arm64.
libs=(libssl-dev libzstd-dev libcurl4-openssl-dev libcli11-dev libfmt-dev
      nlohmann-json3-dev libexpected-dev libgtest-dev libgmock-dev libpugixml-dev
      libtomlplusplus-dev libarchive-dev libfuse3-dev)
# What the cross toolchain provides: never unpacked from arm64 packages.
toolchain_pkgs=" libc6 libc6-dev libc-dev-bin linux-libc-dev libgcc-s1 gcc-12-base libstdc++6 "
# Tests to leave out (a ctest -E regex), should one ever need what qemu-user
# lacks (binfmt_misc to start another arm64 binary); none do today.
EXCLUDE=${EFS2S3_ARM64_EXCLUDE:-}

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO=sudo
host_pkgs=(crossbuild-essential-arm64 qemu-user cmake ninja-build pkg-config file)
missing=()
for p in "${host_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The sysroot, made again when the list of packages changes.
stamp="$sysroot/.packages"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "${libs[*]}" ]]; then
  apt_dir=$PWD/$build/apt
  rm -rf "$sysroot" "$apt_dir"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$sysroot"
  : >"$apt_dir/status"  # nothing installed: apt resolves every dependency
  apt_opts=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64
            -o Dir::State="$apt_dir" -o Dir::State::Lists="$apt_dir/lists"
            -o Dir::State::status="$apt_dir/status" -o Dir::Cache="$apt_dir/cache"
            -o Debug::NoLocking=1)
  apt-get "${apt_opts[@]}" -qq update
  apt-get "${apt_opts[@]}" -qq -y --download-only --no-install-recommends install "${libs[@]}"
  n=0
  for deb in "$apt_dir"/cache/archives/*.deb; do
    name=$(dpkg-deb -f "$deb" Package)
    [[ "$toolchain_pkgs" == *" $name "* ]] && continue
    dpkg -x "$deb" "$sysroot"
    n=$((n + 1))
  done
  # Absolute links (libfoo.so -> /lib/...) would point into the host.
  find "$sysroot" -type l -lname '/*' | while read -r link; do
    ln -sfn "$sysroot$(readlink "$link")" "$link"
  done
  echo "arm64 sysroot: $n packages unpacked in $sysroot"
  echo "${libs[*]}" >"$stamp"
fi

launcher=()
command -v ccache >/dev/null &&
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-arm64.cmake" \
  -DEFS2S3_ARM64_SYSROOT="$sysroot" -DEFS2S3_TEST_HOOKS=ON "${launcher[@]}" >/dev/null
ninja -C "$build" -j"${JOBS:-2}"
file "$build/src/cli/efs2s3" | tee /dev/stderr | grep -q 'ARM aarch64' ||
  { echo "arm64-test.sh: $build/src/cli/efs2s3 is not an arm64 binary" >&2; exit 1; }
exclude=()
[[ -n "$EXCLUDE" ]] && exclude=(-E "$EXCLUDE")
ctest --test-dir "$build" --output-on-failure -j"${JOBS:-2}" "${exclude[@]}" "$@"
