// dump: a file's bytes, or a subtree as a tar or zip archive (dump.h).
#include "restorer/dump.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/sysmacros.h>

#include <deque>
#include <future>
#include <map>
#include <memory>
#include <utility>

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

// Calls write(bytes) for each blob of a file's content in order, fetching up to
// the pool's window ahead.
Result<void> ForEachBlob(repo::BlobLoader& repo, ThreadPool& pool, int window,
                         const Node& node, const std::string& path,
                         const DumpOptions& o,
                         const std::function<Result<void>(ByteSpan)>& write) {
  std::deque<std::pair<Id, std::future<Result<Bytes>>>> ahead;
  size_t next = 0;
  auto fill = [&] {
    while (next < node.content.size() &&
           ahead.size() < static_cast<size_t>(std::max(1, window))) {
      Id id = node.content[next++];
      ahead.emplace_back(
          id, pool.Submit([&repo, id] { return repo.LoadBlob(id); }));
    }
  };
  fill();
  while (!ahead.empty()) {
    if (Cancelled(o)) return MakeError(ErrorCode::kCancelled, "interrupted");
    auto [id, fut] = std::move(ahead.front());
    ahead.pop_front();
    Result<Bytes> blob = fut.get();
    if (!blob)
      return MakeError(blob.error().code, path + ": " + blob.error().message);
    RETURN_IF_ERROR(write(*blob));
    fill();
  }
  return Ok();
}

// Writes the entries of a dump: as pax (PaxWriter) or as zip (libarchive).
class ArchiveWriter {
 public:
  ArchiveWriter(repo::BlobLoader& repo, const DumpOptions& o)
      : repo_(repo), o_(o), pool_(std::max(1, o.read_ahead), 1024) {}
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
    if (Cancelled(o_)) return MakeError(ErrorCode::kCancelled, "interrupted");
    if (!name.empty()) RETURN_IF_ERROR(Entry(node, name, path));
    if (node.type != NodeType::kDir || !node.subtree) return Ok();
    ASSIGN_OR_RETURN(model::Tree tree, repo_.LoadTree(*node.subtree));
    for (const Node& child : tree.nodes) {
      std::string child_path =
          path == "/" ? "/" + child.name : path + "/" + child.name;
      // Trees are checked when decoded; checked again here because this name
      // is what an extractor will create.
      if (!model::IsSafeName(child.name))
        return MakeError(ErrorCode::kCorruption,
                         path + ": tree " + node.subtree->Short() +
                             " holds an entry name that is not a plain name "
                             "(empty, '.', '..', or with '/' or NUL)");
      RETURN_IF_ERROR(Write(child,
                            name.empty() ? child.name : name + "/" + child.name,
                            child_path));
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

  Result<void> Entry(const Node& node, const std::string& name,
                     const std::string& path) {
    bool tar = tar_ != nullptr;
    bool special = node.type == NodeType::kFifo ||
                   node.type == NodeType::kCharDev ||
                   node.type == NodeType::kBlockDev;
    if (node.type == NodeType::kSocket || (!tar && special)) {
      ++result_.skipped;
      if (o_.on_skipped)
        o_.on_skipped(path, std::string(model::NodeTypeName(node.type)) +
                                ": no " + (tar ? "tar" : "zip") +
                                " form; left out");
      return Ok();
    }
    PaxEntry pax = ToPax(node, name);
    if (node.type == NodeType::kFile && tar && node.links > 1) {
      auto key = std::make_pair(node.device, node.inode);
      if (auto it = first_link_.find(key); it != first_link_.end()) {
        pax.type = '1';
        pax.link = it->second;
        ++result_.links;
        RETURN_IF_ERROR(tar_->Header(pax));
        return tar_->Finish();
      }
      first_link_.emplace(key, name);
    }
    std::uint64_t size = 0;
    if (node.type == NodeType::kFile) {
      ASSIGN_OR_RETURN(size, ContentSize(repo_, node, path));
      ++result_.files;
    } else if (node.type == NodeType::kDir) {
      ++result_.dirs;
    } else {
      ++result_.other;
    }
    pax.size = size;
    if (tar) {
      RETURN_IF_ERROR(tar_->Header(pax));
    } else {
      RETURN_IF_ERROR(ZipHeader(node, name, size, path));
    }
    if (node.type == NodeType::kFile) {
      auto write = [&](ByteSpan data) -> Result<void> {
        if (tar) {
          RETURN_IF_ERROR(tar_->Data(data));
        } else {
          la_ssize_t n = archive_write_data(zip_, data.data(), data.size());
          if (n < 0 || static_cast<size_t>(n) != data.size())
            return ZipFailure("standard output");
        }
        result_.bytes += data.size();
        return Ok();
      };
      RETURN_IF_ERROR(
          ForEachBlob(repo_, pool_, o_.read_ahead, node, path, o_, write));
    }
    if (tar) return tar_->Finish();
    if (archive_write_finish_entry(zip_) < ARCHIVE_WARN)
      return ZipFailure(path);
    return Ok();
  }

  repo::BlobLoader& repo_;
  const DumpOptions& o_;
  ThreadPool pool_;
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
  ThreadPool pool(std::max(1, o.read_ahead), 1024);
  DumpResult result;
  auto write = [&](ByteSpan data) -> Result<void> {
    RETURN_IF_ERROR(WriteFull(o.out_fd, data, "standard output"));
    result.bytes += data.size();
    return Ok();
  };
  RETURN_IF_ERROR(ForEachBlob(repo, pool, o.read_ahead, node, path, o, write));
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
