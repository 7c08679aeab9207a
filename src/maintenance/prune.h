// prune: reclaim the space of data no snapshot uses (docs/MAINTENANCE.md,
// "Prune").
//
// PlanPrune() is read-only:
//   snapshots -> walk their trees -> used blob set U (sorted on disk, id_set.h)
//   for every used blob: its canonical copy (Repository::Lookup) counts for its
//   pack packs with no used blob, and packs no index names -> delete packs
//   whose unused bytes exceed max_unused of their size -> repack
// ExecutePrune() then works in an order that is safe to kill at any point:
//   1. repack: copy the used blobs of "repack" packs (authenticated) into new
//   packs,
//      indexed by new index files that supersede nothing;
//   2. write index files for all kept packs; the last one supersedes every
//   index file
//      present when the plan was made (index_writer.h);
//   3. delete the old index files;
//   4. delete the packs marked delete or repack.
// Until step 2 completes the old index is in force and the new packs are merely
// unindexed; after it, the old packs are merely unindexed. Either way `check`
// passes and the next prune deletes the leftovers.
//
// Concurrency: the caller must hold the exclusive repository lock
// (repo/lock.h), which excludes backups (shared lock). As a second line of
// defence, ExecutePrune re-lists snapshots and index files before it retires
// anything and aborts if either changed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "maintenance/id_set.h"
#include "repo/repository.h"

namespace efs2s3::maintenance {

struct PruneOptions {
  // Repack a pack when more than this share of its bytes is unused (0..1).
  double max_unused = 0.05;
  std::string temp_dir;                // "" = $TMPDIR or /tmp
  size_t id_buffer = size_t{1} << 22;  // IDs in RAM before spilling (32 B each)
  size_t max_index_entries = size_t{1} << 20;  // blobs per new index file
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const std::string&)>
      progress;          // one line per step; may be empty
  std::int64_t now = 0;  // seconds since the epoch (Object Lock); 0 = clock
  // Storage classes with a minimum storage duration (STANDARD_IA 30 days,
  // GLACIER 90, DEEP_ARCHIVE 180, ...): keep unused packs younger than it
  // for a later prune instead of paying the early deletion charge.
  bool respect_min_duration = false;
};

struct PruneCount {
  std::uint64_t packs = 0, blobs = 0, bytes = 0;
};

enum class PackAction : std::uint8_t { kKeep, kRepack, kDelete };

struct PrunePlan {
  std::uint64_t snapshots = 0;
  std::uint64_t trees = 0;
  std::uint64_t used_blobs = 0;  // distinct blobs used (trees + data)
  PruneCount total;              // everything in the repository before prune
  PruneCount keep;       // packs kept as they are (blobs: indexed blobs)
  PruneCount remove;     // packs deleted whole, none of their blobs used
  PruneCount unindexed;  // of `remove`: packs no index names (crash leftovers)
  PruneCount repack;     // packs rewritten (bytes: their whole size)
  PruneCount repack_copy;  // used blobs copied out of repacked packs
  std::uint64_t unused_bytes_kept = 0;  // unused bytes left in kept packs
  // Object Lock: packs that would be deleted or repacked but whose retention
  // lasts (kept, counted in `keep` too), and the earliest end of those.
  PruneCount retained;
  std::int64_t retained_until = 0;
  // Archive classes (and INTELLIGENT_TIERING): packs that would be repacked
  // but are kept, since repacking reads them (kept, counted in `keep` too).
  PruneCount cold_kept;
  // Packs deleted (or repacked, which deletes them) before their class's
  // minimum storage duration, and the estimated charge for the rest of it.
  PruneCount early_delete;
  double early_delete_usd = 0;
  // With respect_min_duration: such packs kept for a later prune, and the
  // charge that saves.
  PruneCount min_duration_kept;
  double min_duration_kept_usd = 0;
  std::uint64_t new_packs = 0;  // estimated packs written by repacking
  std::uint64_t old_index_files = 0;
  std::uint64_t new_index_files = 0;  // estimated
  // Estimated backend requests: reads (repack), writes (packs + index),
  // deletes.
  std::uint64_t requests_read = 0, requests_write = 0, requests_delete = 0;
  bool nothing_to_do = false;

  // For ExecutePrune.
  struct PackState {
    std::uint64_t size = 0;
    std::uint32_t indexed =
        0;  // index entries (an upper bound after a crashed prune)
    std::uint32_t used = 0;  // used blobs whose canonical copy is here
    std::uint64_t used_bytes = 0;
    PackAction action = PackAction::kKeep;
    std::string storage_class;  // "" = STANDARD
    std::int64_t mtime = 0;     // written at (listing), 0 if unknown
  };
  std::unordered_map<Id, PackState, IdHash> packs;
  std::vector<std::string>
      index_files;  // present at plan time: superseded, then deleted
  std::vector<std::string> snapshot_ids;  // present at plan time
  std::unique_ptr<IdSet> used;
};

struct PruneResult {
  std::uint64_t packs_written = 0, packs_deleted = 0, index_written = 0,
                index_deleted = 0;
  std::uint64_t bytes_written = 0, bytes_deleted = 0;
  std::uint64_t blobs_repacked = 0;
};

// Read-only. Fails (without changing anything) if a snapshot or tree cannot be
// read, or a used blob is not indexed or its pack is missing: prune must not
// run on a damaged repository (run `check` and `repair` first). A snapshot
// object with stable damage is kCorruption naming every such snapshot and the
// way out (`repair snapshots --forget`): what it uses is unknown.
Result<PrunePlan> PlanPrune(repo::Repository& repo,
                            const PruneOptions& options);

// REQUIRES: the exclusive lock, and `plan` made under it.
Result<PruneResult> ExecutePrune(repo::Repository& repo, PrunePlan& plan,
                                 const PruneOptions& options);

// Repacks a pack when unused/size > max_unused; exposed for tests.
PackAction DecidePack(const PrunePlan::PackState& p, double max_unused);

}  // namespace efs2s3::maintenance
