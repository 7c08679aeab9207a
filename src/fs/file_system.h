// The calls a walk makes on the tree it reads, behind one interface, so that a
// test can count them (fs/testing/recording_fs.h) without FUSE or root.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "base/result.h"

namespace efs2s3::fs {

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // lstat of `name` in dirfd; `path` is what the walk calls it. 0 or errno.
  virtual int StatAt(int dirfd, const std::string& name,
                     const std::string& path, struct stat* st);
  // OpenDirAt / OpenFileAt of fs/open.h. The descriptor or -errno.
  virtual int OpenDirAt(int dirfd, const std::string& name,
                        const std::string& path);
  virtual int OpenFileAt(int dirfd, const std::string& name,
                         const std::string& path);
  // fstat of a file OpenFileAt opened, after it was read (a backup compares
  // it with the stat before the read). 0 or errno.
  virtual int StatOpen(int fd, const std::string& path, struct stat* st);
  // ListDir of fs/open.h.
  virtual Result<std::vector<std::string>> ListDir(int fd,
                                                   const std::string& path);
};

// The real one (stateless, shared).
FileSystem& RealFileSystem();

}  // namespace efs2s3::fs
