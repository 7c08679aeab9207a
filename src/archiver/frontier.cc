#include "archiver/frontier.h"

#include <algorithm>
#include <vector>

namespace efs2s3::archiver {

using model::Node;
using model::NodeType;
using model::Tree;

namespace {

// Erases the entries below `path` ("path/..."): '0' follows '/' in ASCII.
template <class Map>
void EraseBelow(Map& m, const std::string& path) {
  std::string lo = path == "/" ? "/" : path + "/";
  std::string hi = path == "/" ? "0" : path + "0";
  m.erase(m.lower_bound(lo), m.lower_bound(hi));
}

std::string ParentPath(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

}  // namespace

void Frontier::Opened(const std::string& path, const Node& dir) {
  if (!on_) return;
  std::lock_guard lock(mu_);
  open_[path] = dir;
}

void Frontier::Done(const std::string& path, const Node& node) {
  if (!on_) return;
  std::lock_guard lock(mu_);
  open_.erase(path);
  if (node.type == NodeType::kDir) EraseBelow(done_, path);
  done_[path] = node;
}

void Frontier::Abandoned(const std::string& path) {
  if (!on_) return;
  std::lock_guard lock(mu_);
  open_.erase(path);
  EraseBelow(done_, path);
}

Result<Id> Frontier::Build(
    const std::function<Result<Id>(const Tree&)>& save_tree) const {
  std::map<std::string, Node> done, open;
  {
    std::lock_guard lock(mu_);
    done = done_;
    open = open_;
  }
  std::map<std::string, std::vector<Node>> kids;
  for (auto& [path, node] : done) kids[ParentPath(path)].push_back(node);
  std::vector<std::string> dirs;
  for (const auto& entry : open) dirs.push_back(entry.first);
  // Deepest first, so every directory's subdirectories are built before it.
  auto depth = [](const std::string& p) {
    return std::count(p.begin(), p.end(), '/');
  };
  std::stable_sort(dirs.begin(), dirs.end(),
                   [&](const std::string& a, const std::string& b) {
                     return depth(a) > depth(b);
                   });
  auto build = [&](const std::string& dir) -> Result<Id> {
    Tree tree;
    auto it = kids.find(dir);
    if (it != kids.end()) tree.nodes = std::move(it->second);
    std::sort(tree.nodes.begin(), tree.nodes.end(),
              [](const Node& a, const Node& b) { return a.name < b.name; });
    return save_tree(tree);
  };
  for (const std::string& dir : dirs) {
    Node n = open[dir];
    ASSIGN_OR_RETURN(n.subtree, build(dir));
    kids[ParentPath(dir)].push_back(std::move(n));
  }
  return build("/");
}

}  // namespace efs2s3::archiver
