// Object Lock retention that follows use (docs/S3.md, "Object Lock").
//
// A repository with Object Lock writes every object (but locks) with a
// retention of its lock period. Data that snapshots still use must stay locked
// for as long as they do: `lock extend` moves the retain-until date of every
// live object (config, keys, snapshots, index files, and the packs holding a
// blob some snapshot uses) to now + the period, and leaves unused packs to
// expire so that prune can delete them once their retention ended.
//
// An object is extended only when its retention ends within `min_remaining`
// of now. Its retention is known without a request: from the ledger in the
// cache (what earlier runs set) or else from its write time in the listing
// plus the period. So a weekly run with a 30-day period extends each object
// about every two weeks, one PutObjectRetention each.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "repo/repository.h"
#include "storage/backend.h"

namespace efs2s3::maintenance {

struct RetentionOptions {
  std::int64_t now = 0;  // seconds since the epoch; 0 = the clock
  // Extend objects whose retention ends within this many seconds; 0 = half
  // the lock period.
  std::int64_t min_remaining = 0;
  bool all = false;  // extend every live object, whatever the ledger says
  std::string temp_dir;
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const std::string&)> progress;
};

struct RetentionFailure {
  std::string object;  // "data/ab/abcd...", "snapshots/..."
  std::string message;
};

struct LockExtendResult {
  std::uint64_t live = 0;          // live objects
  std::uint64_t extended = 0;      // PutObjectRetention requests that succeeded
  std::uint64_t unused_packs = 0;  // packs left to expire
  std::int64_t until = 0;          // the new retain-until date
  std::vector<RetentionFailure> failed;
};

// REQUIRES: a repository with Object Lock (config().lock_mode).
Result<LockExtendResult> LockExtend(repo::Repository& repo,
                                    const RetentionOptions& options);

struct RetentionCheck {
  std::uint64_t checked = 0;  // live objects asked (one HEAD each)
  // Live objects whose retention ends before it should: none, or it ends
  // before now + min_remaining (lock extend has not run in time).
  std::vector<RetentionFailure> short_retention;
};

// Asks the store for the retention of every live object (one HEAD each).
Result<RetentionCheck> CheckRetention(repo::Repository& repo,
                                      const RetentionOptions& options);

// The retain-until date an object written at `mtime` got, or that the ledger
// records, whichever is later; 0 when neither is known.
std::int64_t KnownRetention(std::int64_t mtime, std::int64_t period,
                            std::int64_t ledger);
// Whether an object whose retention is known to end at `known` needs a new
// date at `now`.
bool NeedsExtension(std::int64_t known, std::int64_t now,
                    std::int64_t min_remaining);

}  // namespace efs2s3::maintenance
