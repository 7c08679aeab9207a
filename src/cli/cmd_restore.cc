// restore
#include <fmt/format.h>

#include <mutex>

#include "cli/context.h"
#include "cli/progress.h"
#include "restorer/restorer.h"

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
};

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
  {
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
  return errors.empty() ? 0 : 1;
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
  c->callback(
      [&ctx, o] { ctx.run = [&ctx, o] { return RunRestore(*o, ctx); }; });
}

}  // namespace efs2s3::cli
