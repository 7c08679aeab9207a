// trees: algorithms over the stored trees of snapshots, for the commands that
// browse them (ls, find, diff). They read trees through repo::TreeLoader only,
// so they are tested with trees in memory.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/id.h"
#include "base/result.h"
#include "model/node.h"
#include "repo/interfaces.h"

namespace efs2s3::trees {

using WalkFn =
    std::function<Result<void>(const std::string& path, const model::Node&)>;

// Walks the tree `tree` depth first (entries in name order, each directory
// before its contents), calling fn(prefix + "/" + name..., node). An error of
// fn or of loading a tree stops the walk.
Result<void> Walk(repo::TreeLoader& trees, const Id& tree,
                  const std::string& prefix, const WalkFn& fn);

// What changed between two trees, for an entry at `path` (its node is the
// second tree's, or the first's for a removal):
//   '+' added, '-' removed (each entry below an added or removed directory
//   too), 'M' content changed (blobs, link target or device), 'U' metadata
//   only (mode, owner, xattrs; and mtime for non-directories), 'F' flags
//   changed (model::Node::flags: changed while read, incomplete; node holds
//   the new ones), after the entry's 'M' or 'U' if it has one.
// An entry whose type changed is removed and added.
using DiffFn =
    std::function<void(char op, const std::string& path, const model::Node&)>;

// Compares tree `a` with tree `b` (nullopt: empty), emitting changes in name
// order with paths below `prefix`. Identical subtrees (same ID) are skipped
// without loading.
Result<void> Diff(repo::TreeLoader& trees, const std::optional<Id>& a,
                  const std::optional<Id>& b, const std::string& prefix,
                  const DiffFn& emit);

}  // namespace efs2s3::trees
