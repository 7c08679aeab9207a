#include "maintenance/walk.h"

#include <unordered_set>

namespace efs2s3::maintenance {

Result<void> CollectUsedBlobs(repo::Repository& repo,
                              const std::vector<Id>& roots, IdSetBuilder& used,
                              const std::atomic<bool>* cancel,
                              WalkStats* stats) {
  std::unordered_set<Id, IdHash> visited;
  std::vector<Id> stack;
  for (const Id& root : roots) {
    if (visited.insert(root).second) stack.push_back(root);
  }
  while (!stack.empty()) {
    RETURN_IF_ERROR(CheckCancel(cancel));
    Id id = stack.back();
    stack.pop_back();
    RETURN_IF_ERROR(used.Add(id));
    ASSIGN_OR_RETURN(model::Tree tree, repo.LoadTree(id));
    if (stats) ++stats->trees;
    for (const model::Node& n : tree.nodes) {
      for (const Id& blob : n.content) {
        RETURN_IF_ERROR(used.Add(blob));
        if (stats) ++stats->data_refs;
      }
      if (n.subtree && visited.insert(*n.subtree).second)
        stack.push_back(*n.subtree);
    }
  }
  return Ok();
}

}  // namespace efs2s3::maintenance
