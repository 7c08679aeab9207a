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

// A snapshot object that is stored but cannot be read: stable damage (it fails
// authentication on two reads that return the same bytes, its content does not
// match its name, or it decrypts to something that is not a snapshot). What it
// references, its time, host and paths are unknown.
struct UnreadableSnapshot {
  Id id;
  std::string reason;  // "authentication failed", without the object's name
};

// Resolves `spec` in `all`: "latest" is the last snapshot of `host` (if not
// empty) with exactly `paths` (if not empty; order does not matter); anything
// else is a full ID or a unique prefix (the filters do not apply). kNotFound if
// nothing matches, kInvalidArgument if a prefix is ambiguous.
Result<std::pair<Id, model::Snapshot>> FindSnapshotIn(
    const SnapshotList& all, const std::string& spec,
    const std::string& host = "", const std::vector<std::string>& paths = {});

// The same over the readable snapshots `all`, knowing that the snapshots in
// `unreadable` exist too. The unreadable ones that could have changed the
// answer are appended to *skipped: for "latest" every one of them (its time,
// host and paths are unknown, so any could be newer; the answer is the newest
// readable one). A full ID or prefix is resolved as above when no unreadable
// ID matches it; when one does, and no readable one, kCorruption
// ("snapshots/ID: unreadable: REASON"); when more than one snapshot matches
// in all, kInvalidArgument (ambiguous), naming the unreadable candidates too.
Result<std::pair<Id, model::Snapshot>> FindSnapshotIn(
    const SnapshotList& all, const std::vector<UnreadableSnapshot>& unreadable,
    const std::string& spec, const std::string& host,
    const std::vector<std::string>& paths,
    std::vector<UnreadableSnapshot>* skipped);

}  // namespace efs2s3::repo
