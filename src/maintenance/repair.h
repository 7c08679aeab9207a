// repair: rebuild a lost or damaged index from the packs, and rewrite snapshots
// that reference missing or damaged data (docs/MAINTENANCE.md, "Repair"). Both
// REQUIRE the exclusive repository lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "repo/repository.h"

namespace efs2s3::maintenance {

struct RepairIndexOptions {
  bool dry_run = false;
  size_t max_index_entries = size_t{1} << 20;  // blobs per new index file
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const std::string&)> progress;
};

struct RepairIndexResult {
  std::uint64_t packs = 0, blobs = 0;
  std::vector<std::pair<std::string, std::string>>
      unreadable_packs;  // pack, reason
  std::uint64_t index_written = 0, index_deleted = 0;
};

// Reads every pack's header (ranged reads of its tail) and writes index files
// for all packs with a readable header; the last one supersedes every index
// file present before, which are then deleted. Killed before that last file,
// the old index stays in force; after it, the old files are merely superseded.
Result<RepairIndexResult> RepairIndex(repo::Repository& repo,
                                      const RepairIndexOptions& options);

struct RepairSnapshotsOptions {
  bool dry_run = false;
  bool read_data =
      false;  // also authenticate every referenced data blob (reads them)
  bool forget = false;  // remove snapshots whose root tree is unusable
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const std::string&)> progress;
  // With `forget`: a directory where the stored bytes of each unreadable
  // snapshot object are saved (as ID) before it is removed; "" keeps none.
  std::string keep_copies_in;
};

struct RepairedSnapshot {
  std::string old_id;
  std::string new_id;                // "" if removed or not repairable
  std::string action;                // "rewritten", "removed", "unrepairable"
  std::vector<std::string> dropped;  // paths removed from the snapshot
};

struct RepairSnapshotsResult {
  std::uint64_t snapshots = 0;  // readable and unreadable
  std::vector<RepairedSnapshot> changed;
  // Snapshot objects that cannot be read (stable damage,
  // repo::UnreadableSnapshot). With `forget` each is read once more, then its
  // stored bytes are saved in `keep_copies_in` (when set), then it is removed;
  // without it they are reported only (action "unrepairable").
  struct Unreadable {
    std::string id;
    std::string reason;
    std::string action;  // "removed" (dry run: would be), "unrepairable"
    std::string copy;    // where its stored bytes were saved, or ""
  };
  std::vector<Unreadable> unreadable;
};

// For every snapshot whose trees reference a blob that is not indexed, lies in
// a missing pack or (with read_data) fails authentication: saves new trees
// without the affected files and directories, flushes them, writes a new
// snapshot (tag "repaired") and only then removes the old one.
Result<RepairSnapshotsResult> RepairSnapshots(
    repo::Repository& repo, const RepairSnapshotsOptions& options);

}  // namespace efs2s3::maintenance
