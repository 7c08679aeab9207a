#include "fs/meta.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace efs2s3::fs {

using model::Node;
using model::NodeType;

model::Timespec FromTimespec(const struct timespec& t) {
  return {static_cast<std::int64_t>(t.tv_sec),
          static_cast<std::uint32_t>(t.tv_nsec)};
}

std::optional<NodeType> TypeOf(mode_t m) {
  if (S_ISREG(m)) return NodeType::kFile;
  if (S_ISDIR(m)) return NodeType::kDir;
  if (S_ISLNK(m)) return NodeType::kSymlink;
  if (S_ISFIFO(m)) return NodeType::kFifo;
  if (S_ISSOCK(m)) return NodeType::kSocket;
  if (S_ISCHR(m)) return NodeType::kCharDev;
  if (S_ISBLK(m)) return NodeType::kBlockDev;
  return std::nullopt;
}

Node NodeFromStat(const std::string& name, const struct stat& st) {
  Node n;
  n.name = name;
  n.type = TypeOf(st.st_mode).value_or(NodeType::kFile);
  n.mode = st.st_mode & 07777;
  n.uid = st.st_uid;
  n.gid = st.st_gid;
  n.mtime = FromTimespec(st.st_mtim);
  n.atime = FromTimespec(st.st_atim);
  n.ctime = FromTimespec(st.st_ctim);
  n.inode = st.st_ino;
  n.device = st.st_dev;
  n.links = st.st_nlink;
  if (n.type == NodeType::kFile) {
    n.size = static_cast<std::uint64_t>(st.st_size);
    n.sparse = static_cast<std::uint64_t>(st.st_blocks) * 512 < n.size;
  }
  if (n.type == NodeType::kCharDev || n.type == NodeType::kBlockDev)
    n.rdev = st.st_rdev;
  return n;
}

std::string OwnerNames::User(std::uint32_t uid) {
  std::lock_guard lock(mu_);
  auto it = users_.find(uid);
  if (it != users_.end()) return it->second;
  struct passwd pw {
  }, *res = nullptr;
  char buf[4096];
  std::string name;
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
    name = res->pw_name;
  users_[uid] = name;
  return name;
}

std::string OwnerNames::Group(std::uint32_t gid) {
  std::lock_guard lock(mu_);
  auto it = groups_.find(gid);
  if (it != groups_.end()) return it->second;
  struct group gr {
  }, *res = nullptr;
  char buf[4096];
  std::string name;
  if (::getgrgid_r(gid, &gr, buf, sizeof buf, &res) == 0 && res)
    name = res->gr_name;
  groups_[gid] = name;
  return name;
}

Result<Xattrs> ReadXattrs(int fd, const std::string& path) {
  Xattrs out;
  std::vector<char> names(4096);
  for (;;) {
    ssize_t n = fd >= 0
                    ? ::flistxattr(fd, names.data(), names.size())
                    : ::llistxattr(path.c_str(), names.data(), names.size());
    if (n >= 0) {
      names.resize(static_cast<size_t>(n));
      break;
    }
    if (errno == ERANGE) {
      names.resize(names.size() * 4);
      continue;
    }
    if (errno == ENOTSUP || errno == ENOSYS) return out;
    return PosixError(path + ": listing xattrs", errno);
  }
  size_t pos = 0;
  while (pos < names.size()) {
    std::string name(names.data() + pos);
    pos += name.size() + 1;
    if (name.empty()) continue;
    std::vector<char> value(256);
    for (;;) {
      ssize_t n =
          fd >= 0 ? ::fgetxattr(fd, name.c_str(), value.data(), value.size())
                  : ::lgetxattr(path.c_str(), name.c_str(), value.data(),
                                value.size());
      if (n >= 0) {
        out.emplace_back(name,
                         std::string(value.data(), static_cast<size_t>(n)));
        break;
      }
      if (errno == ERANGE) {
        value.resize(value.size() * 8 + 65536);
        continue;
      }
      if (errno == ENODATA) break;  // removed meanwhile
      return PosixError(path + ": reading xattr " + name, errno);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

struct timespec ToTimespec(const std::optional<model::Timespec>& t) {
  struct timespec ts {};
  if (!t) {
    ts.tv_nsec = UTIME_OMIT;
    return ts;
  }
  ts.tv_sec = static_cast<time_t>(t->sec);
  ts.tv_nsec = static_cast<long>(t->nsec);
  return ts;
}

}  // namespace

std::vector<Error> ApplyMetadata(const Target& t, const Metadata& m,
                                 const ApplyOptions& o,
                                 const std::string& what) {
  std::vector<Error> errors;
  auto fail = [&](const char* step) {
    errors.push_back(PosixError(what + ": " + step, errno));
  };
  const bool by_fd = t.fd >= 0;
  // l*xattr on a symlink through /proc: the xattr calls have no *at form.
  const std::string proc =
      by_fd ? "" : "/proc/self/fd/" + std::to_string(t.dirfd) + "/" + t.name;
  auto set_xattrs = [&](bool capability) {
    if (!m.xattrs) return;
    for (const auto& [k, v] : *m.xattrs) {
      if ((k == "security.capability") != capability) continue;
      int r = by_fd
                  ? ::fsetxattr(t.fd, k.c_str(), v.data(), v.size(), 0)
                  : ::lsetxattr(proc.c_str(), k.c_str(), v.data(), v.size(), 0);
      if (r != 0 && errno != ENOTSUP && !(errno == EPERM && !o.owner))
        fail("setting xattrs");
    }
  };
  set_xattrs(false);
  if (o.owner && m.uid && m.gid) {
    int r = by_fd ? ::fchown(t.fd, *m.uid, *m.gid)
                  : ::fchownat(t.dirfd, t.name.c_str(), *m.uid, *m.gid,
                               AT_SYMLINK_NOFOLLOW);
    if (r != 0) fail("setting owner");
  }
  set_xattrs(true);
  if (m.mode && !m.symlink) {
    int r = by_fd ? ::fchmod(t.fd, *m.mode)
                  : ::fchmodat(t.dirfd, t.name.c_str(), *m.mode, 0);
    if (r != 0) fail("setting mode");
  }
  if (m.atime || m.mtime) {
    struct timespec times[2] = {ToTimespec(m.atime), ToTimespec(m.mtime)};
    int r = by_fd ? ::futimens(t.fd, times)
                  : ::utimensat(t.dirfd, t.name.c_str(), times,
                                AT_SYMLINK_NOFOLLOW);
    if (r != 0) fail("setting times");
  }
  return errors;
}

Metadata MetadataOf(const Node& n) {
  Metadata m;
  m.mode = n.mode;
  m.uid = n.uid;
  m.gid = n.gid;
  m.atime = n.atime;
  m.mtime = n.mtime;
  m.xattrs = &n.xattrs;
  m.symlink = n.type == NodeType::kSymlink;
  return m;
}

}  // namespace efs2s3::fs
