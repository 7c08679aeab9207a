#include "restorer/restorer.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "base/file_util.h"
#include "base/io.h"
#include "base/thread_pool.h"
#include "fs/meta.h"
#include "fs/open.h"
#include "pattern/pattern.h"
#include "restorer/restorer_impl.h"

namespace efs2s3::restorer {

using model::Node;
using model::NodeType;

namespace detail {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : path) {
    if (c == '/') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// fs::OpenBeneath (no symlink followed, never outside root), failing as
// open(2) does: -1 with errno.
int OpenBeneath(int root, const std::string& rel, int flags, mode_t mode) {
  int fd = fs::OpenBeneath(root, rel, flags, mode);
  if (fd >= 0) return fd;
  errno = -fd;
  return -1;
}

// Every file of two batches is open at once: raise the soft limit on open files
// to the hard one, and size batches to fit (4096 files when it allows).
size_t BatchFilesForFdLimit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 256;
  if (rl.rlim_cur < rl.rlim_max) {
    struct rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  // Headroom for connections, pack files and directories.
  constexpr rlim_t kReserve = 256;
  if (rl.rlim_cur == RLIM_INFINITY) return 4096;
  return static_cast<size_t>(std::clamp<rlim_t>(
      rl.rlim_cur > kReserve ? (rl.rlim_cur - kReserve) / 2 : 0, 16, 4096));
}

std::string Parent(const std::string& rel) {
  size_t p = rel.find_last_of('/');
  return p == std::string::npos ? "." : rel.substr(0, p);
}

bool AllZero(ByteSpan b) {
  return std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
}

bool Restorer::Selected(const std::string& snap_path, bool is_dir,
                        bool* descend) const {
  *descend = is_dir;
  if (pattern::IsExcluded(opts_.excludes, snap_path)) {
    *descend = false;
    return false;
  }
  if (opts_.includes.empty()) return true;
  for (const std::string& p : opts_.includes) {
    if (pattern::IsExcluded({p}, snap_path)) return true;
    // A directory on the way to a possible match is descended into.
    if (is_dir && p.find('/') != std::string::npos) {
      std::string prefix = snap_path + "/";
      if (p.compare(0, prefix.size(), prefix) == 0) return false;
      // Patterns with wildcards before the end may match anything below.
      if (p.find_first_of("*?[") != std::string::npos &&
          p.find_first_of("*?[") < prefix.size())
        return false;
    }
  }
  return false;
}

void Restorer::ApplyMeta(int fd, int dirfd, const std::string& name,
                         const Node& node, const std::string& snap_path) {
  for (const Error& e : fs::ApplyMetadata(
           fd >= 0 ? fs::Target::Open(fd) : fs::Target::At(dirfd, name),
           fs::MetadataOf(node), {.owner = as_root_}, snap_path))
    ReportError(snap_path, e);
}

void Restorer::QueueFile(const Node& node, const std::string& snap_path,
                         const std::string& rel) {
  auto f = std::make_unique<FileJob>();
  f->rel = rel;
  f->snap_path = snap_path;
  f->node = node;
  batch_bytes_ += node.size;
  batch_.push_back(std::move(f));
  // Bounded batches keep memory bounded whatever the tree size: a batch holds
  // about 100 bytes per blob of its files, 1.6 MiB at the byte bound with
  // 1 MiB chunks. The bound is high because files backed up at the same time
  // have their blobs interleaved in the same packs: restored in one batch,
  // their neighbouring blobs are fetched in one range; with 1 GiB (before),
  // three 1 GiB files took 1,252 ranged GETs instead of 431 from radosgw.
  constexpr std::uint64_t kBatchBytes = 16ULL << 30;
  if (batch_.size() >= max_batch_files_ || batch_bytes_ >= kBatchBytes)
    RunBatch();
}

void Restorer::RestoreNode(int dirfd, const Node& node,
                           const std::string& snap_path,
                           const std::string& rel) {
  const char* name = node.name.c_str();
  if (node.type == NodeType::kFile && opts_.file_filter) {
    FileDecision d = opts_.file_filter(snap_path, node);
    if (d == FileDecision::kSkip) return;
    if (d == FileDecision::kDefer) {
      std::lock_guard lock(mu_);
      ++result_.deferred;
      return;
    }
  }
  if (node.type != NodeType::kFile && !opts_.restore_others) return;
  if (node.type == NodeType::kFile && node.links > 1) {
    std::lock_guard lock(mu_);
    auto key = std::make_pair(node.device, node.inode);
    auto it = link_first_.find(key);
    if (it != link_first_.end()) {
      links_.emplace_back(it->second, rel);
      return;
    }
    link_first_[key] = rel;
  }
  if (opts_.dry_run) {
    std::lock_guard lock(mu_);
    if (node.type == NodeType::kFile) {
      ++result_.files;
      result_.bytes += node.size;
    } else {
      ++result_.other;
    }
    return;
  }
  if (node.type == NodeType::kFile) {
    QueueFile(node, snap_path, rel);
    return;
  }
  auto replace = [&](auto create) {
    if (create() == 0) return true;
    if (errno == EEXIST && ::unlinkat(dirfd, name, 0) == 0 && create() == 0)
      return true;
    ReportError(snap_path, PosixError(snap_path, errno));
    return false;
  };
  bool ok = false;
  switch (node.type) {
    case NodeType::kSymlink:
      ok = replace(
          [&] { return ::symlinkat(node.link_target.c_str(), dirfd, name); });
      break;
    case NodeType::kFifo:
      ok = replace([&] { return ::mkfifoat(dirfd, name, 0600); });
      break;
    case NodeType::kSocket:
      ok = replace([&] { return ::mknodat(dirfd, name, S_IFSOCK | 0600, 0); });
      break;
    case NodeType::kCharDev:
    case NodeType::kBlockDev:
      if (!as_root_) {
        ReportError(
            snap_path,
            MakeError(
                ErrorCode::kPermission,
                snap_path + ": device nodes can only be restored as root"));
        return;
      }
      ok = replace([&] {
        return ::mknodat(
            dirfd, name,
            (node.type == NodeType::kCharDev ? S_IFCHR : S_IFBLK) | 0600,
            static_cast<dev_t>(node.rdev));
      });
      break;
    default:
      break;
  }
  if (!ok) return;
  ApplyMeta(-1, dirfd, node.name, node, snap_path);
  std::lock_guard lock(mu_);
  ++result_.other;
}

Result<void> Restorer::RestoreTree(int dirfd, const Id& tree_id,
                                   const std::string& snap_path,
                                   const std::string& rel,
                                   bool parent_selected) {
  auto tree = repo_.LoadTree(tree_id);
  if (!tree) {
    // Named by its path, like a file: its entries are what is lost.
    const std::string dir = snap_path.empty() ? "/" : snap_path;
    ReportError(dir, tree.error().Wrap(dir + ": directory not restored"));
    return Ok();
  }
  for (const Node& node : tree->nodes) {
    if (Cancelled()) return MakeError(ErrorCode::kCancelled, "interrupted");
    std::string child_snap = snap_path + "/" + node.name;
    std::string child_rel = rel.empty() ? node.name : rel + "/" + node.name;
    bool descend = false;
    bool selected = parent_selected ||
                    Selected(child_snap, node.type == NodeType::kDir, &descend);
    if (parent_selected && pattern::IsExcluded(opts_.excludes, child_snap))
      continue;
    if (parent_selected) descend = node.type == NodeType::kDir;
    if (node.type != NodeType::kDir) {
      if (selected) {
        NoteFlagged(child_snap, node);
        RestoreNode(dirfd, node, child_snap, child_rel);
      }
      continue;
    }
    if (selected) NoteFlagged(child_snap, node);
    if (!selected && !descend) continue;
    if (opts_.dry_run) {
      {
        std::lock_guard lock(mu_);
        ++result_.dirs;
      }
      RETURN_IF_ERROR(
          RestoreTree(dirfd, *node.subtree, child_snap, child_rel, selected));
      continue;
    }
    const char* name = node.name.c_str();
    if (::mkdirat(dirfd, name, 0700) != 0 && errno != EEXIST) {
      ReportError(child_snap, PosixError(child_snap, errno));
      continue;
    }
    int fd =
        ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      ReportError(
          child_snap,
          PosixError(child_snap + " (refusing to follow a symlink)", errno));
      continue;
    }
    {
      std::lock_guard lock(mu_);
      ++result_.dirs;
      if (opts_.progress) ++opts_.progress->dirs;
      dirs_.push_back({child_rel, node});
    }
    auto r = RestoreTree(fd, *node.subtree, child_snap, child_rel, selected);
    ::close(fd);
    RETURN_IF_ERROR(r);
  }
  return Ok();
}

Result<RestoreResult> Restorer::Run(const model::Snapshot& snap) {
  // Find what to restore.
  Node start;
  start.type = NodeType::kDir;
  start.subtree = snap.tree;
  std::string base;  // snapshot path of `start`
  for (const std::string& comp : SplitPath(opts_.subpath)) {
    if (!model::IsSafeName(comp))
      return MakeError(ErrorCode::kInvalidArgument,
                       "bad path component '" + comp + "' in " + opts_.subpath);
    if (start.type != NodeType::kDir)
      return MakeError(ErrorCode::kNotFound,
                       base + " is not a directory in the snapshot");
    ASSIGN_OR_RETURN(model::Tree t, repo_.LoadTree(*start.subtree));
    auto it = std::find_if(t.nodes.begin(), t.nodes.end(),
                           [&](const Node& n) { return n.name == comp; });
    if (it == t.nodes.end())
      return MakeError(ErrorCode::kNotFound,
                       base + "/" + comp + ": not in the snapshot");
    start = *it;
    base += "/" + comp;
  }
  if (!opts_.dry_run) {
    RETURN_IF_ERROR(MakeDirs(opts_.target, 0755));
    target_fd_ =
        ::open(opts_.target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (target_fd_ < 0) return PosixError(opts_.target, errno);
  }
  Result<void> walked = Ok();
  if (start.type == NodeType::kDir && !base.empty()) {
    // The target takes the metadata of the restored directory (like rsync src/
    // dst/).
    dirs_.push_back({".", start});
    NoteFlagged(base, start);
  }
  if (start.type == NodeType::kDir) {
    walked = RestoreTree(target_fd_, *start.subtree, base, "", false);
  } else {
    bool descend = false;
    if (Selected(base, false, &descend)) {
      NoteFlagged(base, start);
      RestoreNode(target_fd_, start, base, start.name);
    }
  }
  RunBatch();
  WaitBatch();
  // Hard links, then directory metadata deepest first (adding entries changes
  // a directory's mtime).
  for (const auto& [existing, fresh] : links_) {
    if (opts_.dry_run) break;
    int dfd = OpenBeneath(target_fd_, Parent(fresh), O_RDONLY | O_DIRECTORY);
    std::string name = fresh.substr(fresh.find_last_of('/') + 1);
    if (dfd < 0 ||
        (::linkat(target_fd_, existing.c_str(), dfd, name.c_str(), 0) != 0 &&
         !(errno == EEXIST && ::unlinkat(dfd, name.c_str(), 0) == 0 &&
           ::linkat(target_fd_, existing.c_str(), dfd, name.c_str(), 0) == 0)))
      ReportError("/" + fresh,
                  PosixError("/" + fresh + ": creating hard link", errno));
    else {
      std::lock_guard lock(mu_);
      ++result_.files;
    }
    if (dfd >= 0) ::close(dfd);
  }
  if (!opts_.dry_run) {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      int fd = OpenBeneath(target_fd_, it->rel, O_RDONLY | O_DIRECTORY);
      if (fd < 0) {
        ReportError(it->rel, PosixError(it->rel, errno));
        continue;
      }
      ApplyMeta(fd, -1, it->node.name, it->node, "/" + it->rel);
      ::close(fd);
    }
  }
  if (target_fd_ >= 0) ::close(target_fd_);
  for (const auto& [id, p] : failed_packs_) result_.failed_packs.push_back(id);
  if (auto refusal = errors_.refusal()) return *refusal;
  RETURN_IF_ERROR(walked);
  if (Cancelled()) return MakeError(ErrorCode::kCancelled, "interrupted");
  return result_;
}

}  // namespace detail

using detail::Restorer;
using detail::SplitPath;

Result<RestoreResult> RunRestore(repo::BlobLoader& repo,
                                 const model::Snapshot& snapshot,
                                 const RestoreOptions& options) {
  Restorer r(repo, options);
  return r.Run(snapshot);
}

Result<model::Node> FindNode(repo::TreeLoader& repo, const Id& root,
                             const std::string& path) {
  Node cur;
  cur.type = NodeType::kDir;
  cur.subtree = root;
  std::string seen;
  for (const std::string& comp : SplitPath(path)) {
    if (cur.type != NodeType::kDir)
      return MakeError(ErrorCode::kNotFound, seen + ": not a directory");
    ASSIGN_OR_RETURN(model::Tree t, repo.LoadTree(*cur.subtree));
    auto it = std::find_if(t.nodes.begin(), t.nodes.end(),
                           [&](const Node& n) { return n.name == comp; });
    seen += "/" + comp;
    if (it == t.nodes.end())
      return MakeError(ErrorCode::kNotFound, seen + ": not in the snapshot");
    cur = *it;
  }
  return cur;
}

}  // namespace efs2s3::restorer
