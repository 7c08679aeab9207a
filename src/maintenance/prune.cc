#include "maintenance/prune.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_set>

#include "base/thread_pool.h"
#include "maintenance/index_writer.h"
#include "maintenance/walk.h"
#include "repo/maintenance_access.h"
#include "storage/storage_class.h"

namespace efs2s3::maintenance {

using repo::BlobLocation;
using repo::PackEntry;
using storage::ObjectType;

namespace {

void Progress(const PruneOptions& o, const std::string& line) {
  if (o.progress) o.progress(line);
}

// Removes a temporary directory (whose files are already unlinked) on scope
// exit.
struct TempDirGuard {
  std::string path;
  ~TempDirGuard() {
    if (!path.empty()) ::rmdir(path.c_str());
  }
};

std::uint64_t CeilDiv(std::uint64_t a, std::uint64_t b) {
  return b ? (a + b - 1) / b : 0;
}

// One index entry of a kept pack, spilled to a bucket file while the new index
// is built: pack id | blob id | type | compressed | offset | length |
// raw_length.
constexpr size_t kRecordSize = 32 + 32 + 1 + 1 + 4 + 4 + 4;

void EncodeRecord(const Id& id, const BlobLocation& loc, std::uint8_t* out) {
  std::memcpy(out, loc.pack.bytes.data(), 32);
  std::memcpy(out + 32, id.bytes.data(), 32);
  out[64] = static_cast<std::uint8_t>(loc.type);
  out[65] = loc.compressed ? 1 : 0;
  Bytes tmp;
  PutU32(tmp, loc.offset);
  PutU32(tmp, loc.length);
  PutU32(tmp, loc.raw_length);
  std::memcpy(out + 66, tmp.data(), 12);
}

std::pair<Id, PackEntry> DecodeRecord(const std::uint8_t* in) {
  Id pack = Id::FromSpan({in, 32});
  PackEntry e;
  e.id = Id::FromSpan({in + 32, 32});
  e.type = static_cast<repo::BlobType>(in[64]);
  e.compressed = in[65] != 0;
  e.offset = GetU32(in + 66);
  e.length = GetU32(in + 70);
  e.raw_length = GetU32(in + 74);
  return {pack, e};
}

size_t Partition(const Id& pack, size_t parts) {
  std::uint64_t x = (std::uint64_t{pack.bytes[0]} << 24) |
                    (std::uint64_t{pack.bytes[1]} << 16) |
                    (std::uint64_t{pack.bytes[2]} << 8) | pack.bytes[3];
  return static_cast<size_t>((x * parts) >> 32);
}

Result<void> RemoveIgnoringMissing(repo::Repository& repo, ObjectType type,
                                   const std::string& name) {
  auto r = repo::MaintenanceAccess(repo).Remove(type, name);
  if (!r && r.error().code != ErrorCode::kNotFound) return r.error();
  return Ok();
}

}  // namespace

PackAction DecidePack(const PrunePlan::PackState& p, double max_unused) {
  if (p.used == 0) return PackAction::kDelete;
  // Header: sealed list of 42-byte entries plus the 4-byte length.
  std::uint64_t header = 4 + crypto::kSealOverhead + 4 + 42ULL * p.indexed;
  std::uint64_t needed = p.used_bytes + header;
  std::uint64_t unused = p.size > needed ? p.size - needed : 0;
  return static_cast<double>(unused) > max_unused * static_cast<double>(p.size)
             ? PackAction::kRepack
             : PackAction::kKeep;
}

// Object Lock: a pack to delete or repack whose retention lasts is kept for a
// later prune (deleting it would only hide it behind a delete marker, and
// repacking it would store its blobs twice until then).
static Result<void> KeepRetainedPacks(repo::Repository& repo, PrunePlan& plan,
                                      const PruneOptions& options) {
  repo::MaintenanceAccess raw(repo);
  std::vector<std::pair<const Id*, PrunePlan::PackState*>> todo;
  for (auto& [id, p] : plan.packs)
    if (p.action != PackAction::kKeep) todo.emplace_back(&id, &p);
  const std::int64_t now =
      options.now ? options.now
                  : std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  std::mutex mu;
  std::optional<Error> failed;
  ParallelFor(todo.size(), raw.Concurrency(), [&](size_t k) {
    auto r = raw.GetRetention(storage::ObjectType::kPack, todo[k].first->Hex());
    std::lock_guard lk(mu);
    if (!r) {
      if (r.error().code != ErrorCode::kNotFound && !failed) failed = r.error();
      return;
    }
    if (r->until <= now) return;
    PrunePlan::PackState& p = *todo[k].second;
    p.action = PackAction::kKeep;
    ++plan.retained.packs;
    plan.retained.blobs += p.indexed;
    plan.retained.bytes += p.size;
    if (plan.retained_until == 0 || r->until < plan.retained_until)
      plan.retained_until = r->until;
  });
  if (failed) return *failed;
  return Ok();
}

// Archive classes: never repack (that reads the pack). Minimum storage
// durations: count (or, asked to, avoid) the early deletion charge.
static void ApplyStorageClasses(PrunePlan& plan, const PruneOptions& options) {
  const std::int64_t now =
      options.now ? options.now
                  : std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  auto count = [](PruneCount& c, const PrunePlan::PackState& p) {
    ++c.packs;
    c.blobs += p.indexed;
    c.bytes += p.size;
  };
  for (auto& [id, p] : plan.packs) {
    if (p.action == PackAction::kRepack &&
        (storage::IsArchiveClass(p.storage_class) ||
         p.storage_class == "INTELLIGENT_TIERING")) {
      p.action = PackAction::kKeep;
      count(plan.cold_kept, p);
    }
    if (p.action == PackAction::kKeep || p.mtime <= 0) continue;
    const storage::StorageClassInfo* cls =
        storage::FindStorageClass(p.storage_class);
    if (!cls || cls->min_days == 0) continue;
    const double age_days = static_cast<double>(now - p.mtime) / 86400.0;
    const double usd = storage::EarlyDeletionCharge(*cls, p.size, age_days);
    if (usd <= 0 && age_days >= cls->min_days) continue;
    if (options.respect_min_duration) {
      p.action = PackAction::kKeep;
      count(plan.min_duration_kept, p);
      plan.min_duration_kept_usd += usd;
    } else {
      count(plan.early_delete, p);
      plan.early_delete_usd += usd;
    }
  }
}

Result<PrunePlan> PlanPrune(repo::Repository& repo,
                            const PruneOptions& options) {
  PrunePlan plan;
  Progress(options, "loading snapshots");
  std::vector<repo::UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(auto snapshots, repo.ListSnapshots(&unreadable));
  if (!unreadable.empty()) {
    // A snapshot prune cannot read may use any blob: deleting anything could
    // take data it needs.
    std::string names;
    for (const auto& u : unreadable)
      names += (names.empty() ? "snapshots/" : ", snapshots/") + u.id.Hex() +
               " (" + u.reason + ")";
    return MakeError(
        ErrorCode::kCorruption,
        "prune: " + std::to_string(unreadable.size()) +
            " snapshot(s) cannot be read: " + names +
            "; nothing was deleted, since they may use any data; `efs2s3 "
            "repair snapshots --forget` removes them");
  }
  std::vector<Id> roots;
  for (const auto& [id, s] : snapshots) {
    plan.snapshot_ids.push_back(id.Hex());
    roots.push_back(s.tree);
  }
  plan.snapshots = snapshots.size();

  Progress(options, "finding the blobs used by " +
                        std::to_string(plan.snapshots) + " snapshots");
  ASSIGN_OR_RETURN(std::string tmp, MakeTempDir(options.temp_dir));
  TempDirGuard guard{tmp};
  {
    IdSetBuilder builder(tmp, options.id_buffer);
    WalkStats ws;
    auto walked = CollectUsedBlobs(repo, roots, builder, options.cancel, &ws);
    if (!walked)
      return walked.error().Wrap(
          "prune: cannot read every snapshot's trees (nothing was changed; run "
          "`efs2s3 check`)");
    plan.trees = ws.trees;
    ASSIGN_OR_RETURN(plan.used, builder.Finish());
  }
  plan.used_blobs = plan.used->size();

  Progress(options, "listing packs and index files");
  RETURN_IF_ERROR(repo.ListPackClasses(
      [&](const Id& id, const storage::ObjectInfo& info) -> Result<void> {
        PrunePlan::PackState& p = plan.packs[id];
        p.size = info.size;
        p.storage_class = info.storage_class;
        p.mtime = info.mtime;
        ++plan.total.packs;
        plan.total.bytes += info.size;
        return Ok();
      }));
  ASSIGN_OR_RETURN(plan.index_files,
                   repo::MaintenanceAccess(repo).ListNames(ObjectType::kIndex));
  plan.old_index_files = plan.index_files.size();

  RETURN_IF_ERROR(repo.ForEachIndexed(
      [&](const Id&, const BlobLocation& loc) -> Result<void> {
        auto it = plan.packs.find(loc.pack);
        if (it != plan.packs.end()) {
          ++it->second.indexed;
          ++plan.total.blobs;
        }
        return Ok();
      }));
  for (size_t i = 0; i < plan.used->size(); ++i) {
    RETURN_IF_ERROR(CheckCancel(options.cancel));
    Id id = plan.used->At(i);
    auto loc = repo.Lookup(id);
    if (!loc)
      return MakeError(ErrorCode::kCorruption,
                       "prune: blob " + id.Hex() +
                           " is used by a snapshot but not in the index "
                           "(nothing was changed; run "
                           "`efs2s3 check`, then `efs2s3 repair index` or "
                           "`repair snapshots`)");
    auto it = plan.packs.find(loc->pack);
    if (it == plan.packs.end())
      return MakeError(
          ErrorCode::kCorruption,
          "prune: blob " + id.Hex() + " is used by a snapshot but its pack " +
              loc->pack.Hex() +
              " is missing (nothing was changed; run `efs2s3 check`, then "
              "`efs2s3 repair snapshots`)");
    ++it->second.used;
    it->second.used_bytes += loc->length;
  }

  for (auto& [id, p] : plan.packs)
    p.action = p.indexed == 0 ? PackAction::kDelete
                              : DecidePack(p, options.max_unused);
  if (!repo.config().lock_mode.empty())
    RETURN_IF_ERROR(KeepRetainedPacks(repo, plan, options));
  ApplyStorageClasses(plan, options);
  for (auto& [id, p] : plan.packs) {
    if (p.indexed == 0 && p.action == PackAction::kDelete) {
      ++plan.unindexed.packs;
      plan.unindexed.bytes += p.size;
    }
    PruneCount* c = p.action == PackAction::kKeep     ? &plan.keep
                    : p.action == PackAction::kRepack ? &plan.repack
                                                      : &plan.remove;
    ++c->packs;
    c->blobs += p.indexed;
    c->bytes += p.size;
    if (p.action == PackAction::kRepack) {
      plan.repack_copy.blobs += p.used;
      plan.repack_copy.bytes += p.used_bytes;
    }
    if (p.action == PackAction::kKeep) {
      std::uint64_t header = 8 + crypto::kSealOverhead + 42ULL * p.indexed;
      if (p.size > p.used_bytes + header)
        plan.unused_bytes_kept += p.size - p.used_bytes - header;
    }
  }
  std::vector<std::string> loaded = repo.IndexNames();
  std::set<std::string> loaded_set(loaded.begin(), loaded.end());
  bool stale_index =
      std::any_of(plan.index_files.begin(), plan.index_files.end(),
                  [&](const std::string& n) { return !loaded_set.count(n); });
  plan.nothing_to_do =
      plan.remove.packs == 0 && plan.repack.packs == 0 && !stale_index;
  if (!plan.nothing_to_do) {
    plan.new_packs = CeilDiv(plan.repack_copy.bytes, repo.config().pack_size);
    if (plan.repack_copy.blobs > 0 && plan.new_packs == 0) plan.new_packs = 1;
    plan.new_index_files = std::max<std::uint64_t>(
        1, CeilDiv(plan.keep.blobs + plan.repack_copy.blobs,
                   options.max_index_entries));
    plan.requests_read = plan.repack.packs;
    plan.requests_write = plan.new_packs + plan.new_index_files;
    plan.requests_delete =
        plan.remove.packs + plan.repack.packs + plan.old_index_files;
  }
  return plan;
}

namespace {

// Step 1: copies the used blobs of the packs marked kRepack into new packs.
Result<void> Repack(repo::Repository& repo, PrunePlan& plan,
                    const PruneOptions& options, IndexWriter& index,
                    PruneResult& result) {
  repo::MaintenanceAccess raw(repo);
  repo::PackWriter writers[2];
  auto upload = [&](repo::PackWriter& w) -> Result<void> {
    if (w.empty()) return Ok();
    ASSIGN_OR_RETURN(auto pack, raw.SavePack(w));
    ++result.packs_written;
    result.bytes_written += pack->size();
    return index.AddPack(pack->name, pack->entries);
  };
  std::vector<Id> order;
  for (const auto& [id, p] : plan.packs)
    if (p.action == PackAction::kRepack) order.push_back(id);
  std::sort(order.begin(), order.end());
  size_t done = 0;
  for (const Id& pack : order) {
    RETURN_IF_ERROR(CheckCancel(options.cancel));
    const PrunePlan::PackState& state = plan.packs[pack];
    Progress(options, "repacking pack " + std::to_string(++done) + "/" +
                          std::to_string(order.size()) + " " + pack.Short());
    auto loaded = raw.LoadPack(pack);
    if (!loaded && loaded.error().code == ErrorCode::kCorruption)
      return loaded.error().Wrap(
          "prune: pack " + pack.Hex() +
          " to repack is damaged (run `efs2s3 repair index --read-data`, "
          "which keeps its intact blobs; nothing was deleted)");
    if (!loaded) return loaded.error();
    Bytes data = std::move(*loaded);
    auto header = raw.ParsePackHeader(data);
    if (!header)
      return header.error().Wrap(
          "prune: pack " + pack.Hex() +
          " (run `efs2s3 repair index --read-data`; nothing was deleted)");
    std::uint32_t found = 0;
    for (const PackEntry& e : *header) {
      if (!plan.used->Contains(e.id)) continue;
      auto loc = repo.Lookup(e.id);
      if (!loc || loc->pack != pack || loc->offset != e.offset)
        continue;  // not canonical
      ByteSpan sealed = ByteSpan(data).subspan(e.offset, e.length);
      auto ok = raw.VerifySealedBlob(e, sealed);
      if (!ok)
        return ok.error().Wrap(
            "prune: blob " + e.id.Hex() + " in pack " + pack.Hex() +
            " (run `efs2s3 repair index --read-data`; nothing was deleted)");
      repo::PackWriter& w = writers[e.type == repo::BlobType::kTree ? 1 : 0];
      RETURN_IF_ERROR(w.Add(e, sealed));
      ++found;
      ++result.blobs_repacked;
      if (w.size() >= repo.config().pack_size) RETURN_IF_ERROR(upload(w));
    }
    if (found != state.used)
      return MakeError(ErrorCode::kCorruption,
                       "prune: pack " + pack.Hex() + ": the index places " +
                           std::to_string(state.used) +
                           " used blobs in it, its header has " +
                           std::to_string(found) +
                           " (run `efs2s3 repair index`; nothing was deleted)");
  }
  for (auto& w : writers) RETURN_IF_ERROR(upload(w));
  return Ok();
}

// Step 2a: index entries of kept packs, partitioned by pack ID into bucket
// files so that each index file is built from one bucket in bounded memory.
Result<void> IndexKeptPacks(repo::Repository& repo, const PrunePlan& plan,
                            const PruneOptions& options, const std::string& tmp,
                            IndexWriter& index) {
  std::uint64_t entries = 0;
  for (const auto& [id, p] : plan.packs)
    if (p.action == PackAction::kKeep) entries += p.indexed;
  if (entries == 0) return Ok();
  size_t parts = static_cast<size_t>(
      std::max<std::uint64_t>(1, CeilDiv(entries, options.max_index_entries)));
  std::vector<std::string> paths;
  std::vector<FILE*> files;
  auto close_all = [&] {
    for (FILE* f : files)
      if (f) std::fclose(f);
    files.clear();
    for (const auto& p : paths) ::unlink(p.c_str());
  };
  for (size_t i = 0; i < parts; ++i) {
    paths.push_back(tmp + "/bucket-" + std::to_string(i));
    FILE* f = std::fopen(paths.back().c_str(), "w+b");
    if (!f) {
      int err = errno;
      close_all();
      return PosixError(paths.back(), err);
    }
    files.push_back(f);
  }
  std::uint8_t rec[kRecordSize];
  auto spilled = repo.ForEachIndexed(
      [&](const Id& id, const BlobLocation& loc) -> Result<void> {
        auto it = plan.packs.find(loc.pack);
        if (it == plan.packs.end() || it->second.action != PackAction::kKeep)
          return Ok();
        EncodeRecord(id, loc, rec);
        size_t part = Partition(loc.pack, parts);
        if (std::fwrite(rec, 1, kRecordSize, files[part]) != kRecordSize)
          return PosixError(paths[part], errno);
        return Ok();
      });
  if (!spilled) {
    close_all();
    return spilled.error();
  }
  for (size_t i = 0; i < parts; ++i) {
    auto r = [&]() -> Result<void> {
      RETURN_IF_ERROR(CheckCancel(options.cancel));
      FILE* f = files[i];
      if (std::fflush(f) != 0 || std::fseek(f, 0, SEEK_SET) != 0)
        return PosixError(paths[i], errno);
      std::vector<std::pair<Id, PackEntry>> recs;
      while (std::fread(rec, 1, kRecordSize, f) == kRecordSize)
        recs.push_back(DecodeRecord(rec));
      std::fclose(f);
      files[i] = nullptr;
      ::unlink(paths[i].c_str());
      auto key = [](const std::pair<Id, PackEntry>& x) {
        return std::tie(x.first, x.second.offset, x.second.id);
      };
      std::sort(recs.begin(), recs.end(),
                [&](const auto& a, const auto& b) { return key(a) < key(b); });
      // The same pack may be named by several index files (after a crashed
      // prune).
      recs.erase(std::unique(recs.begin(), recs.end(),
                             [](const auto& a, const auto& b) {
                               return a.first == b.first &&
                                      a.second.id == b.second.id &&
                                      a.second.offset == b.second.offset;
                             }),
                 recs.end());
      for (size_t j = 0; j < recs.size();) {
        size_t k = j;
        std::vector<PackEntry> pack_entries;
        while (k < recs.size() && recs[k].first == recs[j].first)
          pack_entries.push_back(recs[k++].second);
        RETURN_IF_ERROR(index.AddPack(recs[j].first, pack_entries));
        j = k;
      }
      return Ok();
    }();
    if (!r) {
      close_all();
      return r.error();
    }
  }
  close_all();
  return Ok();
}

// Aborts if snapshots or index files appeared since the plan: some process
// wrote to the repository without the lock (or its lock expired), and its data
// may live in packs this prune would delete.
Result<void> VerifyNoConcurrentWriter(repo::Repository& repo,
                                      const PrunePlan& plan,
                                      const IndexWriter& index) {
  std::set<std::string> known(plan.snapshot_ids.begin(),
                              plan.snapshot_ids.end());
  std::vector<std::string> added;
  repo::MaintenanceAccess raw(repo);
  RETURN_IF_ERROR(raw.List(ObjectType::kSnapshot,
                           [&](const storage::ObjectInfo& i) -> Result<void> {
                             if (!known.count(i.name))
                               added.push_back("snapshots/" + i.name);
                             return Ok();
                           }));
  std::set<std::string> idx(plan.index_files.begin(), plan.index_files.end());
  idx.insert(index.written().begin(), index.written().end());
  RETURN_IF_ERROR(raw.List(ObjectType::kIndex,
                           [&](const storage::ObjectInfo& i) -> Result<void> {
                             if (!idx.count(i.name))
                               added.push_back("index/" + i.name);
                             return Ok();
                           }));
  if (!added.empty())
    return MakeError(
        ErrorCode::kLocked,
        "prune: " + added.front() +
            " appeared while prune ran: another process is writing to the "
            "repository; prune stopped before retiring anything (run it "
            "again)");
  return Ok();
}

}  // namespace

Result<PruneResult> ExecutePrune(repo::Repository& repo, PrunePlan& plan,
                                 const PruneOptions& options) {
  PruneResult result;
  if (plan.nothing_to_do) return result;
  ASSIGN_OR_RETURN(std::string tmp, MakeTempDir(options.temp_dir));
  TempDirGuard guard{tmp};
  IndexWriter index(repo, options.max_index_entries);

  // 1. New packs for the used blobs of mostly-unused packs (unindexed until
  // step 2).
  RETURN_IF_ERROR(Repack(repo, plan, options, index, result));
  // 2. The new index: kept packs plus the repacked ones; its last file retires
  // the old.
  Progress(options, "writing the new index");
  RETURN_IF_ERROR(IndexKeptPacks(repo, plan, options, tmp, index));
  RETURN_IF_ERROR(CheckCancel(options.cancel));
  RETURN_IF_ERROR(VerifyNoConcurrentWriter(repo, plan, index));
  RETURN_IF_ERROR(index.Finish(plan.index_files));
  result.index_written = index.written().size();
  // 3. Old index files: superseded now, so readers already ignore them.
  Progress(options, "deleting " + std::to_string(plan.index_files.size()) +
                        " old index files");
  for (const std::string& name : plan.index_files) {
    RETURN_IF_ERROR(CheckCancel(options.cancel));
    RETURN_IF_ERROR(RemoveIgnoringMissing(repo, ObjectType::kIndex, name));
    ++result.index_deleted;
  }
  // 4. Packs no index names any more.
  std::vector<std::pair<Id, std::uint64_t>> doomed;
  for (const auto& [id, p] : plan.packs)
    if (p.action != PackAction::kKeep) doomed.emplace_back(id, p.size);
  std::sort(doomed.begin(), doomed.end());
  Progress(options, "deleting " + std::to_string(doomed.size()) + " packs");
  for (const auto& [id, size] : doomed) {
    RETURN_IF_ERROR(CheckCancel(options.cancel));
    RETURN_IF_ERROR(RemoveIgnoringMissing(repo, ObjectType::kPack, id.Hex()));
    ++result.packs_deleted;
    result.bytes_deleted += size;
  }
  RETURN_IF_ERROR(repo.ReloadIndex());
  return result;
}

}  // namespace efs2s3::maintenance
