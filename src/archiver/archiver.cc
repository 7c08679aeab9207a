#include "archiver/archiver.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <semaphore>
#include <thread>

#include "base/file_util.h"
#include "base/test_hooks.h"
#include "base/thread_pool.h"
#include "pattern/pattern.h"

namespace efs2s3::archiver {

using model::Node;
using model::NodeType;
using model::Tree;

namespace {

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

model::Timespec Ts(const struct timespec& t) {
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

// Reads all extended attributes. fd >= 0 uses f*xattr, else l*xattr on path.
Result<std::vector<std::pair<std::string, std::string>>> ReadXattrs(
    int fd, const std::string& path) {
  std::vector<std::pair<std::string, std::string>> out;
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

int Cores() {
  static const int n =
      std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return n;
}

// Reads a large file ahead of the chunker with several preads in flight, so one
// big file on a network file system is not limited to one round trip at a time.
class ReadAhead {
 public:
  ReadAhead(ThreadPool& pool, int fd, size_t block, size_t depth)
      : pool_(pool), fd_(fd), block_(block), depth_(depth) {}
  ~ReadAhead() {
    for (auto& f : queue_) f.wait();  // tasks use fd_
  }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The next block in file order; empty at the end of the file.
  Result<Bytes> Next() {
    if (done_) return Bytes{};
    Fill();
    Result<Bytes> r = queue_.front().get();
    queue_.pop_front();
    if (!r || r->size() < block_) done_ = true;  // a short block is the end
    return r;
  }

 private:
  void Fill() {
    while (queue_.size() < depth_) {
      std::uint64_t off = next_;
      next_ += block_;
      queue_.push_back(
          pool_.Submit([fd = fd_, off, n = block_]() -> Result<Bytes> {
            Bytes b(n);
            size_t got = 0;
            while (got < n) {
              ssize_t r = ::pread(fd, b.data() + got, n - got,
                                  static_cast<off_t>(off + got));
              if (r < 0 && errno == EINTR) continue;
              if (r < 0) return PosixError("read", errno);
              if (r == 0) break;
              got += static_cast<size_t>(r);
            }
            b.resize(got);
            return b;
          }));
    }
  }
  ThreadPool& pool_;
  int fd_;
  size_t block_, depth_;
  std::uint64_t next_ = 0;
  bool done_ = false;
  std::deque<std::future<Result<Bytes>>> queue_;
};

// What the parent snapshot(s) hold for an entry: `node` from the parent, and
// `fallback` from the last complete snapshot when the parent is partial (an
// interrupted run or a checkpoint holds only what it reached).
struct ParentRef {
  const Node* node = nullptr;
  const Node* fallback = nullptr;
  const Node* any() const { return node ? node : fallback; }
};

class Archiver {
 public:
  Archiver(repo::Repository& repo, const BackupOptions& opts)
      : repo_(repo),
        opts_(opts),
        pool_(std::max(1, opts.readers), 4096),
        read_ahead_pool_(std::max(4, opts.readers), 256),
        cpu_pool_(Cores(), static_cast<size_t>(Cores())),
        walker_slots_(std::max(0, opts.walkers - 1)),
        large_file_slots_(std::max(2, Cores())) {}

  Result<BackupResult> Run();

 private:
  struct Counters {
    std::atomic<std::uint64_t> files_new{0}, files_changed{0},
        files_unchanged{0};
    std::atomic<std::uint64_t> dirs_new{0}, dirs_changed{0}, dirs_unchanged{0};
    std::atomic<std::uint64_t> other{0}, errors{0}, bytes_read{0},
        bytes_total{0};
    std::atomic<std::uint64_t> bytes_added{0}, bytes_stored{0}, blobs_added{0};
  };

  bool Cancelled() const { return opts_.cancel && opts_.cancel->load(); }
  void ReportError(const std::string& path, const Error& e) {
    ++counters_.errors;
    if (opts_.progress) ++opts_.progress->errors;
    if (opts_.on_error) opts_.on_error(path, e);
  }

  std::string UserName(std::uint32_t uid);
  std::string GroupName(std::uint32_t gid);
  Node NodeFromStat(const std::string& name, const struct stat& st);
  // Fills a node for dirfd/name. Returns nullopt (after reporting) if the entry
  // cannot be read and should be left out.
  std::optional<Node> SaveEntry(int dirfd, const std::string& name,
                                const std::string& path, ParentRef parent,
                                dev_t root_dev, bool* is_dir,
                                struct stat* st_out = nullptr);
  Result<void> SaveFileContent(int fd, const std::string& path, Node& node);
  Result<Node> SaveDir(int dirfd, const std::string& name,
                       const std::string& path, ParentRef parent,
                       dev_t root_dev, const struct stat& st);
  Result<Id> SaveDirContents(int fd, const std::string& path, ParentRef parent,
                             dev_t root_dev);
  std::optional<Tree> LoadParentTree(const Node* parent);

  // Checkpoints (BackupOptions::checkpoint_interval). What is complete and
  // not yet part of a completed directory is kept in `done_` (files, and
  // directories whose own directory is still being read); the directories
  // being read are in `open_`. A checkpoint builds trees from the two.
  void Opened(const std::string& path, const Node& node);
  void Done(const std::string& path, const Node& node);
  void Abandoned(const std::string& path);
  Result<void> WriteCheckpoint();
  model::Snapshot MakeSnapshot(Id tree, bool partial);

  repo::Repository& repo_;
  const BackupOptions& opts_;
  ThreadPool pool_;
  ThreadPool read_ahead_pool_;  // preads of large files; its tasks never wait
  // Chunks of large files are hashed, compressed and sealed here, several at
  // once, so that one large file keeps every core busy. Its tasks wait only for
  // upload slots.
  ThreadPool cpu_pool_;
  std::counting_semaphore<4096> walker_slots_;
  // Large files read at once: each holds up to ~30 MiB of buffers, and one
  // already keeps the CPU pool busy.
  std::counting_semaphore<256> large_file_slots_;
  Counters counters_;
  std::mutex names_mu_;
  std::map<std::uint32_t, std::string> users_, groups_;
  bool track_ = false;  // checkpoints on
  std::mutex frontier_mu_;
  std::map<std::string, Node> done_, open_;  // guarded by frontier_mu_
  std::optional<Id> last_checkpoint_;
  int checkpoints_ = 0;
  std::vector<std::string> abs_paths_;
  std::chrono::steady_clock::time_point start_;
};

std::string Archiver::UserName(std::uint32_t uid) {
  std::lock_guard lock(names_mu_);
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

std::string Archiver::GroupName(std::uint32_t gid) {
  std::lock_guard lock(names_mu_);
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

Node Archiver::NodeFromStat(const std::string& name, const struct stat& st) {
  Node n;
  n.name = name;
  n.type = *TypeOf(st.st_mode);
  n.mode = st.st_mode & 07777;
  n.uid = st.st_uid;
  n.gid = st.st_gid;
  n.user = UserName(st.st_uid);
  n.group = GroupName(st.st_gid);
  n.mtime = Ts(st.st_mtim);
  n.atime = Ts(st.st_atim);
  n.ctime = Ts(st.st_ctim);
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

std::optional<Tree> Archiver::LoadParentTree(const Node* parent) {
  if (!parent || parent->type != NodeType::kDir || !parent->subtree)
    return std::nullopt;
  auto t = repo_.LoadTree(*parent->subtree);
  if (!t) return std::nullopt;  // a damaged parent only costs re-reading
  return std::move(*t);
}

Result<void> Archiver::SaveFileContent(int fd, const std::string& path,
                                       Node& node) {
  const codec::Chunker& chunker = repo_.chunker();
  size_t max = chunker.params().max_size;
  // Files of at least 4 maximum chunks are large: read ahead (4 blocks of
  // 2 MiB in flight), and their chunks go to the CPU pool, a window of them at
  // a time, so hashing, compressing and sealing run on every core.
  const bool large = node.size >= 4ULL * max;
  std::optional<ReadAhead> ahead;
  struct SlotGuard {
    std::counting_semaphore<256>* sem = nullptr;
    ~SlotGuard() {
      if (sem) sem->release();
    }
  } slot;
  if (large) {
    large_file_slots_.acquire();
    slot.sem = &large_file_slots_;
    ahead.emplace(read_ahead_pool_, fd, 2u << 20, 4);
  }
  const size_t window = static_cast<size_t>(2 * Cores());
  std::deque<std::future<Result<repo::SaveBlobResult>>> pending;
  auto account = [&](const repo::SaveBlobResult& r, size_t raw) {
    if (r.added) {
      ++counters_.blobs_added;
      counters_.bytes_added += raw;
      counters_.bytes_stored += r.stored_size;
    }
    node.content.push_back(r.id);
  };
  std::deque<size_t> pending_sizes;
  auto drain_one = [&]() -> Result<void> {
    Result<repo::SaveBlobResult> r = pending.front().get();
    pending.pop_front();
    size_t raw = pending_sizes.front();
    pending_sizes.pop_front();
    if (!r) return r.error();
    account(*r, raw);
    return Ok();
  };
  struct Drain {  // tasks in flight finish before this frame goes away
    std::deque<std::future<Result<repo::SaveBlobResult>>>* q;
    ~Drain() {
      for (auto& f : *q) f.wait();
    }
  } drain{&pending};

  // The buffer holds the chunk being cut and the last block read: blocks of
  // 1 MiB (2 MiB from the read-ahead of a large file) are read only when the
  // bytes in hand hold no cut, and consumed bytes are dropped before the next
  // read. A reader so holds about two average chunks, not two maximum ones.
  constexpr size_t kBlock = 1u << 20;
  Bytes buf;
  size_t start = 0;    // buf[start, size) is not yet chunked
  size_t scanned = 0;  // buf[start, start + scanned) holds no cut
  buf.reserve(static_cast<size_t>(
      std::min<std::uint64_t>(node.size + 1, (large ? 4 : 2) * kBlock)));
  bool eof = false;
  bool need = true;  // the bytes in hand hold no cut
  std::uint64_t total = 0;
  node.content.clear();
  auto got = [&](size_t n) {
    total += n;
    counters_.bytes_read += n;
    if (opts_.progress) {
      opts_.progress->bytes_read += n;
      opts_.progress->bytes_done += n;
    }
  };
  for (;;) {
    if (Cancelled()) return MakeError(ErrorCode::kCancelled, "interrupted");
    if (need && !eof) {
      if (start > 0) {  // moves the tail after the last cut, once
        buf.erase(buf.begin(), buf.begin() + static_cast<long>(start));
        start = 0;
      }
      if (ahead) {
        auto block = ahead->Next();
        if (!block) return block.error().Wrap(path);
        if (block->empty()) eof = true;
        buf.insert(buf.end(), block->begin(), block->end());
        got(block->size());
      } else {
        // What the file still holds (plus a little, to see EOF or growth),
        // so that a small file costs one read and no zero-filled block.
        std::uint64_t expect_left = total < node.size ? node.size - total : 0;
        size_t want = static_cast<size_t>(
            std::clamp<std::uint64_t>(expect_left + 1, 65536, kBlock));
        size_t old = buf.size();
        buf.resize(old + want);
        ssize_t n = ::read(fd, buf.data() + old, want);
        if (n < 0) {
          buf.resize(old);
          if (errno == EINTR) continue;
          return PosixError(path, errno);
        }
        buf.resize(old + static_cast<size_t>(n));
        if (n == 0) eof = true;
        got(static_cast<size_t>(n));
      }
      need = false;
    }
    if (start == buf.size()) {
      if (eof) break;
      need = true;
      continue;
    }
    ByteSpan rest(buf.data() + start, buf.size() - start);
    size_t cut = chunker.NextCut(rest, eof, scanned);
    if (cut == 0) {
      scanned = rest.size();
      need = true;
      continue;
    }
    ByteSpan chunk = rest.first(cut);
    start += cut;
    scanned = 0;
    if (opts_.dry_run) {
      node.content.push_back(repo_.BlobId(chunk));
    } else if (large) {
      pending.push_back(
          cpu_pool_.Submit([this, c = Bytes(chunk.begin(), chunk.end())] {
            return repo_.SaveBlob(repo::BlobType::kData, c);
          }));
      pending_sizes.push_back(cut);
      while (pending.size() > window) RETURN_IF_ERROR(drain_one());
    } else {
      ASSIGN_OR_RETURN(repo::SaveBlobResult r,
                       repo_.SaveBlob(repo::BlobType::kData, chunk));
      account(r, cut);
    }
  }
  while (!pending.empty()) RETURN_IF_ERROR(drain_one());
  if (total != node.size) {
    std::uint64_t expected = node.size;
    node.size = total;
    return MakeError(ErrorCode::kIo,
                     path + ": file changed size while being read (" +
                         std::to_string(expected) + " -> " +
                         std::to_string(total) + " bytes)");
  }
  return Ok();
}

// An entry whose only change since the parent snapshot is its access time (a
// directory someone listed, a symlink whose target someone read, this backup's
// own readlink included) keeps the parent's node: otherwise every read would
// store a new tree for its directory and for each directory above it. The
// atime recorded is the one of the last backup in which anything else about the
// entry changed.
static void KeepAtimeOfParent(Node& node, ParentRef parents) {
  for (const Node* p : {parents.node, parents.fallback}) {
    if (!p || p->type != node.type || p->atime == node.atime) continue;
    Node same = node;
    same.atime = p->atime;
    if (same == *p) {
      node.atime = p->atime;
      return;
    }
  }
}

std::optional<Node> Archiver::SaveEntry(int dirfd, const std::string& name,
                                        const std::string& path,
                                        ParentRef parents, dev_t /*root_dev*/,
                                        bool* is_dir, struct stat* st_out) {
  *is_dir = false;
  if (Cancelled())
    return std::nullopt;  // interrupted: left out of the partial snapshot
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    ReportError(path, PosixError(path, errno));
    return std::nullopt;
  }
  if (st_out) *st_out = st;
  if (!TypeOf(st.st_mode)) {
    ReportError(path, MakeError(ErrorCode::kUnsupported,
                                path + ": unsupported file type"));
    return std::nullopt;
  }
  Node node = NodeFromStat(name, st);
  switch (node.type) {
    case NodeType::kDir:
      *is_dir = true;
      return node;  // the caller recurses
    case NodeType::kSymlink: {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      for (;;) {
        ssize_t n =
            ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
        if (n < 0) {
          ReportError(path, PosixError(path, errno));
          return std::nullopt;
        }
        if (static_cast<size_t>(n) < target.size()) {
          target.resize(static_cast<size_t>(n));
          break;
        }
        target.resize(target.size() * 2);
      }
      node.link_target = target;
      break;
    }
    case NodeType::kFile:
      break;
    default:
      ++counters_.other;
      break;
  }
  if (node.type != NodeType::kFile) {
    auto x = ReadXattrs(-1, path);
    if (x) node.xattrs = std::move(*x);
    KeepAtimeOfParent(node, parents);
    return node;
  }
  counters_.bytes_total += node.size;
  if (opts_.progress) ++opts_.progress->files;
  // Unchanged since the parent snapshot: one stat, no open.
  auto unchanged = [&](const Node* p) {
    return p && p->type == NodeType::kFile && p->size == node.size &&
           p->mtime == node.mtime && p->ctime == node.ctime &&
           p->inode == node.inode &&
           std::all_of(p->content.begin(), p->content.end(),
                       [&](const Id& id) { return repo_.HasBlob(id); });
  };
  const Node* parent = unchanged(parents.node)       ? parents.node
                       : unchanged(parents.fallback) ? parents.fallback
                                                     : nullptr;
  if (parent) {
    node.content = parent->content;
    node.xattrs = parent->xattrs;
    // A read is not a change (see KeepAtimeOfParent); unchanged files have
    // the same ctime, so only the atime can differ.
    node.atime = parent->atime;
    ++counters_.files_unchanged;
    if (opts_.progress) opts_.progress->bytes_done += node.size;
    return node;
  }
  int fd = ::openat(dirfd, name.c_str(),
                    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM)
    fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    ReportError(path, PosixError(path, errno));
    return std::nullopt;
  }
  FdCloser closer(fd);
  auto x = ReadXattrs(fd, path);
  if (x) node.xattrs = std::move(*x);
  auto saved = SaveFileContent(fd, path, node);
  if (!saved) {
    if (saved.error().code == ErrorCode::kCancelled) return std::nullopt;
    ReportError(path, saved.error());
    if (node.content.empty() && node.size > 0) return std::nullopt;
    // Changed while read: keep what was read, already reported.
  }
  if (parents.any() && parents.any()->type == NodeType::kFile)
    ++counters_.files_changed;
  else
    ++counters_.files_new;
  // Lets a test interrupt a backup that has saved a file and has more to do.
  test_hooks::Gate("BACKUP_FILE_SAVED");
  return node;
}

Result<Id> Archiver::SaveDirContents(int fd, const std::string& path,
                                     ParentRef parent, dev_t root_dev) {
  int dup = ::dup(fd);
  DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
  if (!d) {
    if (dup >= 0) ::close(dup);
    return PosixError(path, errno);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.push_back(std::move(n));
  }
  int err = errno;
  ::closedir(d);
  if (err) return PosixError(path, err);
  std::sort(names.begin(), names.end());
  // Lets a test change the first directory between its listing and its entries.
  test_hooks::Gate("BACKUP_DIR_LISTED");

  std::optional<Tree> parent_tree = LoadParentTree(parent.node);
  std::optional<Tree> fallback_tree = LoadParentTree(parent.fallback);
  std::map<std::string, ParentRef> parent_nodes;
  if (fallback_tree)
    for (const Node& n : fallback_tree->nodes)
      parent_nodes[n.name].fallback = &n;
  if (parent_tree)
    for (const Node& n : parent_tree->nodes) parent_nodes[n.name].node = &n;
  auto parent_of = [&](const std::string& n) -> ParentRef {
    auto it = parent_nodes.find(n);
    return it == parent_nodes.end() ? ParentRef{} : it->second;
  };

  std::string prefix = path == "/" ? "/" : path + "/";
  struct EntryResult {
    std::optional<Node> node;
    bool is_dir = false;
    struct stat st {};
  };
  struct Pending {
    std::string name;
    std::future<EntryResult> fut;
  };
  std::vector<Pending> jobs;
  for (const std::string& n : names) {
    std::string child = prefix + n;
    if (pattern::IsExcluded(opts_.excludes, child)) continue;
    ParentRef pn = parent_of(n);
    jobs.push_back({n, pool_.Submit([this, fd, n, child, pn, root_dev] {
                      EntryResult r;
                      r.node = SaveEntry(fd, n, child, pn, root_dev, &r.is_dir,
                                         &r.st);
                      return r;
                    })});
  }
  // Subdirectories run on walker threads while slots are free, else inline.
  struct SubDir {
    size_t slot;  // position in `results`
    std::future<Result<Node>> fut;
  };
  std::vector<std::optional<Node>> results(jobs.size());
  std::vector<SubDir> subdirs;
  Result<void> failure = Ok();
  auto take_dir = [&](size_t slot, const std::string& child, Result<Node> sub) {
    if (sub) {
      results[slot] = std::move(*sub);
      return;
    }
    ErrorCode c = sub.error().code;
    if (c == ErrorCode::kCancelled) return;  // left out of the partial snapshot
    if (c == ErrorCode::kNotFound || c == ErrorCode::kPermission ||
        c == ErrorCode::kIo) {
      ReportError(child, sub.error());
    } else if (failure) {
      failure = sub.error();
    }
  };
  for (size_t i = 0; i < jobs.size(); ++i) {
    EntryResult e = jobs[i].fut.get();
    if (!e.node) continue;
    if (!e.is_dir) {
      results[i] = std::move(e.node);
      Done(prefix + jobs[i].name, *results[i]);
      continue;
    }
    if (Cancelled()) continue;  // do not descend further once interrupted
    const std::string& n = jobs[i].name;
    std::string child = prefix + n;
    ParentRef pn = parent_of(n);
    if (walker_slots_.try_acquire()) {
      subdirs.push_back(
          {i, std::async(std::launch::async,
                         [this, fd, n, child, pn, root_dev, st = e.st] {
                           auto r = SaveDir(fd, n, child, pn, root_dev, st);
                           walker_slots_.release();
                           return r;
                         })});
    } else {
      take_dir(i, child, SaveDir(fd, n, child, pn, root_dev, e.st));
    }
  }
  for (SubDir& sd : subdirs)
    take_dir(sd.slot, prefix + jobs[sd.slot].name, sd.fut.get());
  RETURN_IF_ERROR(failure);
  Tree tree;
  for (auto& r : results)
    if (r) tree.nodes.push_back(std::move(*r));
  // When interrupted, the tree holds what was completed: it becomes part of a
  // partial snapshot that the next run uses as its parent.
  // Nothing below changed: reuse the parent's tree without encoding it again.
  if (parent_tree && parent.node->subtree && tree.nodes == parent_tree->nodes)
    return *parent.node->subtree;
  if (fallback_tree && parent.fallback->subtree &&
      tree.nodes == fallback_tree->nodes)
    return *parent.fallback->subtree;
  if (opts_.dry_run) return repo_.BlobId(model::EncodeTree(tree));
  return repo_.SaveTree(tree);
}

Result<Node> Archiver::SaveDir(int dirfd, const std::string& name,
                               const std::string& path, ParentRef parents,
                               dev_t root_dev, const struct stat& st) {
  Node node = NodeFromStat(name, st);
  if (opts_.progress) ++opts_.progress->dirs;
  // O_NOATIME: reading a directory must not change what the next backup sees
  // (under relatime its first read after a change sets its atime, so every
  // directory a backup reads would differ from the snapshot just taken).
  int fd =
      ::openat(dirfd, name.c_str(),
               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM)  // not the owner, without CAP_FOWNER
    fd = ::openat(dirfd, name.c_str(),
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return PosixError(path, errno);
  FdCloser closer(fd);
  auto x = ReadXattrs(fd, path);
  if (x) node.xattrs = std::move(*x);
  if (opts_.one_file_system && st.st_dev != root_dev) {
    // A mount point: recorded as an empty directory.
    ASSIGN_OR_RETURN(node.subtree,
                     opts_.dry_run
                         ? Result<Id>(repo_.BlobId(model::EncodeTree({})))
                         : repo_.SaveTree({}));
    Done(path, node);
    return node;
  }
  Opened(path, node);
  auto contents = SaveDirContents(fd, path, parents, root_dev);
  if (!contents) {
    Abandoned(path);
    return contents.error();
  }
  node.subtree = *contents;
  KeepAtimeOfParent(node, parents);
  Done(path, node);
  const Node* parent = parents.any();
  if (!parent || parent->type != NodeType::kDir)
    ++counters_.dirs_new;
  else if (parent->subtree == node.subtree)
    ++counters_.dirs_unchanged;
  else
    ++counters_.dirs_changed;
  return node;
}

// Intermediate directories of the backup paths, as a trie of components.
struct PathTrie {
  bool target = false;
  std::map<std::string, PathTrie> children;
};

void Archiver::Opened(const std::string& path, const Node& node) {
  if (!track_) return;
  std::lock_guard lock(frontier_mu_);
  open_[path] = node;
}

// Erases the entries below `path` ("path/..."): '0' follows '/' in ASCII.
template <class Map>
void EraseBelow(Map& m, const std::string& path) {
  std::string lo = path == "/" ? "/" : path + "/";
  std::string hi = path == "/" ? "0" : path + "0";
  m.erase(m.lower_bound(lo), m.lower_bound(hi));
}

void Archiver::Done(const std::string& path, const Node& node) {
  if (!track_) return;
  std::lock_guard lock(frontier_mu_);
  open_.erase(path);
  if (node.type == NodeType::kDir) EraseBelow(done_, path);
  done_[path] = node;
}

void Archiver::Abandoned(const std::string& path) {
  if (!track_) return;
  std::lock_guard lock(frontier_mu_);
  open_.erase(path);
  EraseBelow(done_, path);
}

namespace {
std::string ParentPath(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}
}  // namespace

model::Snapshot Archiver::MakeSnapshot(Id tree, bool partial) {
  model::Snapshot snap;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  snap.time_ns = opts_.time_ns.value_or(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  if (opts_.hostname.empty()) {
    char buf[256] = {0};
    ::gethostname(buf, sizeof buf - 1);
    snap.hostname = buf;
  } else {
    snap.hostname = opts_.hostname;
  }
  snap.username = UserName(::getuid());
  snap.paths = abs_paths_;
  snap.tags = opts_.tags;
  if (partial) snap.tags.push_back("partial");
  snap.excludes = opts_.excludes;
  snap.tree = tree;
  snap.parent = opts_.parent;
  snap.program_version = EFS2S3_VERSION;
  model::SnapshotSummary& m = snap.summary;
  m.files_new = counters_.files_new;
  m.files_changed = counters_.files_changed;
  m.files_unchanged = counters_.files_unchanged;
  m.dirs_new = counters_.dirs_new;
  m.dirs_changed = counters_.dirs_changed;
  m.dirs_unchanged = counters_.dirs_unchanged;
  m.other_nodes = counters_.other;
  m.errors = counters_.errors;
  m.bytes_read = counters_.bytes_read;
  m.bytes_total = counters_.bytes_total;
  m.bytes_added = counters_.bytes_added;
  m.bytes_stored = counters_.bytes_stored;
  m.blobs_added = counters_.blobs_added;
  m.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  return snap;
}

// A partial snapshot of what is complete so far: the completed entries of the
// directories being read, in trees built for those directories. Every blob it
// names is made durable and indexed (Repository::Checkpoint) before the
// snapshot is saved, so a run killed afterwards resumes from it.
Result<void> Archiver::WriteCheckpoint() {
  std::map<std::string, Node> done, open;
  {
    std::lock_guard lock(frontier_mu_);
    done = done_;
    open = open_;
  }
  std::map<std::string, std::vector<Node>> kids;
  for (auto& [path, node] : done) kids[ParentPath(path)].push_back(node);
  std::vector<std::string> dirs;
  for (const auto& entry : open) dirs.push_back(entry.first);
  // Deepest first, so every directory's subdirectories are built before it.
  auto depth = [](const std::string& p) {
    return std::count(p.begin(), p.end(), '/');
  };
  std::stable_sort(dirs.begin(), dirs.end(),
                   [&](const std::string& a, const std::string& b) {
                     return depth(a) > depth(b);
                   });
  auto build = [&](const std::string& dir) -> Result<Id> {
    Tree tree;
    auto it = kids.find(dir);
    if (it != kids.end()) tree.nodes = std::move(it->second);
    std::sort(tree.nodes.begin(), tree.nodes.end(),
              [](const Node& a, const Node& b) { return a.name < b.name; });
    return repo_.SaveTree(tree);
  };
  for (const std::string& dir : dirs) {
    Node n = open[dir];
    ASSIGN_OR_RETURN(n.subtree, build(dir));
    kids[ParentPath(dir)].push_back(std::move(n));
  }
  ASSIGN_OR_RETURN(Id root, build("/"));
  RETURN_IF_ERROR(repo_.Checkpoint());
  ASSIGN_OR_RETURN(Id id, repo_.SaveSnapshot(MakeSnapshot(root, true)));
  if (last_checkpoint_)
    (void)repo_.backend().Remove(
        {storage::ObjectType::kSnapshot, last_checkpoint_->Hex()});
  last_checkpoint_ = id;
  ++checkpoints_;
  if (opts_.on_checkpoint) opts_.on_checkpoint(id);
  // Lets a test kill a backup that has just saved its Nth checkpoint.
  test_hooks::Gate(fmt::format("CHECKPOINT_{}", checkpoints_));
  return Ok();
}

Result<BackupResult> Archiver::Run() {
  start_ = std::chrono::steady_clock::now();
  track_ = !opts_.dry_run && opts_.checkpoint_interval.count() > 0;
  if (!opts_.dry_run)
    repo_.SetUploadConcurrency(
        opts_.uploads > 0 ? opts_.uploads : repo_.backend().Concurrency());
  std::vector<std::string>& abs_paths = abs_paths_;
  for (const std::string& p : opts_.paths) {
    std::error_code ec;
    std::filesystem::path a =
        std::filesystem::absolute(p, ec).lexically_normal();
    std::string s = a.string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    struct stat st {};
    if (::lstat(s.c_str(), &st) != 0) return PosixError(s, errno);
    abs_paths.push_back(s);
  }
  std::sort(abs_paths.begin(), abs_paths.end());
  abs_paths.erase(std::unique(abs_paths.begin(), abs_paths.end()),
                  abs_paths.end());
  PathTrie root;
  for (const std::string& p : abs_paths) {
    PathTrie* t = &root;
    for (const auto& comp : std::filesystem::path(p)) {
      std::string c = comp.string();
      if (c == "/" || c.empty()) continue;
      t = &t->children[c];
    }
    t->target = true;
  }
  // The parent's root tree, and the fallback's (the last complete snapshot,
  // when the parent is partial).
  struct Root {
    std::optional<Tree> tree;
    Node node;  // a directory node for "/"
  };
  auto load_root = [&](const std::optional<Id>& snap_id) {
    Root r;
    if (!snap_id) return r;
    auto ps = repo_.LoadSnapshot(*snap_id);
    if (!ps) return r;
    auto t = repo_.LoadTree(ps->tree);
    if (!t) return r;
    r.tree = std::move(*t);
    r.node.type = NodeType::kDir;
    r.node.subtree = ps->tree;
    return r;
  };
  Root parent_root = load_root(opts_.parent);
  Root fallback_root = load_root(opts_.fallback_parent);
  // Saves the trie below `dir_path` (already open as dirfd) into a tree.
  std::function<Result<Id>(const PathTrie&, int, const std::string&,
                           const Tree*, const Tree*)>
      save_trie = [&](const PathTrie& trie, int dirfd,
                      const std::string& dir_path, const Tree* parent_tree,
                      const Tree* fallback_tree) -> Result<Id> {
    if (trie.target) {
      struct stat st {};
      if (::fstat(dirfd, &st) != 0) return PosixError(dir_path, errno);
      ParentRef parent;
      if (dir_path == "/") {
        if (parent_root.tree) parent.node = &parent_root.node;
        if (fallback_root.tree) parent.fallback = &fallback_root.node;
      }
      return SaveDirContents(dirfd, dir_path, parent, st.st_dev);
    }
    Tree tree;
    for (const auto& [name, child] : trie.children) {
      std::string child_path = (dir_path == "/" ? "/" : dir_path + "/") + name;
      ParentRef pnode;
      if (parent_tree)
        for (const Node& n : parent_tree->nodes)
          if (n.name == name) pnode.node = &n;
      if (fallback_tree)
        for (const Node& n : fallback_tree->nodes)
          if (n.name == name) pnode.fallback = &n;
      struct stat st {};
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return PosixError(child_path, errno);
      if (child.target && !S_ISDIR(st.st_mode)) {
        bool is_dir = false;
        auto node =
            SaveEntry(dirfd, name, child_path, pnode, st.st_dev, &is_dir);
        if (node) {
          Done(child_path, *node);
          tree.nodes.push_back(std::move(*node));
        }
        continue;
      }
      if (!S_ISDIR(st.st_mode))
        return MakeError(ErrorCode::kInvalidArgument,
                         child_path + ": not a directory");
      if (child.target) {
        ASSIGN_OR_RETURN(
            Node n, SaveDir(dirfd, name, child_path, pnode, st.st_dev, st));
        tree.nodes.push_back(std::move(n));
        continue;
      }
      // An intermediate directory: its own metadata, only the chosen children.
      Node n = NodeFromStat(name, st);
      int fd =
          ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) return PosixError(child_path, errno);
      FdCloser closer(fd);
      std::optional<Tree> sub_parent = LoadParentTree(pnode.node);
      std::optional<Tree> sub_fallback = LoadParentTree(pnode.fallback);
      Opened(child_path, n);
      ASSIGN_OR_RETURN(
          n.subtree,
          save_trie(child, fd, child_path, sub_parent ? &*sub_parent : nullptr,
                    sub_fallback ? &*sub_fallback : nullptr));
      KeepAtimeOfParent(n, pnode);
      Done(child_path, n);
      tree.nodes.push_back(std::move(n));
    }
    if (opts_.dry_run) return repo_.BlobId(model::EncodeTree(tree));
    return repo_.SaveTree(tree);
  };
  int rootfd = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME);
  if (rootfd < 0 && errno == EPERM)
    rootfd = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return PosixError("/", errno);
  FdCloser closer(rootfd);

  // Checkpoints run beside the walk until it ends.
  std::mutex cp_mu;
  std::condition_variable cp_cv;
  bool walk_done = false;
  std::thread checkpointer;
  if (track_) {
    checkpointer = std::thread([&] {
      std::unique_lock lock(cp_mu);
      for (;;) {
        if (cp_cv.wait_for(lock, opts_.checkpoint_interval,
                           [&] { return walk_done; }))
          return;
        if (Cancelled()) continue;
        lock.unlock();
        auto r = WriteCheckpoint();
        if (!r) ReportError("(checkpoint)", r.error().Wrap("checkpoint"));
        lock.lock();
      }
    });
  }
  auto root_id = save_trie(root, rootfd, "/",
                           parent_root.tree ? &*parent_root.tree : nullptr,
                           fallback_root.tree ? &*fallback_root.tree : nullptr);
  if (checkpointer.joinable()) {
    {
      std::lock_guard lock(cp_mu);
      walk_done = true;
    }
    cp_cv.notify_all();
    checkpointer.join();
  }
  if (!root_id) {
    if (root_id.error().code == ErrorCode::kCancelled && !opts_.dry_run) {
      // Index what was uploaded so the next run does not upload it again.
      (void)repo_.Flush();
    }
    return root_id.error();
  }
  const bool partial = Cancelled();
  if (!opts_.dry_run) RETURN_IF_ERROR(repo_.Flush());

  BackupResult result;
  result.snapshot = MakeSnapshot(*root_id, partial);
  result.partial = partial;
  result.checkpoints = checkpoints_;
  if (opts_.dry_run) return result;
  ASSIGN_OR_RETURN(result.snapshot_id, repo_.SaveSnapshot(result.snapshot));
  // The last checkpoint is superseded by this snapshot.
  if (last_checkpoint_)
    (void)repo_.backend().Remove(
        {storage::ObjectType::kSnapshot, last_checkpoint_->Hex()});
  return result;
}

}  // namespace

Result<BackupResult> RunBackup(repo::Repository& repo,
                               const BackupOptions& options) {
  Archiver a(repo, options);
  return a.Run();
}

}  // namespace efs2s3::archiver
