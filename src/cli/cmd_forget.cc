// forget: apply a retention policy (src/policy) and remove snapshots.
#include <fmt/format.h>

#include <set>

#include "archiver/parent.h"
#include "cli/context.h"
#include "policy/forget_policy.h"

namespace efs2s3::cli {

Result<int> RunPruneFromForget(Context& ctx, bool dry_run);  // cmd_prune.cc

namespace {
struct ForgetCliOptions {
  policy::ForgetPolicy policy;
  std::string within;
  std::string group_by = "host,paths";
  bool utc = false, dry_run = false, prune = false;
  std::string host;
  std::vector<std::string> ids;  // explicit snapshots to forget
};

// One group of the policy's verdict: printed, added to the JSON list, and
// what it removes added to *to_remove.
void ReportGroup(const policy::ForgetGroup& g, bool utc, Context& ctx,
                 nlohmann::json* out, std::vector<std::string>* to_remove) {
  std::string head =
      fmt::format("snapshots for host {}, paths [{}]{}", g.key.host,
                  fmt::join(g.key.paths, ", "),
                  g.key.tags.empty()
                      ? ""
                      : fmt::format(", tags [{}]", fmt::join(g.key.tags, ",")));
  ctx.Info(head + fmt::format(": keep {}, remove {}\n", g.keep.size(),
                              g.remove.size()));
  for (const auto& k : g.keep) {
    out->push_back({{"id", k.snapshot.id},
                    {"time", model::FormatTime(k.snapshot.time_unix_ns)},
                    {"host", k.snapshot.host},
                    {"action", "keep"},
                    {"reasons", k.reasons}});
    ctx.Verbose(fmt::format("  keep   {} {} ({})\n", k.snapshot.id.substr(0, 8),
                            model::FormatTime(k.snapshot.time_unix_ns, !utc),
                            fmt::join(k.reasons, ", ")));
  }
  for (const auto& r : g.remove) {
    out->push_back({{"id", r.id},
                    {"time", model::FormatTime(r.time_unix_ns)},
                    {"host", r.host},
                    {"action", "remove"},
                    {"reasons", nlohmann::json::array()}});
    ctx.Info(fmt::format("  remove {} {}\n", r.id.substr(0, 8),
                         model::FormatTime(r.time_unix_ns, !utc)));
    to_remove->push_back(r.id);
  }
}

Result<int> RunForget(ForgetCliOptions o, Context& ctx) {
  if (!o.within.empty()) {
    ASSIGN_OR_RETURN(auto d, policy::ParseDuration(o.within));
    o.policy.within = d;
  }
  ASSIGN_OR_RETURN(policy::GroupBy group_by, policy::ParseGroupBy(o.group_by));
  ASSIGN_OR_RETURN(
      repo::Repository * repo,
      ctx.OpenRepository(o.dry_run ? Context::LockMode::kNone
                                   : Context::LockMode::kExclusive));
  // An unreadable snapshot is neither kept nor removed: the policy sees the
  // readable ones only. That never removes more than it would with every
  // snapshot readable (one snapshot fewer can only free a keep slot for an
  // older one, or anchor --keep-within earlier), so it is safe; the
  // unreadable one stays until `repair snapshots --forget` removes it.
  std::vector<repo::UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(auto all, repo->ListSnapshots(&unreadable));
  if (o.ids.empty()) ctx.SkipUnreadable(unreadable);
  std::vector<std::string> to_remove;
  nlohmann::json out = nlohmann::json::array();
  if (!o.ids.empty()) {
    for (const auto& spec : o.ids) {
      ASSIGN_OR_RETURN(auto s, FindSnapshotArg(ctx, *repo, spec));
      to_remove.push_back(s.first.Hex());
      out.push_back({{"id", s.first.Hex()},
                     {"action", "remove"},
                     {"reasons", {"given on the command line"}}});
    }
  } else {
    std::vector<policy::SnapshotRef> refs;
    for (const auto& [id, s] : all) {
      if (!o.host.empty() && s.hostname != o.host) continue;
      // A worker's share of a sharded run: the merge replaces it; counted, it
      // could take the keep slot of a whole snapshot.
      if (model::IsShardSnapshot(s)) continue;
      refs.push_back({id.Hex(), s.time_ns, s.hostname, s.paths, s.tags});
    }
    // Checkpoints a completed run could not remove (backup credentials
    // without delete rights) go first, whatever the policy.
    std::vector<std::string> superseded = policy::SupersededPartials(refs);
    if (!superseded.empty()) {
      std::set<std::string> gone(superseded.begin(), superseded.end());
      std::erase_if(refs, [&](const policy::SnapshotRef& r) {
        return gone.count(r.id) > 0;
      });
      for (const auto& id : superseded) {
        to_remove.push_back(id);
        out.push_back(
            {{"id", id},
             {"action", "remove"},
             {"reasons", {"partial snapshot superseded by a complete one"}}});
        ctx.Info(
            fmt::format("  remove {} (partial, superseded by a complete "
                        "snapshot)\n",
                        id.substr(0, 8)));
      }
    }
    auto result = policy::ApplyForgetPolicy(
        refs, o.policy, group_by,
        o.utc ? policy::TimeZoneMode::kUtc : policy::TimeZoneMode::kLocal,
        std::chrono::system_clock::now());
    for (const auto& w : result.warnings) ctx.Warn("warning: " + w + "\n");
    // Without a policy only superseded checkpoints go (when there are any).
    if (result.policy_empty && superseded.empty()) {
      if (ctx.global.json)
        ctx.PrintJson({{"message_type", "forget"},
                       {"policy_empty", true},
                       {"removed", 0}});
      else
        ctx.Print("no policy given: nothing removed\n");
      return 0;
    }
    if (!result.policy_empty)
      for (const auto& g : result.groups)
        ReportGroup(g, o.utc, ctx, &out, &to_remove);
  }
  if (!o.dry_run)
    for (const auto& hex : to_remove) {
      auto id = Id::FromHex(hex);  // every ID here came from Id::Hex()
      if (!id)
        return MakeError(ErrorCode::kUnknown, "snapshot ID " + hex + "?");
      RETURN_IF_ERROR(repo->RemoveSnapshot(*id));
    }
  if (ctx.global.json)
    ctx.PrintJson({{"message_type", "forget"},
                   {"dry_run", o.dry_run},
                   {"removed", to_remove.size()},
                   {"snapshots", out}});
  else
    ctx.Info(fmt::format("{} {} snapshot(s)\n",
                         o.dry_run ? "would remove" : "removed",
                         to_remove.size()));
  if (o.prune) return RunPruneFromForget(ctx, o.dry_run);
  return 0;
}
}  // namespace

void RegisterForget(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ForgetCliOptions>();
  CLI::App* c = app.add_subcommand(
      "forget",
      "Remove snapshots by ID or by a retention policy (docs/FORGET.md)");
  c->add_option("snapshots", o->ids,
                "Snapshot IDs to remove (instead of a policy)");
  c->add_option("--keep-last", o->policy.last, "Keep the N newest snapshots");
  c->add_option("--keep-hourly", o->policy.hourly,
                "Keep the newest snapshot of each of N hours");
  c->add_option("--keep-daily", o->policy.daily, "... of each of N days");
  c->add_option("--keep-weekly", o->policy.weekly,
                "... of each of N ISO weeks");
  c->add_option("--keep-monthly", o->policy.monthly, "... of each of N months");
  c->add_option("--keep-yearly", o->policy.yearly, "... of each of N years");
  c->add_option(
      "--keep-within", o->within,
      "Keep snapshots within this duration of the newest (e.g. 30d, 1y2m)");
  c->add_option("--keep-tag", o->policy.keep_tags,
                "Keep snapshots with this tag (repeatable; 'a,b' = both)");
  c->add_option(
      "-g,--group-by", o->group_by,
      "Group by host,paths,tags (default host,paths; '' = no grouping)");
  c->add_option("--host", o->host, "Only consider snapshots of this host");
  c->add_flag("--utc", o->utc,
              "Bucket times in UTC instead of the local time zone");
  c->add_flag("-n,--dry-run", o->dry_run, "Only print what would be removed");
  c->add_flag("--prune", o->prune, "Run prune afterwards");
  c->callback(
      [&ctx, o] { ctx.run = [&ctx, o] { return RunForget(*o, ctx); }; });
}

}  // namespace efs2s3::cli
