// Choosing snapshots from a list: pure functions over what
// Repository::ListSnapshots returns, so that callers (find, the backup's parent
// selection) and tests need no repository.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "model/snapshot.h"

namespace efs2s3::repo {

// Snapshots with their IDs, sorted by time (then ID).
using SnapshotList = std::vector<std::pair<Id, model::Snapshot>>;

// Resolves `spec` in `all`: "latest" is the last snapshot of `host` (if not
// empty) with exactly `paths` (if not empty; order does not matter); anything
// else is a full ID or a unique prefix (the filters do not apply). kNotFound if
// nothing matches, kInvalidArgument if a prefix is ambiguous.
Result<std::pair<Id, model::Snapshot>> FindSnapshotIn(
    const SnapshotList& all, const std::string& spec,
    const std::string& host = "", const std::vector<std::string>& paths = {});

}  // namespace efs2s3::repo
