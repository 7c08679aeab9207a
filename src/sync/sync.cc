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
#include "sync/syncer.h"

namespace efs2s3::sync {

using aws::ListedObject;
using aws::RequestCounts;
using aws::S3Client;

double RequestCost(const RequestCounts& n) {
  return static_cast<double>(n.put + n.post + n.list) * 0.005 / 1000 +
         static_cast<double>(n.get + n.head) * 0.0004 / 1000;
}

namespace detail {

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

}  // namespace detail

Result<SyncResult> RunSync(S3Client& client, const SyncOptions& opts) {
  detail::Syncer s(client, opts);
  return s.Run();
}

}  // namespace efs2s3::sync
