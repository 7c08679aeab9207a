// Helpers shared by prune, check and repair: walking snapshot trees and
// cancellation. Raw objects (packs, their headers, listings) are reached
// through repo::MaintenanceAccess.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "maintenance/id_set.h"
#include "repo/repository.h"

namespace efs2s3::maintenance {

struct WalkStats {
  std::uint64_t trees = 0;      // distinct trees loaded
  std::uint64_t data_refs = 0;  // data blob references seen in those trees
};

// Adds every tree blob reachable from `roots` and every data blob those trees
// name to `used`. Each distinct tree is loaded once: the set of visited tree
// IDs is kept in memory (trees are few compared to data blobs: one per
// directory state). A tree that cannot be loaded or decoded is an error naming
// it.
Result<void> CollectUsedBlobs(repo::Repository& repo,
                              const std::vector<Id>& roots, IdSetBuilder& used,
                              const std::atomic<bool>* cancel,
                              WalkStats* stats);

inline Result<void> CheckCancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load())
    return MakeError(ErrorCode::kCancelled, "interrupted");
  return Ok();
}

}  // namespace efs2s3::maintenance
