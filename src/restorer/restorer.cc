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

namespace efs2s3::restorer {

using model::Node;
using model::NodeType;

namespace {

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
int OpenBeneath(int root, const std::string& rel, int flags, mode_t mode = 0) {
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

class Restorer {
 public:
  Restorer(repo::BlobLoader& repo, const RestoreOptions& opts)
      : repo_(repo),
        opts_(opts),
        errors_(opts.on_error, opts.cancel),
        pool_(std::max(1, opts.workers), 1024),
        as_root_(::geteuid() == 0),
        max_batch_files_(BatchFilesForFdLimit()) {}

  Result<RestoreResult> Run(const model::Snapshot& snap);

 private:
  struct DirMeta {
    std::string rel;  // relative to the target, "" for the target itself
    Node node;
  };
  bool Cancelled() const { return errors_.Stopped(); }
  void ReportError(const std::string& path, const Error& e) {
    {
      std::lock_guard lock(mu_);
      ++result_.errors;
      if (opts_.progress) ++opts_.progress->errors;
    }
    errors_.Report(path, e);
  }
  bool Selected(const std::string& snap_path, bool is_dir, bool* descend) const;
  Result<void> RestoreTree(int dirfd, const Id& tree_id,
                           const std::string& snap_path, const std::string& rel,
                           bool parent_selected);
  void RestoreNode(int dirfd, const Node& node, const std::string& snap_path,
                   const std::string& rel);
  // Files are restored in batches, pack by pack: every pack (or range of it) is
  // fetched once and its blobs are written to all the files and offsets that
  // need them, so a large file is written by many workers at once and a pack
  // full of small files costs one request.
  struct FileJob {
    std::string rel, snap_path;
    Node node;
    // Open from its creation until FinishFile: each file costs one lookup of
    // its path, not one per piece.
    int fd = -1;
    std::atomic<size_t> remaining{0};
    std::atomic<bool> failed{false};
    std::atomic<std::uint64_t> bytes{0};
    std::optional<Error> error;  // guarded by mu_
  };
  struct Piece {
    Id id;
    repo::BlobLocation loc;
    FileJob* file;
    std::uint64_t offset;  // in the file
  };
  void QueueFile(const Node& node, const std::string& snap_path,
                 const std::string& rel);
  void RunBatch();
  void WaitBatch();
  void ExecuteBatch(std::vector<std::unique_ptr<FileJob>> batch);
  Result<void> CreateFile(FileJob& f);
  void FailFile(FileJob& f, const Error& e);
  void PieceDone(FileJob& f);
  void FinishFile(FileJob& f);
  // Sorts a pack's pieces by offset and groups them into ranges to fetch,
  // [first, last) index pairs.
  static std::vector<std::pair<size_t, size_t>> PlanRanges(
      std::vector<Piece>& pieces);
  void RestoreRange(const Id& pack, std::vector<Piece>& pieces, size_t i,
                    size_t j);
  Result<void> WriteAt(FileJob& f, std::uint64_t offset, ByteSpan data);
  Result<void> VerifyFile(int fd, const Node& node,
                          const std::string& snap_path);
  void ApplyMeta(int fd, int dirfd, const std::string& name, const Node& node,
                 const std::string& snap_path);

  repo::BlobLoader& repo_;
  const RestoreOptions& opts_;
  ErrorSink errors_;
  ThreadPool pool_;
  bool as_root_;
  std::mutex mu_;
  RestoreResult result_;
  std::vector<std::unique_ptr<FileJob>> batch_;
  std::uint64_t batch_bytes_ = 0;
  std::vector<DirMeta> dirs_;
  // Hard links: (device, inode) -> first restored path relative to the target.
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> link_first_;
  std::vector<std::pair<std::string, std::string>> links_;  // (existing, new)
  int target_fd_ = -1;
  size_t max_batch_files_;         // files of a batch are open at once
  ThreadPool batch_runner_{1, 1};  // runs one batch beside the walk
  std::future<void> running_;      // the batch being restored
};

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

Result<void> Restorer::VerifyFile(int fd, const Node& node,
                                  const std::string& snap_path) {
  std::uint64_t offset = 0;
  std::uint64_t total = 0;
  for (const Id& id : node.content) {
    auto loc = repo_.Lookup(id);
    if (!loc)
      return MakeError(ErrorCode::kNotFound,
                       snap_path + ": blob " + id.Short() + " not indexed");
    Bytes buf(loc->raw_length);
    ASSIGN_OR_RETURN(size_t n, PreadFull(fd, buf, offset, snap_path));
    if (n < buf.size())
      return MakeError(ErrorCode::kCorruption,
                       snap_path + ": verify: file is short");
    offset += n;
    if (repo_.BlobId(buf) != id)
      return MakeError(ErrorCode::kCorruption,
                       snap_path + ": verify: content differs at offset " +
                           std::to_string(total));
    total += buf.size();
  }
  std::uint8_t extra;
  if (::pread(fd, &extra, 1, static_cast<off_t>(offset)) != 0)
    return MakeError(ErrorCode::kCorruption,
                     snap_path + ": verify: file is longer than the snapshot");
  return Ok();
}

Result<void> Restorer::CreateFile(FileJob& f) {
  const int flags = O_RDWR | O_CREAT | O_EXCL;
  int fd = OpenBeneath(target_fd_, f.rel, flags, 0600);
  if (fd < 0 && errno == EEXIST) {
    int dfd = OpenBeneath(target_fd_, Parent(f.rel), O_RDONLY | O_DIRECTORY);
    if (dfd < 0) return PosixError(f.snap_path, errno);
    int r = ::unlinkat(dfd, f.node.name.c_str(), 0);
    int err = errno;
    ::close(dfd);
    if (r != 0) return PosixError(f.snap_path, err);
    fd = OpenBeneath(target_fd_, f.rel, flags, 0600);
  }
  if (fd < 0) return PosixError(f.snap_path, errno);
  f.fd = fd;
  return Ok();
}

Result<void> Restorer::WriteAt(FileJob& f, std::uint64_t offset,
                               ByteSpan data) {
  const int fd = f.fd;
  // With --sparse, 4 KiB blocks (aligned in the file) that are all zero are not
  // written; the final ftruncate leaves them as holes.
  const size_t kBlock = 4096;
  Result<void> status = Ok();
  size_t pos = 0;
  while (pos < data.size() && status) {
    size_t end = data.size();
    if (opts_.sparse) {
      size_t next = kBlock - static_cast<size_t>((offset + pos) % kBlock);
      end = std::min(data.size(), pos + next);
      if (AllZero(data.subspan(pos, end - pos))) {
        pos = end;
        continue;
      }
      while (end < data.size()) {  // extend over following non-zero blocks
        size_t stop = std::min(data.size(), end + kBlock);
        if (AllZero(data.subspan(end, stop - end))) break;
        end = stop;
      }
    }
    status =
        PwriteFull(fd, data.subspan(pos, end - pos), offset + pos, f.snap_path);
    pos = end;
  }
  return status;
}

void Restorer::FailFile(FileJob& f, const Error& e) {
  std::lock_guard lock(mu_);
  if (!f.error) f.error = e;
  f.failed = true;
}

void Restorer::PieceDone(FileJob& f) {
  if (f.remaining.fetch_sub(1) == 1) FinishFile(f);
}

void Restorer::FinishFile(FileJob& f) {
  auto remove = [&] {
    // Never leave a silently damaged file behind.
    int dfd = OpenBeneath(target_fd_, Parent(f.rel), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      ::unlinkat(dfd, f.node.name.c_str(), 0);
      ::close(dfd);
    }
  };
  const int fd = std::exchange(f.fd, -1);
  if (f.failed) {
    if (fd >= 0) ::close(fd);
    if (f.error && f.error->code != ErrorCode::kCancelled)
      ReportError(f.snap_path, *f.error);
    remove();
    return;
  }
  Result<void> status = Ok();
  if (fd < 0) status = MakeError(ErrorCode::kIo, f.snap_path + ": not created");
  std::uint64_t size = f.bytes.load();
  if (status && ::ftruncate(fd, static_cast<off_t>(size)) != 0)
    status = PosixError(f.snap_path, errno);
  if (status && opts_.verify) {
    status = VerifyFile(fd, f.node, f.snap_path);
    if (status) {
      std::lock_guard lock(mu_);
      ++result_.verified;
    }
  }
  if (!status) {
    if (fd >= 0) ::close(fd);
    ReportError(f.snap_path, status.error());
    remove();
    return;
  }
  ApplyMeta(fd, -1, f.node.name, f.node, f.snap_path);
  ::close(fd);
  std::lock_guard lock(mu_);
  ++result_.files;
  result_.bytes += size;
  if (opts_.progress) ++opts_.progress->files;
}

std::vector<std::pair<size_t, size_t>> Restorer::PlanRanges(
    std::vector<Piece>& pieces) {
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return a.loc.offset < b.loc.offset;
  });
  // Neighbouring blobs with small gaps are read in one request, of up to
  // 4 MiB: a pack holding thousands of small files is then restored by
  // several workers at once, and each of its bytes is still fetched once.
  constexpr std::uint64_t kMaxGap = 1 << 20, kMaxRange = 4 << 20;
  std::vector<std::pair<size_t, size_t>> ranges;
  size_t i = 0;
  while (i < pieces.size()) {
    std::uint64_t begin = pieces[i].loc.offset;
    std::uint64_t end = begin + pieces[i].loc.length;
    size_t j = i + 1;
    while (j < pieces.size() && pieces[j].loc.offset <= end + kMaxGap &&
           pieces[j].loc.offset + pieces[j].loc.length - begin <= kMaxRange) {
      end = std::max<std::uint64_t>(
          end, pieces[j].loc.offset + pieces[j].loc.length);
      ++j;
    }
    ranges.emplace_back(i, j);
    i = j;
  }
  return ranges;
}

void Restorer::RestoreRange(const Id& pack, std::vector<Piece>& pieces,
                            size_t i, size_t j) {
  std::uint64_t begin = pieces[i].loc.offset, end = begin;
  for (size_t p = i; p < j; ++p)
    end = std::max<std::uint64_t>(end,
                                  pieces[p].loc.offset + pieces[p].loc.length);
  Result<Bytes> range = MakeError(ErrorCode::kCancelled, "interrupted");
  if (!Cancelled()) {
    range = repo_.LoadPackRange(pack, begin, end - begin);
    if (!range) range = range.error().Wrap("pack " + pack.Hex());
  }
  if (!range && range.error().code != ErrorCode::kCancelled &&
      pieces[i].id != pieces[j - 1].id) {
    // A damaged (e.g. truncated) pack: read blob by blob to save what is
    // intact.
    while (i < j) {
      size_t m = i;
      while (m < j && pieces[m].id == pieces[i].id) ++m;
      RestoreRange(pack, pieces, i, m);
      i = m;
    }
    return;
  }
  // Pieces of the same blob are adjacent after sorting: decode each blob once.
  size_t k = i;
  while (k < j) {
    size_t m = k;
    while (m < j && pieces[m].id == pieces[k].id) ++m;
    Result<Bytes> blob =
        range ? repo_.DecodeBlob(
                    pieces[k].id, pieces[k].loc,
                    ByteSpan(*range).subspan(pieces[k].loc.offset - begin,
                                             pieces[k].loc.length))
              : Result<Bytes>(range.error());
    for (size_t p = k; p < m; ++p) {
      FileJob& f = *pieces[p].file;
      if (!blob) {
        FailFile(f, blob.error().Wrap(f.snap_path));
      } else if (!f.failed) {
        auto w = WriteAt(f, pieces[p].offset, *blob);
        if (!w)
          FailFile(f, w.error());
        else if (opts_.progress)
          opts_.progress->bytes += blob->size();
      }
      PieceDone(f);
    }
    k = m;
  }
}

void Restorer::RunBatch() {
  if (batch_.empty()) return;
  // One batch runs while the walk assembles the next (loading trees, making
  // directories): the walk waits only when a second batch is ready.
  WaitBatch();
  running_ = batch_runner_.Submit([this, batch = std::move(batch_)]() mutable {
    ExecuteBatch(std::move(batch));
  });
  batch_.clear();
  batch_bytes_ = 0;
}

void Restorer::WaitBatch() {
  if (running_.valid()) running_.get();
}

void Restorer::ExecuteBatch(std::vector<std::unique_ptr<FileJob>> batch) {
  // Create all files in parallel (on a network file system each create is a
  // round trip).
  std::vector<std::future<void>> creates;
  for (auto& f : batch) {
    FileJob* fp = f.get();
    creates.push_back(pool_.Submit([this, fp] {
      auto r = CreateFile(*fp);
      if (!r) FailFile(*fp, r.error());
    }));
  }
  for (auto& c : creates) c.get();
  // Plan: which pieces each pack provides.
  std::map<Id, std::vector<Piece>> by_pack;
  std::vector<FileJob*> ready;
  for (auto& f : batch) {
    f->remaining = f->node.content.size() + 1;  // +1: released after planning
    std::uint64_t offset = 0;
    for (const Id& id : f->node.content) {
      auto loc = repo_.Lookup(id);
      if (!loc) {
        FailFile(*f, MakeError(ErrorCode::kNotFound,
                               f->snap_path + ": blob " + id.Hex() +
                                   " is not in the index"));
        f->remaining.fetch_sub(1);
        continue;
      }
      by_pack[loc->pack].push_back({id, *loc, f.get(), offset});
      offset += loc->raw_length;
    }
    f->bytes = offset;
    ready.push_back(f.get());
  }
  std::vector<std::future<void>> packs;
  for (auto& [pack, pieces] : by_pack) {
    for (auto [i, j] : PlanRanges(pieces)) {
      packs.push_back(pool_.Submit([this, p = pack, pcs = &pieces, i, j] {
        RestoreRange(p, *pcs, i, j);
      }));
    }
  }
  for (FileJob* f : ready) PieceDone(*f);  // files with no pieces finish here
  for (auto& p : packs) p.get();
}

void Restorer::QueueFile(const Node& node, const std::string& snap_path,
                         const std::string& rel) {
  auto f = std::make_unique<FileJob>();
  f->rel = rel;
  f->snap_path = snap_path;
  f->node = node;
  batch_bytes_ += node.size;
  batch_.push_back(std::move(f));
  // Bounded batches keep memory bounded whatever the tree size.
  if (batch_.size() >= max_batch_files_ || batch_bytes_ >= (1ULL << 30))
    RunBatch();
}

void Restorer::RestoreNode(int dirfd, const Node& node,
                           const std::string& snap_path,
                           const std::string& rel) {
  const char* name = node.name.c_str();
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
    ReportError(snap_path.empty() ? "/" : snap_path, tree.error());
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
      if (selected) RestoreNode(dirfd, node, child_snap, child_rel);
      continue;
    }
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
  if (!opts_.dry_run) RETURN_IF_ERROR(MakeDirs(opts_.target, 0755));
  target_fd_ = ::open(opts_.target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (target_fd_ < 0) return PosixError(opts_.target, errno);
  Result<void> walked = Ok();
  if (start.type == NodeType::kDir && !base.empty()) {
    // The target takes the metadata of the restored directory (like rsync src/
    // dst/).
    dirs_.push_back({".", start});
  }
  if (start.type == NodeType::kDir) {
    walked = RestoreTree(target_fd_, *start.subtree, base, "", false);
  } else {
    bool descend = false;
    if (Selected(base, false, &descend))
      RestoreNode(target_fd_, start, base, start.name);
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
  ::close(target_fd_);
  if (auto refusal = errors_.refusal()) return *refusal;
  RETURN_IF_ERROR(walked);
  if (Cancelled()) return MakeError(ErrorCode::kCancelled, "interrupted");
  return result_;
}

}  // namespace

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
