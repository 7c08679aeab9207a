// Opening files of a tree: relative to a directory descriptor, never through a
// symlink, never outside it.
#pragma once

#include <string>

#include "base/fd.h"
#include "base/result.h"

namespace efs2s3::fs {

// Opens `rel` (a relative path of names separated by '/') below the directory
// open at `root`, following no symlink and never leaving `root`: openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, and on kernels without openat2 each
// directory on the way opened with O_NOFOLLOW. Both refuse an absolute `rel`
// or a ".." component with EXDEV, so the behaviour is the same on every
// kernel. O_CLOEXEC and O_NOFOLLOW are added to `flags`. Returns the
// descriptor, or -errno.
int OpenBeneath(int root, const std::string& rel, int flags, unsigned mode = 0);

// The fallback of OpenBeneath, exposed so that tests run it on kernels that
// have openat2.
int OpenBeneathByComponents(int root, const std::string& rel, int flags,
                            unsigned mode = 0);

// mkdir -p of `rel` below root (0755 & ~umask), never through a symlink.
Result<void> MakeDirsBeneath(int root, const std::string& rel);

// Opens the directory `name` in dirfd for reading without following a
// symlink. O_NOATIME, so that reading a tree does not change what the next
// backup sees, unless the caller may not (not the owner, without
// CAP_FOWNER). Returns the descriptor or -errno.
int OpenDirAt(int dirfd, const std::string& name);
// The same for a file to be read.
int OpenFileAt(int dirfd, const std::string& name);

// The names in the directory open at fd, "." and ".." left out, in the order
// the file system gives them. A listing that fails half-way is an error (kIo,
// never a shorter list): `what` names the directory.
Result<std::vector<std::string>> ListDir(int fd, const std::string& what);

}  // namespace efs2s3::fs
