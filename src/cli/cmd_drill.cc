// drill: a restore drill (src/drill/drill.h); exit code 1 when a sampled file
// does not restore as the snapshot recorded it.
#include <fmt/format.h>

#include <random>

#include "cli/context.h"
#include "drill/drill.h"
#include "jobs/cron.h"
#include "repo/maintenance_access.h"

namespace efs2s3::cli {

namespace {

struct DrillCliOptions {
  std::string snapshot = "latest";
  std::string sample = "20";
  std::string target;
  std::string max_duration;
  std::optional<std::uint64_t> seed;
  bool allow_cold = false;
  std::string host;
  std::vector<std::string> paths;
};

// --sample: "N" (files, at least 1) or "P%" (0 < P <= 100).
Result<void> ParseSample(const std::string& text, drill::DrillOptions& o) {
  auto bad = [&] {
    return MakeError(ErrorCode::kUsage,
                     "--sample: '" + text +
                         "' is neither a number of files (1 or more) nor a "
                         "percentage above 0% and at most 100%");
  };
  if (text.empty()) return bad();
  std::string digits = text;
  bool percent = digits.back() == '%';
  if (percent) digits.pop_back();
  if (digits.empty() ||
      digits.find_first_not_of("0123456789.") != std::string::npos ||
      (!percent && digits.find('.') != std::string::npos))
    return bad();
  try {
    if (percent) {
      double p = std::stod(digits);
      if (!(p > 0 && p <= 100)) return bad();
      o.sample_percent = p;
    } else {
      std::uint64_t n = std::stoull(digits);
      if (n == 0) return bad();
      o.sample_files = n;
    }
  } catch (const std::exception&) {
    return bad();
  }
  return Ok();
}

Result<int> RunDrill(const DrillCliOptions& c, Context& ctx) {
  drill::DrillOptions o;
  RETURN_IF_ERROR(ParseSample(c.sample, o));
  if (!c.max_duration.empty()) {
    auto d = jobs::ParseInterval(c.max_duration);
    if (!d)
      return MakeError(ErrorCode::kUsage,
                       "--max-duration: " + d.error().message);
    o.max_duration = *d;
  }
  o.seed = c.seed ? *c.seed : std::random_device{}();
  o.target = c.target;
  o.allow_cold = c.allow_cold;
  o.cancel = &ctx.cancel;
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kShared));
  ASSIGN_OR_RETURN(auto snap,
                   FindSnapshotArg(ctx, *repo, c.snapshot, c.host, c.paths));
  // The storage class of every pack, from the listing: files in cold storage
  // are left out unless --allow-cold (a read would need a retrieval).
  RETURN_IF_ERROR(repo::MaintenanceAccess(*repo).List(
      storage::ObjectType::kPack,
      [&](const storage::ObjectInfo& i) -> Result<void> {
        if (auto id = Id::FromHex(i.name))
          o.packs[*id] = drill::PackInfo{.storage_class = i.storage_class};
        return Ok();
      }));
  ctx.Info(fmt::format("drill of snapshot {} of {} at {}, seed {}\n",
                       snap.first.Short(),
                       snap.second.paths.empty() ? "" : snap.second.paths[0],
                       model::FormatTime(snap.second.time_ns, true), o.seed));
  ASSIGN_OR_RETURN(drill::DrillResult r,
                   drill::RunDrill(*repo, snap.second, o));
  const double rate =
      r.seconds > 0 ? static_cast<double>(r.bytes) / r.seconds : 0;
  if (ctx.global.json) {
    nlohmann::json mismatches = nlohmann::json::array();
    for (const auto& m : r.mismatches) {
      mismatches.push_back({{"path", Printable(m.path)}, {"error", m.what}});
      // Also on stderr, where a job's step takes its errors from.
      ctx.Warn("mismatch: " + Printable(m.path) + ": " + m.what + "\n");
    }
    ctx.PrintJson({{"message_type", "drill"},
                   {"ok", r.mismatches.empty()},
                   {"snapshot_id", snap.first.Hex()},
                   {"seed", o.seed},
                   {"candidates", r.candidates},
                   {"skipped_cold", r.skipped_cold},
                   {"files_sampled", r.sampled},
                   {"files_checked", r.checked},
                   {"bytes_restored", r.bytes},
                   {"seconds", r.seconds},
                   {"bytes_per_second", rate},
                   {"source_compared", r.source_compared},
                   {"source_changed", r.source_changed},
                   {"source_missing", r.source_missing},
                   {"time_limit_reached", r.time_limit_reached},
                   {"strata", r.strata},
                   {"mismatches", mismatches}});
  } else {
    ctx.Info(fmt::format(
        "checked {} of {} sampled files ({} candidates), {} in {:.1f} s "
        "({}/s)\n",
        r.checked, r.sampled, r.candidates, HumanBytes(r.bytes), r.seconds,
        HumanBytes(static_cast<std::uint64_t>(rate))));
    ctx.Info(fmt::format(
        "source: {} compared, {} changed since the snapshot, {} not there\n",
        r.source_compared, r.source_changed, r.source_missing));
    if (r.skipped_cold)
      ctx.Info(fmt::format(
          "{} files left out: their data is in cold storage (--allow-cold)\n",
          r.skipped_cold));
    if (r.time_limit_reached)
      ctx.Warn(
          fmt::format("drill: --max-duration {} reached: {} sampled "
                      "files not checked\n",
                      c.max_duration, r.sampled - r.checked));
    for (const auto& m : r.mismatches)
      ctx.Print("mismatch: " + Printable(m.path) + ": " + m.what + "\n");
    if (r.mismatches.empty())
      ctx.Info("no mismatches\n");
    else
      ctx.Print(fmt::format("{} mismatches\n", r.mismatches.size()));
  }
  return r.mismatches.empty() ? 0 : 1;
}

}  // namespace

void RegisterDrill(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<DrillCliOptions>();
  CLI::App* c = app.add_subcommand(
      "drill",
      "Restore a random sample of a snapshot's files into a scratch "
      "directory and check them");
  c->add_option("snapshot", o->snapshot,
                "Snapshot ID, prefix or 'latest' (default)");
  c->add_option("--sample", o->sample,
                "How many files: N, or P% of the snapshot's files (default "
                "20)");
  c->add_option("-t,--target", o->target,
                "Directory below which the scratch copy is made (and "
                "removed)")
      ->required();
  c->add_option("--max-duration", o->max_duration,
                "Start no file after this long (90s, 30m, 1h)");
  c->add_option("--seed", o->seed, "Random seed (default random; printed)");
  c->add_flag("--allow-cold", o->allow_cold,
              "Also sample files whose data is in GLACIER or DEEP_ARCHIVE "
              "(may start retrievals)");
  c->add_option("--host", o->host,
                "With 'latest': only snapshots of this host");
  c->add_option("--path", o->paths,
                "With 'latest': only snapshots of these paths");
  c->callback([&ctx, o] { ctx.run = [&ctx, o] { return RunDrill(*o, ctx); }; });
}

}  // namespace efs2s3::cli
