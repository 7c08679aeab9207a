#include "archiver/stream.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "archiver/file_saver.h"
#include "fs/meta.h"
#include "model/node.h"

namespace efs2s3::archiver {

using model::Node;
using model::NodeType;
using model::Tree;

namespace {

// The components of a StreamPath ("/a/b" -> {"a", "b"}).
std::vector<std::string> Components(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& c : std::filesystem::path(path))
    if (c != "/" && !c.empty()) out.push_back(c.string());
  return out;
}

// The node `name` had in the parent snapshot's tree, if any.
std::optional<Node> ParentNode(repo::TreeLoader& trees,
                               repo::SnapshotStore& snapshots,
                               const std::optional<Id>& parent,
                               const std::vector<std::string>& names) {
  if (!parent) return std::nullopt;
  auto snap = snapshots.LoadSnapshot(*parent);
  if (!snap) return std::nullopt;
  std::optional<Id> tree = snap->tree;
  std::optional<Node> found;
  for (const std::string& name : names) {
    if (!tree) return std::nullopt;
    auto t = trees.LoadTree(*tree);
    if (!t) return std::nullopt;  // a damaged parent only costs the count
    found.reset();
    for (const Node& n : t->nodes)
      if (n.name == name) found = n;
    if (!found) return std::nullopt;
    tree = found->subtree;
  }
  return found;
}

}  // namespace

Result<std::string> StreamPath(const std::string& name) {
  if (name.find('\0') != std::string::npos)
    return MakeError(ErrorCode::kUsage,
                     "--stdin-filename: a name must not contain NUL");
  const size_t first = name.find_first_not_of('/');
  std::string p =
      std::filesystem::path(
          "/" + (first == std::string::npos ? "" : name.substr(first)))
          .lexically_normal()
          .string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  std::vector<std::string> comps = Components(p);
  if (comps.empty() || comps.back() == ".." || comps.front() == "..")
    return MakeError(ErrorCode::kUsage,
                     "--stdin-filename: '" + name + "' names no file");
  return p;
}

Result<BackupResult> RunStreamBackup(BackupStores stores,
                                     const BackupOptions& opts,
                                     const StreamSource& source) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::string path, StreamPath(source.name));
  const std::vector<std::string> names = Components(path);
  if (!opts.dry_run)
    stores.blobs.SetUploadConcurrency(
        opts.uploads > 0 ? opts.uploads
                         : stores.blobs.PreferredUploadConcurrency());
  Counters counters;
  ErrorSink errors(opts.on_error, opts.cancel);
  FileSaver saver(stores.blobs, opts, counters, errors, 1);
  fs::OwnerNames owners;
  const std::int64_t now_ns = opts.time_ns.value_or(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  const model::Timespec now{now_ns / 1'000'000'000,
                            static_cast<std::uint32_t>(now_ns % 1'000'000'000)};
  auto make_node = [&](const std::string& name, NodeType type,
                       std::uint32_t mode) {
    Node n;
    n.name = name;
    n.type = type;
    n.mode = mode;
    n.uid = ::getuid();
    n.gid = ::getgid();
    n.user = owners.User(n.uid);
    n.group = owners.Group(n.gid);
    n.mtime = n.atime = n.ctime = now;
    n.links = 1;
    return n;
  };
  Node file = make_node(names.back(), NodeType::kFile, 0644);
  if (opts.progress) ++opts.progress->files;
  Result<void> read = saver.SaveStream(source.fd, source.what, file);
  Result<void> finished = source.finished ? source.finished() : Ok();
  std::optional<Error> failed = errors.refusal();
  if (!failed && opts.cancel && opts.cancel->load())
    failed = MakeError(ErrorCode::kCancelled, "interrupted; no snapshot saved");
  if (!failed && !finished) failed = finished.error();
  if (!failed && !read) failed = read.error();
  if (failed) {
    // Index what was uploaded, so that a retry does not upload it again.
    if (!opts.dry_run) (void)stores.blobs.Flush();
    return *failed;
  }
  counters.bytes_total = file.size;
  std::optional<Node> before =
      ParentNode(stores.trees, stores.snapshots, opts.parent, names);
  if (!before || before->type != NodeType::kFile)
    ++counters.files_new;
  else if (before->content == file.content)
    ++counters.files_unchanged;
  else
    ++counters.files_changed;

  // The trees, bottom up: the file, then each directory above it.
  auto save_tree = [&](const Tree& t) -> Result<Id> {
    if (opts.dry_run) return stores.blobs.BlobId(model::EncodeTree(t));
    return stores.blobs.SaveTree(t);
  };
  Node child = std::move(file);
  for (size_t i = names.size() - 1; i > 0; --i) {
    Node dir = make_node(names[i - 1], NodeType::kDir, 0755);
    ASSIGN_OR_RETURN(dir.subtree, save_tree(Tree{{std::move(child)}}));
    ++counters.dirs_new;
    child = std::move(dir);
  }
  ASSIGN_OR_RETURN(Id root, save_tree(Tree{{std::move(child)}}));
  if (!opts.dry_run) RETURN_IF_ERROR(stores.blobs.Flush());
  BackupResult result;
  result.snapshot = SnapshotOf(opts, counters, {path}, root, false, start,
                               owners.User(::getuid()));
  if (opts.dry_run) return result;
  ASSIGN_OR_RETURN(result.snapshot_id,
                   stores.snapshots.SaveSnapshot(result.snapshot));
  return result;
}

}  // namespace efs2s3::archiver
