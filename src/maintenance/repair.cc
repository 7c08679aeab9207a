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

namespace {

// Salvages what a pack with a damaged header still holds: the header found
// by a search (a cut-off or damaged length field), or else the blobs the old
// index places in it. Every blob kept is authenticated (decrypted,
// decompressed, compared with its ID) in bytes read twice alike, and copied
// into a new pack, so the repository no longer depends on the damaged one.
class PackSalvager {
 public:
  PackSalvager(repo::Repository& repo, const RepairIndexOptions& o,
               IndexWriter& index, RepairIndexResult& result)
      : repo_(repo), raw_(repo), o_(o), index_(index), result_(result) {}

  Result<void> Salvage(const Id& pack, const std::string& why);
  // With --read-data: reads pack `pack` whole and authenticates every blob.
  // Its entries if all are intact; otherwise salvages it (the intact blobs
  // to a new pack) and returns nullopt.
  Result<std::optional<std::vector<repo::PackEntry>>> ReadData(const Id& pack);
  Result<void> Finish();

 private:
  // Index entries of the old index that place blobs in `pack`.
  std::vector<repo::PackEntry> OldEntries(const Id& pack);
  Result<void> Keep(const repo::PackEntry& e, ByteSpan sealed);
  // Keeps the candidates that authenticate in `data`; records the others as
  // lost.
  Result<void> KeepIntact(const Bytes* data,
                          const std::vector<repo::PackEntry>& candidates,
                          SalvagedPack s);

  repo::Repository& repo_;
  repo::MaintenanceAccess raw_;
  const RepairIndexOptions& o_;
  IndexWriter& index_;
  RepairIndexResult& result_;
  repo::PackWriter writers_[2];  // data, tree
};

std::vector<repo::PackEntry> PackSalvager::OldEntries(const Id& pack) {
  std::vector<repo::PackEntry> out;
  (void)repo_.ForEachIndexed(
      [&](const Id& id, const repo::BlobLocation& loc) -> Result<void> {
        if (loc.pack == pack)
          out.push_back({id, loc.type, loc.compressed, loc.offset, loc.length,
                         loc.raw_length});
        return Ok();
      });
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.offset, a.id) < std::tie(b.offset, b.id);
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const auto& a, const auto& b) {
                          return a.id == b.id && a.offset == b.offset;
                        }),
            out.end());
  return out;
}

Result<void> PackSalvager::Keep(const repo::PackEntry& e, ByteSpan sealed) {
  if (o_.dry_run) return Ok();
  repo::PackWriter& w = writers_[e.type == repo::BlobType::kTree ? 1 : 0];
  RETURN_IF_ERROR(w.Add(e, sealed));
  if (w.size() < repo_.config().pack_size) return Ok();
  ASSIGN_OR_RETURN(auto fresh, raw_.SavePack(w));
  ++result_.packs_written;
  return index_.AddPack(fresh->name, fresh->entries);
}

Result<void> PackSalvager::Finish() {
  for (auto& w : writers_) {
    if (w.count() == 0) continue;
    ASSIGN_OR_RETURN(auto fresh, raw_.SavePack(w));
    ++result_.packs_written;
    RETURN_IF_ERROR(index_.AddPack(fresh->name, fresh->entries));
  }
  return Ok();
}

Result<void> PackSalvager::Salvage(const Id& pack, const std::string& why) {
  SalvagedPack s;
  s.pack = pack.Hex();
  s.reason = why;
  bool intact = true;
  auto data = raw_.LoadPack(pack, &intact);
  if (!data && data.error().code == ErrorCode::kTransient) return data.error();
  std::vector<repo::PackEntry> candidates;
  if (data) {
    if (auto found = raw_.FindPackHeader(*data)) {
      s.method = "header found by search";
      candidates = std::move(*found);
    }
  }
  if (candidates.empty()) {
    s.method = "old index";
    candidates = OldEntries(pack);
  }
  if (candidates.empty()) s.method = "none";
  return KeepIntact(data ? &*data : nullptr, candidates, std::move(s));
}

Result<void> PackSalvager::KeepIntact(
    const Bytes* data, const std::vector<repo::PackEntry>& candidates,
    SalvagedPack s) {
  for (const repo::PackEntry& e : candidates) {
    bool fits = data && std::uint64_t{e.offset} + e.length <= data->size();
    ByteSpan sealed =
        fits ? ByteSpan(*data).subspan(e.offset, e.length) : ByteSpan();
    if (fits && raw_.VerifySealedBlob(e, sealed)) {
      ++s.blobs_kept;
      RETURN_IF_ERROR(Keep(e, sealed));
    } else {
      s.lost.push_back(e.id.Hex());
    }
  }
  result_.blobs += s.blobs_kept;
  result_.salvaged.push_back(std::move(s));
  return Ok();
}

Result<std::optional<std::vector<repo::PackEntry>>> PackSalvager::ReadData(
    const Id& pack) {
  bool intact = true;
  auto data = raw_.LoadPack(pack, &intact);
  if (!data) {
    if (data.error().code != ErrorCode::kNotFound) return data.error();
    return std::nullopt;  // vanished: nothing to index
  }
  auto header = raw_.ParsePackHeader(*data);
  if (!header) {
    RETURN_IF_ERROR(
        Salvage(pack, "pack " + pack.Hex() + ": " + header.error().message));
    return std::nullopt;
  }
  bool all_ok = intact;
  for (const repo::PackEntry& e : *header)
    all_ok = all_ok && raw_.VerifySealedBlob(
                               e, ByteSpan(*data).subspan(e.offset, e.length))
                           .has_value();
  if (all_ok) return std::move(*header);
  SalvagedPack s;
  s.pack = pack.Hex();
  s.reason = "pack " + pack.Hex() + ": damaged blobs";
  s.method = "header";
  RETURN_IF_ERROR(KeepIntact(&*data, *header, std::move(s)));
  return std::nullopt;
}

}  // namespace

Result<RepairIndexResult> RepairIndex(repo::Repository& repo,
                                      const RepairIndexOptions& options) {
  RepairIndexResult result;
  repo::MaintenanceAccess raw(repo);
  ASSIGN_OR_RETURN(auto old_index, raw.ListNames(ObjectType::kIndex));
  ASSIGN_OR_RETURN(auto packs, raw.ListPacks());
  std::vector<std::pair<Id, std::uint64_t>> order(packs.begin(), packs.end());
  std::sort(order.begin(), order.end());
  IndexWriter index(repo, options.max_index_entries);
  PackSalvager salvager(repo, options, index, result);
  for (const auto& [pack, size] : order) {
    RETURN_IF_ERROR(CheckCancel(options.cancel));
    if (options.progress)
      options.progress("reading pack header " +
                       std::to_string(result.packs + 1) + "/" +
                       std::to_string(order.size()));
    // A header that fails authentication is read again before the pack is
    // called damaged (repo/read_checked.h); reads that disagree are a
    // transient fault: stop, and keep the old index in force.
    if (options.read_data) {
      ASSIGN_OR_RETURN(auto checked, salvager.ReadData(pack));
      if (!checked) continue;
      ++result.packs;
      result.blobs += checked->size();
      if (!options.dry_run) RETURN_IF_ERROR(index.AddPack(pack, *checked));
      continue;
    }
    auto entries = raw.ReadPackHeader(pack, size);
    if (!entries) {
      if (entries.error().code == ErrorCode::kTransient ||
          entries.error().code == ErrorCode::kCancelled)
        return entries.error();
      RETURN_IF_ERROR(salvager.Salvage(pack, entries.error().message));
      continue;
    }
    ++result.packs;
    result.blobs += entries->size();
    if (!options.dry_run) RETURN_IF_ERROR(index.AddPack(pack, *entries));
  }
  if (options.dry_run) return result;
  // The salvaged blobs are stored in new packs before the new index, which
  // supersedes the old one, names them.
  RETURN_IF_ERROR(salvager.Finish());
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
