#include "trees/trees.h"

namespace efs2s3::trees {

using model::Node;
using model::NodeType;

Result<void> Walk(repo::TreeLoader& trees, const Id& tree,
                  const std::string& prefix, const WalkFn& fn) {
  ASSIGN_OR_RETURN(model::Tree t, trees.LoadTree(tree));
  for (const Node& n : t.nodes) {
    std::string path = prefix + "/" + n.name;
    RETURN_IF_ERROR(fn(path, n));
    if (n.type == NodeType::kDir && n.subtree)
      RETURN_IF_ERROR(Walk(trees, *n.subtree, path, fn));
  }
  return Ok();
}

namespace {

// One entry present in both trees under the same name.
Result<void> DiffEntry(repo::TreeLoader& trees, const Node& x, const Node& y,
                       const std::string& p, const DiffFn& emit);

// An entry present on one side only, and everything below it.
Result<void> AllBelow(repo::TreeLoader& trees, char op, const Node& n,
                      const std::string& p, const DiffFn& emit) {
  emit(op, p, n);
  if (n.type == NodeType::kDir)
    return Diff(trees, op == '-' ? n.subtree : std::nullopt,
                op == '+' ? n.subtree : std::nullopt, p, emit);
  return Ok();
}

Result<void> DiffEntry(repo::TreeLoader& trees, const Node& x, const Node& y,
                       const std::string& p, const DiffFn& emit) {
  if (x.type != y.type) {
    RETURN_IF_ERROR(AllBelow(trees, '-', x, p, emit));
    return AllBelow(trees, '+', y, p, emit);
  }
  if (x.type == NodeType::kDir) {
    if (x.mode != y.mode || x.uid != y.uid || x.gid != y.gid ||
        x.xattrs != y.xattrs)
      emit('U', p, y);
    if (x.flags != y.flags) emit('F', p, y);
    return Diff(trees, x.subtree, y.subtree, p, emit);
  }
  if (x.content != y.content || x.link_target != y.link_target ||
      x.rdev != y.rdev) {
    emit('M', p, y);
  } else if (x.mode != y.mode || x.uid != y.uid || x.gid != y.gid ||
             x.mtime != y.mtime || x.xattrs != y.xattrs) {
    emit('U', p, y);
  }
  if (x.flags != y.flags) emit('F', p, y);
  return Ok();
}

}  // namespace

Result<void> Diff(repo::TreeLoader& trees, const std::optional<Id>& a,
                  const std::optional<Id>& b, const std::string& prefix,
                  const DiffFn& emit) {
  if (a && b && *a == *b) return Ok();
  model::Tree ta, tb;
  if (a) {
    ASSIGN_OR_RETURN(ta, trees.LoadTree(*a));
  }
  if (b) {
    ASSIGN_OR_RETURN(tb, trees.LoadTree(*b));
  }
  size_t i = 0, k = 0;
  while (i < ta.nodes.size() || k < tb.nodes.size()) {
    if (k == tb.nodes.size() ||
        (i < ta.nodes.size() && ta.nodes[i].name < tb.nodes[k].name)) {
      const Node& x = ta.nodes[i++];
      RETURN_IF_ERROR(AllBelow(trees, '-', x, prefix + "/" + x.name, emit));
    } else if (i == ta.nodes.size() || tb.nodes[k].name < ta.nodes[i].name) {
      const Node& y = tb.nodes[k++];
      RETURN_IF_ERROR(AllBelow(trees, '+', y, prefix + "/" + y.name, emit));
    } else {
      const Node& x = ta.nodes[i++];
      const Node& y = tb.nodes[k++];
      RETURN_IF_ERROR(DiffEntry(trees, x, y, prefix + "/" + x.name, emit));
    }
  }
  return Ok();
}

}  // namespace efs2s3::trees
