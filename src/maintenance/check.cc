#include "maintenance/check.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "base/thread_pool.h"
#include "maintenance/walk.h"
#include "repo/maintenance_access.h"
#include "storage/storage_class.h"

namespace efs2s3::maintenance {

using repo::BlobLocation;
using repo::PackEntry;
using storage::ObjectType;

Result<DataSubset> ParseDataSubset(std::string_view text) {
  auto bad = [&] {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "--read-data-subset: '" + std::string(text) +
            "' is neither n/m (1 <= n <= m) nor a percentage like 5%");
  };
  DataSubset s;
  if (text.empty()) return s;
  if (text.back() == '%') {
    std::string num(text.substr(0, text.size() - 1));
    char* end = nullptr;
    double p = std::strtod(num.c_str(), &end);
    if (num.empty() || end != num.c_str() + num.size() || !(p > 0) || p > 100)
      return bad();
    s.kind = DataSubset::Kind::kPercent;
    s.percent = p;
    return s;
  }
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return bad();
  auto parse = [](std::string_view v, std::uint32_t* out) {
    auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
    return r.ec == std::errc() && r.ptr == v.data() + v.size();
  };
  if (!parse(text.substr(0, slash), &s.n) ||
      !parse(text.substr(slash + 1), &s.m) || s.n < 1 || s.n > s.m)
    return bad();
  s.kind = DataSubset::Kind::kSlice;
  return s;
}

bool InSlice(const Id& pack, std::uint32_t n, std::uint32_t m) {
  std::uint32_t x = (std::uint32_t{pack.bytes[0]} << 24) |
                    (std::uint32_t{pack.bytes[1]} << 16) |
                    (std::uint32_t{pack.bytes[2]} << 8) | pack.bytes[3];
  return x % m == n - 1;
}

namespace {

class Checker {
 public:
  Checker(repo::Repository& repo, const CheckOptions& o)
      : repo_(repo), raw_(repo), o_(o) {}
  Result<CheckReport> Run();

 private:
  void Progress(const std::string& s) {
    if (o_.progress) o_.progress(s);
  }
  void Error(std::string kind, const std::string& id, std::string message) {
    r_.errors.push_back({std::move(kind), id, std::move(message), {}, 0});
  }
  void Hint(std::string kind, const std::string& id, std::string message) {
    r_.hints.push_back({std::move(kind), id, std::move(message), {}, 0});
  }
  Result<void> CheckKeyFiles();
  Result<void> CheckIndexFiles();
  Result<void> CheckIndexAgainstPacks();
  Result<void> ReadData();
  Result<void> ReadPack(const Id& pack);
  // Damage in a pack no index names (left by repair or an interrupted run)
  // costs nothing restorable: a hint, prune removes the pack.
  void PackDamage(const Id& pack, const std::string& message);
  std::unordered_set<Id, IdHash> indexed_packs_;
  // Packs in an archive class (or INTELLIGENT_TIERING), by listing.
  std::unordered_map<Id, std::string, IdHash> archive_class_;
  // Of `chosen`, those that can be read now; the others are counted, and
  // with o_.cold_tier requested.
  Result<std::vector<Id>> SkipArchived(const std::vector<Id>& chosen);
  Result<void> CheckSnapshots();
  // Why a blob cannot be loaded, or "" if it can (as far as known).
  std::string BlobProblem(const Id& id);
  // Records a bad blob once; returns the index of its problem in r_.errors.
  size_t BadBlob(const Id& id, const std::string& kind, const std::string& why);
  Result<bool> VisitTree(const Id& tree);
  Result<void> CollectPaths(const std::string& snapshot, const Id& tree,
                            const std::string& path);
  void AddPath(size_t problem, const std::string& snapshot,
               const std::string& path);

  repo::Repository& repo_;
  repo::MaintenanceAccess raw_;
  const CheckOptions& o_;
  CheckReport r_;
  std::unordered_map<Id, std::uint64_t, IdHash>
      packs_;  // present: name -> size
  std::unordered_set<Id, IdHash> missing_packs_;
  std::unordered_set<Id, IdHash> damaged_blobs_;
  std::unordered_map<Id, bool, IdHash>
      trees_;  // visited tree -> contains a problem
  std::unordered_map<Id, size_t, IdHash>
      bad_blobs_;  // blob or tree -> problem index
  std::vector<std::string> snapshot_names_;
  std::vector<std::pair<Id, model::Snapshot>> snapshots_;
};

// Every key file must match its name (the SHA-256 of its bytes), also those
// this password does not open.
Result<void> Checker::CheckKeyFiles() {
  Progress("checking key files");
  ASSIGN_OR_RETURN(auto names, raw_.ListNames(ObjectType::kKey));
  for (const std::string& n : names) {
    auto text = repo_.LoadKeyFile(n);
    if (!text && text.error().code == ErrorCode::kCorruption)
      Error("key", n, text.error().message);
    else if (!text)
      return text.error();
  }
  return Ok();
}

Result<void> Checker::CheckIndexFiles() {
  Progress("checking index files");
  ASSIGN_OR_RETURN(auto present, raw_.ListNames(ObjectType::kIndex));
  r_.index_files = present.size();
  std::set<std::string> loaded;
  for (const auto& n : repo_.IndexNames()) loaded.insert(n);
  std::set<std::string> unreadable;
  for (const auto& [name, err] : repo_.UnreadableIndex()) {
    unreadable.insert(name);
    // The message names the object once ("index/X: index/X: ..." before).
    const std::string what = "index/" + name;
    Error("unreadable_index", name,
          (err.message.rfind(what, 0) == 0 ? err.message
                                           : what + ": " + err.message) +
              " (its blobs are missing from the index; `efs2s3 repair index` "
              "rebuilds it)");
  }
  for (const auto& n : present)
    if (!loaded.count(n) && !unreadable.count(n))
      Hint("superseded_index", n,
           "index/" + n +
               " is superseded by a newer index file (prune removes it)");
  return Ok();
}

Result<void> Checker::CheckIndexAgainstPacks() {
  Progress("checking packs");
  // One listing: sizes, and the storage class of archived packs (never read
  // by --read-data unless restored).
  packs_.clear();
  RETURN_IF_ERROR(repo_.ListPackClasses(
      [&](const Id& id, const storage::ObjectInfo& info) -> Result<void> {
        packs_[id] = info.size;
        if (storage::IsArchiveClass(info.storage_class) ||
            info.storage_class == "INTELLIGENT_TIERING")
          archive_class_[id] = info.storage_class;
        return Ok();
      }));
  r_.packs = packs_.size();
  std::map<Id, std::pair<std::uint64_t, Id>> missing,
      too_short;  // pack -> (count, a blob)
  RETURN_IF_ERROR(repo_.ForEachIndexed(
      [&](const Id& id, const BlobLocation& loc) -> Result<void> {
        ++r_.indexed_blobs;
        auto it = packs_.find(loc.pack);
        if (it == packs_.end()) {
          auto& m = missing[loc.pack];
          if (m.first++ == 0) m.second = id;
          return Ok();
        }
        indexed_packs_.insert(loc.pack);
        if (std::uint64_t{loc.offset} + loc.length + 4 > it->second) {
          auto& m = too_short[loc.pack];
          if (m.first++ == 0) m.second = id;
        }
        return Ok();
      }));
  for (const auto& [pack, m] : missing) {
    missing_packs_.insert(pack);
    Error("missing_pack", pack.Hex(),
          "pack " + pack.Hex() + " is named by the index (" +
              std::to_string(m.first) + " blobs) but does not exist");
  }
  for (const auto& [pack, m] : too_short)
    Error("pack_too_short", pack.Hex(),
          "pack " + pack.Hex() + " (" + std::to_string(packs_[pack]) +
              " bytes): " + std::to_string(m.first) +
              " index entries point beyond its end, e.g. blob " +
              m.second.Hex());
  std::vector<Id> unindexed;
  for (const auto& [pack, size] : packs_)
    if (!indexed_packs_.count(pack)) unindexed.push_back(pack);
  std::sort(unindexed.begin(), unindexed.end());
  for (const Id& p : unindexed)
    Hint(
        "unindexed_pack", p.Hex(),
        "pack " + p.Hex() +
            " is not named by any index file (left by an interrupted backup or "
            "prune; prune removes it)");
  return Ok();
}

void Checker::PackDamage(const Id& pack, const std::string& message) {
  if (indexed_packs_.count(pack)) {
    Error("damaged_pack", pack.Hex(), message);
  } else {
    Hint("damaged_unused_pack", pack.Hex(),
         message +
             " (no index names this pack: nothing restorable depends on it; "
             "prune removes it)");
  }
}

Result<void> Checker::ReadPack(const Id& pack) {
  bool intact = true;
  auto data = raw_.LoadPack(pack, &intact);
  if (!data) {
    if (data.error().code == ErrorCode::kTransient ||
        data.error().code == ErrorCode::kCancelled)
      return data.error();
    PackDamage(pack, "pack " + pack.Hex() + ": " + data.error().message);
    return Ok();
  }
  ++r_.packs_read;
  r_.bytes_read += data->size();
  auto header = raw_.ParsePackHeader(*data);
  // Two reads returned the same bytes, which do not match the pack's name:
  // the stored pack is damaged (a byte flipped in transit is read again).
  if (!intact && header)
    PackDamage(pack, "pack " + pack.Hex() +
                         ": content does not match its name (damaged; read "
                         "twice)");
  if (!header) {
    // Without a header, authenticate the blobs the index places in this pack.
    PackDamage(pack, "pack " + pack.Hex() + ": " + header.error().message);
    return repo_.ForEachIndexed([&](const Id& id,
                                    const BlobLocation& loc) -> Result<void> {
      if (loc.pack != pack) return Ok();
      PackEntry e{id,         loc.type,   loc.compressed,
                  loc.offset, loc.length, loc.raw_length};
      ++r_.blobs_read;
      bool fits = std::uint64_t{loc.offset} + loc.length <= data->size();
      auto ok = fits ? raw_.VerifySealedBlob(
                           e, ByteSpan(*data).subspan(loc.offset, loc.length))
                     : Result<void>(MakeError(ErrorCode::kCorruption,
                                              "beyond the end of the pack"));
      if (!ok) {
        ++r_.blobs_failed;
        damaged_blobs_.insert(id);
      }
      return Ok();
    });
  }
  for (const PackEntry& e : *header) {
    ++r_.blobs_read;
    auto ok =
        raw_.VerifySealedBlob(e, ByteSpan(*data).subspan(e.offset, e.length));
    if (!ok) {
      ++r_.blobs_failed;
      if (!indexed_packs_.count(pack)) {
        PackDamage(pack, "pack " + pack.Hex() + ": blob " + e.id.Hex() + " " +
                             ok.error().message);
        continue;
      }
      damaged_blobs_.insert(e.id);
      BadBlob(e.id, "damaged_blob",
              ok.error().message + " (pack " + pack.Hex() + ")");
    }
    auto loc = repo_.Lookup(e.id);
    if (loc && loc->pack == pack &&
        (loc->offset != e.offset || loc->length != e.length ||
         loc->type != e.type || loc->compressed != e.compressed ||
         loc->raw_length != e.raw_length)) {
      damaged_blobs_.insert(e.id);
      Error("index_mismatch", e.id.Hex(),
            "blob " + e.id.Hex() +
                ": the index entry disagrees with the header of pack " +
                pack.Hex() +
                " (`efs2s3 repair index` rebuilds the index from the packs)");
    }
  }
  return Ok();
}

Result<void> Checker::ReadData() {
  std::vector<Id> all;
  for (const auto& [pack, size] : packs_) all.push_back(pack);
  std::sort(all.begin(), all.end());
  std::vector<Id> chosen;
  switch (o_.subset.kind) {
    case DataSubset::Kind::kAll:
      chosen = all;
      break;
    case DataSubset::Kind::kSlice:
      for (const Id& p : all)
        if (InSlice(p, o_.subset.n, o_.subset.m)) chosen.push_back(p);
      break;
    case DataSubset::Kind::kPercent: {
      std::mt19937_64 rng(o_.seed ? o_.seed : std::random_device{}());
      std::shuffle(all.begin(), all.end(), rng);
      auto n = static_cast<size_t>(std::ceil(static_cast<double>(all.size()) *
                                             o_.subset.percent / 100.0));
      chosen.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(
                                                   std::min(n, all.size())));
      std::sort(chosen.begin(), chosen.end());
      break;
    }
  }
  ASSIGN_OR_RETURN(chosen, SkipArchived(chosen));
  size_t i = 0;
  for (const Id& pack : chosen) {
    RETURN_IF_ERROR(CheckCancel(o_.cancel));
    Progress("reading pack " + std::to_string(++i) + "/" +
             std::to_string(chosen.size()));
    RETURN_IF_ERROR(ReadPack(pack));
  }
  return Ok();
}

Result<std::vector<Id>> Checker::SkipArchived(const std::vector<Id>& chosen) {
  std::vector<Id> maybe;
  for (const Id& p : chosen)
    if (archive_class_.count(p)) maybe.push_back(p);
  if (maybe.empty()) return chosen;
  Progress("asking for the state of " + std::to_string(maybe.size()) +
           " archived packs");
  std::mutex mu;
  std::optional<efs2s3::Error> failure;
  std::unordered_set<Id, IdHash> unreadable;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> by_class;
  ParallelFor(maybe.size(), raw_.Concurrency(), [&](size_t k) {
    const Id& p = maybe[k];
    auto st = repo_.PackArchiveStatus(p);
    if (st && (!st->Readable()) && !st->restore_ongoing &&
        !o_.cold_tier.empty()) {
      auto req = repo_.RequestPackRestore(p, o_.cold_days, o_.cold_tier);
      std::lock_guard lock(mu);
      if (req)
        ++r_.cold_requested;
      else if (!failure)
        failure = req.error().Wrap("pack " + p.Hex());
    }
    std::lock_guard lock(mu);
    if (!st) {
      if (!failure) failure = st.error().Wrap("pack " + p.Hex());
      return;
    }
    if (st->Readable()) return;
    unreadable.insert(p);
    auto& c = by_class[st->storage_class];
    ++c.first;
    c.second += st->size;
  });
  if (failure) return *failure;
  std::vector<Id> readable;
  for (const Id& p : chosen)
    if (!unreadable.count(p)) readable.push_back(p);
  if (unreadable.empty()) return readable;
  std::string classes, costs;
  for (const auto& [cls, n] : by_class) {
    r_.cold_unread_packs += n.first;
    r_.cold_unread_bytes += n.second;
    classes +=
        fmt::format("{}{} in {}", classes.empty() ? "" : ", ", n.first, cls);
  }
  for (const auto& t : storage::EstimateTiers(by_class, o_.cold_days, {}))
    costs +=
        fmt::format("{}{} ${:.2f} within {:.0f} h", costs.empty() ? "" : ", ",
                    t.tier, t.usd, std::max(1.0, t.hours_max));
  Error("cold_unread", "",
        fmt::format("{} archived packs ({} bytes: {}) were not read: they "
                    "need a restore first ({}; prices of {}). {}",
                    unreadable.size(), r_.cold_unread_bytes, classes, costs,
                    storage::kPriceDate,
                    r_.cold_requested > 0
                        ? fmt::format("Requested {} restores now; run the "
                                      "check again once they are done",
                                      r_.cold_requested)
                        : "`check --read-data --cold-tier TIER` requests "
                          "them; a later check reads them"));
  return readable;
}

std::string Checker::BlobProblem(const Id& id) {
  auto loc = repo_.Lookup(id);
  if (!loc) return "not in the index";
  auto it = packs_.find(loc->pack);
  if (it == packs_.end()) return "its pack " + loc->pack.Hex() + " is missing";
  if (std::uint64_t{loc->offset} + loc->length + 4 > it->second)
    return "it lies beyond the end of pack " + loc->pack.Hex();
  if (damaged_blobs_.count(id)) return "damaged (pack " + loc->pack.Hex() + ")";
  return "";
}

size_t Checker::BadBlob(const Id& id, const std::string& kind,
                        const std::string& why) {
  auto it = bad_blobs_.find(id);
  if (it != bad_blobs_.end()) return it->second;
  Error(kind, id.Hex(), "blob " + id.Hex() + ": " + why);
  bad_blobs_[id] = r_.errors.size() - 1;
  return r_.errors.size() - 1;
}

Result<bool> Checker::VisitTree(const Id& tree) {
  if (auto it = trees_.find(tree); it != trees_.end()) return it->second;
  RETURN_IF_ERROR(CheckCancel(o_.cancel));
  trees_[tree] = false;
  std::string why = BlobProblem(tree);
  std::optional<model::Tree> t;
  if (why.empty()) {
    auto loaded = repo_.LoadTree(tree);
    if (loaded) {
      t = std::move(*loaded);
    } else {
      if (loaded.error().code == ErrorCode::kTransient) return loaded.error();
      why = loaded.error().message;
    }
  }
  if (!t) {
    std::string kind = why.find("damaged") == 0 ? "damaged_blob" : "bad_tree";
    if (why == "not in the index" || why.find("its pack") == 0)
      kind = "missing_blob";
    BadBlob(tree, kind, "tree: " + why);
    trees_[tree] = true;
    return true;
  }
  ++r_.trees;
  bool bad = false;
  for (const model::Node& n : t->nodes) {
    for (const Id& b : n.content) {
      ++r_.data_refs;
      std::string p = BlobProblem(b);
      if (!p.empty()) {
        BadBlob(b, p.find("damaged") == 0 ? "damaged_blob" : "missing_blob", p);
        bad = true;
      }
    }
    if (n.subtree) {
      ASSIGN_OR_RETURN(bool sub_bad, VisitTree(*n.subtree));
      bad = bad || sub_bad;
    }
  }
  trees_[tree] = bad;
  return bad;
}

void Checker::AddPath(size_t problem, const std::string& snapshot,
                      const std::string& path) {
  CheckProblem& p = r_.errors[problem];
  if (p.paths.size() < o_.max_paths) {
    p.paths.push_back({snapshot, path});
  } else {
    ++p.more_paths;
  }
}

Result<void> Checker::CollectPaths(const std::string& snapshot, const Id& tree,
                                   const std::string& path) {
  auto bad = trees_.find(tree);
  if (bad == trees_.end() || !bad->second) return Ok();
  if (auto self = bad_blobs_.find(tree); self != bad_blobs_.end()) {
    AddPath(self->second, snapshot, path.empty() ? "/" : path);
    return Ok();
  }
  ASSIGN_OR_RETURN(model::Tree t, repo_.LoadTree(tree));
  for (const model::Node& n : t.nodes) {
    std::string child = path + "/" + n.name;
    std::set<Id> seen;
    for (const Id& b : n.content)
      if (auto it = bad_blobs_.find(b);
          it != bad_blobs_.end() && seen.insert(b).second)
        AddPath(it->second, snapshot, child);
    if (n.subtree) RETURN_IF_ERROR(CollectPaths(snapshot, *n.subtree, child));
  }
  return Ok();
}

Result<void> Checker::CheckSnapshots() {
  Progress("checking snapshots and trees");
  for (const auto& n : snapshot_names_) {
    auto id = Id::FromHex(n);
    auto s = id ? repo_.LoadSnapshot(*id)
                : Result<model::Snapshot>(
                      MakeError(ErrorCode::kCorruption, "not an ID"));
    if (!s) {
      if (s.error().code == ErrorCode::kTransient) return s.error();
      Error("unreadable_snapshot", n,
            "snapshots/" + n + ": " + s.error().message);
      continue;
    }
    snapshots_.emplace_back(*id, std::move(*s));
  }
  r_.snapshots = snapshots_.size();
  bool any_bad = false;
  for (const auto& [id, s] : snapshots_) {
    ASSIGN_OR_RETURN(bool bad, VisitTree(s.tree));
    any_bad = any_bad || bad;
  }
  if (!any_bad) return Ok();
  Progress("finding the snapshot paths affected");
  for (const auto& [id, s] : snapshots_)
    RETURN_IF_ERROR(CollectPaths(id.Hex(), s.tree, ""));
  return Ok();
}

Result<CheckReport> Checker::Run() {
  // Snapshots are listed before the index is (re)loaded: a backup writes its
  // index files before its snapshot, so every snapshot listed here has its
  // blobs in the index loaded next, even with backups running (check takes a
  // shared lock).
  ASSIGN_OR_RETURN(snapshot_names_, raw_.ListNames(ObjectType::kSnapshot));
  RETURN_IF_ERROR(repo_.ReloadIndex());
  RETURN_IF_ERROR(CheckKeyFiles());
  RETURN_IF_ERROR(CheckIndexFiles());
  RETURN_IF_ERROR(CheckIndexAgainstPacks());
  if (o_.read_data) RETURN_IF_ERROR(ReadData());
  RETURN_IF_ERROR(CheckSnapshots());
  return std::move(r_);
}

}  // namespace

Result<CheckReport> RunCheck(repo::Repository& repo,
                             const CheckOptions& options) {
  Checker c(repo, options);
  return c.Run();
}

}  // namespace efs2s3::maintenance
