// repair index | repair snapshots (src/maintenance/repair.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/maintenance_util.h"
#include "maintenance/repair.h"

namespace efs2s3::cli {

namespace {

struct RepairCliOptions {
  bool dry_run = false, read_data = false, forget = false;
};

Result<int> RunRepairIndex(const RepairCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(auto m, OpenForMaintenance(ctx, true, false));
  maintenance::RepairIndexOptions ro;
  ro.dry_run = o.dry_run;
  ro.read_data = o.read_data;
  ro.cancel = &ctx.cancel;
  ro.progress = StepPrinter(ctx);
  auto r = maintenance::RepairIndex(*m->repo, ro);
  ClearSteps(ctx);
  if (!r) return r.error();
  nlohmann::json salvaged = nlohmann::json::array();
  std::uint64_t lost = 0;
  for (const auto& p : r->salvaged) {
    salvaged.push_back({{"pack", p.pack},
                        {"reason", p.reason},
                        {"method", p.method},
                        {"blobs_kept", p.blobs_kept},
                        {"lost", p.lost}});
    lost += p.lost.size();
    std::string line =
        p.method == "none"
            ? fmt::format(
                  "warning: {}; nothing locates its blobs (not in the old "
                  "index): they are lost\n",
                  p.reason)
            : fmt::format(
                  "warning: {}; {} {} blobs by the {}{}\n", p.reason,
                  o.dry_run ? "would save" : "saved", p.blobs_kept,
                  p.method == "old index" ? "old index"
                  : p.method == "header"  ? "header"
                                          : "header found",
                  p.lost.empty()
                      ? std::string()
                      : fmt::format(", {} damaged blob(s) lost: {}",
                                    p.lost.size(), fmt::join(p.lost, " ")));
    ctx.Warn(line);
  }
  if (ctx.global.json) {
    ctx.PrintJson({{"message_type", "repair_index"},
                   {"dry_run", o.dry_run},
                   {"packs", r->packs},
                   {"blobs", r->blobs},
                   {"damaged_packs", salvaged},
                   {"blobs_lost", lost},
                   {"packs_written", r->packs_written},
                   {"index_written", r->index_written},
                   {"index_deleted", r->index_deleted}});
  } else {
    ctx.Info(fmt::format(
        "{} {} packs ({} blobs); {} damaged pack(s), {} blob(s) saved into {} "
        "new pack(s), {} lost; {} index files written, {} old ones deleted\n",
        o.dry_run ? "would index" : "indexed", r->packs, r->blobs,
        r->salvaged.size(),
        [&] {
          std::uint64_t k = 0;
          for (const auto& p : r->salvaged) k += p.blobs_kept;
          return k;
        }(),
        r->packs_written, lost, r->index_written, r->index_deleted));
  }
  // Damage found: the index is repaired, the data not all there.
  bool problems = std::any_of(
      r->salvaged.begin(), r->salvaged.end(),
      [](const auto& p) { return p.method == "none" || !p.lost.empty(); });
  return problems ? kExitIncomplete : kExitOk;
}

Result<int> RunRepairSnapshots(const RepairCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(auto m, OpenForMaintenance(ctx, true, false));
  maintenance::RepairSnapshotsOptions ro;
  ro.dry_run = o.dry_run;
  ro.read_data = o.read_data;
  ro.forget = o.forget;
  ro.cancel = &ctx.cancel;
  ro.progress = StepPrinter(ctx);
  // The stored bytes of an unreadable snapshot object that --forget removes
  // are kept in the cache root (also with --no-cache: they are evidence).
  std::string cache_root = ctx.global.cache_dir.empty()
                               ? repo::DefaultCacheDir()
                               : ctx.global.cache_dir;
  ro.keep_copies_in =
      cache_root + "/removed/" + m->repo->config().id + "/snapshots";
  auto r = maintenance::RepairSnapshots(*m->repo, ro);
  ClearSteps(ctx);
  if (!r) return r.error();
  bool unrepairable = false;
  // Unreadable snapshot objects: removed with --forget, otherwise named and
  // left (exit 3, as for the commands that skip them).
  bool unreadable_left = false;
  nlohmann::json unreadable = nlohmann::json::array();
  for (const auto& u : r->unreadable) {
    unreadable_left = unreadable_left || u.action == "unrepairable";
    unreadable.push_back({{"snapshot", u.id},
                          {"reason", u.reason},
                          {"action", u.action},
                          {"copy", u.copy}});
    if (ctx.global.json) continue;
    std::string what =
        u.action == "unrepairable" ? "cannot be repaired (--forget removes it)"
        : o.dry_run                ? "would be removed"
        : u.copy.empty()           ? "removed"
                         : "removed; its stored bytes are kept in " + u.copy;
    ctx.Print("snapshots/" + u.id + ": unreadable: " + Printable(u.reason) +
              "; " + what + "\n");
  }
  nlohmann::json changed = nlohmann::json::array();
  for (const auto& c : r->changed) {
    unrepairable = unrepairable || c.action == "unrepairable";
    changed.push_back({{"snapshot", c.old_id},
                       {"new_snapshot", c.new_id},
                       {"action", c.action},
                       {"dropped", c.dropped}});
    if (ctx.global.json) continue;
    std::string what =
        c.action == "rewritten"
            ? (o.dry_run ? "would be rewritten"
                         : "rewritten as " + c.new_id.substr(0, 8))
        : c.action == "removed"
            ? (o.dry_run ? "would be removed" : "removed")
            : "cannot be repaired (its root tree is unusable; "
              "--forget removes it)";
    ctx.Print("snapshot " + c.old_id.substr(0, 8) + " " + what + "\n");
    for (const auto& d : c.dropped)
      ctx.Print("  dropped " + Printable(d) + "\n");
  }
  if (ctx.global.json)
    ctx.PrintJson({{"message_type", "repair_snapshots"},
                   {"dry_run", o.dry_run},
                   {"snapshots", r->snapshots},
                   {"changed", changed},
                   {"unreadable", unreadable}});
  else if (r->changed.empty() && r->unreadable.empty())
    ctx.Info(
        fmt::format("{} snapshots checked, none needs repair\n", r->snapshots));
  return unrepairable      ? kExitError
         : unreadable_left ? kExitIncomplete
                           : kExitOk;
}

}  // namespace

void RegisterRepair(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RepairCliOptions>();
  CLI::App* c = app.add_subcommand(
      "repair", "Rebuild the index or remove damaged data from snapshots");
  c->require_subcommand(1);
  CLI::App* idx =
      c->add_subcommand("index", "Rebuild the index from the pack headers");
  idx->add_flag("-n,--dry-run", o->dry_run, "Only read the packs and report");
  idx->add_flag(
      "--read-data", o->read_data,
      "Read every pack whole and authenticate every blob; packs with "
      "damaged blobs are salvaged (intact blobs copied to new packs)");
  idx->callback(
      [&ctx, o] { ctx.run = [&ctx, o] { return RunRepairIndex(*o, ctx); }; });
  CLI::App* snaps = c->add_subcommand(
      "snapshots",
      "Rewrite snapshots without the files whose data is missing or damaged");
  snaps->add_flag("-n,--dry-run", o->dry_run, "Only report what would change");
  snaps->add_flag("--read-data", o->read_data,
                  "Also authenticate every data blob (reads all data)");
  snaps->add_flag("--forget", o->forget,
                  "Remove snapshots whose root tree is unusable");
  snaps->callback([&ctx, o] {
    ctx.run = [&ctx, o] { return RunRepairSnapshots(*o, ctx); };
  });
}

}  // namespace efs2s3::cli
