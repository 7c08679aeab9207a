// report: the repository's history as JSON (--json) and as one
// self-contained HTML page (--html FILE); src/report/report.h.
#include <dirent.h>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "base/file_util.h"
#include "cli/context.h"
#include "jobs/config.h"
#include "policy/forget_policy.h"
#include "repo/maintenance_access.h"
#include "report/report.h"

namespace efs2s3::cli {

namespace {

struct ReportCliOptions {
  std::string html;
  std::string since;
  std::string job, config, state_dir;
  policy::ForgetPolicy policy;
  std::string within;
  std::string group_by;
};

// --since: a duration back from now ("30d", "1y") or a time.
Result<std::int64_t> ParseSince(const std::string& text, std::int64_t now) {
  if (auto d = policy::ParseDuration(text)) return now - d->count();
  if (auto t = model::ParseTime(text)) return *t / 1000000000;
  return MakeError(ErrorCode::kUsage,
                   "--since: '" + text +
                       "' is neither a duration (30d, 1y2m) nor a time "
                       "(2026-01-31T00:00:00Z, \"2026-01-31 00:00:00\")");
}

// The job's retention as a forget policy.
Result<void> JobPolicy(const jobs::Job& job, report::ReportInput& in) {
  const jobs::Retention& r = job.retention;
  if (r.empty()) return Ok();
  policy::ForgetPolicy p;
  p.last = r.keep_last;
  p.hourly = r.keep_hourly;
  p.daily = r.keep_daily;
  p.weekly = r.keep_weekly;
  p.monthly = r.keep_monthly;
  p.yearly = r.keep_yearly;
  p.keep_tags = r.keep_tags;
  if (!r.keep_within.empty()) {
    ASSIGN_OR_RETURN(auto d, policy::ParseDuration(r.keep_within));
    p.within = d;
  }
  if (!r.group_by.empty()) {
    ASSIGN_OR_RETURN(in.group_by, policy::ParseGroupBy(r.group_by));
  }
  in.policy = p;
  in.policy_source = "job " + job.name;
  return Ok();
}

// Every run report of the job in <state_dir>/jobs/<job>/runs/ (unreadable
// ones are skipped with a warning).
std::vector<nlohmann::json> JobRuns(const std::string& state_dir,
                                    const std::string& job, Context& ctx) {
  std::vector<nlohmann::json> runs;
  const std::string dir = state_dir + "/jobs/" + job + "/runs";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return runs;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.ends_with(".json")) names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    auto bytes = ReadFile(dir + "/" + n);
    nlohmann::json j = bytes ? nlohmann::json::parse(
                                   bytes->begin(), bytes->end(), nullptr, false)
                             : nlohmann::json();
    if (!j.is_object()) {
      ctx.Warn("warning: " + dir + "/" + n +
               ": not a job report; left out of the report\n");
      continue;
    }
    runs.push_back(std::move(j));
  }
  return runs;
}

Result<int> RunReport(const ReportCliOptions& o, Context& ctx) {
  report::ReportInput in;
  in.now = std::time(nullptr);
  if (!o.since.empty()) {
    ASSIGN_OR_RETURN(in.since, ParseSince(o.since, in.now));
  }
  const policy::ForgetPolicy given = o.policy;
  bool flags = !given.Empty() || !o.within.empty();
  if (!o.job.empty()) {
    const std::string path =
        o.config.empty() ? jobs::DefaultConfigPath() : o.config;
    ASSIGN_OR_RETURN(jobs::Config config, jobs::LoadConfig(path));
    const jobs::Job* job = config.Find(o.job);
    if (!job)
      return MakeError(ErrorCode::kUsage,
                       "--job: no job '" + o.job + "' in " + path);
    if (!flags) RETURN_IF_ERROR(JobPolicy(*job, in));
    in.job_runs = JobRuns(o.state_dir.empty() ? config.state_dir : o.state_dir,
                          o.job, ctx);
    if (ctx.global.repository.empty()) {
      ctx.global.repository = job->repository;
      if (ctx.global.password_file.empty() &&
          ctx.global.password_command.empty()) {
        ctx.global.password_file = job->password_file;
        ctx.global.password_command = job->password_command;
      }
    }
  }
  if (flags) {
    in.policy = given;
    if (!o.within.empty()) {
      ASSIGN_OR_RETURN(auto d, policy::ParseDuration(o.within));
      in.policy->within = d;
    }
    in.policy_source = "options";
  }
  if (!o.group_by.empty()) {
    ASSIGN_OR_RETURN(in.group_by, policy::ParseGroupBy(o.group_by));
  }
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kNone));
  in.repository = ctx.global.repository;
  in.object_store = in.repository.starts_with("s3://");
  std::vector<repo::UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(auto snapshots, repo->ListSnapshots(&unreadable));
  ctx.SkipUnreadable(unreadable);
  for (auto& [id, s] : snapshots) in.snapshots.emplace_back(id.Hex(), s);
  RETURN_IF_ERROR(repo::MaintenanceAccess(*repo).List(
      storage::ObjectType::kPack,
      [&](const storage::ObjectInfo& i) -> Result<void> {
        in.packs.push_back({i.size, i.mtime, i.storage_class});
        return Ok();
      }));
  nlohmann::json doc = report::BuildReport(in);
  if (!o.html.empty()) {
    std::string page = report::RenderHtml(doc);
    RETURN_IF_ERROR(WriteFileAtomic(o.html, ToBytes(page), false));
  }
  if (ctx.global.json) {
    ctx.PrintJson(doc);
  } else {
    const nlohmann::json& g = doc["growth"];
    ctx.Info(fmt::format("{} snapshots, {} stored in {} packs\n",
                         doc["snapshots"].get<std::uint64_t>(),
                         HumanBytes(g["stored_bytes"].get<std::uint64_t>()),
                         g["packs"].get<std::uint64_t>()));
    if (!o.html.empty()) ctx.Info("wrote " + o.html + "\n");
  }
  return 0;
}

}  // namespace

void RegisterReport(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ReportCliOptions>();
  CLI::App* c = app.add_subcommand(
      "report",
      "The repository's history: snapshots, growth, retention, checks, "
      "drills and job runs (--json, --html FILE)");
  c->add_option("--html", o->html, "Write a self-contained HTML page to FILE");
  c->add_option("--since", o->since,
                "Only snapshots and runs since then: a duration back from now "
                "(30d) or a time");
  c->add_option("--job", o->job,
                "Take the retention policy, the job runs (and the repository, "
                "unless -r) of this job");
  c->add_option("--config", o->config,
                "With --job: the job file (default $EFS2S3_CONFIG or "
                "/etc/efs2s3/efs2s3.toml)");
  c->add_option("--state-dir", o->state_dir,
                "With --job: the state directory (default the job file's)");
  c->add_option("--keep-last", o->policy.last, "Retention: keep the N newest");
  c->add_option("--keep-hourly", o->policy.hourly, "Retention: hourly");
  c->add_option("--keep-daily", o->policy.daily, "Retention: daily");
  c->add_option("--keep-weekly", o->policy.weekly, "Retention: weekly");
  c->add_option("--keep-monthly", o->policy.monthly, "Retention: monthly");
  c->add_option("--keep-yearly", o->policy.yearly, "Retention: yearly");
  c->add_option("--keep-within", o->within,
                "Retention: keep snapshots within this duration of the newest");
  c->add_option("--keep-tag", o->policy.keep_tags,
                "Retention: keep snapshots with this tag");
  c->add_option("--group-by", o->group_by,
                "Retention: group snapshots by host,paths,tags");
  c->callback(
      [&ctx, o] { ctx.run = [&ctx, o] { return RunReport(*o, ctx); }; });
}

}  // namespace efs2s3::cli
