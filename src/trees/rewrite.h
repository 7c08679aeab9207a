// Rewriting snapshots (tag, rewrite): new trees where something was removed,
// the old tree IDs everywhere else, and a new snapshot that replaces the old
// one in a crash-safe order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "model/node.h"
#include "model/snapshot.h"
#include "repo/interfaces.h"

namespace efs2s3::trees {

struct RewriteCounts {
  std::uint64_t removed = 0;        // entries dropped (not counting below them)
  std::uint64_t removed_files = 0;  // files dropped, below dropped dirs too
  std::uint64_t removed_bytes = 0;  // their sizes
  std::uint64_t trees_saved = 0;    // new trees
};

// Whether the entry at `path` ("/a/b") is to be removed (with all below it).
using DropFn =
    std::function<bool(const std::string& path, const model::Node& node)>;

// The tree `root` without the entries `drop` selects: a directory none of
// whose entries (at any depth) is dropped keeps its tree ID and is not saved
// again; every directory above a dropped entry gets a new tree, saved to
// `saver` (the caller flushes before saving a snapshot that refers to it).
// Returns `root` itself when nothing is dropped.
Result<Id> RewriteTree(repo::TreeLoader& trees, repo::BlobSaver& saver,
                       const Id& root, const DropFn& drop,
                       RewriteCounts* counts);

// Replaces snapshot `old_id` by `replacement`, crash-safe: the new snapshot is
// saved first, then (with remove_old) the old one removed, so a crash in
// between leaves both, never neither. A snapshot in `existing` (other than
// old_id) with exactly the content of `replacement` is taken instead of
// saving another: a run repeated after such a crash completes the
// replacement and leaves no duplicate. Returns the new snapshot's ID.
// The test gate SNAPSHOT_REPLACED (base/test_hooks.h) is between the two.
Result<Id> ReplaceSnapshot(
    repo::SnapshotStore& store, const Id& old_id,
    const model::Snapshot& replacement,
    const std::vector<std::pair<Id, model::Snapshot>>& existing,
    bool remove_old);

}  // namespace efs2s3::trees
