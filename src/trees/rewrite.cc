#include "trees/rewrite.h"

#include "base/test_hooks.h"

namespace efs2s3::trees {

namespace {

using model::Node;
using model::NodeType;

// Counts the files of a dropped entry and of everything below it.
Result<void> CountDropped(repo::TreeLoader& trees, const Node& n,
                          RewriteCounts& counts) {
  if (n.type == NodeType::kFile) {
    ++counts.removed_files;
    counts.removed_bytes += n.size;
  }
  if (n.type != NodeType::kDir || !n.subtree) return Ok();
  ASSIGN_OR_RETURN(model::Tree t, trees.LoadTree(*n.subtree));
  for (const Node& c : t.nodes) RETURN_IF_ERROR(CountDropped(trees, c, counts));
  return Ok();
}

Result<Id> Rewrite(repo::TreeLoader& trees, repo::BlobSaver& saver,
                   const Id& id, const std::string& prefix, const DropFn& drop,
                   RewriteCounts& counts) {
  ASSIGN_OR_RETURN(model::Tree tree, trees.LoadTree(id));
  model::Tree out;
  bool changed = false;
  for (Node& n : tree.nodes) {
    std::string path = prefix + "/" + n.name;
    if (drop(path, n)) {
      ++counts.removed;
      RETURN_IF_ERROR(CountDropped(trees, n, counts));
      changed = true;
      continue;
    }
    if (n.type == NodeType::kDir && n.subtree) {
      ASSIGN_OR_RETURN(Id sub,
                       Rewrite(trees, saver, *n.subtree, path, drop, counts));
      if (sub != *n.subtree) {
        n.subtree = sub;
        changed = true;
      }
    }
    out.nodes.push_back(std::move(n));
  }
  if (!changed) return id;
  ++counts.trees_saved;
  return saver.SaveTree(out);
}

}  // namespace

Result<Id> RewriteTree(repo::TreeLoader& trees, repo::BlobSaver& saver,
                       const Id& root, const DropFn& drop,
                       RewriteCounts* counts) {
  RewriteCounts local;
  return Rewrite(trees, saver, root, "", drop, counts ? *counts : local);
}

Result<Id> ReplaceSnapshot(
    repo::SnapshotStore& store, const Id& old_id,
    const model::Snapshot& replacement,
    const std::vector<std::pair<Id, model::Snapshot>>& existing,
    bool remove_old) {
  std::string wanted = model::EncodeSnapshot(replacement);
  std::optional<Id> new_id;
  for (const auto& [id, s] : existing)
    if (id != old_id && model::EncodeSnapshot(s) == wanted) new_id = id;
  if (!new_id) {
    ASSIGN_OR_RETURN(Id saved, store.SaveSnapshot(replacement));
    new_id = saved;
  }
  test_hooks::Gate("SNAPSHOT_REPLACED");
  if (remove_old) RETURN_IF_ERROR(store.RemoveSnapshot(old_id));
  return *new_id;
}

}  // namespace efs2s3::trees
