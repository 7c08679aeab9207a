// shard: one backup split across N workers (`backup --shard I/N`), and the
// merge of their shard snapshots into the one snapshot a single process would
// have saved (`backup --merge RUN`). docs/SHARDS in README, "Sharded backup".
//
// A plan cuts the name space of the backed-up paths into N ranges. Paths are
// ordered as the archiver walks them: component by component, bytewise, a
// directory before everything below it (depth-first pre-order of sorted
// trees). The plan holds N-1 cut paths; worker I owns every path p with
// cut[I-1] <= p < cut[I]. Every path, also one created after planning, has
// exactly one owner. A directory that is a proper prefix of a cut is split:
// every shard stores it (its metadata, a skeleton) with only the entries it
// owns below it; the merge unions those trees. Every other path belongs
// whole, with all below it, to its owner.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace efs2s3::shard {

// Components of an absolute path ("/a/b" -> {"a", "b"}; "/" -> {}).
std::vector<std::string> Components(std::string_view abs_path);

// The walk order of two absolute paths (<0, 0, >0).
int ComparePaths(const std::vector<std::string>& a,
                 const std::vector<std::string>& b);

struct Plan {
  std::string run_id;
  int shards = 1;
  std::vector<std::string> paths;  // the backup paths, absolute, sorted
  // At most shards-1 cut paths (absolute), in walk order; shards past the
  // last cut own nothing (more shards than units of work).
  std::vector<std::string> cuts;

  // The shard that owns `abs_path`.
  int Owner(std::string_view abs_path) const;
  // True when a cut lies strictly below `abs_path` (a split directory).
  bool Split(std::string_view abs_path) const;
  // A short, stable name of the plan's content (16 hex digits), recorded in
  // every shard snapshot: the merge refuses shards of different plans.
  std::string Identity() const;
};

// JSON (docs/FORMAT.md, "Sharded runs"); names are raw bytes, hex-encoded.
std::string EncodePlan(const Plan& plan);
// kCorruption for anything malformed.
Result<Plan> DecodePlan(std::string_view json_text);

// A subtree's weight for planning: what it costs to back up, its bytes plus
// kEntryWeight per entry (on a network file system, every entry is a round
// trip or more).
inline constexpr std::uint64_t kEntryWeight = 64 * 1024;

struct WeightTree {
  std::string name;  // "" for "/"
  bool dir = false;
  std::uint64_t weight = 0;          // itself and everything below it
  std::vector<WeightTree> children;  // sorted by name (directories only)
};

// Cuts `root` ("/" with the backup paths below it) into `shards` balanced
// ranges. A directory that weighs at most a share (total/shards) is one unit
// and never split; a heavier one is split into its entries (each again a
// unit or split). The units are taken in walk order and cut where the running
// weight is closest to k*total/shards. Deterministic: the same tree gives the
// same plan.
Plan MakePlan(const WeightTree& root, int shards);

// "I/N" (0 <= I < N, 1 <= N <= 1024); "auto/N" reads I from
// $JOB_COMPLETION_INDEX, else $AWS_BATCH_JOB_ARRAY_INDEX. kUsage naming what
// is wrong.
struct ShardSpec {
  int index = 0;
  int count = 1;
};
Result<ShardSpec> ParseShardSpec(std::string_view text);

// A run ID: 1 to 128 of [A-Za-z0-9._-] (it is part of tags). kUsage.
Result<void> ValidateRunId(std::string_view run_id);

// Snapshot tags (docs/FORMAT.md, "Sharded runs").
std::string ShardTag(const std::string& run_id, int index, int count);
std::string PlanTag(const Plan& plan);
std::string RunTag(const std::string& run_id);

}  // namespace efs2s3::shard
