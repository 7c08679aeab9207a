// restore
#include <fmt/format.h>

#include <mutex>

#include "base/file_util.h"
#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "restorer/cold.h"
#include "restorer/restorer.h"
#include "storage/storage_class.h"

namespace efs2s3::cli {

namespace {
struct RestoreCliOptions {
  std::string snapshot;
  std::string target;
  std::vector<std::string> includes, excludes;
  bool sparse = false, verify = false, dry_run = false;
  int workers = 8;
  std::string host;
  std::vector<std::string> paths;
  // Archived data (restorer/cold.h).
  std::string cold_tier = "Standard";
  int cold_days = 7;
  double cold_price = -1;  // USD per GB; < 0: the table's
  double cold_poll = 60;   // seconds before the first poll
  bool no_wait = false;
};

std::string Hours(double h) {
  if (h < 1) return fmt::format("{:.0f} min", h * 60);
  return fmt::format("{:.0f} h", h);
}

nlohmann::json PlanJson(const restorer::ColdPlan& p) {
  nlohmann::json classes = nlohmann::json::object();
  for (const auto& [cls, n] : p.by_class)
    classes[cls] = {{"packs", n.first}, {"bytes", n.second}};
  nlohmann::json tiers = nlohmann::json::array();
  for (const auto& t : p.tiers)
    tiers.push_back({{"tier", t.tier},
                     {"usd", t.usd},
                     {"hours_typical", t.hours_typical},
                     {"hours_max", t.hours_max}});
  return {{"message_type", "cold_plan"},
          {"files", p.files},
          {"packs", p.packs},
          {"pack_bytes", p.pack_bytes},
          {"hot_packs", p.hot_packs},
          {"hot_bytes", p.hot_bytes},
          {"archived_packs", p.archived_packs},
          {"archived_bytes", p.archived_bytes},
          {"archived_by_class", classes},
          {"restored_packs", p.restored_packs},
          {"ongoing_packs", p.ongoing_packs},
          {"request_packs", p.request_packs},
          {"request_bytes", p.request_bytes},
          {"tier", p.tier},
          {"days", p.days},
          {"usd", p.usd},
          {"tiers", tiers},
          {"prices_of", std::string(storage::kPriceDate)},
          {"resumed", p.resumed}};
}

void PrintPlan(Context& ctx, const restorer::ColdPlan& p) {
  if (ctx.global.json) {
    ctx.PrintJson(PlanJson(p));
    return;
  }
  if (p.archived_packs == 0) return;
  std::string classes;
  for (const auto& [cls, n] : p.by_class)
    classes += fmt::format("{}{} {} in {} packs", classes.empty() ? "" : ", ",
                           cls, HumanBytes(n.second), n.first);
  ctx.Info(fmt::format(
      "plan: {} files in {} packs ({}); {} readable now, {} archived ({})\n",
      p.files, p.packs, HumanBytes(p.pack_bytes),
      p.hot_packs + p.restored_packs, p.archived_packs - p.restored_packs,
      classes));
  if (p.ongoing_packs > 0)
    ctx.Info(fmt::format("plan: {} packs already being restored\n",
                         p.ongoing_packs));
  if (p.request_packs == 0) return;
  ctx.Info(fmt::format(
      "plan: {} packs ({}) to restore for {} days; estimates (prices of {}):\n",
      p.request_packs, HumanBytes(p.request_bytes), p.days,
      storage::kPriceDate));
  for (const auto& t : p.tiers)
    ctx.Info(
        fmt::format("  {:<9} ${:.2f}, {}{}{}\n", t.tier, t.usd,
                    t.hours_typical == t.hours_max
                        ? "within " + Hours(t.hours_max)
                        : Hours(t.hours_typical) + " to " + Hours(t.hours_max),
                    "", t.tier == p.tier ? "   <- --cold-tier" : ""));
}

Result<int> RunRestore(const RestoreCliOptions& o, Context& ctx) {
  std::string spec = o.snapshot, sub;
  if (auto colon = spec.find(':'); colon != std::string::npos) {
    sub = spec.substr(colon + 1);
    spec = spec.substr(0, colon);
  }
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kShared));
  ASSIGN_OR_RETURN(auto snap,
                   FindSnapshotArg(ctx, *repo, spec, o.host, o.paths));
  restorer::RestoreOptions opts;
  opts.target = o.target;
  opts.subpath = sub;
  opts.includes = o.includes;
  opts.excludes = o.excludes;
  opts.sparse = o.sparse;
  opts.verify = o.verify;
  opts.dry_run = o.dry_run;
  opts.workers = o.workers;
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> errors;
  opts.on_error = [&](const std::string& path, const Error& e) -> Result<void> {
    std::lock_guard lock(mu);
    errors.emplace_back(path, e.message);
    ctx.WarnLine("error: " + Printable(e.message));
    return Ok();
  };
  // Flagged nodes: restored as stored, each named (the first
  // kMaxFlaggedWarnings), all counted; the exit code stays 0.
  constexpr std::uint64_t kMaxFlaggedWarnings = 20;
  nlohmann::json flagged = nlohmann::json::array();
  opts.on_flagged = [&](const std::string& path, const model::Node& n) {
    std::lock_guard lock(mu);
    if (flagged.size() >= kMaxFlaggedWarnings) return;
    flagged.push_back({{"path", path}, {"flags", model::FlagNames(n.flags)}});
    ctx.WarnLine(fmt::format("warning: {} was stored {}: {}", Printable(path),
                             model::FlagsString(n.flags),
                             n.type == model::NodeType::kDir
                                 ? "some of its entries are missing"
                                 : "its content may not match any one "
                                   "version of the source"));
  };
  restorer::RestoreProgress progress;
  progress.bytes_expected = sub.empty() ? snap.second.summary.bytes_total : 0;
  opts.progress = &progress;
  opts.cancel = &ctx.cancel;
  ctx.Info(fmt::format("restoring snapshot {} of {} at {} to {}\n",
                       snap.first.Short(),
                       snap.second.paths.empty() ? "" : snap.second.paths[0],
                       model::FormatTime(snap.second.time_ns, true), o.target));
  Result<restorer::RestoreResult> r = MakeError(ErrorCode::kUnknown, "");
  bool pending = false;
  if (repo->HasArchiveClasses()) {
    // Data may be archived: plan, request, restore as packs arrive.
    restorer::ColdOptions cold;
    ASSIGN_OR_RETURN(cold.tier, storage::ParseTierOption(o.cold_tier));
    cold.days = o.cold_days;
    if (o.cold_price >= 0) cold.usd_per_gb = o.cold_price;
    cold.plan_only = o.dry_run;
    cold.wait = !o.no_wait;
    cold.first_poll = std::chrono::milliseconds(
        static_cast<std::int64_t>(o.cold_poll * 1000));
    cold.max_poll = std::max(cold.first_poll, cold.max_poll);
    if (!repo->cache_dir().empty() && !o.dry_run) {
      // One state file per restore: snapshot, selection and target.
      std::string key = snap.first.Hex() + "\n" + sub + "\n" + o.target;
      for (const auto& i : o.includes) key += "\ni:" + i;
      for (const auto& e : o.excludes) key += "\ne:" + e;
      std::string dir = repo->cache_dir() + "/cold-restores";
      if (MakeDirs(dir))
        cold.state_file = dir + "/" +
                          repo->BlobId(AsBytes(key)).Hex().substr(0, 32) +
                          ".json";
    }
    restorer::ColdEvents events;
    events.on_plan = [&](const restorer::ColdPlan& p) { PrintPlan(ctx, p); };
    events.on_requested = [&](std::uint64_t n) {
      if (n == 0) return;
      if (ctx.global.json)
        ctx.PrintJson({{"message_type", "cold_requested"}, {"packs", n}});
      else
        ctx.Info(fmt::format("requested the restore of {} packs\n", n));
    };
    events.on_pass = [&](int pass, const restorer::RestoreResult& pr,
                         std::uint64_t ready, std::uint64_t waiting) {
      if (ctx.global.json)
        ctx.PrintJson({{"message_type", "cold_pass"},
                       {"pass", pass},
                       {"files_restored", pr.files},
                       {"files_waiting", pr.deferred},
                       {"packs_readable", ready},
                       {"packs_waiting", waiting}});
      else if (waiting > 0 || pass > 1)
        ctx.Info(fmt::format(
            "pass {}: restored {} files; {} files wait for {} packs\n", pass,
            pr.files, pr.deferred, waiting));
    };
    events.on_wait = [&](std::chrono::milliseconds d) {
      if (!ctx.global.json)
        ctx.Info(fmt::format("waiting {} s for archived packs\n",
                             (d.count() + 999) / 1000));
    };
    Result<restorer::ColdResult> c = MakeError(ErrorCode::kUnknown, "");
    {
      ProgressReporter reporter(ctx, "restore", [&] {
        return ProgressSample{progress.files, progress.dirs, progress.bytes,
                              progress.bytes_expected, progress.errors};
      });
      c = restorer::RunColdRestore(*repo, *repo, snap.second, opts, cold,
                                   events);
    }
    if (!c) return c.error();
    if (o.dry_run && c->plan.archived_packs > 0) return 0;
    if (o.dry_run) {
      r = restorer::RunRestore(*repo, snap.second, opts);
    } else {
      r = c->restored;
      pending = c->pending;
    }
  } else {
    ProgressReporter reporter(ctx, "restore", [&] {
      return ProgressSample{progress.files, progress.dirs, progress.bytes,
                            progress.bytes_expected, progress.errors};
    });
    r = restorer::RunRestore(*repo, snap.second, opts);
  }
  if (!r) return r.error();
  if (ctx.global.json) {
    nlohmann::json errs = nlohmann::json::array();
    for (const auto& [p, e] : errors)
      errs.push_back({{"path", p}, {"error", e}});
    ctx.PrintJson({{"message_type", "summary"},
                   {"snapshot_id", snap.first.Hex()},
                   {"files_restored", r->files},
                   {"dirs_restored", r->dirs},
                   {"other_restored", r->other},
                   {"bytes_restored", r->bytes},
                   {"files_verified", r->verified},
                   {"flagged_restored", r->flagged},
                   {"flagged", flagged},
                   {"files_waiting", r->deferred},
                   {"packs_failed", r->packs_failed},
                   {"pending", pending},
                   {"errors", errs}});
  } else {
    ctx.Info(fmt::format(
        "restored {} files, {} dirs, {} other, {}{}\n", r->files, r->dirs,
        r->other, HumanBytes(r->bytes),
        o.verify ? fmt::format(", {} files verified", r->verified) : ""));
    if (r->flagged > 0)
      ctx.Warn(fmt::format(
          "{} restored entr{} flagged in the snapshot (changed while read or "
          "incomplete){}\n",
          r->flagged, r->flagged == 1 ? "y was" : "ies were",
          r->flagged > kMaxFlaggedWarnings
              ? fmt::format("; the first {} are named above",
                            kMaxFlaggedWarnings)
              : ""));
    if (!errors.empty())
      ctx.Warn(fmt::format("{} error(s) during restore\n", errors.size()));
  }
  if (!errors.empty()) return 1;
  if (pending) {
    ctx.Warn(fmt::format(
        "{} files wait for archived packs; run the same restore again to "
        "continue (nothing is requested twice)\n",
        r->deferred));
    return kExitPending;
  }
  return 0;
}
}  // namespace

void RegisterRestore(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RestoreCliOptions>();
  CLI::App* c = app.add_subcommand(
      "restore", "Restore a snapshot, or part of one (SNAPSHOT:SUBPATH)");
  c->add_option("snapshot", o->snapshot,
                "Snapshot ID, prefix or 'latest', optionally :SUBPATH")
      ->required();
  c->add_option("-t,--target", o->target, "Directory to restore into")
      ->required();
  c->add_option("-i,--include", o->includes,
                "Restore only paths matching this glob (repeatable)");
  c->add_option("-e,--exclude", o->excludes,
                "Do not restore paths matching this glob (repeatable)");
  c->add_flag("--sparse", o->sparse,
              "Recreate holes: runs of zeros are not written");
  c->add_flag("--verify", o->verify,
              "Re-read every restored file and check it against the snapshot");
  c->add_flag("-n,--dry-run", o->dry_run, "Only count what would be restored");
  c->add_option("--workers", o->workers,
                "Files written in parallel (default 8)")
      ->check(CLI::Range(1, 1024));
  c->add_option("--host", o->host,
                "With 'latest': only snapshots of this host");
  c->add_option("--path", o->paths,
                "With 'latest': only snapshots of these paths");
  c->add_option("--cold-tier", o->cold_tier,
                "Retrieval tier for archived packs: Expedited, Standard "
                "(default) or Bulk");
  c->add_option("--cold-days", o->cold_days,
                "Days restored copies of archived packs stay readable (7)")
      ->check(CLI::Range(1, 365));
  c->add_option("--cold-price", o->cold_price,
                "Retrieval price in USD per GB for the estimate, instead of "
                "the built-in us-east-1 list price")
      ->check(CLI::Range(0.0, 1000.0));
  c->add_option("--cold-poll", o->cold_poll,
                "Seconds before the first check of archived packs (60; "
                "doubles up to 15 min)")
      ->check(CLI::Range(0.01, 86400.0));
  c->add_flag("--no-wait", o->no_wait,
              "Request archived packs, restore what is readable, and exit "
              "with code 4 instead of waiting");
  c->callback(
      [&ctx, o] { ctx.run = [&ctx, o] { return RunRestore(*o, ctx); }; });
}

}  // namespace efs2s3::cli
