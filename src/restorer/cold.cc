#include "restorer/cold.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "base/file_util.h"
#include "base/thread_pool.h"
#include "storage/storage_class.h"

namespace efs2s3::restorer {
namespace {

// Below this many packs, HEAD requests tell their state; above, one listing
// of all packs does (a 40 TB repository has 2.5 M packs: 2,500 pages).
constexpr size_t kHeadLimit = 1000;

enum class PackState { kHot, kReadable, kWaiting, kFailed };

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// The state file: the restores this plan asked for.
struct StateFile {
  std::map<std::string, std::int64_t> requested;  // pack hex -> when

  static StateFile Load(const std::string& path, bool* found) {
    StateFile st;
    *found = false;
    if (path.empty()) return st;
    auto bytes = ReadFile(path);
    if (!bytes) return st;
    auto j = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr,
                                   /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("requested") ||
        !j["requested"].is_object())
      return st;  // damaged: as if absent (S3 still says what is under way)
    *found = true;
    for (auto& [k, v] : j["requested"].items())
      if (v.is_number_integer()) st.requested[k] = v.get<std::int64_t>();
    return st;
  }
  Result<void> Save(const std::string& path) const {
    if (path.empty()) return Ok();
    nlohmann::json j = {{"version", 1}, {"requested", requested}};
    std::string text = j.dump();
    return WriteFileAtomic(path, AsBytes(text), false);
  }
};

class ColdRestore {
 public:
  ColdRestore(repo::BlobLoader& loader, repo::PackArchive& archive,
              const model::Snapshot& snap, const RestoreOptions& opts,
              const ColdOptions& cold, const ColdEvents& events)
      : loader_(loader),
        archive_(archive),
        snap_(snap),
        opts_(opts),
        cold_(cold),
        events_(events) {}

  Result<ColdResult> Run() {
    RETURN_IF_ERROR(Plan());
    if (events_.on_plan) events_.on_plan(result_.plan);
    if (cold_.plan_only) return result_;
    RETURN_IF_ERROR(Request());
    if (events_.on_requested) events_.on_requested(result_.requested);
    auto poll = cold_.first_poll;
    for (;;) {
      RETURN_IF_ERROR(Pass());
      if (last_deferred_ == 0) break;
      if (!cold_.wait) {
        result_.pending = true;
        break;
      }
      // Wait until at least one more pack can be read.
      for (;;) {
        if (events_.on_wait) events_.on_wait(poll);
        if (!Sleep(poll))
          return MakeError(ErrorCode::kCancelled, "interrupted");
        poll = std::min(cold_.max_poll, poll * 2);
        ASSIGN_OR_RETURN(size_t newly, Poll());
        if (newly > 0) break;
      }
    }
    if (!result_.pending && !cold_.state_file.empty())
      ::unlink(cold_.state_file.c_str());
    return result_;
  }

 private:
  bool Cancelled() const { return opts_.cancel && opts_.cancel->load(); }

  bool Sleep(std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      if (Cancelled()) return false;
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
          std::chrono::milliseconds(200),
          std::chrono::duration_cast<std::chrono::milliseconds>(
              until - std::chrono::steady_clock::now()) +
              std::chrono::milliseconds(1)));
    }
    return !Cancelled();
  }

  // The packs holding a file's data (blobs not indexed are the restorer's to
  // report).
  template <class F>
  void ForEachPack(const model::Node& node, F&& fn) {
    for (const Id& id : node.content)
      if (auto loc = loader_.Lookup(id)) fn(loc->pack);
  }

  bool Ready(const Id& pack, const std::unordered_set<Id, IdHash>* set) {
    if (set) return set->count(pack) > 0;
    auto it = state_.find(pack);
    return it == state_.end() || it->second != PackState::kWaiting;
  }

  Result<void> Plan() {
    ColdPlan& plan = result_.plan;
    // 1. The packs the selection needs: a dry run of the same walk.
    std::unordered_set<Id, IdHash> needed;
    RestoreOptions dry = opts_;
    dry.dry_run = true;
    dry.progress = nullptr;
    dry.on_flagged = nullptr;
    // Unreadable trees are named by the passes, not twice.
    dry.on_error = [](const std::string&, const Error&) -> Result<void> {
      return Ok();
    };
    dry.file_filter = [&](const std::string&, const model::Node& n) {
      ++plan.files;
      ForEachPack(n, [&](const Id& p) { needed.insert(p); });
      return FileDecision::kDefer;
    };
    ASSIGN_OR_RETURN(RestoreResult counted, RunRestore(loader_, snap_, dry));
    (void)counted;
    plan.packs = needed.size();
    // 2. Their storage classes and restore states.
    std::vector<Id> ids(needed.begin(), needed.end());
    std::vector<Id> to_head;
    std::unordered_map<Id, storage::ArchiveStatus, IdHash> status;
    // A HEAD per pack, or a listing (one request per 1,000 packs, with
    // their storage classes) and HEADs of the archived ones only, whichever
    // asks less: on a repository without archived packs a restore that needs
    // 90 of 93 packs costs one listing instead of 90 HEADs.
    const size_t listing_requests = (archive_.PackCountHint() + 999) / 1000;
    if (ids.size() <= kHeadLimit &&
        (listing_requests == 0 || ids.size() <= listing_requests)) {
      to_head = ids;
    } else {
      RETURN_IF_ERROR(archive_.ListPackClasses(
          [&](const Id& id, const storage::ObjectInfo& info) -> Result<void> {
            if (!needed.count(id)) return Ok();
            storage::ArchiveStatus st;
            st.storage_class = info.storage_class;
            st.size = info.size;
            status[id] = st;
            if (storage::IsArchiveClass(info.storage_class) ||
                info.storage_class == "INTELLIGENT_TIERING")
              to_head.push_back(id);
            return Ok();
          }));
    }
    std::mutex mu;
    std::optional<Error> failure;
    ParallelFor(to_head.size(), cold_.parallel, [&](size_t i) {
      auto st = archive_.PackArchiveStatus(to_head[i]);
      std::lock_guard lock(mu);
      if (st)
        status[to_head[i]] = *st;
      else if (st.error().code != ErrorCode::kNotFound && !failure)
        failure = st.error().Wrap("pack " + to_head[i].Hex());
    });
    if (failure) return *failure;
    bool found = false;
    saved_ = StateFile::Load(cold_.state_file, &found);
    plan.resumed = found;
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> to_request;
    for (const Id& id : ids) {
      auto it = status.find(id);
      if (it == status.end()) {
        // Missing: the restore names it (one error for the pack).
        state_[id] = PackState::kHot;
        continue;
      }
      const storage::ArchiveStatus& st = it->second;
      plan.pack_bytes += st.size;
      if (!st.archived) {
        state_[id] = PackState::kHot;
        ++plan.hot_packs;
        plan.hot_bytes += st.size;
        continue;
      }
      std::string cls =
          st.storage_class.empty() ? "STANDARD" : st.storage_class;
      ++plan.archived_packs;
      plan.archived_bytes += st.size;
      auto& c = plan.by_class[cls];
      ++c.first;
      c.second += st.size;
      if (st.Readable()) {
        state_[id] = PackState::kReadable;
        ++plan.restored_packs;
      } else if (st.restore_ongoing || saved_.requested.count(id.Hex())) {
        state_[id] = PackState::kWaiting;
        ++plan.ongoing_packs;
      } else {
        state_[id] = PackState::kWaiting;
        request_.push_back(id);
        ++plan.request_packs;
        plan.request_bytes += st.size;
        auto& r = to_request[cls];
        ++r.first;
        r.second += st.size;
      }
    }
    plan.tiers =
        storage::EstimateTiers(to_request, cold_.days, cold_.usd_per_gb);
    plan.tier = cold_.tier;
    plan.days = cold_.days;
    for (const storage::TierEstimate& t : plan.tiers)
      if (t.tier == cold_.tier) plan.usd = t.usd;
    if (plan.request_packs > 0) {
      // The chosen tier must be one every class involved offers.
      bool offered = std::any_of(
          plan.tiers.begin(), plan.tiers.end(),
          [&](const storage::TierEstimate& t) { return t.tier == cold_.tier; });
      if (!offered) {
        std::string names;
        for (const storage::TierEstimate& t : plan.tiers)
          names += (names.empty() ? "" : ", ") + t.tier;
        std::string classes;
        for (const auto& [cls, n] : to_request)
          classes += (classes.empty() ? "" : ", ") + cls;
        return MakeError(ErrorCode::kInvalidArgument,
                         "--cold-tier " + cold_.tier + ": not offered for " +
                             classes + " (use " + names + ")");
      }
    }
    return Ok();
  }

  Result<void> Request() {
    std::mutex mu;
    ParallelFor(request_.size(), cold_.parallel, [&](size_t i) {
      const Id& id = request_[i];
      auto r = archive_.RequestPackRestore(id, cold_.days, cold_.tier);
      std::lock_guard lock(mu);
      if (r) {
        saved_.requested[id.Hex()] = Now();
        ++result_.requested;
        return;
      }
      // Never readable: the restore names the pack once and goes on.
      state_[id] = PackState::kFailed;
      if (opts_.on_error)
        (void)opts_.on_error(
            "pack " + id.Hex(),
            r.error().Wrap("pack " + id.Hex() + ": restore request failed"));
    });
    if (result_.requested > 0) RETURN_IF_ERROR(saved_.Save(cold_.state_file));
    return Ok();
  }

  // HEADs the waiting packs; returns how many became readable.
  Result<size_t> Poll() {
    std::vector<Id> waiting;
    for (const auto& [id, st] : state_)
      if (st == PackState::kWaiting) waiting.push_back(id);
    std::mutex mu;
    size_t newly = 0;
    std::optional<Error> failure;
    ParallelFor(waiting.size(), cold_.parallel, [&](size_t i) {
      auto st = archive_.PackArchiveStatus(waiting[i]);
      std::lock_guard lock(mu);
      if (!st) {
        if (st.error().code == ErrorCode::kNotFound) {
          state_[waiting[i]] = PackState::kFailed;  // named by the restore
          ++newly;
        } else if (!failure) {
          failure = st.error().Wrap("pack " + waiting[i].Hex());
        }
        return;
      }
      if (st->Readable()) {
        state_[waiting[i]] = PackState::kReadable;
        ++newly;
      }
    });
    if (failure) return *failure;
    return newly;
  }

  // The path of a snapshot path below the target.
  std::string TargetPath(const std::string& snap_path,
                         const model::Node& node) const {
    std::string base = opts_.subpath;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    if (base == "/") base.clear();
    if (!base.empty() && base[0] != '/') base = "/" + base;
    std::string rel = snap_path == base ? node.name
                      : base.empty()    ? snap_path.substr(1)
                                        : snap_path.substr(base.size() + 1);
    return opts_.target + "/" + rel;
  }

  // Restored whole by an earlier run: the size and mtime a restore sets last.
  bool AlreadyRestored(const std::string& snap_path, const model::Node& node) {
    struct stat st;
    if (::lstat(TargetPath(snap_path, node).c_str(), &st) != 0) return false;
    return S_ISREG(st.st_mode) &&
           static_cast<std::uint64_t>(st.st_size) == node.size &&
           st.st_mtim.tv_sec == node.mtime.sec &&
           static_cast<std::uint32_t>(st.st_mtim.tv_nsec) == node.mtime.nsec;
  }

  Result<void> Pass() {
    ++result_.passes;
    const bool first = result_.passes == 1;
    RestoreOptions pass = opts_;
    pass.restore_others = first;
    pass.file_filter = [&](const std::string& path, const model::Node& n) {
      bool ready = true, before = !first;
      ForEachPack(n, [&](const Id& p) {
        if (!Ready(p, nullptr)) ready = false;
        if (before && !Ready(p, &ready_before_)) before = false;
      });
      if (!ready) return FileDecision::kDefer;
      if (before) return FileDecision::kSkip;
      bool lost = false;
      ForEachPack(n, [&](const Id& p) { lost = lost || failed_.count(p); });
      if (lost) {
        // Its pack failed in an earlier pass, named there once: counted.
        ++lost_files_;
        return FileDecision::kSkip;
      }
      if (first && result_.plan.resumed && AlreadyRestored(path, n))
        return FileDecision::kSkip;
      return FileDecision::kRestore;
    };
    ASSIGN_OR_RETURN(RestoreResult r, RunRestore(loader_, snap_, pass));
    RestoreResult& t = result_.restored;
    t.files += r.files;
    t.dirs = std::max(t.dirs, r.dirs);
    t.other += r.other;
    t.bytes += r.bytes;
    t.errors += r.errors;
    t.verified += r.verified;
    t.flagged += r.flagged;
    t.packs_failed += r.packs_failed;
    failed_.insert(r.failed_packs.begin(), r.failed_packs.end());
    t.errors += std::exchange(lost_files_, 0);
    t.deferred = r.deferred;
    last_deferred_ = r.deferred;
    ready_before_.clear();
    std::uint64_t waiting = 0;
    for (const auto& [id, st] : state_) {
      if (st == PackState::kWaiting)
        ++waiting;
      else
        ready_before_.insert(id);
    }
    if (events_.on_pass)
      events_.on_pass(result_.passes, r, ready_before_.size(), waiting);
    return Ok();
  }

  repo::BlobLoader& loader_;
  repo::PackArchive& archive_;
  const model::Snapshot& snap_;
  const RestoreOptions& opts_;
  const ColdOptions& cold_;
  const ColdEvents& events_;
  ColdResult result_;
  StateFile saved_;
  std::unordered_map<Id, PackState, IdHash> state_;
  std::vector<Id> request_;
  std::unordered_set<Id, IdHash> ready_before_;
  std::uint64_t last_deferred_ = 0;
  std::unordered_set<Id, IdHash> failed_;  // packs that failed in a pass
  std::uint64_t lost_files_ = 0;
};

}  // namespace

Result<ColdResult> RunColdRestore(repo::BlobLoader& loader,
                                  repo::PackArchive& archive,
                                  const model::Snapshot& snapshot,
                                  const RestoreOptions& options,
                                  const ColdOptions& cold,
                                  const ColdEvents& events) {
  ColdRestore r(loader, archive, snapshot, options, cold, events);
  return r.Run();
}

}  // namespace efs2s3::restorer
