# Cross-build for arm64 (AWS Graviton) with Debian's cross toolchain
# (crossbuild-essential-arm64): the C library and libstdc++ come from
# /usr/aarch64-linux-gnu, every other library from a sysroot of arm64 packages
# unpacked with `dpkg -x` (scripts/arm64-test.sh makes it), so nothing of the
# host's own packages changes. ctest and the build's own runs of the binary
# (completions, man pages, test discovery) go through qemu-aarch64.
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm64.cmake \
#         -DEFS2S3_ARM64_SYSROOT=$PWD/build-arm64/sysroot
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(EFS2S3_ARM64_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build-arm64/sysroot"
    CACHE PATH "arm64 packages unpacked by scripts/arm64-test.sh")
# try_compile reads this file again: pass the sysroot on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EFS2S3_ARM64_SYSROOT)
get_filename_component(_sysroot "${EFS2S3_ARM64_SYSROOT}" ABSOLUTE)
set(_multiarch aarch64-linux-gnu)

set(CMAKE_FIND_ROOT_PATH "${_sysroot}" /usr/${_multiarch})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Headers of the sysroot, its multiarch directory first (openssl/configuration.h);
# libraries and, for the libraries they need in turn, -rpath-link.
set(_libdirs "${_sysroot}/usr/lib/${_multiarch}" "${_sysroot}/lib/${_multiarch}")
set(CMAKE_C_FLAGS_INIT
    "-isystem ${_sysroot}/usr/include/${_multiarch} -isystem ${_sysroot}/usr/include")
set(CMAKE_CXX_FLAGS_INIT "${CMAKE_C_FLAGS_INIT}")
set(_link "")
foreach(_dir IN LISTS _libdirs)
  string(APPEND _link " -L${_dir} -Wl,-rpath-link,${_dir}")
endforeach()
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_link}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_link}")

# pkg-config (libzstd, fuse3) reads the sysroot's .pc files only.
set(ENV{PKG_CONFIG_LIBDIR}
    "${_sysroot}/usr/lib/${_multiarch}/pkgconfig:${_sysroot}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${_sysroot}")
set(ENV{PKG_CONFIG_PATH} "")

# qemu runs the cross toolchain's loader, which loads the program with libc
# from /usr/aarch64-linux-gnu and the rest from the sysroot. Not `qemu-aarch64
# -L /usr/aarch64-linux-gnu`: with a prefix qemu looks up every absolute path
# there first, "/" included, so a walk that opens "/" and then "tmp" below it
# (fs::OpenBeneath) fails with "/tmp: No such file or directory".
list(JOIN _libdirs ":" _ld_path)
set(CMAKE_CROSSCOMPILING_EMULATOR
    qemu-aarch64 /usr/${_multiarch}/lib/ld-linux-aarch64.so.1
    --library-path /usr/${_multiarch}/lib:${_ld_path})
