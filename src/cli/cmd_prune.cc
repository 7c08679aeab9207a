// prune: plan, print and execute (src/maintenance/prune.h).
#include <fmt/format.h>

#include <charconv>

#include "cli/context.h"
#include "cli/maintenance_util.h"
#include "maintenance/prune.h"
#include "model/snapshot.h"
#include "repo/lock.h"

namespace efs2s3::cli {

namespace {

struct PruneCliOptions {
  std::string max_unused = "5%";
  bool dry_run = false;
  bool respect_min_duration = false;
};

// "5%", "5" (percent) or "0%".
Result<double> ParseMaxUnused(const std::string& text) {
  std::string num = text;
  if (!num.empty() && num.back() == '%') num.pop_back();
  char* end = nullptr;
  double v = std::strtod(num.c_str(), &end);
  if (num.empty() || end != num.c_str() + num.size() || v < 0 || v > 100)
    return MakeError(
        ErrorCode::kInvalidArgument,
        "--max-unused: '" + text + "' is not a percentage between 0% and 100%");
  return v / 100.0;
}

nlohmann::json CountJson(const maintenance::PruneCount& c) {
  return {{"packs", c.packs}, {"blobs", c.blobs}, {"bytes", c.bytes}};
}

void PrintPlan(const Context& ctx, const maintenance::PrunePlan& p,
               bool dry_run) {
  auto line = [&](const char* what, const maintenance::PruneCount& c,
                  const std::string& extra) {
    ctx.Info(fmt::format("  {:<8} {:>8} packs {:>10} blobs {:>12}{}\n", what,
                         c.packs, c.blobs, HumanBytes(c.bytes), extra));
  };
  ctx.Info(fmt::format("{} snapshots use {} blobs ({} trees)\n", p.snapshots,
                       p.used_blobs, p.trees));
  line("total", p.total, "");
  line("keep", p.keep,
       fmt::format("  ({} unused left in them)",
                   HumanBytes(p.unused_bytes_kept)));
  line("delete", p.remove,
       p.unindexed.packs
           ? fmt::format("  ({} packs no index names)", p.unindexed.packs)
           : "");
  line("repack", p.repack,
       fmt::format("  (copy {} used blobs, {})", p.repack_copy.blobs,
                   HumanBytes(p.repack_copy.bytes)));
  if (p.retained.packs)
    line("retained", p.retained,
         fmt::format("  (Object Lock: kept for a prune after {})",
                     model::FormatTime(p.retained_until * 1000000000)));
  if (p.cold_kept.packs)
    line("cold", p.cold_kept,
         "  (archived: not repacked, since that would read them)");
  if (p.early_delete.packs)
    line("early", p.early_delete,
         fmt::format("  (deleted before their storage class's minimum "
                     "duration: about ${:.2f} early deletion charge; "
                     "--respect-min-duration keeps them)",
                     p.early_delete_usd));
  if (p.min_duration_kept.packs)
    line("young", p.min_duration_kept,
         fmt::format("  (kept until their storage class's minimum duration "
                     "ends, saving about ${:.2f})",
                     p.min_duration_kept_usd));
  if (p.nothing_to_do) {
    ctx.Info("nothing to prune\n");
    return;
  }
  ctx.Info(fmt::format("index: {} files replaced by about {}\n",
                       p.old_index_files, p.new_index_files));
  ctx.Info(fmt::format(
      "{} about {} new packs; requests: {} reads, {} writes, {} deletes\n",
      dry_run ? "would write" : "writing", p.new_packs, p.requests_read,
      p.requests_write, p.requests_delete));
}

nlohmann::json PlanJson(const maintenance::PrunePlan& p) {
  return {{"snapshots", p.snapshots},
          {"used_blobs", p.used_blobs},
          {"trees", p.trees},
          {"total", CountJson(p.total)},
          {"keep", CountJson(p.keep)},
          {"delete", CountJson(p.remove)},
          {"unindexed", CountJson(p.unindexed)},
          {"repack", CountJson(p.repack)},
          {"repack_copy", CountJson(p.repack_copy)},
          {"unused_bytes_kept", p.unused_bytes_kept},
          {"retained", CountJson(p.retained)},
          {"retained_until",
           p.retained_until ? model::FormatTime(p.retained_until * 1000000000)
                            : ""},
          {"cold_kept", CountJson(p.cold_kept)},
          {"early_delete", CountJson(p.early_delete)},
          {"early_delete_usd", p.early_delete_usd},
          {"min_duration_kept", CountJson(p.min_duration_kept)},
          {"min_duration_kept_usd", p.min_duration_kept_usd},
          {"new_packs", p.new_packs},
          {"old_index_files", p.old_index_files},
          {"new_index_files", p.new_index_files},
          {"requests",
           {{"read", p.requests_read},
            {"write", p.requests_write},
            {"delete", p.requests_delete}}},
          {"nothing_to_do", p.nothing_to_do}};
}

Result<int> Prune(repo::Repository& repo, double max_unused, bool dry_run,
                  bool respect_min_duration, Context& ctx) {
  maintenance::PruneOptions po;
  po.max_unused = max_unused;
  po.respect_min_duration = respect_min_duration;
  po.cancel = &ctx.cancel;
  po.progress = StepPrinter(ctx);
  auto plan = maintenance::PlanPrune(repo, po);
  ClearSteps(ctx);
  if (!plan) return plan.error();
  if (!ctx.global.json) PrintPlan(ctx, *plan, dry_run);
  maintenance::PruneResult done;
  // Locks nobody holds any more (stale, or released by a process that could
  // not delete them) go while prune holds the exclusive lock.
  if (!dry_run) (void)repo::RemoveLocks(repo, false);
  if (!dry_run && !plan->nothing_to_do) {
    auto r = maintenance::ExecutePrune(repo, *plan, po);
    ClearSteps(ctx);
    if (!r) return r.error();
    done = *r;
    ctx.Info(fmt::format(
        "done: {} packs deleted ({}), {} packs written ({}), {} blobs "
        "repacked, {} index files "
        "written, {} deleted\n",
        done.packs_deleted, HumanBytes(done.bytes_deleted), done.packs_written,
        HumanBytes(done.bytes_written), done.blobs_repacked, done.index_written,
        done.index_deleted));
  }
  if (ctx.global.json)
    ctx.PrintJson({{"message_type", "prune"},
                   {"dry_run", dry_run},
                   {"plan", PlanJson(*plan)},
                   {"result",
                    {{"packs_deleted", done.packs_deleted},
                     {"bytes_deleted", done.bytes_deleted},
                     {"packs_written", done.packs_written},
                     {"bytes_written", done.bytes_written},
                     {"blobs_repacked", done.blobs_repacked},
                     {"index_written", done.index_written},
                     {"index_deleted", done.index_deleted}}}});
  return 0;
}

Result<int> RunPrune(const PruneCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(double max_unused, ParseMaxUnused(o.max_unused));
  if (ctx.global.no_lock && !o.dry_run)
    return MakeError(ErrorCode::kInvalidArgument,
                     "prune needs the exclusive repository lock: --no-lock "
                     "only with --dry-run");
  ASSIGN_OR_RETURN(
      repo::Repository * repo,
      ctx.OpenRepository(o.dry_run ? Context::LockMode::kNone
                                   : Context::LockMode::kExclusive));
  return Prune(*repo, max_unused, o.dry_run, o.respect_min_duration, ctx);
}

}  // namespace

// forget --prune: forget already holds the exclusive lock (unless --dry-run) on
// the repository it opened; prune works on a second handle to it in the same
// process, under that lock. With --dry-run nothing was removed, so the plan
// shows the repository as it is.
Result<int> RunPruneFromForget(Context& ctx, bool dry_run) {
  if (ctx.global.no_lock && !dry_run)
    return MakeError(ErrorCode::kInvalidArgument,
                     "prune needs the exclusive repository lock: --no-lock "
                     "only with --dry-run");
  // forget opened the repository (with the exclusive lock unless dry-run).
  repo::Repository* repo = ctx.repository();
  if (!repo)
    return MakeError(ErrorCode::kInvalidArgument,
                     "forget --prune: no open repository");
  return Prune(*repo, 0.05, dry_run, false, ctx);
}

void RegisterPrune(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<PruneCliOptions>();
  CLI::App* c = app.add_subcommand(
      "prune",
      "Delete data no snapshot uses (plan first; docs/MAINTENANCE.md)");
  c->add_option("--max-unused", o->max_unused,
                "Repack packs with more than this share unused (default 5%)");
  c->add_flag("-n,--dry-run", o->dry_run, "Only print the plan");
  c->add_flag("--respect-min-duration", o->respect_min_duration,
              "Keep unused packs younger than their storage class's minimum "
              "duration (STANDARD_IA 30 days, GLACIER 90, DEEP_ARCHIVE 180) "
              "for a later prune instead of paying the early deletion charge");
  c->callback([&ctx, o] { ctx.run = [&ctx, o] { return RunPrune(*o, ctx); }; });
}

}  // namespace efs2s3::cli
