// backup --shard / --merge: the command side of sharded runs (shard/plan.h):
// a worker's plan (made by the first worker, stored in the repository and
// read by the others) and the merge of the shard snapshots.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "cli/context.h"
#include "repo/repository.h"
#include "shard/plan.h"

namespace efs2s3::cli {

// The run's plan: the stored one, or (first worker) one made from the parent
// snapshot's trees (`parent_root`), or without a parent from a quick scan of
// `abs_paths`, and stored if no other worker stored one first. kUsage when the
// stored plan is for another shard count or other paths.
Result<shard::Plan> LoadOrMakePlan(repo::Repository& repo,
                                   const std::string& run_id, int shards,
                                   std::vector<std::string> abs_paths,
                                   const std::optional<Id>& parent_root,
                                   Context& ctx);

// What the repository holds of run `run_id`.
struct RunState {
  // The merged snapshot (the smallest ID, if two merges raced) and all of
  // them.
  std::optional<std::pair<Id, model::Snapshot>> merged;
  std::vector<Id> all_merged;
  // By shard index: the complete shard snapshot (the latest, if several).
  std::vector<std::optional<std::pair<Id, model::Snapshot>>> shards;
  std::vector<Id> all_shard_snapshots;  // complete and partial
  int count = 0;                        // N, from the shard tags (0: none)
  std::vector<int> Missing() const;
};
Result<RunState> InspectRun(repo::Repository& repo, const std::string& run_id);

// "1, 3"
std::string ShardList(const std::vector<int>& shards);

// backup --merge RUN (and a last worker's --merge-if-last). `time`: the
// snapshot time to record ("" = the earliest shard's).
Result<int> MergeRun(repo::Repository& repo, const std::string& run_id,
                     const std::string& time, Context& ctx);

}  // namespace efs2s3::cli
