#include "sync/sync.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "aws/multipart.h"
#include "aws/sigv4.h"
#include "base/bytes.h"
#include "base/file_util.h"
#include "base/io.h"
#include "base/test_hooks.h"
#include "base/thread_pool.h"
#include "fs/meta.h"
#include "sync/local_fs.h"
#include "sync/manifest.h"

namespace efs2s3::sync {

using aws::ListedObject;
using aws::RequestCounts;
using aws::S3Client;

double RequestCost(const RequestCounts& n) {
  return static_cast<double>(n.put + n.post + n.list) * 0.005 / 1000 +
         static_cast<double>(n.get + n.head) * 0.0004 / 1000;
}

namespace {

RequestCounts Minus(const RequestCounts& a, const RequestCounts& b) {
  return {a.get - b.get,   a.head - b.head, a.put - b.put,
          a.post - b.post, a.list - b.list, a.delete_ - b.delete_};
}

std::string Parent(const std::string& rel) {
  size_t p = rel.find_last_of('/');
  return p == std::string::npos ? "" : rel.substr(0, p);
}

std::string Base(const std::string& rel) {
  return rel.substr(rel.find_last_of('/') + 1);
}

// An ETag that is the MD5 of the content (a single-part upload).
bool IsPlainMd5(const std::string& etag) {
  return etag.size() == 32 &&
         etag.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Bytes of file contents held in memory at once.
class Budget {
 public:
  explicit Budget(std::uint64_t limit) : limit_(limit) {}
  void Acquire(std::uint64_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return used_ == 0 || used_ + n <= limit_; });
    used_ += n;
  }
  void Release(std::uint64_t n) {
    {
      std::lock_guard lock(mu_);
      used_ -= n;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t used_ = 0, limit_;
};

class Slots {
 public:
  explicit Slots(int n) : free_(std::max(1, n)) {}
  void Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return free_ > 0; });
    --free_;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      ++free_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int free_;
};

// Reads exactly n bytes at offset; kIo when the file is shorter (it changed).
Result<void> ReadAt(int fd, std::uint8_t* buf, size_t n, std::uint64_t off,
                    const std::string& rel) {
  ASSIGN_OR_RETURN(size_t got, PreadFull(fd, {buf, n}, off, rel));
  if (got != n)
    return MakeError(ErrorCode::kIo, rel + ": file shrank while being read");
  return Ok();
}

Result<void> WriteAll(int fd, ByteSpan data, std::uint64_t off,
                      const std::string& rel) {
  return PwriteFull(fd, data, off, rel);
}

Result<std::string> Md5OfFile(int fd, const std::string& rel) {
  aws::Md5 md5;
  std::vector<std::uint8_t> buf(1 << 20);
  std::uint64_t off = 0;
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, PreadFull(fd, buf, off, rel));
    md5.Update(ByteSpan(buf.data(), n));
    off += n;
    if (n < buf.size()) return md5.Hex();
  }
}

model::Timespec ToModel(const Time& t) { return {t.sec, t.nsec}; }

// What a download applies: the object's attributes where it has them (the
// owner only as root), else the default mode and the entry's mtime.
fs::Metadata MetadataFor(const Attributes* a, Time mtime,
                         std::optional<std::uint32_t> default_mode) {
  fs::Metadata m;
  m.mode = a && a->mode ? a->mode : default_mode;
  if (a && a->uid && a->gid) {
    m.uid = a->uid;
    m.gid = a->gid;
  }
  if (a && a->atime) m.atime = ToModel(*a->atime);
  m.mtime = ToModel(a ? a->mtime : mtime);
  m.symlink = a && a->kind == Kind::kSymlink;
  return m;
}

// The first of a list of failures, or Ok.
Result<void> First(std::vector<Error> errors) {
  if (errors.empty()) return Ok();
  return std::move(errors.front());
}

Attributes AttrsOf(const Entry& e) {
  Attributes a;
  a.kind = e.kind;
  a.mtime = e.mtime;
  a.atime = e.atime;
  a.mode = e.mode;
  a.uid = e.uid;
  a.gid = e.gid;
  a.md5 = e.md5;
  return a;
}

Attributes AttrsOf(const Entry& e, const struct stat& st) {
  Attributes a = AttrsOf(e);
  a.mtime = {static_cast<std::int64_t>(st.st_mtim.tv_sec),
             static_cast<std::uint32_t>(st.st_mtim.tv_nsec)};
  a.atime = Time{static_cast<std::int64_t>(st.st_atim.tv_sec),
                 static_cast<std::uint32_t>(st.st_atim.tv_nsec)};
  a.mode = st.st_mode & 07777;
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  return a;
}

struct RemoteObject {
  std::string key_rel;  // key relative to the prefix
  std::uint64_t size = 0;
  std::string etag;
  Time last_modified;
  std::optional<Attributes> attrs;
  bool verified = false;    // attrs are known (manifest or HEAD)
  size_t entry = SIZE_MAX;  // index into remote_ or SIZE_MAX when filtered
};

class Syncer {
 public:
  Syncer(S3Client& client, const SyncOptions& opts)
      : client_(client),
        opts_(opts),
        errors_sink_(opts.on_error, opts.cancel),
        budget_(opts.memory_limit),
        large_(opts.large_parallel),
        as_root_(::geteuid() == 0) {}

  Result<SyncResult> Run();

 private:
  bool Cancelled() const { return errors_sink_.Stopped(); }
  void ReportError(const std::string& rel, const Error& e) {
    ++errors_;
    if (opts_.progress) ++opts_.progress->errors;
    errors_sink_.Report(rel, e);
  }
  void Warn(const std::string& text) {
    if (opts_.on_warning) opts_.on_warning(text);
  }
  void Done(std::uint64_t bytes) {
    ++copied_;
    copied_bytes_ += bytes;
    if (opts_.progress) {
      ++opts_.progress->files;
      opts_.progress->bytes += bytes;
    }
  }

  Result<void> ListRemote();
  void KeepUnread(const WalkResult& walked, PlanOptions* po) const;
  void ReportWithheld(const Plan& plan, const PlanOptions& po);
  void BuildRemoteEntries();
  void HeadUnverified(const std::vector<Entry>& local);
  Result<void> Upload(const Entry& e, const Action& a, bool replaces);
  Result<void> UploadLarge(int fd, const struct stat& st, const Entry& e,
                           const std::string& key, aws::PutOptions put);
  Result<void> Backup(const std::string& key_rel);
  Result<void> Download(const Entry& e, const Action& a);
  Result<void> DownloadLarge(int tmpfd, const std::string& key,
                             std::uint64_t size, const std::string& rel);
  Result<void> WriteLocal(int dirfd, const std::string& rel, const Entry& e,
                          const Attributes* attrs, ByteSpan data, int tmpfd,
                          const std::string& tmpname);
  void ApplyDirMarkers();
  Result<void> WriteManifest();
  // The steps of Run.
  Result<void> Prepare();
  Result<WalkResult> WalkAndList();
  void SetAsideDirMarkers();
  Plan PlanTransfers(const WalkResult& local, const std::vector<Entry>& src,
                     const std::vector<Entry>& dst);
  Result<void> Execute(const Plan& plan, const std::vector<Entry>& src,
                       const std::vector<Entry>& dst);
  void UploadAll(const Plan& plan, const std::vector<Entry>& src);
  void DeleteRemote(const Plan& plan, const std::vector<Entry>& dst);
  void DownloadAll(const Plan& plan, const std::vector<Entry>& src);
  void DeleteLocal(const Plan& plan, const std::vector<Entry>& dst);

  S3Client& client_;
  const SyncOptions& opts_;
  ErrorSink errors_sink_;
  Filter filter_;
  Budget budget_;
  Slots large_;
  bool as_root_;
  mode_t umask_ = 022;
  int root_ = -1;

  Manifest old_manifest_;
  bool manifest_ok_ = false;
  std::vector<RemoteObject> objects_;
  std::map<std::string, size_t> object_by_key_;
  std::vector<Entry> remote_;       // usable remote entries (filtered)
  std::vector<size_t> remote_obj_;  // remote_[i] -> objects_ index
  std::vector<Entry> dir_markers_;  // download: markers to create

  std::mutex mu_;
  Manifest new_entries_;              // objects written by this run
  std::vector<std::string> deleted_;  // key_rel of deleted objects
  std::atomic<std::uint64_t> copied_{0}, copied_bytes_{0}, errors_{0};
  std::atomic<std::uint64_t> unchanged_{0}, backed_up_{0}, heads_{0};
};

Result<void> Syncer::ListRemote() {
  Result<Bytes> manifest = MakeError(ErrorCode::kNotFound, "");
  std::thread fetch([&] {
    manifest = client_.GetObject(opts_.bucket, opts_.prefix + kManifestName);
  });
  Result<void> listed = client_.ListObjects(
      opts_.bucket, opts_.prefix, [&](const ListedObject& o) -> Result<void> {
        if (Cancelled()) return MakeError(ErrorCode::kCancelled, "interrupted");
        std::string key_rel = o.key.substr(opts_.prefix.size());
        if (key_rel == kManifestName) return Ok();
        RemoteObject r;
        r.key_rel = std::move(key_rel);
        r.size = o.size;
        r.etag = o.etag;
        r.last_modified = ParseRfc3339(o.last_modified).value_or(Time{});
        objects_.push_back(std::move(r));
        return Ok();
      });
  fetch.join();
  RETURN_IF_ERROR(listed);
  if (manifest) {
    auto m = DecodeManifest(*manifest);
    if (m) {
      old_manifest_ = std::move(*m);
      manifest_ok_ = true;
    } else {
      Warn(aws::S3Name(opts_.bucket, opts_.prefix + kManifestName) +
           ": ignored: " + m.error().message);
    }
  } else if (manifest.error().code != ErrorCode::kNotFound) {
    return manifest.error();
  }
  for (size_t i = 0; i < objects_.size(); ++i) {
    RemoteObject& r = objects_[i];
    object_by_key_[r.key_rel] = i;
    auto it = old_manifest_.find(r.key_rel);
    if (it != old_manifest_.end() && it->second.size == r.size &&
        it->second.etag == r.etag) {
      r.attrs = it->second.attrs;
      r.verified = true;
    }
  }
  return Ok();
}

// Remote objects -> entries, for the objects the filters and links take.
void Syncer::BuildRemoteEntries() {
  remote_.clear();
  remote_obj_.clear();
  for (size_t i = 0; i < objects_.size(); ++i) {
    RemoteObject& r = objects_[i];
    r.entry = SIZE_MAX;
    bool marker = !r.key_rel.empty() && r.key_rel.back() == '/';
    std::string rel = UnescapeKey(r.key_rel);
    std::string path = marker ? rel.substr(0, rel.size() - 1) : rel;
    if (!IsSafeRelativePath(path)) {
      if (!r.key_rel.empty() && r.key_rel != "/")
        Warn(r.key_rel + ": skipped (not a usable relative path)");
      continue;
    }
    if (marker ? filter_.Excluded(path) : !filter_.Included(path)) continue;
    Entry e;
    e.rel = rel;
    e.size = r.size;
    if (r.attrs) {
      e.kind = r.attrs->kind;
      e.mtime = r.attrs->mtime;
      e.atime = r.attrs->atime;
      e.mode = r.attrs->mode;
      e.uid = r.attrs->uid;
      e.gid = r.attrs->gid;
      e.md5 = r.attrs->md5;
    } else {
      e.mtime = r.last_modified;
      e.exact = false;
    }
    if (marker) e.kind = Kind::kDir;
    if (e.md5.empty() && IsPlainMd5(r.etag) && opts_.put.sse != "aws:kms")
      e.md5 = r.etag;
    if (e.kind == Kind::kSymlink && !opts_.links) {
      if (!opts_.upload)
        Warn(path + ": symlink skipped (--links copies symlinks)");
      continue;
    }
    r.entry = remote_.size();
    remote_.push_back(std::move(e));
    remote_obj_.push_back(i);
  }
}

// One HEAD for each object without known attributes whose size equals the
// local file's: only then do the attributes decide anything.
void Syncer::HeadUnverified(const std::vector<Entry>& local) {
  std::map<std::string_view, const Entry*> by_rel;
  for (const Entry& e : local) by_rel.emplace(e.rel, &e);
  std::vector<size_t> todo;
  for (size_t i = 0; i < remote_.size(); ++i) {
    RemoteObject& r = objects_[remote_obj_[i]];
    if (r.verified) continue;
    auto it = by_rel.find(remote_[i].rel);
    if (it != by_rel.end() && it->second->size == r.size)
      todo.push_back(remote_obj_[i]);
  }
  ParallelFor(todo.size(), opts_.transfers, [&](size_t k) {
    if (Cancelled()) return;
    RemoteObject& r = objects_[todo[k]];
    ++heads_;
    auto m = client_.HeadObject(opts_.bucket, opts_.prefix + r.key_rel);
    if (!m) return;  // compared by Last-Modified
    if (m->etag != r.etag || m->size != r.size) return;  // changed meanwhile
    r.attrs = FromMetadata(m->metadata);
    r.verified = true;
  });
}

Result<void> Syncer::Backup(const std::string& key_rel) {
  if (opts_.backup_bucket.empty()) return Ok();
  aws::PutOptions put = opts_.put;
  RETURN_IF_ERROR(client_.CopyObject(opts_.bucket, opts_.prefix + key_rel,
                                     opts_.backup_bucket,
                                     opts_.backup_prefix + key_rel, put));
  ++backed_up_;
  return Ok();
}

Result<void> Syncer::Upload(const Entry& e, const Action& a, bool replaces) {
  const std::string key_rel = EscapeName(e.rel);
  const std::string key = opts_.prefix + key_rel;
  if (key.size() > 1024)
    return MakeError(ErrorCode::kInvalidArgument,
                     e.rel.substr(0, 60) + "...: the object key would be " +
                         std::to_string(key.size()) +
                         " bytes, longer than S3 allows (1024)");
  aws::PutOptions put = opts_.put;
  Bytes body;
  Attributes attrs = AttrsOf(e);
  bool reserved = false;
  std::uint64_t size = 0;
  Fd file;
  if (e.kind == Kind::kDir) {
    attrs.md5.clear();
  } else if (e.kind == Kind::kSymlink) {
    std::string parent = Parent(e.rel);
    Fd dir(parent.empty() ? ::dup(root_)
                          : OpenBeneath(root_, parent, O_RDONLY | O_DIRECTORY));
    if (dir.get() < 0) return PosixError(e.rel, -dir.get());
    std::vector<char> buf(static_cast<size_t>(e.size) + 2);
    ssize_t n =
        ::readlinkat(dir.get(), Base(e.rel).c_str(), buf.data(), buf.size());
    if (n < 0) return PosixError(e.rel, errno);
    body.assign(buf.begin(), buf.begin() + n);
    attrs.md5.clear();
  } else {
    // O_NOATIME: reading for a mirror leaves atimes as they were (it needs
    // ownership or CAP_FOWNER; without, the plain open).
    int fd = OpenBeneath(root_, e.rel, O_RDONLY | O_NOATIME);
    if (fd == -EPERM) fd = OpenBeneath(root_, e.rel, O_RDONLY);
    if (fd < 0) return PosixError(e.rel, -fd);
    Fd owned(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) return PosixError(e.rel, errno);
    if (!S_ISREG(st.st_mode))
      return MakeError(ErrorCode::kIo, e.rel + ": no longer a regular file");
    attrs = AttrsOf(e, st);
    size = static_cast<std::uint64_t>(st.st_size);
    if (a.type == Action::Type::kCheck) {
      ASSIGN_OR_RETURN(std::string md5, Md5OfFile(fd, e.rel));
      if (md5 == a.md5) {
        ++unchanged_;
        return Ok();
      }
    }
    if (replaces) RETURN_IF_ERROR(Backup(key_rel));
    if (size >= opts_.multipart_threshold && size > (5u << 20)) {
      put.metadata = ToMetadata(attrs, false);
      large_.Acquire();
      auto r = UploadLarge(fd, st, e, key, put);
      large_.Release();
      return r;
    }
    budget_.Acquire(size);
    reserved = true;
    body.resize(static_cast<size_t>(size));
    auto r = ReadAt(fd, body.data(), body.size(), 0, e.rel);
    if (!r) {
      budget_.Release(size);
      return r.error();
    }
  }
  if (e.kind != Kind::kFile && replaces) RETURN_IF_ERROR(Backup(key_rel));
  put.metadata = ToMetadata(attrs, false);
  auto etag = client_.PutObject(opts_.bucket, key, body, put);
  if (reserved) budget_.Release(size);
  if (!etag) return etag.error();
  if (IsPlainMd5(*etag) && opts_.put.sse != "aws:kms" && e.kind == Kind::kFile)
    attrs.md5 = *etag;
  {
    std::lock_guard lock(mu_);
    new_entries_[key_rel] = {body.size(), *etag, attrs};
  }
  Done(body.size());
  return Ok();
}

Result<void> Syncer::UploadLarge(int fd, const struct stat& st, const Entry& e,
                                 const std::string& key, aws::PutOptions put) {
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  // Each part is read once, into memory: its MD5 goes into the file's.
  aws::Md5 md5;
  aws::MultipartHooks hooks;
  hooks.buffer_parts = true;
  hooks.on_read = [&](ByteSpan part) { md5.Update(part); };
  hooks.on_part_done = [this](std::uint64_t bytes) {
    if (opts_.progress) opts_.progress->bytes += bytes;
  };
  hooks.cancelled = [this] { return Cancelled(); };
  ASSIGN_OR_RETURN(
      std::string etag,
      aws::UploadMultipart(client_, opts_.bucket, key,
                           FileSource(fd, 0, size, e.rel), put,
                           {opts_.part_size, opts_.part_parallel}, hooks));
  Attributes attrs = AttrsOf(e, st);
  attrs.md5 = md5.Hex();
  {
    std::lock_guard lock(mu_);
    new_entries_[EscapeName(e.rel)] = {size, etag, attrs};
  }
  ++copied_;
  copied_bytes_ += size;
  if (opts_.progress) ++opts_.progress->files;
  return Ok();
}

Result<void> Syncer::DownloadLarge(int tmpfd, const std::string& key,
                                   std::uint64_t size, const std::string& rel) {
  std::uint64_t part = std::max<std::uint64_t>(opts_.part_size, 1u << 20);
  const size_t parts = static_cast<size_t>((size + part - 1) / part);
  std::mutex mu;
  Result<void> status = Ok();
  ParallelFor(parts, opts_.part_parallel, [&](size_t i) {
    {
      std::lock_guard lock(mu);
      if (!status) return;
    }
    std::uint64_t off = i * part;
    std::uint64_t len = std::min(part, size - off);
    auto r = client_.GetObject(opts_.bucket, key, off, len);
    Result<void> w =
        r ? WriteAll(tmpfd, *r, off, rel) : Result<void>(r.error());
    if (w && opts_.progress) opts_.progress->bytes += len;
    if (!w) {
      std::lock_guard lock(mu);
      if (status) status = w.error();
    }
  });
  return status;
}

// Sets owner, mode and times on the temporary file, then renames it into
// place.
Result<void> Syncer::WriteLocal(int dirfd, const std::string& rel,
                                const Entry& e, const Attributes* attrs,
                                ByteSpan data, int tmpfd,
                                const std::string& tmpname) {
  if (!data.empty()) RETURN_IF_ERROR(WriteAll(tmpfd, data, 0, rel));
  RETURN_IF_ERROR(First(fs::ApplyMetadata(
      fs::Target::Open(tmpfd), MetadataFor(attrs, e.mtime, 0666 & ~umask_),
      {.owner = as_root_}, rel)));
  if (::renameat(dirfd, tmpname.c_str(), dirfd, Base(rel).c_str()) != 0)
    return PosixError(rel, errno);
  return Ok();
}

Result<void> Syncer::Download(const Entry& e, const Action& a) {
  const RemoteObject& obj = objects_[remote_obj_[a.index]];
  const std::string key = opts_.prefix + obj.key_rel;
  const std::string parent = Parent(e.rel);
  Fd dir(parent.empty() ? ::dup(root_)
                        : OpenBeneath(root_, parent, O_RDONLY | O_DIRECTORY));
  if (dir.get() < 0) return PosixError(e.rel, -dir.get());
  const std::string name = Base(e.rel);
  if (a.type == Action::Type::kCheck) {
    int fd =
        ::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      Fd owned(fd);
      auto md5 = Md5OfFile(fd, e.rel);
      if (md5 && *md5 == a.md5) {
        ++unchanged_;
        return Ok();
      }
    }
  }
  const std::string tmpname =
      ".efs2s3-sync-" + HexEncode(RandomBytes(6)) + ".tmp";
  auto make_tmp = [&]() -> Result<int> {
    int fd =
        ::openat(dir.get(), tmpname.c_str(),
                 O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return PosixError(e.rel, errno);
    return fd;
  };
  auto cleanup = [&] { ::unlinkat(dir.get(), tmpname.c_str(), 0); };

  if (obj.size >= opts_.multipart_threshold && e.kind == Kind::kFile) {
    large_.Acquire();
    auto head = client_.HeadObject(opts_.bucket, key);
    Result<void> r = Ok();
    std::optional<Attributes> attrs = obj.attrs;
    if (!head) {
      r = head.error();
    } else {
      if (auto fresh = FromMetadata(head->metadata)) attrs = fresh;
      if (attrs && attrs->kind != Kind::kFile)
        r = MakeError(ErrorCode::kIo, e.rel + ": not a file object");
    }
    if (r) {
      auto fd = make_tmp();
      if (!fd) {
        r = fd.error();
      } else {
        Fd tmp(*fd);
        r = DownloadLarge(tmp.get(), key, head->size, e.rel);
        if (r)
          r = WriteLocal(dir.get(), e.rel, e, attrs ? &*attrs : nullptr, {},
                         tmp.get(), tmpname);
        if (!r) cleanup();
      }
    }
    large_.Release();
    RETURN_IF_ERROR(r);
    ++copied_;
    copied_bytes_ += obj.size;
    if (opts_.progress) ++opts_.progress->files;
    return Ok();
  }

  budget_.Acquire(obj.size);
  auto got = client_.GetObjectWithMeta(opts_.bucket, key);
  struct Release {
    Budget& b;
    std::uint64_t n;
    ~Release() { b.Release(n); }
  } release{budget_, obj.size};
  if (!got) return got.error();
  std::optional<Attributes> attrs = FromMetadata(got->meta.metadata);
  if (!attrs) attrs = obj.attrs;
  if (IsPlainMd5(got->meta.etag) && opts_.put.sse != "aws:kms" &&
      aws::Md5Hex(got->data) != got->meta.etag)
    return MakeError(ErrorCode::kCorruption,
                     e.rel + ": downloaded content does not match its ETag");
  if (attrs && attrs->kind == Kind::kSymlink) {
    if (!opts_.links) {
      Warn(e.rel + ": symlink skipped (--links copies symlinks)");
      return Ok();
    }
    std::string target(AsString(got->data));
    if (::unlinkat(dir.get(), name.c_str(), 0) != 0 && errno != ENOENT)
      return PosixError(e.rel, errno);
    if (::symlinkat(target.c_str(), dir.get(), name.c_str()) != 0)
      return PosixError(e.rel, errno);
    RETURN_IF_ERROR(First(
        fs::ApplyMetadata(fs::Target::At(dir.get(), name),
                          MetadataFor(&*attrs, attrs->mtime, std::nullopt),
                          {.owner = as_root_}, e.rel)));
    Done(got->data.size());
    return Ok();
  }
  ASSIGN_OR_RETURN(int fd, make_tmp());
  Fd tmp(fd);
  auto r = WriteLocal(dir.get(), e.rel, e, attrs ? &*attrs : nullptr, got->data,
                      tmp.get(), tmpname);
  if (!r) {
    cleanup();
    return r.error();
  }
  Done(got->data.size());
  return Ok();
}

void Syncer::ApplyDirMarkers() {
  // Deepest first, so setting a parent's times is not undone by a child.
  std::sort(dir_markers_.begin(), dir_markers_.end(),
            [](const Entry& a, const Entry& b) { return a.rel > b.rel; });
  for (const Entry& e : dir_markers_) {
    std::string path = e.rel.substr(0, e.rel.size() - 1);
    auto made = MakeDirsBeneath(root_, path);
    if (!made) {
      ReportError(e.rel, made.error());
      continue;
    }
    if (!e.exact) continue;
    Fd d(OpenBeneath(root_, path, O_RDONLY | O_DIRECTORY));
    if (d.get() < 0) {
      ReportError(e.rel, PosixError(e.rel, -d.release()));
      continue;
    }
    fs::Metadata m;
    m.mode = e.mode;
    if (e.uid && e.gid) {
      m.uid = e.uid;
      m.gid = e.gid;
    }
    if (e.atime) m.atime = ToModel(*e.atime);
    m.mtime = ToModel(e.mtime);
    for (Error& err : fs::ApplyMetadata(fs::Target::Open(d.get()), m,
                                        {.owner = as_root_}, e.rel))
      ReportError(e.rel, err);
  }
}

Result<void> Syncer::WriteManifest() {
  Manifest m;
  for (const RemoteObject& r : objects_)
    m[r.key_rel] = {r.size, r.etag, r.verified ? r.attrs : std::nullopt};
  for (const std::string& k : deleted_) m.erase(k);
  for (auto& [k, v] : new_entries_) m[k] = v;
  Bytes data = EncodeManifest(m);
  if (manifest_ok_ && data == EncodeManifest(old_manifest_)) return Ok();
  if (m.empty() && !manifest_ok_) return Ok();
  aws::PutOptions put;
  put.sse = opts_.put.sse;
  put.sse_kms_key_id = opts_.put.sse_kms_key_id;
  auto r =
      client_.PutObject(opts_.bucket, opts_.prefix + kManifestName, data, put);
  if (!r) return r.error();
  return Ok();
}

// What the walk could not read is never taken as gone: its destination
// entries are kept, and with errors (not mere vanishing) nothing is deleted
// unless the user asked for --ignore-errors.
void Syncer::KeepUnread(const WalkResult& walked, PlanOptions* po) const {
  po->keep = walked.incomplete;
  po->keep.insert(po->keep.end(), walked.vanished.begin(),
                  walked.vanished.end());
  po->withhold_deletes = !walked.incomplete.empty() && !opts_.ignore_errors;
}

void Syncer::ReportWithheld(const Plan& plan, const PlanOptions& po) {
  if (plan.withheld.empty()) return;
  std::string paths;
  for (size_t i = 0; i < po.keep.size() && i < 5; ++i)
    paths += (i ? ", " : "") + (po.keep[i].empty() ? "." : po.keep[i]);
  if (po.keep.size() > 5)
    paths += fmt::format(" and {} more", po.keep.size() - 5);
  Warn(fmt::format("{} deletion(s) withheld: {} not read completely ({}){}",
                   plan.withheld.size(),
                   opts_.upload ? "the source was" : "the target was", paths,
                   po.withhold_deletes
                       ? "; --ignore-errors deletes outside what was not read"
                       : ""));
}

// The bucket exists (or is made) for an upload; the target directory for a
// download.
Result<void> Syncer::Prepare() {
  filter_ = Filter(opts_.excludes, opts_.includes);
  umask_ = ::umask(022);
  ::umask(umask_);
  if (!opts_.upload) {
    if (!opts_.dry_run) RETURN_IF_ERROR(MakeDirs(opts_.local, 0755));
    return Ok();
  }
  auto hb = client_.HeadBucket(opts_.bucket);
  if (!hb && hb.error().code == ErrorCode::kNoRepository && !opts_.dry_run)
    return client_.CreateBucket(opts_.bucket);
  if (!hb && hb.error().code != ErrorCode::kNoRepository) return hb.error();
  return Ok();
}

// The local walk and the bucket listing, overlapped.
Result<WalkResult> Syncer::WalkAndList() {
  WalkOptions w;
  w.threads = opts_.walkers;
  w.filter = &filter_;
  w.links = opts_.links;
  w.warn_links = opts_.upload;
  w.keep_empty_dirs = opts_.upload && opts_.keep_empty_dirs;
  w.reserved_name = opts_.upload ? kManifestName : "";
  w.on_error = [&](const std::string& rel, const Error& e) -> Result<void> {
    ReportError(rel, e);
    if (auto refusal = errors_sink_.refusal()) return *refusal;
    return Ok();
  };
  w.on_warning = [&](const std::string& t) { Warn(t); };
  w.counter = opts_.progress ? &opts_.progress->scanned : nullptr;
  w.cancel = opts_.cancel;
  Result<WalkResult> local = WalkResult{};
  std::thread walker([&] {
    struct stat st {};
    if (opts_.upload || ::stat(opts_.local.c_str(), &st) == 0)
      local = WalkTree(opts_.local, w);
  });
  Result<void> listed = ListRemote();
  walker.join();
  RETURN_IF_ERROR(listed);
  if (!local) return local.error();
  if (Cancelled()) return MakeError(ErrorCode::kCancelled, "interrupted");
  BuildRemoteEntries();
  HeadUnverified(local->entries);
  BuildRemoteEntries();  // with the attributes learned
  if (!opts_.upload) SetAsideDirMarkers();
  return local;
}

// A download applies directory markers after the files; they are not planned.
void Syncer::SetAsideDirMarkers() {
  std::vector<Entry> files;
  std::vector<size_t> objs;
  for (size_t i = 0; i < remote_.size(); ++i) {
    if (remote_[i].kind == Kind::kDir) {
      dir_markers_.push_back(remote_[i]);
    } else {
      files.push_back(remote_[i]);
      objs.push_back(remote_obj_[i]);
    }
  }
  remote_ = std::move(files);
  remote_obj_ = std::move(objs);
}

// The plan from the two sides, what it withholds reported, every action
// announced.
Plan Syncer::PlanTransfers(const WalkResult& local,
                           const std::vector<Entry>& src,
                           const std::vector<Entry>& dst) {
  PlanOptions po;
  po.compare = opts_.compare;
  po.delete_extra = opts_.delete_extra;
  po.compare_owner = opts_.upload || as_root_;
  KeepUnread(local, &po);
  Plan plan = MakePlan(src, dst, po);
  ReportWithheld(plan, po);
  unchanged_ = plan.unchanged;
  if (opts_.progress) opts_.progress->bytes_expected = plan.copy_bytes;
  const char* verb = opts_.upload ? "upload" : "download";
  if (opts_.on_action) {
    for (const Action& a : plan.copies)
      opts_.on_action(verb, src[a.index].rel, a.why);
    for (const Action& a : plan.deletes)
      opts_.on_action("delete", dst[a.index].rel, a.why);
    for (const Action& a : plan.withheld)
      opts_.on_action("keep", dst[a.index].rel, a.why);
  }
  return plan;
}

void Syncer::UploadAll(const Plan& plan, const std::vector<Entry>& src) {
  std::map<std::string_view, bool> existing;
  for (const Entry& e : remote_) existing.emplace(e.rel, true);
  ParallelFor(plan.copies.size(), opts_.transfers, [&](size_t i) {
    if (Cancelled()) return;
    const Action& a = plan.copies[i];
    const Entry& e = src[a.index];
    auto r = Upload(e, a, existing.count(e.rel) > 0);
    if (!r) ReportError(e.rel, r.error());
  });
}

// Deletions in the bucket: copied away first with --backup-prefix, then
// deleted in batches.
void Syncer::DeleteRemote(const Plan& plan, const std::vector<Entry>& dst) {
  std::vector<std::string> keys(plan.deletes.size());
  std::vector<bool> ok(plan.deletes.size(), true);
  ParallelFor(plan.deletes.size(), opts_.transfers, [&](size_t i) {
    const RemoteObject& o = objects_[remote_obj_[plan.deletes[i].index]];
    keys[i] = o.key_rel;
    auto r = Backup(o.key_rel);
    if (!r) {
      ok[i] = false;
      ReportError(dst[plan.deletes[i].index].rel, r.error());
    }
  });
  std::vector<std::string> doomed;
  for (size_t i = 0; i < keys.size(); ++i)
    if (ok[i]) doomed.push_back(opts_.prefix + keys[i]);
  if (Cancelled() || doomed.empty()) return;
  auto r = client_.DeleteObjects(opts_.bucket, doomed);
  if (!r) {
    ReportError(opts_.prefix, r.error());
    return;
  }
  for (size_t i = 0; i < keys.size(); ++i)
    if (ok[i]) deleted_.push_back(keys[i]);
}

// Parent directories first (once each), then the files in parallel.
void Syncer::DownloadAll(const Plan& plan, const std::vector<Entry>& src) {
  std::vector<std::string> dirs;
  for (const Action& a : plan.copies) dirs.push_back(Parent(src[a.index].rel));
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  for (const std::string& d : dirs) {
    if (d.empty()) continue;
    auto r = MakeDirsBeneath(root_, d);
    if (!r) ReportError(d, r.error());
  }
  ParallelFor(plan.copies.size(), opts_.transfers, [&](size_t i) {
    if (Cancelled()) return;
    const Action& a = plan.copies[i];
    auto r = Download(src[a.index], a);
    if (!r) ReportError(src[a.index].rel, r.error());
  });
}

void Syncer::DeleteLocal(const Plan& plan, const std::vector<Entry>& dst) {
  for (const Action& a : plan.deletes) {
    const Entry& e = dst[a.index];
    std::string parent = Parent(e.rel);
    Fd d(parent.empty() ? ::dup(root_)
                        : OpenBeneath(root_, parent, O_RDONLY | O_DIRECTORY));
    if (d.get() < 0 || ::unlinkat(d.get(), Base(e.rel).c_str(), 0) != 0) {
      ReportError(e.rel, PosixError(e.rel, d.get() < 0 ? -d.get() : errno));
      continue;
    }
    deleted_.push_back(e.rel);
  }
}

// Carries out the plan: copies, deletions, and then the manifest (upload) or
// the directory markers (download).
Result<void> Syncer::Execute(const Plan& plan, const std::vector<Entry>& src,
                             const std::vector<Entry>& dst) {
  Fd root(::open(opts_.local.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return PosixError(opts_.local, errno);
  root_ = root.get();
  if (opts_.upload) {
    UploadAll(plan, src);
    DeleteRemote(plan, dst);
    auto m = WriteManifest();
    if (!m) ReportError(kManifestName, m.error());
  } else {
    DownloadAll(plan, src);
    DeleteLocal(plan, dst);
    ApplyDirMarkers();
  }
  root_ = -1;
  return Ok();
}

Result<SyncResult> Syncer::Run() {
  const RequestCounts start = client_.request_counts();
  RETURN_IF_ERROR(Prepare());
  ASSIGN_OR_RETURN(WalkResult local, WalkAndList());
  const std::vector<Entry>& src = opts_.upload ? local.entries : remote_;
  const std::vector<Entry>& dst = opts_.upload ? remote_ : local.entries;
  Plan plan = PlanTransfers(local, src, dst);
  SyncResult result;
  result.source_entries = src.size();
  result.manifest_used = manifest_ok_;
  result.withheld = plan.withheld.size();
  if (!opts_.dry_run) {
    // Lets a test change the tree between the walk and the transfers.
    test_hooks::Gate("SYNC_PLANNED");
    RETURN_IF_ERROR(Execute(plan, src, dst));
  }
  if (auto refusal = errors_sink_.refusal()) return *refusal;
  if (Cancelled()) return MakeError(ErrorCode::kCancelled, "interrupted");
  result.copied = copied_;
  result.copied_bytes = copied_bytes_;
  result.unchanged = unchanged_;
  result.deleted = opts_.dry_run ? 0 : deleted_.size();
  result.backed_up = backed_up_;
  result.errors = errors_;
  result.heads = heads_;
  result.requests = Minus(client_.request_counts(), start);
  result.request_cost_usd = RequestCost(result.requests);
  return result;
}

}  // namespace

Result<SyncResult> RunSync(S3Client& client, const SyncOptions& opts) {
  Syncer s(client, opts);
  return s.Run();
}

}  // namespace efs2s3::sync
