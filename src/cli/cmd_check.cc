// check: verify the repository (src/maintenance/check.h); exit code 1 on
// problems.
#include <fmt/format.h>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/maintenance_util.h"
#include "maintenance/check.h"
#include "maintenance/retention.h"
#include "storage/storage_class.h"

namespace efs2s3::cli {

Result<std::unique_ptr<MaintenanceRepo>> OpenForMaintenance(Context& ctx,
                                                            bool exclusive,
                                                            bool fresh_cache) {
  ASSIGN_OR_RETURN(auto backend, ctx.OpenBackend());
  RETURN_IF_ERROR(ctx.RequireRepository(*backend));
  ASSIGN_OR_RETURN(std::string pw, ctx.Password());
  repo::OpenOptions o = fresh_cache ? repo::OpenOptions{} : ctx.CacheOptions();
  o.skip_unreadable_index = true;
  auto m = std::make_unique<MaintenanceRepo>();
  ASSIGN_OR_RETURN(m->repo, repo::Repository::Open(std::move(backend), pw, o));
  if (ctx.TakesLocks()) {
    ASSIGN_OR_RETURN(m->lock, repo::AcquireLock(*m->repo, exclusive));
    // What changed between loading the index and taking the lock (a backup or
    // prune that finished meanwhile) must be seen: reload it under the lock.
    RETURN_IF_ERROR(m->repo->ReloadIndex());
  } else if (exclusive) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "this command changes the repository and needs its exclusive lock: "
        "--no-lock is only for read-only commands");
  }
  return m;
}

std::function<void(const std::string&)> StepPrinter(const Context& ctx) {
  if (ctx.IsTerminal())
    return [&ctx](const std::string& s) { ctx.Warn("\r\033[K" + s + "\r"); };
  return [&ctx](const std::string& s) { ctx.Verbose(s + "\n"); };
}
void ClearSteps(const Context& ctx) {
  if (ctx.IsTerminal()) ctx.Warn("\r\033[K");
}

namespace {

struct CheckCliOptions {
  bool read_data = false;
  std::string subset;
  std::uint64_t seed = 0;
  std::string cold_tier;
  int cold_days = 7;
};

nlohmann::json ProblemJson(const maintenance::CheckProblem& p) {
  nlohmann::json paths = nlohmann::json::array();
  for (const auto& sp : p.paths)
    paths.push_back({{"snapshot", sp.snapshot}, {"path", sp.path}});
  nlohmann::json j = {
      {"kind", p.kind}, {"id", p.id}, {"message", p.message}, {"paths", paths}};
  if (p.more_paths) j["more_paths"] = p.more_paths;
  return j;
}

Result<int> RunCheck(const CheckCliOptions& o, Context& ctx) {
  maintenance::CheckOptions co;
  co.read_data = o.read_data || !o.subset.empty();
  ASSIGN_OR_RETURN(co.subset, maintenance::ParseDataSubset(o.subset));
  co.seed = o.seed;
  if (!o.cold_tier.empty()) {
    ASSIGN_OR_RETURN(co.cold_tier, storage::ParseTierOption(o.cold_tier));
  }
  co.cold_days = o.cold_days;
  co.cancel = &ctx.cancel;
  co.progress = StepPrinter(ctx);
  // A fresh cache: check must read the index files from the repository, not
  // trust local copies.
  ASSIGN_OR_RETURN(auto m, OpenForMaintenance(ctx, false, true));
  auto report = maintenance::RunCheck(*m->repo, co);
  ClearSteps(ctx);
  if (!report) return report.error();
  maintenance::CheckReport& r = *report;
  // Object Lock: every live object must stay locked until the next
  // `lock extend` (one HEAD per live object).
  std::uint64_t retention_checked = 0;
  if (!m->repo->config().lock_mode.empty()) {
    maintenance::RetentionOptions ro;
    ro.cancel = &ctx.cancel;
    ro.progress = StepPrinter(ctx);
    auto ret = maintenance::CheckRetention(*m->repo, ro);
    ClearSteps(ctx);
    if (!ret) return ret.error();
    retention_checked = ret->checked;
    for (const auto& f : ret->short_retention)
      r.errors.push_back(
          {"short_retention",
           f.object,
           f.object + ": " + f.message + " (run `efs2s3 lock extend`)",
           {},
           0});
  }
  if (ctx.global.json) {
    nlohmann::json errors = nlohmann::json::array(),
                   hints = nlohmann::json::array();
    for (const auto& p : r.errors) errors.push_back(ProblemJson(p));
    for (const auto& p : r.hints) hints.push_back(ProblemJson(p));
    ctx.PrintJson({{"message_type", "check"},
                   {"ok", r.ok()},
                   {"snapshots", r.snapshots},
                   {"trees", r.trees},
                   {"data_refs", r.data_refs},
                   {"index_files", r.index_files},
                   {"packs", r.packs},
                   {"indexed_blobs", r.indexed_blobs},
                   {"read_data", co.read_data},
                   {"read_data_subset", o.subset},
                   {"packs_read", r.packs_read},
                   {"blobs_read", r.blobs_read},
                   {"blobs_authenticated", r.blobs_read - r.blobs_failed},
                   {"blobs_failed", r.blobs_failed},
                   {"bytes_read", r.bytes_read},
                   {"retention_checked", retention_checked},
                   {"cold_unread_packs", r.cold_unread_packs},
                   {"cold_unread_bytes", r.cold_unread_bytes},
                   {"cold_requested", r.cold_requested},
                   {"errors", errors},
                   {"hints", hints}});
  } else {
    ctx.Info(fmt::format(
        "{} snapshots, {} trees, {} index files, {} packs, {} indexed blobs\n",
        r.snapshots, r.trees, r.index_files, r.packs, r.indexed_blobs));
    if (retention_checked)
      ctx.Info(fmt::format("Object Lock: retention of {} live objects asked\n",
                           retention_checked));
    if (co.read_data)
      ctx.Info(fmt::format(
          "read {} packs ({}), {} blobs: {} authenticated, {} failed\n",
          r.packs_read, HumanBytes(r.bytes_read), r.blobs_read,
          r.blobs_read - r.blobs_failed, r.blobs_failed));
    for (const auto& h : r.hints) ctx.Info("hint: " + h.message + "\n");
    for (const auto& e : r.errors) {
      ctx.Print("error: " + e.message + "\n");
      for (const auto& p : e.paths)
        ctx.Print("  used by snapshot " + p.snapshot.substr(0, 8) + " at " +
                  Printable(p.path) + "\n");
      if (e.more_paths)
        ctx.Print(fmt::format("  ... and {} more paths\n", e.more_paths));
    }
    if (r.ok())
      ctx.Info("no errors found\n");
    else
      ctx.Print(fmt::format("{} errors found\n", r.errors.size()));
  }
  // Only archived packs left unread, and their restore requested: come back.
  if (r.cold_requested > 0 && r.errors.size() == 1 &&
      r.errors[0].kind == "cold_unread")
    return kExitPending;
  return r.ok() ? 0 : 1;
}

}  // namespace

void RegisterCheck(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<CheckCliOptions>();
  CLI::App* c = app.add_subcommand(
      "check", "Verify the repository's structure and, optionally, its data");
  c->add_flag("--read-data", o->read_data,
              "Download every pack and authenticate every blob");
  c->add_option("--read-data-subset", o->subset,
                "Read only part of the data: n/m (deterministic by pack ID) or "
                "P% (random)");
  c->add_option("--seed", o->seed,
                "Random seed for --read-data-subset P% (default random)");
  c->add_option("--cold-tier", o->cold_tier,
                "With --read-data: request the restore of archived packs at "
                "this tier (Expedited, Standard, Bulk) so that a later check "
                "reads them (exit 4)");
  c->add_option("--cold-days", o->cold_days,
                "Days restored copies stay readable (7)")
      ->check(CLI::Range(1, 365));
  c->callback([&ctx, o] { ctx.run = [&ctx, o] { return RunCheck(*o, ctx); }; });
}

}  // namespace efs2s3::cli
