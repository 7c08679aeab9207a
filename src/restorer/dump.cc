// dump: a file's bytes, or a subtree as a tar or zip archive (dump.h).
#include "restorer/dump.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/sysmacros.h>

#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "base/io.h"
#include "base/thread_pool.h"
#include "restorer/pax.h"

namespace efs2s3::restorer {

using model::Node;
using model::NodeType;

namespace {

bool Cancelled(const DumpOptions& o) { return o.cancel && o.cancel->load(); }

// The plaintext size of a file's content, from the index: the size its
// archive entry declares before the first byte is written.
Result<std::uint64_t> ContentSize(repo::BlobLoader& repo, const Node& node,
                                  const std::string& path) {
  std::uint64_t size = 0;
  for (const Id& id : node.content) {
    auto loc = repo.Lookup(id);
    if (!loc)
      return MakeError(ErrorCode::kNotFound,
                       "blob " + id.Short() + " of " + path +
                           ": not in the repository's index");
    size += loc->raw_length;
  }
  return size;
}

// The blobs of the files of a dump, fetched up to `window` ahead of the
// writer and across files (a directory of small files costs one request after
// another otherwise), handed out in the order they were scheduled.
class Prefetcher {
 public:
  Prefetcher(repo::BlobLoader& repo, int window)
      : repo_(repo),
        window_(static_cast<size_t>(std::max(1, window))),
        pool_(std::max(1, window), 1024) {}

  // The blobs of a file, after those scheduled before; `path` names it in
  // errors.
  void Schedule(const Node& node, const std::string& path) {
    for (const Id& id : node.content) scheduled_.push_back({id, path});
    Pump();
  }
  // Blobs scheduled and not yet taken.
  size_t waiting() const { return scheduled_.size() + fetching_.size(); }
  bool full() const { return waiting() >= window_; }

  // The next blob, in the order scheduled.
  Result<Bytes> Take() {
    Pump();
    if (fetching_.empty())
      return MakeError(ErrorCode::kUnknown, "dump: no blob scheduled");
    auto [path, fut] = std::move(fetching_.front());
    fetching_.pop_front();
    Result<Bytes> blob = fut.get();
    Pump();
    if (!blob)
      return MakeError(blob.error().code, path + ": " + blob.error().message);
    return blob;
  }

 private:
  void Pump() {
    while (!scheduled_.empty() && fetching_.size() < window_) {
      auto [id, path] = std::move(scheduled_.front());
      scheduled_.pop_front();
      repo::BlobLoader& repo = repo_;
      fetching_.emplace_back(std::move(path), pool_.Submit([&repo, id] {
        return repo.LoadBlob(id);
      }));
    }
  }

  repo::BlobLoader& repo_;
  size_t window_;
  std::deque<std::pair<Id, std::string>> scheduled_;
  std::deque<std::pair<std::string, std::future<Result<Bytes>>>> fetching_;
  // Last: destroyed first, so that its workers finish the fetches still
  // running while what they use is alive.
  ThreadPool pool_;
};

// The entries of a dump in archive order (each directory before what it
// holds, names in tree order), trees loaded as they are reached.
class Entries {
 public:
  struct Entry {
    Node node;
    std::string name, path;  // in the archive; in the snapshot
  };

  Entries(repo::TreeLoader& trees, const Node& root, const std::string& name,
          const std::string& path)
      : trees_(trees) {
    if (name.empty())
      Expand(root, "", path);
    else
      first_ = Entry{root, name, path};
  }

  // The next entry, or nullopt after the last.
  Result<std::optional<Entry>> Next() {
    if (first_) {
      Entry e = std::move(*first_);
      first_.reset();
      Expand(e.node, e.name, e.path);
      return e;
    }
    if (expand_) RETURN_IF_ERROR(Load());
    while (!stack_.empty() && stack_.back().next == stack_.back().nodes.size())
      stack_.pop_back();
    if (stack_.empty()) return std::optional<Entry>();
    Frame& f = stack_.back();
    Node n = std::move(f.nodes[f.next++]);
    Entry e{std::move(n), "", ""};
    e.name = f.name.empty() ? e.node.name : f.name + "/" + e.node.name;
    e.path = f.path == "/" ? "/" + e.node.name : f.path + "/" + e.node.name;
    Expand(e.node, e.name, e.path);
    return std::optional<Entry>(std::move(e));
  }

 private:
  struct Frame {
    std::vector<Node> nodes;
    size_t next = 0;
    std::string name, path;
  };
  struct Pending {
    Id tree;
    std::string name, path;
  };

  void Expand(const Node& n, const std::string& name, const std::string& path) {
    if (n.type == NodeType::kDir && n.subtree)
      expand_ = Pending{*n.subtree, name, path};
  }

  Result<void> Load() {
    Pending p = std::move(*expand_);
    expand_.reset();
    ASSIGN_OR_RETURN(model::Tree tree, trees_.LoadTree(p.tree));
    // Trees are checked when decoded; checked again here because these names
    // are what an extractor will create.
    for (const Node& child : tree.nodes)
      if (!model::IsSafeName(child.name))
        return MakeError(ErrorCode::kCorruption,
                         p.path + ": tree " + p.tree.Short() +
                             " holds an entry name that is not a plain name "
                             "(empty, '.', '..', or with '/' or NUL)");
    stack_.push_back(Frame{std::move(tree.nodes), 0, p.name, p.path});
    return Ok();
  }

  repo::TreeLoader& trees_;
  std::optional<Entry> first_;
  std::optional<Pending> expand_;
  std::vector<Frame> stack_;
};

// Writes the entries of a dump: as pax (PaxWriter) or as zip (libarchive).
class ArchiveWriter {
 public:
  ArchiveWriter(repo::BlobLoader& repo, const DumpOptions& o)
      : repo_(repo), o_(o), blobs_(repo, o.read_ahead) {}
  ~ArchiveWriter() {
    if (zip_) archive_write_free(zip_);
  }

  Result<void> Open() {
    if (o_.format == ArchiveFormat::kTar) {
      tar_ = std::make_unique<PaxWriter>([this](ByteSpan data) {
        return WriteFull(o_.out_fd, data, "standard output");
      });
      return Ok();
    }
    zip_ = archive_write_new();
    if (!zip_) return MakeError(ErrorCode::kIo, "zip: out of memory");
    if (archive_write_set_format_zip(zip_) != ARCHIVE_OK ||
        archive_write_open_fd(zip_, o_.out_fd) != ARCHIVE_OK)
      return ZipFailure("standard output");
    return Ok();
  }

  Result<void> Close() {
    if (tar_) return tar_->Close();
    if (archive_write_close(zip_) != ARCHIVE_OK)
      return ZipFailure("standard output");
    return Ok();
  }

  // Writes `node` as entry `name` ("" only for a root directory, which has no
  // entry of its own) and, for a directory, its tree below `name`.
  Result<void> Write(const Node& node, const std::string& name,
                     const std::string& path) {
    Entries entries(repo_, node, name, path);
    std::deque<Planned> ahead;
    bool done = false;
    // Entries are planned (and their blobs scheduled) while fewer than the
    // read-ahead window of blobs wait, at most kAhead of them.
    constexpr size_t kAhead = 1024;
    auto plan = [&]() -> Result<void> {
      while (!done && !blobs_.full() && ahead.size() < kAhead) {
        ASSIGN_OR_RETURN(std::optional<Entries::Entry> e, entries.Next());
        if (!e) {
          done = true;
          break;
        }
        ASSIGN_OR_RETURN(Planned p, Plan(std::move(*e)));
        if (p.content) blobs_.Schedule(p.entry.node, p.entry.path);
        ahead.push_back(std::move(p));
      }
      return Ok();
    };
    RETURN_IF_ERROR(plan());
    while (!ahead.empty()) {
      if (Cancelled(o_)) return MakeError(ErrorCode::kCancelled, "interrupted");
      Planned p = std::move(ahead.front());
      ahead.pop_front();
      RETURN_IF_ERROR(Entry(p, plan));
      RETURN_IF_ERROR(plan());
    }
    return Ok();
  }

  const DumpResult& result() const { return result_; }

 private:
  struct EntryDeleter {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
  };

  Error ZipFailure(const std::string& what) const {
    const char* msg = zip_ ? archive_error_string(zip_) : nullptr;
    return MakeError(ErrorCode::kIo,
                     what + ": " + (msg ? msg : "zip write failed"));
  }

  // The pax entry of a node; type '1' with `link` for a later member of a
  // hard-link group.
  static PaxEntry ToPax(const Node& node, const std::string& name) {
    PaxEntry e;
    e.name = name;
    e.mode = node.mode & 07777;
    e.uid = node.uid;
    e.gid = node.gid;
    e.user = node.user;
    e.group = node.group;
    e.mtime = node.mtime;
    e.atime = node.atime;
    e.xattrs = node.xattrs;
    switch (node.type) {
      case NodeType::kFile:
        e.type = '0';
        break;
      case NodeType::kDir:
        e.type = '5';
        break;
      case NodeType::kSymlink:
        e.type = '2';
        e.link = node.link_target;
        break;
      case NodeType::kFifo:
        e.type = '6';
        break;
      case NodeType::kCharDev:
      case NodeType::kBlockDev:
        e.type = node.type == NodeType::kCharDev ? '3' : '4';
        e.dev_major = major(static_cast<dev_t>(node.rdev));
        e.dev_minor = minor(static_cast<dev_t>(node.rdev));
        break;
      case NodeType::kSocket:
        break;
    }
    return e;
  }

  Result<void> ZipHeader(const Node& node, const std::string& name,
                         std::uint64_t size, const std::string& path) {
    std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_perm(e.get(), node.mode & 07777);
    archive_entry_set_uid(e.get(), node.uid);
    archive_entry_set_gid(e.get(), node.gid);
    archive_entry_set_mtime(e.get(), node.mtime.sec, node.mtime.nsec);
    archive_entry_set_atime(e.get(), node.atime.sec, node.atime.nsec);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    switch (node.type) {
      case NodeType::kDir:
        archive_entry_set_filetype(e.get(), AE_IFDIR);
        break;
      case NodeType::kSymlink:
        archive_entry_set_filetype(e.get(), AE_IFLNK);
        archive_entry_set_symlink(e.get(), node.link_target.c_str());
        break;
      default:
        archive_entry_set_filetype(e.get(), AE_IFREG);
        break;
    }
    if (archive_write_header(zip_, e.get()) < ARCHIVE_WARN)
      return ZipFailure(path);
    return Ok();
  }

  // What an entry becomes, decided in archive order: left out, a hard link
  // to an earlier name, or an entry with (for a file) content of `size`.
  struct Planned {
    Entries::Entry entry;
    bool skip = false, content = false;
    std::string link_to;
    std::uint64_t size = 0;
  };

  Result<Planned> Plan(Entries::Entry e) {
    Planned p{std::move(e), false, false, "", 0};
    const Node& node = p.entry.node;
    bool tar = tar_ != nullptr;
    bool special = node.type == NodeType::kFifo ||
                   node.type == NodeType::kCharDev ||
                   node.type == NodeType::kBlockDev;
    if (node.type == NodeType::kSocket || (!tar && special)) {
      p.skip = true;
      return p;
    }
    if (node.type != NodeType::kFile) return p;
    if (tar && node.links > 1) {
      auto key = std::make_pair(node.device, node.inode);
      if (auto it = first_link_.find(key); it != first_link_.end()) {
        p.link_to = it->second;
        return p;
      }
      first_link_.emplace(key, p.entry.name);
    }
    ASSIGN_OR_RETURN(p.size, ContentSize(repo_, node, p.entry.path));
    p.content = true;
    return p;
  }

  // Writes a planned entry; `more` plans further ahead as blobs are taken.
  Result<void> Entry(const Planned& p,
                     const std::function<Result<void>()>& more) {
    const Node& node = p.entry.node;
    const std::string& path = p.entry.path;
    bool tar = tar_ != nullptr;
    if (p.skip) {
      ++result_.skipped;
      if (o_.on_skipped)
        o_.on_skipped(path, std::string(model::NodeTypeName(node.type)) +
                                ": no " + (tar ? "tar" : "zip") +
                                " form; left out");
      return Ok();
    }
    PaxEntry pax = ToPax(node, p.entry.name);
    if (!p.link_to.empty()) {
      pax.type = '1';
      pax.link = p.link_to;
      ++result_.links;
      RETURN_IF_ERROR(tar_->Header(pax));
      return tar_->Finish();
    }
    if (node.type == NodeType::kFile)
      ++result_.files;
    else if (node.type == NodeType::kDir)
      ++result_.dirs;
    else
      ++result_.other;
    pax.size = p.size;
    if (tar) {
      RETURN_IF_ERROR(tar_->Header(pax));
    } else {
      RETURN_IF_ERROR(ZipHeader(node, p.entry.name, p.size, path));
    }
    for (size_t i = 0; p.content && i < node.content.size(); ++i) {
      if (Cancelled(o_)) return MakeError(ErrorCode::kCancelled, "interrupted");
      ASSIGN_OR_RETURN(Bytes data, blobs_.Take());
      if (tar) {
        RETURN_IF_ERROR(tar_->Data(data));
      } else {
        la_ssize_t n = archive_write_data(zip_, data.data(), data.size());
        if (n < 0 || static_cast<size_t>(n) != data.size())
          return ZipFailure("standard output");
      }
      result_.bytes += data.size();
      RETURN_IF_ERROR(more());
    }
    if (tar) return tar_->Finish();
    if (archive_write_finish_entry(zip_) < ARCHIVE_WARN)
      return ZipFailure(path);
    return Ok();
  }

  repo::BlobLoader& repo_;
  const DumpOptions& o_;
  Prefetcher blobs_;
  std::unique_ptr<PaxWriter> tar_;
  archive* zip_ = nullptr;
  DumpResult result_;
  // Hard links: (device, inode) -> the entry name of the first of the group.
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> first_link_;
};

}  // namespace

Result<DumpResult> DumpFile(repo::BlobLoader& repo, const Node& node,
                            const std::string& path, const DumpOptions& o) {
  if (node.type != NodeType::kFile)
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": not a regular file");
  Prefetcher blobs(repo, o.read_ahead);
  blobs.Schedule(node, path);
  DumpResult result;
  for (size_t i = 0; i < node.content.size(); ++i) {
    if (Cancelled(o)) return MakeError(ErrorCode::kCancelled, "interrupted");
    ASSIGN_OR_RETURN(Bytes data, blobs.Take());
    RETURN_IF_ERROR(WriteFull(o.out_fd, data, "standard output"));
    result.bytes += data.size();
  }
  result.files = 1;
  return result;
}

Result<DumpResult> DumpArchive(repo::BlobLoader& repo, const Node& node,
                               const std::string& name, const std::string& path,
                               const DumpOptions& o) {
  if (name.empty() && node.type != NodeType::kDir)
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": an entry without a name must be a directory");
  if (!name.empty() && !model::IsSafeName(name))
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": not a plain name for an archive entry");
  ArchiveWriter w(repo, o);
  RETURN_IF_ERROR(w.Open());
  RETURN_IF_ERROR(w.Write(node, name, path));
  RETURN_IF_ERROR(w.Close());
  return w.result();
}

}  // namespace efs2s3::restorer
