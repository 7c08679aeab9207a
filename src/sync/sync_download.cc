// Downloads of a sync, the deletions in the target directory, and its
// directory markers.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "aws/multipart.h"
#include "aws/sigv4.h"
#include "base/bytes.h"
#include "base/file_util.h"
#include "base/io.h"
#include "base/thread_pool.h"
#include "fs/meta.h"
#include "sync/syncer.h"

namespace efs2s3::sync::detail {

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
namespace {

// A temporary file beside the one a download replaces, renamed over it once
// complete (WriteLocal).
struct TempFile {
  explicit TempFile(int dir)
      : dirfd(dir),
        name(".efs2s3-sync-" + HexEncode(RandomBytes(6)) + ".tmp") {}
  Result<Fd> Create(const std::string& rel) const {
    Fd fd(::openat(dirfd, name.c_str(),
                   O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return PosixError(rel, errno);
    return fd;
  }
  void Remove() const { ::unlinkat(dirfd, name.c_str(), 0); }
  int dirfd;
  std::string name;
};

}  // namespace

// --checksum: the local file already has the object's MD5.
bool Syncer::SameContent(int dirfd, const std::string& name, const Entry& e,
                         const Action& a) {
  if (a.type != Action::Type::kCheck) return false;
  Fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return false;
  auto md5 = Md5OfFile(fd.get(), e.rel);
  return md5 && *md5 == a.md5;
}

// A file of at least the multipart threshold: fetched in ranges, in parallel,
// into a temporary file (its attributes from a HEAD).
Result<void> Syncer::DownloadLargeFile(int dirfd, const Entry& e,
                                       const RemoteObject& obj,
                                       const std::string& key) {
  large_.Acquire();
  struct Release {
    Slots& s;
    ~Release() { s.Release(); }
  } release{large_};
  ASSIGN_OR_RETURN(aws::ObjectMeta head, client_.HeadObject(opts_.bucket, key));
  std::optional<Attributes> attrs = obj.attrs;
  if (auto fresh = FromMetadata(head.metadata)) attrs = fresh;
  if (attrs && attrs->kind != Kind::kFile)
    return MakeError(ErrorCode::kIo, e.rel + ": not a file object");
  TempFile tmp(dirfd);
  ASSIGN_OR_RETURN(Fd fd, tmp.Create(e.rel));
  Result<void> r = DownloadLarge(fd.get(), key, head.size, e.rel);
  if (r)
    r = WriteLocal(dirfd, e.rel, e, attrs ? &*attrs : nullptr, {}, fd.get(),
                   tmp.name);
  if (!r) {
    tmp.Remove();
    return r;
  }
  ++copied_;
  copied_bytes_ += obj.size;
  if (opts_.progress) ++opts_.progress->files;
  return Ok();
}

// A symlink object (its content is the target), made in place.
Result<void> Syncer::WriteSymlink(int dirfd, const std::string& name,
                                  const Entry& e, const Attributes& attrs,
                                  ByteSpan target) {
  if (!opts_.links) {
    Warn(e.rel + ": symlink skipped (--links copies symlinks)");
    return Ok();
  }
  if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT)
    return PosixError(e.rel, errno);
  if (::symlinkat(std::string(AsString(target)).c_str(), dirfd, name.c_str()) !=
      0)
    return PosixError(e.rel, errno);
  RETURN_IF_ERROR(
      First(fs::ApplyMetadata(fs::Target::At(dirfd, name),
                              MetadataFor(&attrs, attrs.mtime, std::nullopt),
                              {.owner = as_root_}, e.rel)));
  Done(target.size());
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
  if (SameContent(dir.get(), name, e, a)) {
    ++unchanged_;
    return Ok();
  }
  if (obj.size >= opts_.multipart_threshold && e.kind == Kind::kFile)
    return DownloadLargeFile(dir.get(), e, obj, key);

  budget_.Acquire(obj.size);
  struct Release {
    Budget& b;
    std::uint64_t n;
    ~Release() { b.Release(n); }
  } release{budget_, obj.size};
  ASSIGN_OR_RETURN(auto got, client_.GetObjectWithMeta(opts_.bucket, key));
  std::optional<Attributes> attrs = FromMetadata(got.meta.metadata);
  if (!attrs) attrs = obj.attrs;
  if (IsPlainMd5(got.meta.etag) && opts_.put.sse != "aws:kms" &&
      aws::Md5Hex(got.data) != got.meta.etag)
    return MakeError(ErrorCode::kCorruption,
                     e.rel + ": downloaded content does not match its ETag");
  if (attrs && attrs->kind == Kind::kSymlink)
    return WriteSymlink(dir.get(), name, e, *attrs, got.data);
  TempFile tmp(dir.get());
  ASSIGN_OR_RETURN(Fd fd, tmp.Create(e.rel));
  auto r = WriteLocal(dir.get(), e.rel, e, attrs ? &*attrs : nullptr, got.data,
                      fd.get(), tmp.name);
  if (!r) {
    tmp.Remove();
    return r.error();
  }
  Done(got.data.size());
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

}  // namespace efs2s3::sync::detail
