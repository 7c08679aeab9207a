#include "maintenance/stats.h"

#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "maintenance/id_set.h"
#include "maintenance/walk.h"
#include "repo/maintenance_access.h"

namespace efs2s3::maintenance {

namespace {

using model::Node;
using model::NodeType;

// restore-size (and, when `contents` is given, the distinct file contents) of
// the tree `id`, entry by entry.
class Walker {
 public:
  Walker(repo::Repository& repo, StatsMode mode, RepoStats& out,
         const std::atomic<bool>* cancel)
      : repo_(repo), mode_(mode), out_(out), cancel_(cancel) {}

  Result<void> Snapshot(const Id& root) {
    links_.clear();
    return Tree(root);
  }

 private:
  Result<void> Tree(const Id& id) {
    RETURN_IF_ERROR(CheckCancel(cancel_));
    ASSIGN_OR_RETURN(model::Tree tree, repo_.LoadTree(id));
    for (const Node& n : tree.nodes) {
      ++out_.entries;
      if (n.type == NodeType::kDir) {
        ++out_.dirs;
        if (n.subtree) RETURN_IF_ERROR(Tree(*n.subtree));
        continue;
      }
      if (n.type != NodeType::kFile) {
        ++out_.other;
        continue;
      }
      ++out_.files;
      if (n.links <= 1 || links_.emplace(n.device, n.inode).second)
        out_.restore_size += n.size;
      if (mode_ == StatsMode::kFilesByContents ||
          mode_ == StatsMode::kBlobsPerFile)
        File(n);
    }
    return Ok();
  }

  // A file whose blob list was not seen before counts once, with its size and
  // the plaintext bytes of its distinct blobs.
  void File(const Node& n) {
    Bytes ids;
    ids.reserve(n.content.size() * Id{}.bytes.size());
    for (const Id& b : n.content)
      ids.insert(ids.end(), b.bytes.begin(), b.bytes.end());
    if (!contents_.insert(repo_.BlobId(ids)).second) return;
    ++out_.unique_files;
    out_.unique_files_size += n.size;
    std::unordered_set<Id, IdHash> distinct(n.content.begin(), n.content.end());
    for (const Id& b : distinct)
      if (auto loc = repo_.Lookup(b))
        out_.unique_files_blob_size += loc->raw_length;
  }

  repo::Repository& repo_;
  StatsMode mode_;
  RepoStats& out_;
  const std::atomic<bool>* cancel_;
  std::set<std::pair<std::uint64_t, std::uint64_t>> links_;
  std::unordered_set<Id, IdHash> contents_;
};

}  // namespace

Result<RepoStats> ComputeStats(repo::Repository& repo,
                               const std::vector<Id>& roots, StatsMode mode,
                               const std::atomic<bool>* cancel) {
  RepoStats out;
  out.snapshots = roots.size();
  Walker walker(repo, mode, out, cancel);
  for (const Id& root : roots) RETURN_IF_ERROR(walker.Snapshot(root));

  IdSetBuilder builder;
  RETURN_IF_ERROR(CollectUsedBlobs(repo, roots, builder, cancel, nullptr));
  ASSIGN_OR_RETURN(std::unique_ptr<IdSet> used, builder.Finish());
  for (size_t i = 0; i < used->size(); ++i) {
    auto loc = repo.Lookup(used->At(i));
    if (!loc) {
      ++out.missing_blobs;
      continue;
    }
    ++out.blobs;
    ++(loc->type == repo::BlobType::kTree ? out.tree_blobs : out.data_blobs);
    out.uncompressed_size += loc->raw_length;
    out.stored_size += loc->length;
  }

  repo::MaintenanceAccess access(repo);
  std::map<std::string, StorageClassUse> classes;
  for (storage::ObjectType type :
       {storage::ObjectType::kConfig, storage::ObjectType::kKey,
        storage::ObjectType::kSnapshot, storage::ObjectType::kIndex,
        storage::ObjectType::kPack}) {
    RETURN_IF_ERROR(
        access.List(type, [&](const storage::ObjectInfo& info) -> Result<void> {
          StorageClassUse& c = classes[info.storage_class];
          c.storage_class = info.storage_class;
          ++c.objects;
          c.bytes += info.size;
          ++out.stored_objects;
          out.stored_bytes += info.size;
          return Ok();
        }));
  }
  for (auto& [name, use] : classes) out.storage_classes.push_back(use);
  return out;
}

}  // namespace efs2s3::maintenance
