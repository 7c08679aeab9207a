// repair: rebuild a lost or damaged index from the packs, and rewrite snapshots
// that reference missing or damaged data (docs/MAINTENANCE.md, "Repair"). Both
// REQUIRE the exclusive repository lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "repo/repository.h"

namespace efs2s3::maintenance {

struct RepairIndexOptions {
  bool dry_run = false;
  // Also read every pack whole and authenticate every blob: a pack holding a
  // damaged blob is salvaged like one with a damaged header, so no index
  // names a damaged blob (which backups would otherwise deduplicate against).
  bool read_data = false;
  size_t max_index_entries = size_t{1} << 20;  // blobs per new index file
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const std::string&)> progress;
};

// A pack whose header is damaged, and what was saved from it.
struct SalvagedPack {
  std::string pack;
  std::string reason;  // why its header did not open
  // How its blobs were located: "header found by search" (a damaged or cut
  // off length field), "old index" (the entries of the index in force), or
  // "none" (nothing locates them); "header" (the header is intact, some
  // blobs are damaged: with read_data).
  std::string method;
  std::uint64_t blobs_kept = 0;   // authenticated and copied to a new pack
  std::vector<std::string> lost;  // blob IDs located but damaged
};

struct RepairIndexResult {
  std::uint64_t packs = 0, blobs = 0;
  std::vector<SalvagedPack> salvaged;
  std::uint64_t packs_written = 0;  // new packs holding salvaged blobs
  std::uint64_t index_written = 0, index_deleted = 0;
};

// Reads every pack's header (ranged reads of its tail) and writes index files
// for all packs; the last one supersedes every index file present before,
// which are then deleted. Killed before that last file, the old index stays
// in force; after it, the old files are merely superseded.
//
// Repair never makes data less restorable: a header that fails to open is
// read again (a byte flipped in transit is not damage; reads that disagree
// stop the repair with kTransient, the old index untouched). A pack whose
// header is damaged is salvaged (PackSalvager): its header is searched for,
// or the old index's entries for it are used, every such blob authenticated
// and copied into a new pack; the blobs that do not authenticate are listed
// as lost. The damaged pack itself is left for prune (no index names it).
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
