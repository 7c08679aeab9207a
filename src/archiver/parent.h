// The parent of a backup: which earlier snapshot the archiver compares with
// (files unchanged since it are not read), and, when that one is partial, the
// complete snapshot it falls back on. Pure functions over the snapshot list,
// so the choice is unit-tested without a repository or a file system.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "model/snapshot.h"
#include "repo/snapshots.h"

namespace efs2s3::archiver {

// `host`, or this machine's host name if it is empty.
std::string HostOrThis(const std::string& host);

// A backup path as snapshots record it: absolute (relative to the working
// directory), lexically normal, without trailing slashes.
std::string NormalizeBackupPath(const std::string& path);

// Saved by an interrupted run or a checkpoint (tagged "partial").
bool IsPartial(const model::Snapshot& snapshot);

struct ParentChoice {
  std::optional<std::pair<Id, model::Snapshot>> parent;
  // When the parent is partial: the last complete snapshot of the parent's
  // host and paths, for what the partial one does not hold.
  std::optional<std::pair<Id, model::Snapshot>> fallback;
};

// Chooses the parent among `all` (sorted by time, as
// Repository::ListSnapshots returns them): `explicit_parent` (a full ID or a
// unique prefix) if it is not empty, else the latest snapshot of `host` with
// the same `paths` (normalised; order does not matter) that is not a shard
// snapshot, or none. Errors only
// for an explicit parent that does not resolve (kNotFound, kInvalidArgument
// for an ambiguous prefix).
Result<ParentChoice> SelectParent(const repo::SnapshotList& all,
                                  const std::string& host,
                                  const std::vector<std::string>& paths,
                                  const std::string& explicit_parent);

}  // namespace efs2s3::archiver
