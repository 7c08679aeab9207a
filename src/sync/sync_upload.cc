// Uploads of a sync, and the deletions in the bucket.
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

}  // namespace efs2s3::sync::detail
