// sync: a plain-object mirror of a directory tree in S3, or the reverse.
//
// Upload (local -> s3://bucket/prefix/):
//   walk the tree (local_fs.h) | list the prefix + fetch the manifest
//   attributes of listed objects: from the manifest when size and ETag match,
//     else one HEAD for an object whose size matches a local file's
//   MakePlan (plan.h): copies, checks (--checksum), deletions (--delete)
//   execute with `transfers` requests in flight: small files in one PUT with
//     their attributes in user metadata, large ones as multipart uploads with
//     parts in parallel; --backup-prefix copies an object away before it is
//     replaced or deleted; deletions go in DeleteObjects batches
//   write the new manifest.
// Download (s3://bucket/prefix/ -> local): the same listing and walk with the
// roles swapped; files are written to a temporary name beside the target and
// renamed into place after their mode, owner (as root) and times are set;
// every write stays below the target directory (openat2 RESOLVE_BENEATH).
//
// Per-file problems go to on_error and the run goes on (counted in errors);
// listing, manifest and bucket problems are fatal. Thread-safe callbacks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "aws/s3_client.h"
#include "base/error_sink.h"
#include "base/result.h"
#include "sync/plan.h"

namespace efs2s3::sync {

struct SyncProgress {
  std::atomic<std::uint64_t> scanned{0}, files{0}, bytes{0}, errors{0};
  std::atomic<std::uint64_t> bytes_expected{0};
};

struct SyncOptions {
  bool upload = true;  // local -> S3; false: S3 -> local
  std::string local;   // the directory
  std::string bucket;  //
  std::string prefix;  // "" or ending in '/'
  bool delete_extra = false;
  // With delete_extra: delete even when the local walk had errors (rsync's
  // --ignore-errors). What could not be read is never deleted either way.
  bool ignore_errors = false;
  bool dry_run = false;
  bool links = false;
  bool keep_empty_dirs = false;
  CompareMode compare = CompareMode::kDefault;
  std::vector<std::string> excludes, includes;
  int transfers = 256;  // requests in flight
  int walkers = 32;     // threads walking the local tree
  std::uint64_t multipart_threshold = 32u << 20;
  std::uint64_t part_size = 16u << 20;
  int part_parallel = 4;                     // parts in flight per large file
  int large_parallel = 4;                    // large files in flight
  std::uint64_t memory_limit = 1024u << 20;  // bytes of small files in flight
  aws::PutOptions put;  // storage class, SSE (metadata is ours)
  // --backup-prefix: replaced and deleted objects are copied here first.
  std::string backup_bucket, backup_prefix;
  // Every planned action ("upload", "download", "delete", "backup") with the
  // raw relative path and the reason; with dry_run only these happen.
  std::function<void(const std::string& action, const std::string& rel,
                     const std::string& why)>
      on_action;
  // Every per-file error, from many threads: Ok goes on, an error stops the
  // sync (nothing more is copied or deleted), which then fails with it.
  OnError on_error;
  std::function<void(const std::string& text)> on_warning;
  SyncProgress* progress = nullptr;
  const std::atomic<bool>* cancel = nullptr;
};

struct SyncResult {
  std::uint64_t source_entries = 0;  // files, symlinks, markers considered
  std::uint64_t copied = 0, copied_bytes = 0;
  std::uint64_t unchanged = 0;  // incl. checks whose MD5 matched
  std::uint64_t deleted = 0, backed_up = 0;
  // Deletions not made because the walk could not read what they are under
  // (plan.h); the paths themselves are reported to on_error / on_warning.
  std::uint64_t withheld = 0;
  std::uint64_t errors = 0;
  std::uint64_t heads = 0;  // objects looked at one by one
  bool manifest_used = false;
  aws::RequestCounts requests;
  // US dollars at Amazon S3 Standard request prices (us-east-1):
  // PUT/COPY/POST/LIST 0.005 per 1,000, GET/HEAD 0.0004 per 1,000, DELETE 0.
  double request_cost_usd = 0;
};

// Errors: kNoRepository when the bucket is missing on download; kCancelled
// when *cancel became true; S3 listing / local root errors.
Result<SyncResult> RunSync(aws::S3Client& client, const SyncOptions& opts);

double RequestCost(const aws::RequestCounts& n);

}  // namespace efs2s3::sync
