#include "shard/weights.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "base/fd.h"
#include "fs/open.h"

namespace efs2s3::shard {

namespace {
Result<void> FromTree(repo::TreeLoader& trees, const Id& id, WeightTree& out) {
  ASSIGN_OR_RETURN(model::Tree tree, trees.LoadTree(id));
  for (const model::Node& n : tree.nodes) {
    WeightTree c;
    c.name = n.name;
    c.dir = n.type == model::NodeType::kDir;
    c.weight = kEntryWeight;
    if (c.dir && n.subtree) {
      RETURN_IF_ERROR(FromTree(trees, *n.subtree, c));
    } else if (n.type == model::NodeType::kFile) {
      c.weight += n.size;
    }
    out.weight += c.weight;
    out.children.push_back(std::move(c));
  }
  return Ok();
}

// Scans the directory open at fd into out, `depth` levels deep.
void Scan(int fd, const std::string& path, int depth, WeightTree& out) {
  auto names = fs::ListDir(fd, path);
  if (!names) return;  // the backup itself reports what it cannot read
  std::sort(names->begin(), names->end());
  if (depth <= 0) {
    out.weight += kEntryWeight * names->size();
    return;
  }
  for (const std::string& name : *names) {
    struct stat st {};
    if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    WeightTree c;
    c.name = name;
    c.dir = S_ISDIR(st.st_mode);
    c.weight = kEntryWeight;
    if (S_ISREG(st.st_mode)) c.weight += static_cast<std::uint64_t>(st.st_size);
    if (c.dir) {
      Fd sub(fs::OpenDirAt(fd, name));
      if (sub) Scan(sub.get(), path + "/" + name, depth - 1, c);
    }
    out.weight += c.weight;
    out.children.push_back(std::move(c));
  }
}
}  // namespace

Result<WeightTree> WeightsFromSnapshot(repo::TreeLoader& trees,
                                       const Id& root) {
  WeightTree out;
  out.dir = true;
  RETURN_IF_ERROR(FromTree(trees, root, out));
  return out;
}

Result<WeightTree> WeightsFromScan(const std::vector<std::string>& abs_paths,
                                   int depth) {
  WeightTree root;
  root.dir = true;
  for (const std::string& p : abs_paths) {
    // Down the intermediate directories, each holding only the way down.
    WeightTree* t = &root;
    std::vector<WeightTree*> above;
    for (const std::string& c : Components(p)) {
      auto it = std::find_if(t->children.begin(), t->children.end(),
                             [&](const WeightTree& w) { return w.name == c; });
      if (it == t->children.end()) {
        WeightTree w;
        w.name = c;
        w.dir = true;
        w.weight = kEntryWeight;
        it = t->children.insert(
            std::upper_bound(t->children.begin(), t->children.end(), w,
                             [](const WeightTree& a, const WeightTree& b) {
                               return a.name < b.name;
                             }),
            std::move(w));
      }
      above.push_back(t);
      t = &*it;
    }
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return PosixError(p, errno);
    std::uint64_t before = t->weight;
    t->dir = S_ISDIR(st.st_mode);
    if (t->dir) {
      Fd fd(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!fd) return PosixError(p, errno);
      Scan(fd.get(), p, depth, *t);
    } else if (S_ISREG(st.st_mode)) {
      t->weight += static_cast<std::uint64_t>(st.st_size);
    }
    for (WeightTree* a : above) a->weight += t->weight - before;
  }
  return root;
}

}  // namespace efs2s3::shard
