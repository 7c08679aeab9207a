// Internal to sync/: the Syncer that carries out one sync, and the small
// helpers its parts share (sync.cc: walk, listing, plan, manifest;
// sync_upload.cc: uploads and remote deletions; sync_download.cc: downloads,
// local deletions and directory markers).
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws/s3_client.h"
#include "base/error_sink.h"
#include "fs/meta.h"
#include "sync/local_fs.h"
#include "sync/manifest.h"
#include "sync/sync.h"

namespace efs2s3::sync::detail {

using aws::ListedObject;
using aws::RequestCounts;
using aws::S3Client;

RequestCounts Minus(const RequestCounts& a, const RequestCounts& b);

std::string Parent(const std::string& rel);

std::string Base(const std::string& rel);

// An ETag that is the MD5 of the content (a single-part upload).
bool IsPlainMd5(const std::string& etag);

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
                    const std::string& rel);

Result<void> WriteAll(int fd, ByteSpan data, std::uint64_t off,
                      const std::string& rel);

Result<std::string> Md5OfFile(int fd, const std::string& rel);

model::Timespec ToModel(const Time& t);

// What a download applies: the object's attributes where it has them (the
// owner only as root), else the default mode and the entry's mtime.
fs::Metadata MetadataFor(const Attributes* a, Time mtime,
                         std::optional<std::uint32_t> default_mode);

// The first of a list of failures, or Ok.
Result<void> First(std::vector<Error> errors);

Attributes AttrsOf(const Entry& e);

Attributes AttrsOf(const Entry& e, const struct stat& st);

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
  bool SameContent(int dirfd, const std::string& name, const Entry& e,
                   const Action& a);
  Result<void> DownloadLargeFile(int dirfd, const Entry& e,
                                 const RemoteObject& obj,
                                 const std::string& key);
  Result<void> WriteSymlink(int dirfd, const std::string& name, const Entry& e,
                            const Attributes& attrs, ByteSpan target);
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

}  // namespace efs2s3::sync::detail
