#define FUSE_USE_VERSION 312
#include "mount/mount.h"

#include <fuse3/fuse.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <variant>

#include "base/thread_pool.h"
#include "model/node.h"

namespace efs2s3::mount {

namespace {

using model::Node;
using model::NodeType;
using model::Tree;

// A directory of the virtual top levels (snapshots/, hosts/<host>/, ...).
struct VDir;
struct VLink {
  std::string target;
};
// A snapshot's root.
struct VSnap {
  Id tree;
  std::int64_t time_ns = 0;
};
using VEntry = std::variant<std::shared_ptr<VDir>, VLink, VSnap>;
struct VDir {
  std::map<std::string, VEntry> entries;
  VDir& Sub(const std::string& name) {
    auto it = entries.find(name);
    if (it == entries.end())
      it = entries.emplace(name, std::make_shared<VDir>()).first;
    return *std::get<std::shared_ptr<VDir>>(it->second);
  }
};

// A name usable as a directory entry: '/' and NUL replaced, never "." or "..".
std::string EntryName(std::string s) {
  for (char& c : s)
    if (c == '/' || c == '\0') c = '_';
  if (s.empty() || s == "." || s == "..") s = "_" + s;
  return s;
}

// The tree the mount shows above the snapshots.
std::shared_ptr<VDir> BuildTop(const repo::SnapshotList& snapshots) {
  auto root = std::make_shared<VDir>();
  // Names by time; a time two snapshots share gets their short IDs.
  std::map<std::string, int> uses;
  for (const auto& [id, s] : snapshots) ++uses[model::FormatTime(s.time_ns)];
  std::map<std::string, std::string> latest_of;  // directory key -> name
  auto add = [&](VDir& dir, const std::string& key, const std::string& name,
                 const VSnap& snap) {
    dir.entries[name] = snap;
    latest_of[key] = name;  // snapshots are sorted by time
  };
  VDir& by_time = root->Sub("snapshots");
  VDir& by_id = root->Sub("ids");
  VDir& hosts = root->Sub("hosts");
  VDir& tags = root->Sub("tags");
  for (const auto& [id, s] : snapshots) {
    std::string name = model::FormatTime(s.time_ns);
    if (uses[name] > 1) name += "-" + id.Short();
    const VSnap snap{s.tree, s.time_ns};
    add(by_time, "snapshots", name, snap);
    by_id.entries[id.Short()] = snap;
    const std::string host = EntryName(s.hostname);
    add(hosts.Sub(host), "hosts/" + host, name, snap);
    for (const std::string& t : s.tags) {
      const std::string tag = EntryName(t);
      add(tags.Sub(tag), "tags/" + tag, name, snap);
    }
  }
  for (const auto& [key, name] : latest_of) {
    VDir* d = root.get();
    size_t start = 0;
    while (start < key.size()) {
      size_t slash = key.find('/', start);
      if (slash == std::string::npos) slash = key.size();
      d = &d->Sub(key.substr(start, slash - start));
      start = slash + 1;
    }
    if (!d->entries.count("latest")) d->entries["latest"] = VLink{name};
  }
  return root;
}

mode_t TypeBits(NodeType t) {
  switch (t) {
    case NodeType::kFile:
      return S_IFREG;
    case NodeType::kDir:
      return S_IFDIR;
    case NodeType::kSymlink:
      return S_IFLNK;
    case NodeType::kFifo:
      return S_IFIFO;
    case NodeType::kSocket:
      return S_IFSOCK;
    case NodeType::kCharDev:
      return S_IFCHR;
    case NodeType::kBlockDev:
      return S_IFBLK;
  }
  return S_IFREG;
}

timespec Ts(const model::Timespec& t) {
  timespec out{};
  out.tv_sec = static_cast<time_t>(t.sec);
  out.tv_nsec = static_cast<long>(t.nsec);
  return out;
}

// An open file: its blobs and where each starts.
struct OpenFile {
  std::vector<Id> blobs;
  std::vector<std::uint64_t> starts;  // starts[i]: offset of blobs[i]
  std::uint64_t size = 0;
  std::mutex mu;
  size_t next_expected = 0;  // the blob after the last one read
};

class Fs {
 public:
  Fs(repo::Repository& repo, const repo::SnapshotList& snapshots,
     const MountOptions& o)
      : repo_(repo),
        opts_(o),
        top_(BuildTop(snapshots)),
        uid_(::getuid()),
        gid_(::getgid()),
        loaders_(std::max(2, o.read_ahead), 1024) {
    for (const auto& [id, s] : snapshots)
      mount_time_ns_ = std::max(mount_time_ns_, s.time_ns);
  }

  int GetAttr(const char* path, struct stat* st);
  int ReadLink(const char* path, char* buf, size_t size);
  int ReadDir(const char* path, void* buf, fuse_fill_dir_t fill);
  int Open(const char* path, fuse_file_info* fi);
  int Read(char* buf, size_t size, off_t off, fuse_file_info* fi);
  int Release(fuse_file_info* fi);
  int GetXattr(const char* path, const char* name, char* buf, size_t size);
  int ListXattr(const char* path, char* buf, size_t size);

 private:
  // What a path names: a virtual directory, a virtual link, or a stored node
  // (a snapshot's root is a directory node made up here).
  struct Found {
    std::shared_ptr<VDir> vdir;
    std::optional<VLink> vlink;
    std::optional<Node> node;
    Id snapshot_tree;  // of the snapshot the node is in
  };
  Result<Found> Resolve(const char* path);
  Result<std::shared_ptr<const Tree>> LoadTree(const Id& id);
  // The decoded blob, from the cache or the repository (one load per blob at
  // a time).
  Result<std::shared_ptr<const Bytes>> Blob(const Id& id);
  void ReadAhead(OpenFile& f, size_t from);
  void FillDirAttr(struct stat* st, std::int64_t time_ns) const;

  repo::Repository& repo_;
  const MountOptions& opts_;
  std::shared_ptr<VDir> top_;
  uid_t uid_;
  gid_t gid_;
  std::int64_t mount_time_ns_ = 0;

  std::mutex trees_mu_;
  std::unordered_map<Id, std::shared_ptr<const Tree>, IdHash> trees_;

  // Decoded blobs, least recently used first out, at most cache_bytes.
  std::mutex blobs_mu_;
  std::list<Id> lru_;
  struct Cached {
    std::shared_ptr<const Bytes> data;
    std::list<Id>::iterator pos;
  };
  std::unordered_map<Id, Cached, IdHash> blobs_;
  std::unordered_map<
      Id, std::shared_future<Result<std::shared_ptr<const Bytes>>>, IdHash>
      loading_;
  std::uint64_t cached_bytes_ = 0;
  ThreadPool loaders_;
};

void Fs::FillDirAttr(struct stat* st, std::int64_t time_ns) const {
  st->st_mode = S_IFDIR | 0555;
  st->st_nlink = 2;
  st->st_uid = uid_;
  st->st_gid = gid_;
  st->st_mtim.tv_sec = static_cast<time_t>(time_ns / 1'000'000'000);
  st->st_mtim.tv_nsec = static_cast<long>(time_ns % 1'000'000'000);
  st->st_atim = st->st_ctim = st->st_mtim;
}

Result<std::shared_ptr<const Tree>> Fs::LoadTree(const Id& id) {
  {
    std::lock_guard lock(trees_mu_);
    auto it = trees_.find(id);
    if (it != trees_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(Tree t, repo_.LoadTree(id));
  auto shared = std::make_shared<const Tree>(std::move(t));
  std::lock_guard lock(trees_mu_);
  if (trees_.size() >= 65536) trees_.clear();  // bounded: reloads are cheap
  trees_.emplace(id, shared);
  return shared;
}

Result<Fs::Found> Fs::Resolve(const char* path) {
  Found f;
  f.vdir = top_;
  std::string_view p(path);
  size_t start = 0;
  std::optional<std::shared_ptr<const Tree>> tree;
  while (start < p.size()) {
    size_t slash = p.find('/', start);
    if (slash == std::string_view::npos) slash = p.size();
    const std::string name(p.substr(start, slash - start));
    start = slash + 1;
    if (name.empty()) continue;
    if (f.vlink) return MakeError(ErrorCode::kNotFound, path);
    if (f.vdir) {
      auto it = f.vdir->entries.find(name);
      if (it == f.vdir->entries.end())
        return MakeError(ErrorCode::kNotFound, path);
      f.vdir.reset();
      if (auto* d = std::get_if<std::shared_ptr<VDir>>(&it->second)) {
        f.vdir = *d;
      } else if (auto* l = std::get_if<VLink>(&it->second)) {
        f.vlink = *l;
      } else {
        const VSnap& s = std::get<VSnap>(it->second);
        Node root;
        root.name = name;
        root.type = NodeType::kDir;
        root.mode = 0555;
        root.uid = uid_;
        root.gid = gid_;
        root.mtime = root.atime = root.ctime = {
            s.time_ns / 1'000'000'000,
            static_cast<std::uint32_t>(s.time_ns % 1'000'000'000)};
        root.links = 2;
        root.subtree = s.tree;
        f.node = root;
        f.snapshot_tree = s.tree;
      }
      continue;
    }
    if (!f.node || f.node->type != NodeType::kDir || !f.node->subtree)
      return MakeError(ErrorCode::kNotFound, path);
    ASSIGN_OR_RETURN(auto t, LoadTree(*f.node->subtree));
    auto it = std::lower_bound(
        t->nodes.begin(), t->nodes.end(), name,
        [](const Node& n, const std::string& v) { return n.name < v; });
    if (it == t->nodes.end() || it->name != name)
      return MakeError(ErrorCode::kNotFound, path);
    f.node = *it;
  }
  return f;
}

int Errno(const Error& e) {
  switch (e.code) {
    case ErrorCode::kNotFound:
      return -ENOENT;
    default:
      return -EIO;
  }
}

// Inode numbers: a stored node's, mixed with its snapshot's (hard links of one
// snapshot share one; the same file in two snapshots does not, so that
// `cp -a` of several snapshots does not link them), else the path's. The top
// bit keeps them apart from the numbers libfuse makes.
ino_t InodeOf(const Id& snapshot_tree, std::uint64_t inode, const char* path) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  auto mix = [&](const std::uint8_t* p, size_t n) {
    for (size_t k = 0; k < n; ++k) h = (h ^ p[k]) * 1099511628211ULL;
  };
  if (inode != 0) {
    mix(snapshot_tree.bytes.data(), snapshot_tree.bytes.size());
    mix(reinterpret_cast<const std::uint8_t*>(&inode), sizeof inode);
  } else {
    mix(reinterpret_cast<const std::uint8_t*>(path), std::strlen(path));
  }
  return static_cast<ino_t>(h | (1ULL << 63));
}

int Fs::GetAttr(const char* path, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  auto f = Resolve(path);
  if (!f) return Errno(f.error());
  st->st_ino = InodeOf(
      f->snapshot_tree,
      f->node && f->node->type != NodeType::kDir ? f->node->inode : 0, path);
  if (f->vdir) {
    FillDirAttr(st, mount_time_ns_);
    return 0;
  }
  if (f->vlink) {
    FillDirAttr(st, mount_time_ns_);
    st->st_mode = S_IFLNK | 0777;
    st->st_nlink = 1;
    st->st_size = static_cast<off_t>(f->vlink->target.size());
    return 0;
  }
  const Node& n = *f->node;
  st->st_mode = TypeBits(n.type) | (n.mode & 07777);
  st->st_nlink = static_cast<nlink_t>(std::max<std::uint64_t>(1, n.links));
  st->st_uid = n.uid;
  st->st_gid = n.gid;
  st->st_size = static_cast<off_t>(
      n.type == NodeType::kSymlink ? n.link_target.size() : n.size);
  st->st_rdev = static_cast<dev_t>(n.rdev);
  st->st_blocks = static_cast<blkcnt_t>((n.size + 511) / 512);
  st->st_blksize = 1 << 20;
  st->st_mtim = Ts(n.mtime);
  st->st_atim = Ts(n.atime);
  st->st_ctim = Ts(n.ctime);
  return 0;
}

int Fs::ReadLink(const char* path, char* buf, size_t size) {
  auto f = Resolve(path);
  if (!f) return Errno(f.error());
  std::string target;
  if (f->vlink)
    target = f->vlink->target;
  else if (f->node && f->node->type == NodeType::kSymlink)
    target = f->node->link_target;
  else
    return -EINVAL;
  if (size == 0) return -EINVAL;
  const size_t n = std::min(size - 1, target.size());
  std::memcpy(buf, target.data(), n);
  buf[n] = '\0';
  return 0;
}

int Fs::ReadDir(const char* path, void* buf, fuse_fill_dir_t fill) {
  auto f = Resolve(path);
  if (!f) return Errno(f.error());
  fill(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  if (f->vdir) {
    for (const auto& [name, e] : f->vdir->entries)
      fill(buf, name.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
    return 0;
  }
  if (!f->node || f->node->type != NodeType::kDir) return -ENOTDIR;
  if (!f->node->subtree) return 0;
  auto t = LoadTree(*f->node->subtree);
  if (!t) return Errno(t.error());
  for (const Node& n : (*t)->nodes)
    fill(buf, n.name.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  return 0;
}

int Fs::Open(const char* path, fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
  auto f = Resolve(path);
  if (!f) return Errno(f.error());
  if (!f->node || f->node->type != NodeType::kFile) return -EISDIR;
  auto file = std::make_unique<OpenFile>();
  file->blobs = f->node->content;
  for (const Id& id : file->blobs) {
    auto loc = repo_.Lookup(id);
    if (!loc) return -EIO;  // not indexed: check reports it
    file->starts.push_back(file->size);
    file->size += loc->raw_length;
  }
  fi->fh = reinterpret_cast<std::uint64_t>(file.release());
  fi->keep_cache = 1;  // the content of a snapshot never changes
  return 0;
}

int Fs::Release(fuse_file_info* fi) {
  delete reinterpret_cast<OpenFile*>(fi->fh);
  return 0;
}

Result<std::shared_ptr<const Bytes>> Fs::Blob(const Id& id) {
  std::shared_future<Result<std::shared_ptr<const Bytes>>> pending;
  bool mine = false;
  std::promise<Result<std::shared_ptr<const Bytes>>> promise;
  {
    std::lock_guard lock(blobs_mu_);
    auto it = blobs_.find(id);
    if (it != blobs_.end()) {
      lru_.splice(lru_.end(), lru_, it->second.pos);
      return it->second.data;
    }
    auto l = loading_.find(id);
    if (l != loading_.end()) {
      pending = l->second;
    } else {
      pending = promise.get_future().share();
      loading_.emplace(id, pending);
      mine = true;
    }
  }
  if (!mine) return pending.get();
  Result<std::shared_ptr<const Bytes>> got = MakeError(ErrorCode::kUnknown, "");
  auto loaded = repo_.LoadBlob(id);
  if (loaded)
    got = std::make_shared<const Bytes>(std::move(*loaded));
  else
    got = loaded.error();
  {
    std::lock_guard lock(blobs_mu_);
    loading_.erase(id);
    if (got) {
      lru_.push_back(id);
      blobs_[id] = Cached{*got, std::prev(lru_.end())};
      cached_bytes_ += (*got)->size();
      while (cached_bytes_ > opts_.cache_bytes && lru_.size() > 1) {
        auto old = blobs_.find(lru_.front());
        cached_bytes_ -= old->second.data->size();
        blobs_.erase(old);
        lru_.pop_front();
      }
    }
  }
  promise.set_value(got);
  return got;
}

void Fs::ReadAhead(OpenFile& f, size_t from) {
  const size_t end =
      std::min(f.blobs.size(), from + static_cast<size_t>(opts_.read_ahead));
  for (size_t i = from; i < end; ++i) {
    {
      std::lock_guard lock(blobs_mu_);
      if (blobs_.count(f.blobs[i]) || loading_.count(f.blobs[i])) continue;
    }
    // Fire and forget: the blob lands in the cache.
    (void)loaders_.Submit([this, id = f.blobs[i]] { (void)Blob(id); });
  }
}

int Fs::Read(char* buf, size_t size, off_t off, fuse_file_info* fi) {
  auto* f = reinterpret_cast<OpenFile*>(fi->fh);
  const std::uint64_t offset = static_cast<std::uint64_t>(off);
  if (offset >= f->size || size == 0) return 0;
  const std::uint64_t want = std::min<std::uint64_t>(size, f->size - offset);
  size_t i = static_cast<size_t>(
      std::upper_bound(f->starts.begin(), f->starts.end(), offset) -
      f->starts.begin() - 1);
  bool sequential;
  {
    std::lock_guard lock(f->mu);
    sequential = i + 1 >= f->next_expected && i <= f->next_expected;
  }
  std::uint64_t done = 0;
  size_t last = i;
  while (done < want && i < f->blobs.size()) {
    auto blob = Blob(f->blobs[i]);
    if (!blob) return -EIO;
    const std::uint64_t in_blob = offset + done - f->starts[i];
    const std::uint64_t n =
        std::min<std::uint64_t>((*blob)->size() - in_blob, want - done);
    std::memcpy(buf + done, (*blob)->data() + in_blob, n);
    done += n;
    last = i;
    ++i;
  }
  {
    std::lock_guard lock(f->mu);
    f->next_expected = last + 1;
  }
  if (sequential) ReadAhead(*f, last + 1);
  return static_cast<int>(done);
}

int Fs::GetXattr(const char* path, const char* name, char* buf, size_t size) {
  auto f = Resolve(path);
  if (!f) return Errno(f.error());
  if (!f->node) return -ENODATA;
  for (const auto& [k, v] : f->node->xattrs) {
    if (k != name) continue;
    if (size == 0) return static_cast<int>(v.size());
    if (size < v.size()) return -ERANGE;
    std::memcpy(buf, v.data(), v.size());
    return static_cast<int>(v.size());
  }
  return -ENODATA;
}

int Fs::ListXattr(const char* path, char* buf, size_t size) {
  auto f = Resolve(path);
  if (!f) return Errno(f.error());
  std::string names;
  if (f->node)
    for (const auto& [k, v] : f->node->xattrs) names += k + '\0';
  if (size == 0) return static_cast<int>(names.size());
  if (size < names.size()) return -ERANGE;
  std::memcpy(buf, names.data(), names.size());
  return static_cast<int>(names.size());
}

Fs* Self() { return static_cast<Fs*>(fuse_get_context()->private_data); }

}  // namespace

Result<void> Serve(repo::Repository& repo, const repo::SnapshotList& snapshots,
                   const MountOptions& opts) {
  Fs fs(repo, snapshots, opts);
  fuse_operations ops{};
  ops.getattr = [](const char* p, struct stat* st, fuse_file_info*) {
    return Self()->GetAttr(p, st);
  };
  ops.readlink = [](const char* p, char* b, size_t n) {
    return Self()->ReadLink(p, b, n);
  };
  ops.readdir = [](const char* p, void* b, fuse_fill_dir_t fill, off_t,
                   fuse_file_info*,
                   fuse_readdir_flags) { return Self()->ReadDir(p, b, fill); };
  ops.open = [](const char* p, fuse_file_info* fi) {
    return Self()->Open(p, fi);
  };
  ops.read = [](const char*, char* b, size_t n, off_t off, fuse_file_info* fi) {
    return Self()->Read(b, n, off, fi);
  };
  ops.release = [](const char*, fuse_file_info* fi) {
    return Self()->Release(fi);
  };
  ops.getxattr = [](const char* p, const char* name, char* b, size_t n) {
    return Self()->GetXattr(p, name, b, n);
  };
  ops.listxattr = [](const char* p, char* b, size_t n) {
    return Self()->ListXattr(p, b, n);
  };
  ops.init = [](fuse_conn_info*, fuse_config* cfg) -> void* {
    cfg->kernel_cache = 1;  // snapshots never change
    cfg->entry_timeout = cfg->attr_timeout = 3600;
    cfg->use_ino = 1;  // hard links show as links (GetAttr, InodeOf)
    return fuse_get_context()->private_data;
  };

  std::vector<std::string> args = {"efs2s3", "-o", "ro,default_permissions",
                                   "-o", "fsname=efs2s3,subtype=efs2s3"};
  if (opts.allow_other) {
    args.push_back("-o");
    args.push_back("allow_other");
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse* f = fuse_new(&fargs, &ops, sizeof ops, &fs);
  if (!f)
    return MakeError(ErrorCode::kInvalidArgument,
                     "mount: FUSE refused the options");
  if (fuse_mount(f, opts.dir.c_str()) != 0) {
    fuse_destroy(f);
    return MakeError(ErrorCode::kIo, "mount " + opts.dir +
                                         ": cannot mount (is /dev/fuse "
                                         "there, and the directory empty?)");
  }
  if (fuse_set_signal_handlers(fuse_get_session(f)) != 0) {
    fuse_unmount(f);
    fuse_destroy(f);
    return MakeError(ErrorCode::kIo, "mount: cannot set signal handlers");
  }
  if (opts.on_mounted) opts.on_mounted();
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  int rc = fuse_loop_mt(f, cfg);
  fuse_loop_cfg_destroy(cfg);
  fuse_remove_signal_handlers(fuse_get_session(f));
  fuse_unmount(f);
  fuse_destroy(f);
  if (rc != 0 && rc != SIGINT && rc != SIGTERM && rc != SIGHUP)
    return MakeError(ErrorCode::kIo,
                     "mount " + opts.dir + ": the FUSE loop failed");
  return Ok();
}

}  // namespace efs2s3::mount
