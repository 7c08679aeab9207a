#include "fs/open.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <vector>

namespace efs2s3::fs {
namespace {

// Absolute paths and ".." components are refused before any system call,
// so that openat2 and the fallback agree.
bool EscapesRoot(const std::string& rel) {
  if (!rel.empty() && rel.front() == '/') return true;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    if (std::string_view(rel).substr(start, slash - start) == "..") return true;
    start = slash + 1;
  }
  return false;
}

// openat2 says ELOOP for a symlink on the way; openat(2) of it with
// O_DIRECTORY | O_NOFOLLOW says ENOTDIR. Same answer on every kernel: ELOOP.
// (For the last component both say what open(2) with O_NOFOLLOW says.)
int SymlinkIsLoop(int dirfd, const std::string& name, int err) {
  struct stat st {};
  if (err == ENOTDIR &&
      ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISLNK(st.st_mode))
    return ELOOP;
  return err;
}

}  // namespace

int OpenBeneathByComponents(int root, const std::string& rel, int flags,
                            unsigned mode) {
  if (EscapesRoot(rel)) return -EXDEV;
  Fd cur(::dup(root));
  if (!cur) return -errno;
  size_t start = 0;
  for (;;) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) break;
    std::string comp = rel.substr(start, slash - start);
    start = slash + 1;
    if (comp.empty() || comp == ".") continue;
    int next = ::openat(cur.get(), comp.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) return -SymlinkIsLoop(cur.get(), comp, errno);
    cur.Reset(next);
  }
  const std::string last = start < rel.size() ? rel.substr(start) : ".";
  int f =
      ::openat(cur.get(), last.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, mode);
  return f < 0 ? -errno : f;
}

int OpenBeneath(int root, const std::string& rel, int flags, unsigned mode) {
  if (EscapesRoot(rel)) return -EXDEV;
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  const char* path = rel.empty() ? "." : rel.c_str();
  long fd = ::syscall(SYS_openat2, root, path, &how, sizeof how);
  if (fd < 0 && errno == ENOSYS)
    return OpenBeneathByComponents(root, rel, flags, mode);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

Result<void> MakeDirsBeneath(int root, const std::string& rel) {
  Fd cur(::dup(root));
  if (!cur) return PosixError("dup", errno);
  size_t start = 0;
  while (start < rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    std::string comp = rel.substr(start, slash - start);
    start = slash + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..")
      return MakeError(ErrorCode::kInvalidArgument,
                       rel + ": '..' in a path below the target");
    if (::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST)
      return PosixError(rel + ": creating directory", errno);
    int next = ::openat(cur.get(), comp.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0)
      return PosixError(fmt::format("{}: {} is not a directory", rel, comp),
                        errno);
    cur.Reset(next);
  }
  return Ok();
}

namespace {
int OpenNoAtime(int dirfd, const std::string& name, int flags) {
  flags |= O_RDONLY | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(dirfd, name.c_str(), flags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::openat(dirfd, name.c_str(), flags);
  return fd < 0 ? -errno : fd;
}
}  // namespace

int OpenDirAt(int dirfd, const std::string& name) {
  return OpenNoAtime(dirfd, name, O_DIRECTORY);
}

int OpenFileAt(int dirfd, const std::string& name) {
  return OpenNoAtime(dirfd, name, 0);
}

Result<std::vector<std::string>> ListDir(int fd, const std::string& what) {
  Fd dup(::dup(fd));
  if (!dup) return PosixError(what, errno);
  DIR* d = ::fdopendir(dup.get());
  if (!d) return PosixError(what, errno);
  dup.release();  // owned by d now
  // The directory stream starts where the descriptor's offset is: at the
  // start for a fresh descriptor, and rewound for one listed before.
  ::rewinddir(d);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* de = ::readdir(d);
    if (!de) {
      int err = errno;
      ::closedir(d);
      // A listing that fails half-way is not the directory's content.
      if (err != 0) return PosixError(what, err == ENOENT ? EIO : err);
      return names;
    }
    std::string_view n = de->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
}

}  // namespace efs2s3::fs
