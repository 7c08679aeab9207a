// lock extend: keep live data under Object Lock (src/maintenance/retention.h).
#include <fmt/format.h>

#include "cli/context.h"
#include "cli/maintenance_util.h"
#include "maintenance/retention.h"
#include "model/snapshot.h"

namespace efs2s3::cli {

namespace {

struct LockExtendCliOptions {
  bool all = false;
  int min_remaining_days = 0;
};

Result<int> RunLockExtend(const LockExtendCliOptions& o, Context& ctx) {
  // A shared lock: extending retention deletes nothing, so backups may run
  // beside it (what they write meanwhile is counted as live).
  ASSIGN_OR_RETURN(auto m, OpenForMaintenance(ctx, false, false));
  maintenance::RetentionOptions ro;
  ro.all = o.all;
  ro.min_remaining = std::int64_t{o.min_remaining_days} * 86400;
  ro.cancel = &ctx.cancel;
  ro.progress = StepPrinter(ctx);
  auto r = maintenance::LockExtend(*m->repo, ro);
  ClearSteps(ctx);
  if (!r) return r.error();
  const auto& cfg = m->repo->config();
  std::string until = model::FormatTime(r->until * 1000000000);
  if (ctx.global.json) {
    nlohmann::json failed = nlohmann::json::array();
    for (const auto& f : r->failed)
      failed.push_back({{"object", f.object}, {"message", f.message}});
    ctx.PrintJson({{"message_type", "lock_extend"},
                   {"mode", cfg.lock_mode},
                   {"days", cfg.lock_days},
                   {"live_objects", r->live},
                   {"extended", r->extended},
                   {"unused_packs", r->unused_packs},
                   {"retain_until", until},
                   {"failed", failed}});
  } else {
    ctx.Info(fmt::format(
        "{} live objects; retention of {} extended to {} ({} mode); {} unused "
        "packs left to expire\n",
        r->live, r->extended, until, cfg.lock_mode, r->unused_packs));
    for (const auto& f : r->failed)
      ctx.Print("error: " + f.object + ": " + f.message + "\n");
  }
  return r->failed.empty() ? 0 : 1;
}

}  // namespace

void RegisterLock(CLI::App& app, Context& ctx) {
  CLI::App* l = app.add_subcommand(
      "lock", "Object Lock of the repository's objects: extend");
  l->require_subcommand(1);
  auto o = std::make_shared<LockExtendCliOptions>();
  CLI::App* e = l->add_subcommand(
      "extend",
      "Extend the retention of every object a snapshot still needs to the "
      "lock period from now (run more often than half the period)");
  e->add_flag("--all", o->all,
              "Extend every live object, not only those whose retention ends "
              "within half the period");
  e->add_option("--min-remaining", o->min_remaining_days,
                "Extend objects whose retention ends within this many days "
                "(default: half the lock period)")
      ->check(CLI::Range(1, 36500));
  e->callback(
      [&ctx, o] { ctx.run = [&ctx, o] { return RunLockExtend(*o, ctx); }; });
}

}  // namespace efs2s3::cli
