// The merge of a sharded run's trees (shard/plan.h): the directories every
// shard stored as a skeleton are united, entry by entry, into the tree a
// single process would have stored.
#pragma once

#include <optional>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "repo/interfaces.h"
#include "shard/plan.h"

namespace efs2s3::shard {

struct MergeStats {
  std::uint64_t trees_merged = 0;  // directories present in several shards
  std::uint64_t trees_saved = 0;   // of those, new trees
  // The united directories below a backup path (those above and the paths
  // themselves are not counted by a backup either), by their tree in the
  // parent: shards do not count them (archiver::ShardShare::split).
  std::uint64_t dirs_new = 0, dirs_changed = 0, dirs_unchanged = 0;
};

// Unites the root trees `roots` (roots[i]: shard i's) of `plan`'s shards.
// A name in two shards must be a directory in each (its trees are united in
// turn); anything else is kCorruption naming the path and the shards. A
// united directory's metadata is the one its owner's shard stored (the same
// stat in every shard, unless it changed during the run), its flags those of
// all shards; as in a backup, a directory whose only change since the parent
// snapshot (`parent_root`, the root tree of the parent) is its access time
// keeps the parent's. Trees are encoded as the archiver encodes them
// (model::EncodeTree), so the result has the IDs a single process gives.
Result<Id> MergeTrees(repo::TreeLoader& loader, repo::BlobSaver& saver,
                      const Plan& plan, const std::vector<Id>& roots,
                      const std::optional<Id>& parent_root,
                      MergeStats* stats = nullptr);

}  // namespace efs2s3::shard
