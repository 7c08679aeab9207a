#include "shard/merge.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace efs2s3::shard {

namespace {
using model::Node;
using model::NodeType;
using model::Tree;

struct Part {
  int shard = 0;
  Id tree;
};

class Merger {
 public:
  Merger(repo::TreeLoader& loader, repo::BlobSaver& saver, const Plan& plan,
         MergeStats& stats)
      : loader_(loader), saver_(saver), plan_(plan), stats_(stats) {}

  // The united tree of directory `path`; `parent`: its tree in the parent
  // snapshot, if any.
  Result<Id> Merge(const std::string& path, const std::vector<Part>& parts,
                   const std::optional<Id>& parent) {
    const bool same = std::all_of(parts.begin(), parts.end(), [&](auto& p) {
      return p.tree == parts.front().tree;
    });
    if (same) return parts.front().tree;
    ++stats_.trees_merged;
    std::optional<Tree> parent_tree;
    if (parent) {
      auto t = loader_.LoadTree(*parent);
      if (t) parent_tree = std::move(*t);  // a damaged parent costs an atime
    }
    std::map<std::string, std::vector<std::pair<int, Node>>> by_name;
    for (const Part& p : parts) {
      ASSIGN_OR_RETURN(Tree t, loader_.LoadTree(p.tree));
      for (Node& n : t.nodes)
        by_name[n.name].emplace_back(p.shard, std::move(n));
    }
    Tree out;
    for (auto& [name, nodes] : by_name) {
      const std::string child = path == "/" ? "/" + name : path + "/" + name;
      if (nodes.size() == 1) {
        out.nodes.push_back(std::move(nodes.front().second));
        continue;
      }
      for (const auto& [shard, n] : nodes)
        if (n.type != NodeType::kDir || !n.subtree)
          return MakeError(
              ErrorCode::kCorruption,
              fmt::format("{}: in shards {} and {}, and not a directory in "
                          "both",
                          child, nodes[0].first, nodes[1].first));
      // The owner's metadata, everyone's flags.
      const int owner = plan_.Owner(child);
      auto own = std::find_if(nodes.begin(), nodes.end(),
                              [&](auto& sn) { return sn.first == owner; });
      Node node = own == nodes.end() ? nodes.front().second : own->second;
      std::vector<Part> sub;
      for (const auto& [shard, n] : nodes) {
        sub.push_back({shard, *n.subtree});
        node.flags |= n.flags;
      }
      const Node* before = nullptr;
      if (parent_tree)
        for (const Node& pn : parent_tree->nodes)
          if (pn.name == name) before = &pn;
      std::optional<Id> before_tree;
      if (before && before->type == NodeType::kDir)
        before_tree = before->subtree;
      ASSIGN_OR_RETURN(node.subtree, Merge(child, sub, before_tree));
      if (BelowAPath(child)) {
        if (!before_tree)
          ++stats_.dirs_new;
        else if (*before_tree == *node.subtree)
          ++stats_.dirs_unchanged;
        else
          ++stats_.dirs_changed;
      }
      if (before && before->type == NodeType::kDir) {
        Node atime_only = node;
        atime_only.atime = before->atime;
        if (atime_only == *before) node.atime = before->atime;
      }
      out.nodes.push_back(std::move(node));
    }
    ++stats_.trees_saved;
    return saver_.SaveTree(out);
  }

 private:
  bool BelowAPath(const std::string& path) const {
    return std::any_of(
        plan_.paths.begin(), plan_.paths.end(), [&](const std::string& p) {
          return path.size() > p.size() && path.compare(0, p.size(), p) == 0 &&
                 (p == "/" || path[p.size()] == '/');
        });
  }

  repo::TreeLoader& loader_;
  repo::BlobSaver& saver_;
  const Plan& plan_;
  MergeStats& stats_;
};
}  // namespace

Result<Id> MergeTrees(repo::TreeLoader& loader, repo::BlobSaver& saver,
                      const Plan& plan, const std::vector<Id>& roots,
                      const std::optional<Id>& parent_root, MergeStats* stats) {
  if (roots.empty())
    return MakeError(ErrorCode::kInvalidArgument, "no shard trees to merge");
  MergeStats local;
  Merger m(loader, saver, plan, stats ? *stats : local);
  std::vector<Part> parts;
  for (size_t i = 0; i < roots.size(); ++i)
    parts.push_back({static_cast<int>(i), roots[i]});
  return m.Merge("/", parts, parent_root);
}

}  // namespace efs2s3::shard
