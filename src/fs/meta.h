// File metadata: reading it (stat, extended attributes, owner names) and
// applying it (owner, mode, extended attributes and ACLs, times).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "model/node.h"

namespace efs2s3::fs {

model::Timespec FromTimespec(const struct timespec& t);

// The node type of a mode; nullopt for types a snapshot cannot hold.
std::optional<model::NodeType> TypeOf(mode_t mode);

// A node of `name` from its lstat: type, mode, owner IDs, times, inode,
// device, links, size and sparseness of files, rdev of devices. Owner names,
// content, subtree, link target and xattrs are the caller's. `st` must have a
// type TypeOf knows.
model::Node NodeFromStat(const std::string& name, const struct stat& st);

// Owner and group names by ID, looked up once each (thread-safe).
class OwnerNames {
 public:
  std::string User(std::uint32_t uid);
  std::string Group(std::uint32_t gid);

 private:
  std::mutex mu_;
  std::map<std::uint32_t, std::string> users_, groups_;
};

using Xattrs = std::vector<std::pair<std::string, std::string>>;

// All extended attributes, sorted by name: of the open fd when fd >= 0, else
// of `path` itself (not followed). A file system without them gives none.
Result<Xattrs> ReadXattrs(int fd, const std::string& path);

// Metadata to apply; what is unset is left as it is.
struct Metadata {
  std::optional<std::uint32_t> mode;  // 07777 bits; ignored for symlinks
  std::optional<std::uint32_t> uid, gid;
  std::optional<model::Timespec> atime, mtime;
  const Xattrs* xattrs = nullptr;
  bool symlink = false;
};

// What to apply it to: an open descriptor (fd >= 0), else `name` in the
// directory dirfd (symlinks, which cannot be opened).
struct Target {
  static Target Open(int fd) { return {fd, -1, {}}; }
  static Target At(int dirfd, std::string name) {
    return {-1, dirfd, std::move(name)};
  }
  int fd = -1;
  int dirfd = -1;
  std::string name;
};

struct ApplyOptions {
  // Set the owner (only root may). Without it, an xattr the caller may not
  // set (EPERM: trusted.*, security.*) is not an error either.
  bool owner = false;
};

// Applies `m` in the one order that keeps each step: extended attributes
// other than security.capability first (user.* need write permission, which
// a read-only mode would take away), then the owner (chown clears
// security.capability and the set-ID bits), then security.capability, then
// the mode, then the times (every step before changes the ctime, not the
// mtime; the times go last so nothing moves them). Every failure is returned,
// each naming `what` and the step; an empty list is success. A file system
// without xattrs (ENOTSUP) is not a failure.
std::vector<Error> ApplyMetadata(const Target& t, const Metadata& m,
                                 const ApplyOptions& o,
                                 const std::string& what);

// The metadata of a snapshot node.
Metadata MetadataOf(const model::Node& n);

}  // namespace efs2s3::fs
