#include "fs/file_system.h"

#include <fcntl.h>

#include <cerrno>

#include "fs/open.h"

namespace efs2s3::fs {

int FileSystem::StatAt(int dirfd, const std::string& name,
                       const std::string& /*path*/, struct stat* st) {
  return ::fstatat(dirfd, name.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0 ? 0
                                                                      : errno;
}

int FileSystem::OpenDirAt(int dirfd, const std::string& name,
                          const std::string& /*path*/) {
  return fs::OpenDirAt(dirfd, name);
}

int FileSystem::OpenFileAt(int dirfd, const std::string& name,
                           const std::string& /*path*/) {
  return fs::OpenFileAt(dirfd, name);
}

int FileSystem::StatOpen(int fd, const std::string& /*path*/, struct stat* st) {
  return ::fstat(fd, st) == 0 ? 0 : errno;
}

Result<std::vector<std::string>> FileSystem::ListDir(int fd,
                                                     const std::string& path) {
  return fs::ListDir(fd, path + ": reading the directory");
}

FileSystem& RealFileSystem() {
  static FileSystem real;
  return real;
}

}  // namespace efs2s3::fs
