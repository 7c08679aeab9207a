// The weights a plan is cut by (shard/plan.h): from the parent snapshot when
// there is one, else from a quick scan of the top levels of the source.
#pragma once

#include <string>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "repo/interfaces.h"
#include "shard/plan.h"

namespace efs2s3::shard {

// "/" of the snapshot whose root tree is `root`: every file's bytes and every
// entry, summed per subtree (every tree of the snapshot is loaded).
Result<WeightTree> WeightsFromSnapshot(repo::TreeLoader& trees, const Id& root);

// "/" with the backup paths `abs_paths` (absolute, normalised) below it, each
// scanned `depth` levels deep: entries below that depth are not visited and
// a directory there weighs as one entry per name it lists.
Result<WeightTree> WeightsFromScan(const std::vector<std::string>& abs_paths,
                                   int depth);

}  // namespace efs2s3::shard
