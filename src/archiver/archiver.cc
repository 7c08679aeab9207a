#include "archiver/archiver.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "archiver/file_saver.h"
#include "archiver/frontier.h"
#include "archiver/parent.h"
#include "base/fd.h"
#include "base/test_hooks.h"
#include "fs/meta.h"
#include "fs/walk.h"
#include "pattern/pattern.h"

namespace efs2s3::archiver {

using model::Node;
using model::NodeType;
using model::Tree;

namespace {

// What the parent snapshot(s) hold for an entry: `node` from the parent, and
// `fallback` from the last complete snapshot when the parent is partial (an
// interrupted run or a checkpoint holds only what it reached).
struct ParentRef {
  const Node* node = nullptr;
  const Node* fallback = nullptr;
  const Node* any() const { return node ? node : fallback; }
};

// An entry whose only change since the parent snapshot is its access time (a
// directory someone listed, a symlink whose target someone read, this backup's
// own readlink included) keeps the parent's node: otherwise every read would
// store a new tree for its directory and for each directory above it. The
// atime recorded is the one of the last backup in which anything else about the
// entry changed.
void KeepAtimeOfParent(Node& node, ParentRef parents) {
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

// A directory being backed up: its own node, its nodes in the parent
// snapshot(s) and, once it is open, their trees, by name.
struct DirState {
  std::string path;
  Node node;
  ParentRef parents;
  std::optional<Tree> parent_tree, fallback_tree;
  std::map<std::string, ParentRef> children;
  // The device of the backup path it is below (--one-file-system).
  std::optional<dev_t> root_dev;
  bool tracked = false;  // in the checkpoint frontier
  // Shared by the workers of a sharded run: each stores its own entries (the
  // merge counts it).
  bool split = false;

  ParentRef Of(const std::string& name) const {
    auto it = children.find(name);
    return it == children.end() ? ParentRef{} : it->second;
  }
};

// Intermediate directories of the backup paths, as a trie of components.
struct PathTrie {
  bool target = false;
  std::map<std::string, PathTrie> children;
};

PathTrie MakeTrie(const std::vector<std::string>& abs_paths) {
  PathTrie trie;
  for (const std::string& p : abs_paths) {
    PathTrie* t = &trie;
    for (const auto& comp : std::filesystem::path(p)) {
      std::string c = comp.string();
      if (c == "/" || c.empty()) continue;
      t = &t->children[c];
    }
    t->target = true;
  }
  return trie;
}

// A backup: the walk of fs/walk.h with this class as its visitor. Each
// directory becomes a tree, bottom up; each file is saved unless its parent
// snapshot's node shows it unchanged.
class Archiver {
 public:
  using Dir = DirState;
  using Value = Node;

  Archiver(BackupStores stores, const BackupOptions& opts)
      : blobs_(stores.blobs),
        trees_(stores.trees),
        snapshots_(stores.snapshots),
        opts_(opts),
        track_(!opts.dry_run && opts.checkpoint_interval.count() > 0),
        errors_(opts.on_error, opts.cancel),
        frontier_(track_),
        saver_(stores.blobs, opts, counters_, errors_, opts.readers),
        walk_(*this, {opts.readers, opts.walkers},
              opts.files ? *opts.files : fs::RealFileSystem()) {}

  Result<BackupResult> Run();

  // The visitor of fs::Walk (fs/walk.h).
  bool Cancelled() const { return errors_.Stopped(); }
  bool Skip(const Dir&, const std::string& path, const std::string&) {
    if (opts_.share) {
      ShardShare s = opts_.share(path);
      if (!s.mine && !s.split) return true;  // another worker's
    }
    return pattern::IsExcluded(opts_.excludes, path);
  }
  std::optional<Node> Visit(const Dir& dir, int dirfd, const fs::Entry& e);
  std::optional<Dir> Enter(const Dir& parent, const fs::Entry& e);
  std::optional<Node> Opened(Dir& dir, int fd, const fs::Entry& e);
  void Listed(Dir&, const fs::Entry&, const std::vector<std::string>&) {
    // Lets a test change a directory between its listing and its entries.
    test_hooks::Gate("BACKUP_DIR_LISTED");
  }
  Result<std::optional<Node>> Leave(Dir& dir, const fs::Entry& e,
                                    std::vector<Node> children);
  void Abandon(Dir& dir, const fs::Entry& e) {
    if (dir.tracked) frontier_.Abandoned(e.path);
  }
  void Unread(const std::string& path, const Error& e, bool vanished) {
    LeftOut(path, e, vanished);
  }

 private:
  void ReportError(const std::string& path, const Error& e) {
    ++counters_.errors;
    if (opts_.progress) ++opts_.progress->errors;
    errors_.Report(path, e);
  }
  // The entry at path is left out of its directory because of e: reported,
  // and unless it had vanished (deleted during the backup, which a later
  // backup would not see either) its directory is stored incomplete.
  void LeftOut(const std::string& path, const Error& e, bool vanished);
  // Counts and lists a node stored with flags.
  void Flagged(const std::string& path, std::uint32_t flags);
  Node MakeNode(const std::string& name, const struct stat& st);
  // Loads the parent trees of a directory that is open, and its children's
  // parent nodes.
  void LoadParents(Dir& dir);
  std::optional<Tree> LoadParentTree(const Node* parent);
  std::optional<Node> VisitFile(const fs::Entry& e, int dirfd, Node node,
                                ParentRef parents);
  Result<void> SaveStable(int fd, const fs::Entry& e, Node& node);
  Result<Id> SaveTree(const Tree& tree);
  Result<std::vector<std::string>> AbsolutePaths();
  Result<Id> SaveTrie(const PathTrie& trie, int dirfd, Dir& dir);
  Result<void> WriteCheckpoint();
  model::Snapshot MakeSnapshot(Id tree, bool partial);

  repo::BlobSaver& blobs_;
  repo::TreeLoader& trees_;
  repo::SnapshotStore& snapshots_;
  const BackupOptions& opts_;
  const bool track_;  // checkpoints on
  Counters counters_;
  ErrorSink errors_;
  fs::OwnerNames names_;
  Frontier frontier_;
  FileSaver saver_;
  fs::Walk<Archiver> walk_;
  Id empty_tree_;
  std::optional<Id> last_checkpoint_;
  int checkpoints_ = 0;
  std::vector<std::string> abs_paths_;
  std::chrono::steady_clock::time_point start_;
  std::mutex flags_mu_;
  // Directories (by walk path) some of whose entries were left out; each is
  // removed when its directory is left, so this holds at most the frontier.
  std::set<std::string> incomplete_dirs_;
  std::vector<FlaggedPath> flagged_;  // the first kMaxFlaggedListed
  std::uint64_t flagged_total_ = 0;
};

// The directory that holds path ("/a/b" -> "/a", "/b" -> "/").
std::string ParentPath(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void Archiver::LeftOut(const std::string& path, const Error& e, bool vanished) {
  ReportError(path, e);
  if (vanished) return;
  std::lock_guard lock(flags_mu_);
  incomplete_dirs_.insert(ParentPath(path));
}

void Archiver::Flagged(const std::string& path, std::uint32_t flags) {
  if (flags & model::kFlagChangedWhileRead) ++counters_.changed_while_read;
  if (flags & model::kFlagIncomplete) ++counters_.incomplete;
  std::lock_guard lock(flags_mu_);
  ++flagged_total_;
  if (flagged_.size() < BackupResult::kMaxFlaggedListed)
    flagged_.push_back({path, flags});
}

Node Archiver::MakeNode(const std::string& name, const struct stat& st) {
  Node n = fs::NodeFromStat(name, st);
  n.user = names_.User(st.st_uid);
  n.group = names_.Group(st.st_gid);
  return n;
}

std::optional<Tree> Archiver::LoadParentTree(const Node* parent) {
  if (!parent || parent->type != NodeType::kDir || !parent->subtree)
    return std::nullopt;
  auto t = trees_.LoadTree(*parent->subtree);
  if (!t) return std::nullopt;  // a damaged parent only costs re-reading
  return std::move(*t);
}

void Archiver::LoadParents(Dir& dir) {
  dir.parent_tree = LoadParentTree(dir.parents.node);
  dir.fallback_tree = LoadParentTree(dir.parents.fallback);
  if (dir.fallback_tree)
    for (const Node& n : dir.fallback_tree->nodes)
      dir.children[n.name].fallback = &n;
  if (dir.parent_tree)
    for (const Node& n : dir.parent_tree->nodes) dir.children[n.name].node = &n;
}

Result<Id> Archiver::SaveTree(const Tree& tree) {
  if (opts_.dry_run) return blobs_.BlobId(model::EncodeTree(tree));
  Result<Id> id = blobs_.SaveTree(tree);
  if (!id && id.error().code != ErrorCode::kCancelled) {
    // The repository's error, not the directory's: it stops the run once.
    errors_.Stop(id.error());
    return MakeError(ErrorCode::kCancelled, "interrupted");
  }
  return id;
}

std::optional<Node> Archiver::Visit(const Dir& dir, int dirfd,
                                    const fs::Entry& e) {
  if (!fs::TypeOf(e.st.st_mode)) {
    LeftOut(
        e.path,
        MakeError(ErrorCode::kUnsupported, e.path + ": unsupported file type"),
        false);
    return std::nullopt;
  }
  // A file where the plan saw a split directory: its owner's alone.
  if (opts_.share && !opts_.share(e.path).mine) return std::nullopt;
  Node node = MakeNode(e.name, e.st);
  ParentRef parents = dir.Of(e.name);
  if (node.type == NodeType::kFile) {
    auto saved = VisitFile(e, dirfd, std::move(node), parents);
    if (saved) frontier_.Done(e.path, *saved);
    return saved;
  }
  if (node.type == NodeType::kSymlink) {
    std::string target(static_cast<size_t>(e.st.st_size) + 1, '\0');
    for (;;) {
      ssize_t n =
          ::readlinkat(dirfd, e.name.c_str(), target.data(), target.size());
      if (n < 0) {
        const int err = errno;
        LeftOut(e.path, PosixError(e.path, err), err == ENOENT);
        return std::nullopt;
      }
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        break;
      }
      target.resize(target.size() * 2);
    }
    node.link_target = target;
  } else {
    ++counters_.other;
  }
  auto x = fs::ReadXattrs(-1, e.path);
  if (x) node.xattrs = std::move(*x);
  KeepAtimeOfParent(node, parents);
  frontier_.Done(e.path, node);
  return node;
}

std::optional<Node> Archiver::VisitFile(const fs::Entry& e, int dirfd,
                                        Node node, ParentRef parents) {
  counters_.bytes_total += node.size;
  if (opts_.progress) ++opts_.progress->files;
  // Unchanged since the parent snapshot: one stat, no open.
  // A flagged node does not hold the file as its metadata says (it kept
  // changing, or a read error cut it short): it is read again.
  auto unchanged = [&](const Node* p) {
    return p && p->type == NodeType::kFile && p->flags == 0 &&
           p->size == node.size && p->mtime == node.mtime &&
           p->ctime == node.ctime && p->inode == node.inode &&
           std::all_of(p->content.begin(), p->content.end(),
                       [&](const Id& id) { return blobs_.HasBlob(id); });
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
  Fd fd(walk_.files().OpenFileAt(dirfd, e.name, e.path));
  if (!fd) {
    const int err = -fd.release();
    LeftOut(e.path, PosixError(e.path, err), err == ENOENT);
    return std::nullopt;
  }
  auto x = fs::ReadXattrs(fd.get(), e.path);
  if (x) node.xattrs = std::move(*x);
  auto saved = SaveStable(fd.get(), e, node);
  if (!saved) {
    if (saved.error().code == ErrorCode::kCancelled) return std::nullopt;
    if (node.content.empty() && node.size > 0) {
      LeftOut(e.path, saved.error(), false);
      return std::nullopt;
    }
    // Kept as read, reported, and flagged: still changing after the re-reads
    // (SaveStable set the flag), or cut short by a read error.
    ReportError(e.path, saved.error());
    if (!(node.flags & model::kFlagChangedWhileRead))
      node.flags |= model::kFlagIncomplete;
    Flagged(e.path, node.flags);
  }
  if (parents.any() && parents.any()->type == NodeType::kFile)
    ++counters_.files_changed;
  else
    ++counters_.files_new;
  // Lets a test interrupt a backup that has saved a file and has more to do.
  test_hooks::Gate("BACKUP_FILE_SAVED");
  return node;
}

// Same file, same content as far as its metadata tells: size, mtime, ctime.
static bool SameVersion(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
         a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

// Reads the file open at fd into node, and again while its size, mtime or
// ctime after a read differ from before it (a file written in place while it
// was read would otherwise be stored as a mix of old and new bytes), at most
// kReadAttempts times; then what the last read gave is kept and reported.
Result<void> Archiver::SaveStable(int fd, const fs::Entry& e, Node& node) {
  constexpr int kReadAttempts = 3;
  struct stat before = e.st;
  for (int attempt = 1;; ++attempt) {
    Result<void> saved = saver_.Save(fd, e.path, node);
    if (!saved && saved.error().code == ErrorCode::kCancelled) return saved;
    struct stat after {};
    if (int err = walk_.files().StatOpen(fd, e.path, &after))
      return PosixError(e.path, err);
    if (SameVersion(before, after)) return saved;
    if (attempt == kReadAttempts) {
      node.flags |= model::kFlagChangedWhileRead;
      return MakeError(ErrorCode::kIo,
                       fmt::format("{}: changed while being read ({} reads); "
                                   "stored as the last read found it",
                                   e.path, kReadAttempts));
    }
    // Read the new version, with its metadata.
    Node fresh = MakeNode(e.name, after);
    fresh.xattrs = std::move(node.xattrs);
    node = std::move(fresh);
    before = after;
  }
}

std::optional<DirState> Archiver::Enter(const Dir& parent, const fs::Entry& e) {
  DirState d;
  d.path = e.path;
  d.node = MakeNode(e.name, e.st);
  d.parents = parent.Of(e.name);
  d.root_dev = parent.root_dev ? *parent.root_dev : e.st.st_dev;
  d.split = opts_.share && opts_.share(e.path).split;
  if (opts_.progress) ++opts_.progress->dirs;
  return d;
}

std::optional<Node> Archiver::Opened(Dir& dir, int fd, const fs::Entry& e) {
  auto x = fs::ReadXattrs(fd, e.path);
  if (x) dir.node.xattrs = std::move(*x);
  if (opts_.one_file_system && e.st.st_dev != *dir.root_dev) {
    // A mount point: recorded as an empty directory.
    dir.node.subtree = empty_tree_;
    frontier_.Done(e.path, dir.node);
    return dir.node;
  }
  LoadParents(dir);
  frontier_.Opened(e.path, dir.node);
  dir.tracked = true;
  return std::nullopt;
}

Result<std::optional<Node>> Archiver::Leave(Dir& dir, const fs::Entry& e,
                                            std::vector<Node> children) {
  Tree tree;
  tree.nodes = std::move(children);
  {
    std::lock_guard lock(flags_mu_);
    if (incomplete_dirs_.erase(e.path))
      dir.node.flags |= model::kFlagIncomplete;
  }
  if (dir.node.flags) Flagged(e.path, dir.node.flags);
  // When interrupted, the tree holds what was completed: it becomes part of a
  // partial snapshot that the next run uses as its parent.
  // Nothing below changed: reuse the parent's tree without encoding it again.
  const ParentRef& p = dir.parents;
  if (dir.parent_tree && p.node->subtree &&
      tree.nodes == dir.parent_tree->nodes) {
    dir.node.subtree = *p.node->subtree;
  } else if (dir.fallback_tree && p.fallback->subtree &&
             tree.nodes == dir.fallback_tree->nodes) {
    dir.node.subtree = *p.fallback->subtree;
  } else {
    ASSIGN_OR_RETURN(dir.node.subtree, SaveTree(tree));
  }
  if (!dir.tracked) return dir.node;  // a backup path's root: not counted
  KeepAtimeOfParent(dir.node, p);
  frontier_.Done(e.path, dir.node);
  if (dir.split) return dir.node;  // counted by the merge
  const Node* parent = p.any();
  if (!parent || parent->type != NodeType::kDir)
    ++counters_.dirs_new;
  else if (parent->subtree == dir.node.subtree)
    ++counters_.dirs_unchanged;
  else
    ++counters_.dirs_changed;
  return dir.node;
}

// Saves the trie below `dir` (open as dirfd) into a tree: the backup paths
// whole, and of each directory above them only the way down.
Result<Id> Archiver::SaveTrie(const PathTrie& trie, int dirfd, Dir& dir) {
  if (trie.target) {  // "/" itself is a backup path
    fs::Entry self{"", dir.path, {}};
    if (::fstat(dirfd, &self.st) != 0) return PosixError(dir.path, errno);
    dir.root_dev = self.st.st_dev;
    ASSIGN_OR_RETURN(std::optional<Node> node,
                     walk_.Contents(dir, dirfd, self));
    if (!node) return MakeError(ErrorCode::kCancelled, "interrupted");
    return *node->subtree;
  }
  Tree tree;
  for (const auto& [name, child] : trie.children) {
    fs::Entry e{name, fs::JoinPath(dir.path, name), {}};
    if (child.target && opts_.share) {
      ShardShare s = opts_.share(e.path);
      if (!s.mine && !s.split) continue;  // another worker's
    }
    if (int err = walk_.files().StatAt(dirfd, name, e.path, &e.st))
      return PosixError(e.path, err);
    if (child.target) {
      ASSIGN_OR_RETURN(std::optional<Node> node, walk_.Child(dir, dirfd, e));
      if (node) tree.nodes.push_back(std::move(*node));
      continue;
    }
    if (!S_ISDIR(e.st.st_mode))
      return MakeError(ErrorCode::kInvalidArgument,
                       e.path + ": not a directory");
    // An intermediate directory: its own metadata, only the chosen children.
    DirState sub;
    sub.path = e.path;
    sub.node = MakeNode(name, e.st);
    sub.parents = dir.Of(name);
    Fd fd(walk_.files().OpenDirAt(dirfd, name, e.path));
    if (!fd) return PosixError(e.path, -fd.release());
    LoadParents(sub);
    frontier_.Opened(e.path, sub.node);
    ASSIGN_OR_RETURN(sub.node.subtree, SaveTrie(child, fd.get(), sub));
    {
      std::lock_guard lock(flags_mu_);
      if (incomplete_dirs_.erase(e.path))
        sub.node.flags |= model::kFlagIncomplete;
    }
    if (sub.node.flags) Flagged(e.path, sub.node.flags);
    KeepAtimeOfParent(sub.node, sub.parents);
    frontier_.Done(e.path, sub.node);
    tree.nodes.push_back(std::move(sub.node));
  }
  return SaveTree(tree);
}

model::Snapshot Archiver::MakeSnapshot(Id tree, bool partial) {
  return SnapshotOf(opts_, counters_, abs_paths_, tree, partial, start_,
                    names_.User(::getuid()));
}

// A partial snapshot of what is complete so far (Frontier::Build). Every blob
// it names is made durable and indexed (BlobSaver::Checkpoint) before the
// snapshot is saved, so a run killed afterwards resumes from it.
Result<void> Archiver::WriteCheckpoint() {
  ASSIGN_OR_RETURN(Id root, frontier_.Build([&](const Tree& t) {
    return blobs_.SaveTree(t);
  }));
  RETURN_IF_ERROR(blobs_.Checkpoint());
  ASSIGN_OR_RETURN(Id id, snapshots_.SaveSnapshot(MakeSnapshot(root, true)));
  if (last_checkpoint_) (void)snapshots_.RemoveSnapshot(*last_checkpoint_);
  last_checkpoint_ = id;
  ++checkpoints_;
  if (opts_.on_checkpoint) opts_.on_checkpoint(id);
  // Lets a test kill a backup that has just saved its Nth checkpoint.
  test_hooks::Gate(fmt::format("CHECKPOINT_{}", checkpoints_));
  return Ok();
}

// The backup paths, absolute and normalised, sorted, without duplicates;
// each must exist.
Result<std::vector<std::string>> Archiver::AbsolutePaths() {
  std::vector<std::string> out;
  for (const std::string& p : opts_.paths) {
    std::string s = NormalizeBackupPath(p);
    struct stat st {};
    if (::lstat(s.c_str(), &st) != 0) return PosixError(s, errno);
    out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Runs fn every `interval` on a thread of its own until destroyed.
class Ticker {
 public:
  Ticker(std::chrono::milliseconds interval, std::function<void()> fn) {
    thread_ = std::thread([this, interval, fn = std::move(fn)] {
      std::unique_lock lock(mu_);
      while (!cv_.wait_for(lock, interval, [&] { return done_; })) {
        lock.unlock();
        fn();
        lock.lock();
      }
    });
  }
  ~Ticker() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

Result<BackupResult> Archiver::Run() {
  start_ = std::chrono::steady_clock::now();
  if (!opts_.dry_run)
    blobs_.SetUploadConcurrency(opts_.uploads > 0
                                    ? opts_.uploads
                                    : blobs_.PreferredUploadConcurrency());
  ASSIGN_OR_RETURN(abs_paths_, AbsolutePaths());
  const PathTrie trie = MakeTrie(abs_paths_);
  // Mount points are recorded as empty directories.
  if (opts_.one_file_system) {
    ASSIGN_OR_RETURN(empty_tree_, SaveTree({}));
  }
  // "/", with the parent's root tree and the fallback's (the last complete
  // snapshot, when the parent is partial) as its parent trees.
  Node parent_root, fallback_root;
  auto root_node = [&](const std::optional<Id>& snap_id, Node* n) {
    if (!snap_id) return false;
    auto ps = snapshots_.LoadSnapshot(*snap_id);
    if (!ps) return false;
    n->type = NodeType::kDir;
    n->subtree = ps->tree;
    return true;
  };
  DirState root;
  root.path = "/";
  if (root_node(opts_.parent, &parent_root)) root.parents.node = &parent_root;
  if (root_node(opts_.fallback_parent, &fallback_root))
    root.parents.fallback = &fallback_root;
  LoadParents(root);
  Fd rootfd(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME));
  if (!rootfd && errno == EPERM)
    rootfd.Reset(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) return PosixError("/", errno);

  Result<Id> root_id = MakeError(ErrorCode::kUnknown, "");
  {
    // Checkpoints run beside the walk until it ends.
    std::optional<Ticker> checkpointer;
    if (track_)
      checkpointer.emplace(opts_.checkpoint_interval, [this] {
        if (Cancelled()) return;
        // A checkpoint that fails is the repository's error: it stops the
        // run, as the next upload would meet it too.
        auto r = WriteCheckpoint();
        if (!r && r.error().code != ErrorCode::kCancelled)
          errors_.Stop(r.error().Wrap("checkpoint"));
      });
    root_id = SaveTrie(trie, rootfd.get(), root);
  }
  if (auto refusal = errors_.refusal()) {
    // The caller stopped the run at an error.
    if (!opts_.dry_run) (void)blobs_.Flush();
    return *refusal;
  }
  if (!root_id) {
    if (root_id.error().code == ErrorCode::kCancelled && !opts_.dry_run) {
      // Index what was uploaded so the next run does not upload it again.
      (void)blobs_.Flush();
    }
    return root_id.error();
  }
  const bool partial = Cancelled();
  if (!opts_.dry_run) RETURN_IF_ERROR(blobs_.Flush());

  BackupResult result;
  result.snapshot = MakeSnapshot(*root_id, partial);
  result.flagged = flagged_;
  result.flagged_total = flagged_total_;
  result.partial = partial;
  result.checkpoints = checkpoints_;
  if (opts_.dry_run) return result;
  ASSIGN_OR_RETURN(result.snapshot_id,
                   snapshots_.SaveSnapshot(result.snapshot));
  // The last checkpoint is superseded by this snapshot.
  if (last_checkpoint_) (void)snapshots_.RemoveSnapshot(*last_checkpoint_);
  return result;
}

}  // namespace

Result<BackupResult> RunBackup(BackupStores stores,
                               const BackupOptions& options) {
  Archiver a(stores, options);
  return a.Run();
}

}  // namespace efs2s3::archiver
