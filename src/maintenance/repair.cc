#include "maintenance/repair.h"

#include <algorithm>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "base/file_util.h"
#include "maintenance/index_writer.h"
#include "maintenance/walk.h"
#include "repo/maintenance_access.h"

namespace efs2s3::maintenance {

using storage::ObjectType;

Result<RepairIndexResult> RepairIndex(repo::Repository& repo,
                                      const RepairIndexOptions& options) {
  RepairIndexResult result;
  repo::MaintenanceAccess raw(repo);
  ASSIGN_OR_RETURN(auto old_index, raw.ListNames(ObjectType::kIndex));
  ASSIGN_OR_RETURN(auto packs, raw.ListPacks());
  std::vector<std::pair<Id, std::uint64_t>> order(packs.begin(), packs.end());
  std::sort(order.begin(), order.end());
  IndexWriter index(repo, options.max_index_entries);
  for (const auto& [pack, size] : order) {
    RETURN_IF_ERROR(CheckCancel(options.cancel));
    if (options.progress)
      options.progress("reading pack header " +
                       std::to_string(result.packs + 1) + "/" +
                       std::to_string(order.size()));
    auto entries = raw.ReadPackHeader(pack, size);
    if (!entries) {
      if (entries.error().code == ErrorCode::kTransient) return entries.error();
      result.unreadable_packs.emplace_back(pack.Hex(), entries.error().message);
      continue;
    }
    ++result.packs;
    result.blobs += entries->size();
    if (!options.dry_run) RETURN_IF_ERROR(index.AddPack(pack, *entries));
  }
  if (options.dry_run) return result;
  RETURN_IF_ERROR(index.Finish(old_index));
  result.index_written = index.written().size();
  for (const std::string& name : old_index) {
    auto r = raw.Remove(ObjectType::kIndex, name);
    if (!r && r.error().code != ErrorCode::kNotFound) return r.error();
    ++result.index_deleted;
  }
  RETURN_IF_ERROR(repo.ReloadIndex());
  return result;
}

namespace {

class SnapshotRepairer {
 public:
  SnapshotRepairer(repo::Repository& repo, const RepairSnapshotsOptions& o)
      : repo_(repo), o_(o) {}
  Result<RepairSnapshotsResult> Run();

 private:
  struct Rewritten {
    std::optional<Id> id;              // nullopt: the tree itself is unusable
    std::vector<std::string> dropped;  // relative to the tree
  };
  bool BlobOk(const Id& id);
  Result<const Rewritten*> Rewrite(const Id& tree);

  repo::Repository& repo_;
  const RepairSnapshotsOptions& o_;
  std::unordered_map<Id, std::uint64_t, IdHash> packs_;
  std::unordered_map<Id, bool, IdHash> data_ok_;  // with read_data
  std::unordered_map<Id, Rewritten, IdHash> trees_;
};

bool SnapshotRepairer::BlobOk(const Id& id) {
  auto loc = repo_.Lookup(id);
  if (!loc) return false;
  auto it = packs_.find(loc->pack);
  if (it == packs_.end() ||
      std::uint64_t{loc->offset} + loc->length + 4 > it->second)
    return false;
  if (!o_.read_data || loc->type == repo::BlobType::kTree) return true;
  if (auto m = data_ok_.find(id); m != data_ok_.end()) return m->second;
  bool ok = repo_.LoadBlob(id).has_value();
  data_ok_[id] = ok;
  return ok;
}

Result<const SnapshotRepairer::Rewritten*> SnapshotRepairer::Rewrite(
    const Id& tree) {
  if (auto it = trees_.find(tree); it != trees_.end()) return &it->second;
  RETURN_IF_ERROR(CheckCancel(o_.cancel));
  Rewritten out;
  std::optional<model::Tree> t;
  if (BlobOk(tree)) {
    auto loaded = repo_.LoadTree(tree);
    if (loaded) {
      t = std::move(*loaded);
    } else if (loaded.error().code == ErrorCode::kTransient) {
      return loaded.error();
    }
  }
  if (!t) return &(trees_[tree] = std::move(out));
  model::Tree fixed;
  bool changed = false;
  for (model::Node& n : t->nodes) {
    std::string name = "/" + n.name;
    bool content_ok = std::all_of(n.content.begin(), n.content.end(),
                                  [&](const Id& b) { return BlobOk(b); });
    if (!content_ok) {
      out.dropped.push_back(name);
      changed = true;
      continue;
    }
    if (n.subtree) {
      ASSIGN_OR_RETURN(const Rewritten* sub, Rewrite(*n.subtree));
      if (!sub->id) {
        out.dropped.push_back(name + "/");
        changed = true;
        continue;
      }
      for (const auto& d : sub->dropped) out.dropped.push_back(name + d);
      if (*sub->id != *n.subtree) {
        n.subtree = *sub->id;
        changed = true;
      }
    }
    fixed.nodes.push_back(std::move(n));
  }
  if (!changed) {
    out.id = tree;
  } else if (o_.dry_run) {
    out.id = repo_.BlobId(model::EncodeTree(fixed));
  } else {
    ASSIGN_OR_RETURN(out.id, repo_.SaveTree(fixed));
  }
  return &(trees_[tree] = std::move(out));
}

Result<RepairSnapshotsResult> SnapshotRepairer::Run() {
  RepairSnapshotsResult result;
  ASSIGN_OR_RETURN(packs_, repo::MaintenanceAccess(repo_).ListPacks());
  std::vector<repo::UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(auto snapshots, repo_.ListSnapshots(&unreadable));
  result.snapshots = snapshots.size() + unreadable.size();
  for (const auto& u : unreadable)
    result.unreadable.push_back(
        {u.id.Hex(), u.reason, o_.forget ? "removed" : "unrepairable", ""});
  std::vector<std::tuple<Id, RepairedSnapshot, model::Snapshot>> todo;
  for (const auto& [id, s] : snapshots) {
    if (o_.progress) o_.progress("checking snapshot " + id.Short());
    ASSIGN_OR_RETURN(const Rewritten* r, Rewrite(s.tree));
    if (r->id && *r->id == s.tree) continue;
    RepairedSnapshot rs;
    rs.old_id = id.Hex();
    rs.dropped = r->dropped;
    model::Snapshot fixed = s;
    if (!r->id) {
      rs.action = o_.forget ? "removed" : "unrepairable";
      rs.dropped = {"/"};
    } else {
      rs.action = "rewritten";
      fixed.tree = *r->id;
      if (std::find(fixed.tags.begin(), fixed.tags.end(), "repaired") ==
          fixed.tags.end())
        fixed.tags.push_back("repaired");
    }
    todo.emplace_back(id, std::move(rs), std::move(fixed));
  }
  if (!o_.dry_run) {
    // New trees are durable and indexed before any snapshot names them.
    RETURN_IF_ERROR(repo_.Flush());
    for (auto& [old_id, rs, fixed] : todo) {
      if (rs.action == "rewritten") {
        ASSIGN_OR_RETURN(Id nid, repo_.SaveSnapshot(fixed));
        rs.new_id = nid.Hex();
      }
      if (rs.action != "unrepairable")
        RETURN_IF_ERROR(repo_.RemoveSnapshot(old_id));
    }
    if (o_.forget) {
      // Only damage that is still there is removed: each one is read once
      // more (LoadSnapshot itself reads again when a check fails), and its
      // stored bytes are kept before it goes.
      for (const auto& u : unreadable) {
        auto again = repo_.LoadSnapshot(u.id);
        if (again)
          return MakeError(ErrorCode::kTransient,
                           "snapshots/" + u.id.Hex() +
                               ": readable when read again; nothing of it "
                               "was removed (run repair snapshots again)");
        if (again.error().code != ErrorCode::kCorruption) return again.error();
      }
      for (size_t i = 0; i < unreadable.size(); ++i) {
        auto& r = result.unreadable[i];
        if (!o_.keep_copies_in.empty()) {
          ASSIGN_OR_RETURN(Bytes stored,
                           repo::MaintenanceAccess(repo_).LoadStored(
                               storage::ObjectType::kSnapshot, r.id));
          std::string path = o_.keep_copies_in + "/" + r.id;
          auto saved = MakeDirs(o_.keep_copies_in);
          if (saved) saved = WriteFileAtomic(path, stored, false);
          if (!saved)
            return saved.error().Wrap("snapshots/" + r.id +
                                      ": cannot keep a copy before removing it "
                                      "(nothing of it was removed)");
          r.copy = path;
        }
        RETURN_IF_ERROR(repo_.RemoveSnapshot(unreadable[i].id));
      }
    }
  }
  for (auto& [old_id, rs, fixed] : todo)
    result.changed.push_back(std::move(rs));
  return result;
}

}  // namespace

Result<RepairSnapshotsResult> RepairSnapshots(
    repo::Repository& repo, const RepairSnapshotsOptions& options) {
  SnapshotRepairer r(repo, options);
  return r.Run();
}

}  // namespace efs2s3::maintenance
