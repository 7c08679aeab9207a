#include "maintenance/retention.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <mutex>
#include <sstream>

#include "base/file_util.h"
#include "base/thread_pool.h"
#include "maintenance/prune.h"
#include "maintenance/walk.h"
#include "model/snapshot.h"
#include "repo/maintenance_access.h"

namespace efs2s3::maintenance {

using storage::ObjectType;

namespace {

struct LiveObject {
  ObjectType type;
  std::string name;
  std::int64_t mtime = 0;
};

std::string KeyOf(const LiveObject& o) {
  return storage::ObjectKey({o.type, o.name});
}

std::int64_t Now(const RetentionOptions& o) {
  if (o.now) return o.now;
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Progress(const RetentionOptions& o, const std::string& line) {
  if (o.progress) o.progress(line);
}

// The live objects: config, keys, snapshots, index files, and every pack that
// holds a blob some snapshot uses or that the plan does not know yet (written
// since: a backup running beside). Unused packs are counted, not listed.
Result<std::vector<LiveObject>> ListLive(repo::Repository& repo,
                                         const RetentionOptions& o,
                                         std::uint64_t* unused_packs) {
  PruneOptions po;
  po.temp_dir = o.temp_dir;
  po.cancel = o.cancel;
  po.progress = o.progress;
  ASSIGN_OR_RETURN(PrunePlan plan, PlanPrune(repo, po));
  repo::MaintenanceAccess ma(repo);
  std::vector<LiveObject> out;
  for (ObjectType t : {ObjectType::kConfig, ObjectType::kKey,
                       ObjectType::kSnapshot, ObjectType::kIndex}) {
    RETURN_IF_ERROR(
        ma.List(t, [&](const storage::ObjectInfo& i) -> Result<void> {
          out.push_back({t, i.name, i.mtime});
          return Ok();
        }));
  }
  RETURN_IF_ERROR(ma.List(
      ObjectType::kPack, [&](const storage::ObjectInfo& i) -> Result<void> {
        auto id = Id::FromHex(i.name);
        if (!id) return Ok();
        auto it = plan.packs.find(*id);
        if (it != plan.packs.end() && it->second.used == 0) {
          ++*unused_packs;
          return Ok();
        }
        out.push_back({ObjectType::kPack, i.name, i.mtime});
        return Ok();
      }));
  return out;
}

std::string LedgerPath(repo::MaintenanceAccess& ma) {
  return ma.CacheDir().empty() ? "" : ma.CacheDir() + "/retention";
}

// "KEY UNTIL" per line; a missing or unreadable ledger is empty (it only saves
// requests).
std::map<std::string, std::int64_t> LoadLedger(const std::string& path) {
  std::map<std::string, std::int64_t> ledger;
  if (path.empty()) return ledger;
  auto data = ReadFile(path);
  if (!data) return ledger;
  std::istringstream in(std::string(AsString(*data)));
  std::string key;
  std::int64_t until = 0;
  while (in >> key >> until) ledger[key] = until;
  return ledger;
}

Result<void> SaveLedger(const std::string& path,
                        const std::map<std::string, std::int64_t>& ledger,
                        const std::vector<LiveObject>& live) {
  if (path.empty()) return Ok();
  std::string text;
  for (const auto& o : live) {
    auto it = ledger.find(KeyOf(o));
    if (it != ledger.end())
      text += fmt::format("{} {}\n", it->first, it->second);
  }
  return WriteFileAtomic(path, AsBytes(text), false, false);
}

std::int64_t Period(const repo::Repository& repo) {
  return repo::LockSeconds(repo.config());
}

Result<void> RequireLock(const repo::Repository& repo) {
  if (repo.config().lock_mode.empty())
    return MakeError(ErrorCode::kUsage,
                     "this repository has no Object Lock (init "
                     "--object-lock governance|compliance --lock-days N)");
  return Ok();
}

}  // namespace

std::int64_t KnownRetention(std::int64_t mtime, std::int64_t period,
                            std::int64_t ledger) {
  std::int64_t written = mtime > 0 ? mtime + period : 0;
  return std::max(written, ledger);
}

bool NeedsExtension(std::int64_t known, std::int64_t now,
                    std::int64_t min_remaining) {
  return known < now + min_remaining;
}

Result<LockExtendResult> LockExtend(repo::Repository& repo,
                                    const RetentionOptions& options) {
  RETURN_IF_ERROR(RequireLock(repo));
  LockExtendResult res;
  ASSIGN_OR_RETURN(std::vector<LiveObject> live,
                   ListLive(repo, options, &res.unused_packs));
  res.live = live.size();
  repo::MaintenanceAccess ma(repo);
  const std::int64_t now = Now(options);
  const std::int64_t period = Period(repo);
  const std::int64_t min_remaining =
      options.min_remaining > 0 ? options.min_remaining : period / 2;
  res.until = now + period;
  std::string ledger_path = LedgerPath(ma);
  auto ledger = LoadLedger(ledger_path);
  std::vector<size_t> todo;
  for (size_t i = 0; i < live.size(); ++i) {
    auto it = ledger.find(KeyOf(live[i]));
    std::int64_t known = KnownRetention(live[i].mtime, period,
                                        it == ledger.end() ? 0 : it->second);
    if (options.all || NeedsExtension(known, now, min_remaining))
      todo.push_back(i);
  }
  Progress(options, fmt::format("extending the retention of {} of {} live "
                                "objects to {} s from now",
                                todo.size(), live.size(), period));
  std::mutex mu;
  ParallelFor(todo.size(), ma.Concurrency(), [&](size_t k) {
    if (options.cancel && options.cancel->load()) return;
    const LiveObject& o = live[todo[k]];
    auto r = ma.ExtendRetention(o.type, o.name, res.until);
    std::lock_guard lk(mu);
    if (r) {
      ledger[KeyOf(o)] = res.until;
      ++res.extended;
    } else if (r.error().code != ErrorCode::kNotFound) {
      res.failed.push_back({KeyOf(o), r.error().message});
    }
  });
  RETURN_IF_ERROR(CheckCancel(options.cancel));
  (void)SaveLedger(ledger_path, ledger, live);
  return res;
}

Result<RetentionCheck> CheckRetention(repo::Repository& repo,
                                      const RetentionOptions& options) {
  RETURN_IF_ERROR(RequireLock(repo));
  std::uint64_t unused = 0;
  ASSIGN_OR_RETURN(std::vector<LiveObject> live,
                   ListLive(repo, options, &unused));
  repo::MaintenanceAccess ma(repo);
  const std::int64_t now = Now(options);
  const std::int64_t period = Period(repo);
  // Lock extend renews what has less than half the period left; run at least
  // every quarter period, nothing live has less than a quarter left.
  const std::int64_t min_remaining =
      options.min_remaining > 0 ? options.min_remaining : period / 4;
  RetentionCheck res;
  res.checked = live.size();
  std::mutex mu;
  ParallelFor(live.size(), ma.Concurrency(), [&](size_t k) {
    if (options.cancel && options.cancel->load()) return;
    const LiveObject& o = live[k];
    auto r = ma.GetRetention(o.type, o.name);
    std::string problem;
    if (!r) {
      if (r.error().code == ErrorCode::kNotFound) return;
      problem = r.error().message;
    } else if (r->mode.empty()) {
      problem = "no retention";
    } else if (r->until < now + min_remaining) {
      problem =
          fmt::format("retention ends {} ({} s from now), before it should",
                      model::FormatTime(r->until * 1000000000), r->until - now);
    }
    if (problem.empty()) return;
    std::lock_guard lk(mu);
    res.short_retention.push_back({KeyOf(o), problem});
  });
  RETURN_IF_ERROR(CheckCancel(options.cancel));
  std::sort(res.short_retention.begin(), res.short_retention.end(),
            [](const auto& a, const auto& b) { return a.object < b.object; });
  return res;
}

}  // namespace efs2s3::maintenance
