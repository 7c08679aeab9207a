// job run | list | status, and daemon: scheduled jobs from a configuration
// file (src/jobs, docs/JOBS.md).
#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string_view>

#include "cli/context.h"
#include "jobs/daemon.h"
#include "jobs/metrics.h"
#include "jobs/runner.h"

namespace efs2s3::cli {

namespace {

std::atomic<bool> g_reload{false};
void OnHangup(int) { g_reload.store(true); }

struct JobCliOptions {
  std::string config;
  std::string name;
  bool dry_run = false;
  bool force_maintenance = false;
  std::string only;  // job run: "backup" or "maintenance"
  // job run: one worker of a sharded run, or the merge of one.
  std::string shard, run_id, merge;
  bool merge_if_last = false;
  int max_runs = 0;
};

std::string ConfigPath(const JobCliOptions& o) {
  return o.config.empty() ? jobs::DefaultConfigPath() : o.config;
}

// The binary the job's steps run: this one.
std::string SelfExe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "efs2s3" : p.string();
}

std::string LocalTime(std::time_t t) {
  if (!t) return "-";
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M %Z", &tm);
  return buf;
}

jobs::RunOptions MakeRunOptions(Context& ctx, bool timestamps) {
  jobs::RunOptions ro;
  ro.exe = SelfExe();
  ro.cancel = &ctx.cancel;
  ro.log = [&ctx, timestamps](const std::string& line) {
    if (ctx.global.quiet) return;
    std::string prefix;
    if (timestamps) {
      std::time_t now = std::time(nullptr);
      prefix = jobs::FormatUtc(now) + " ";
    }
    ctx.Warn(prefix + line + "\n");
  };
  return ro;
}

const jobs::Job* FindJob(const jobs::Config& c, const std::string& name,
                         Error* err) {
  const jobs::Job* j = c.Find(name);
  if (!j) {
    std::string names;
    for (const auto& k : c.jobs) names += (names.empty() ? "" : ", ") + k.name;
    *err = MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("{}: no job named '{}' (jobs: {})", c.path, name, names));
  }
  return j;
}

// What the backup did, for the report's first line: ": files 3 new, 1
// changed, 120 unchanged; 1.5 MiB read, 200 KiB added" ("" without a
// backup summary).
std::string BackupFigures(const jobs::JobReport& r) {
  for (const auto& s : r.steps) {
    if (s.name != "backup" || !s.figures.contains("files_new")) continue;
    auto n = [&s](const char* key) -> std::uint64_t {
      auto it = s.figures.find(key);
      return it != s.figures.end() && it->is_number_unsigned()
                 ? it->get<std::uint64_t>()
                 : 0;
    };
    return fmt::format(
        ": files {} new, {} changed, {} unchanged; {} read, {} added",
        n("files_new"), n("files_changed"), n("files_unchanged"),
        HumanBytes(n("bytes_read")), HumanBytes(n("bytes_added")));
  }
  return "";
}

void PrintReport(Context& ctx, const jobs::JobReport& r, bool dry_run) {
  if (ctx.global.json) {
    nlohmann::json j = r.ToJson();
    if (dry_run) j["dry_run"] = true;
    ctx.PrintJson(j);
    return;
  }
  if (dry_run) {
    ctx.Print(fmt::format("job {} (dry run): the steps it would run\n", r.job));
    for (const auto& s : r.steps)
      ctx.Print(
          fmt::format("  {:<11} {}\n", s.name,
                      s.command.empty() ? "(" + s.reason + ")" : s.command));
    return;
  }
  ctx.Print(fmt::format(
      "job {}: {} (exit {}){}{}\n", r.job, r.Status(), r.exit_code,
      r.snapshot_id.empty() ? "" : ", snapshot " + r.snapshot_id.substr(0, 8),
      BackupFigures(r)));
  for (const auto& s : r.steps) {
    std::string detail = s.reason;
    if (!s.errors.empty()) detail = s.errors.back();
    ctx.Print(fmt::format("  {:<11} {:<11} {:>7.1f} s  {}\n", s.name,
                          jobs::StepStatusName(s.status), s.duration_seconds,
                          detail));
  }
}

// EFS2S3_METRICS=emf: one CloudWatch Embedded Metric Format line on stdout
// for a run with a backup (docs/JOBS.md, "Metrics"); on ECS the awslogs
// driver ships it as one log event, from which CloudWatch takes the metric.
void PrintMetrics(Context& ctx, const jobs::JobReport& r) {
  const char* kind = std::getenv("EFS2S3_METRICS");
  if (!kind || !*kind) return;
  if (std::string_view(kind) != "emf") {
    ctx.Warn(
        fmt::format("EFS2S3_METRICS={}: unknown (emf); no metrics\n", kind));
    return;
  }
  const char* extra = std::getenv("EFS2S3_METRICS_DIMENSIONS");
  auto dims = jobs::ParseMetricDimensions(extra ? extra : "");
  if (!dims) {
    ctx.Warn(dims.error().message + "; no metrics\n");
    return;
  }
  if (auto rec = jobs::EmfRecord(r, *dims, std::time(nullptr)))
    ctx.Print(rec->dump() + "\n");
}

Result<int> RunJobCommand(const JobCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(jobs::Config config, jobs::LoadConfig(ConfigPath(o)));
  Error err;
  const jobs::Job* job = FindJob(config, o.name, &err);
  if (!job) return err;
  jobs::RunOptions ro = MakeRunOptions(ctx, false);
  ro.dry_run = o.dry_run;
  ro.force_maintenance = o.force_maintenance;
  if (!o.only.empty()) {
    ASSIGN_OR_RETURN(ro.only, jobs::ParseJobPart(o.only));
  }
  if (!o.shard.empty()) {
    // The backup step does the checks (and reads auto and $EFS2S3_RUN_ID).
    ro.only = jobs::JobPart::kBackup;
    ro.shard_args = {"--shard", o.shard};
    if (!o.run_id.empty())
      ro.shard_args.insert(ro.shard_args.end(), {"--run-id", o.run_id});
    if (o.merge_if_last) ro.shard_args.push_back("--merge-if-last");
  }
  ro.merge_run = o.merge;
  ASSIGN_OR_RETURN(jobs::JobReport report, jobs::RunJob(config, *job, ro));
  PrintReport(ctx, report, o.dry_run);
  if (!o.dry_run) PrintMetrics(ctx, report);
  return o.dry_run ? 0 : report.exit_code;
}

Result<int> ListJobs(const JobCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(jobs::Config config, jobs::LoadConfig(ConfigPath(o)));
  nlohmann::json out = nlohmann::json::array();
  std::string text = fmt::format("{:<16} {:<18} {:<22} {:<22} {}\n", "JOB",
                                 "SCHEDULE", "NEXT RUN", "LAST RUN", "RESULT");
  std::time_t now = std::time(nullptr);
  for (const jobs::Job& j : config.jobs) {
    jobs::StateDir dir(config.state_dir, j.name);
    jobs::JobState st = dir.LoadState();
    std::time_t next = j.schedule ? j.schedule->Next(now, j.timezone) : 0;
    auto last = dir.LastReport();
    std::string result =
        last ? fmt::format("{} ({})", last->Status(), last->exit_code)
             : "never ran";
    out.push_back(
        {{"job", j.name},
         {"repository", j.repository},
         {"schedule", j.schedule_text},
         {"timezone", j.timezone},
         {"next_run", next ? jobs::FormatUtc(next) : ""},
         {"last_run", st.last_run ? jobs::FormatUtc(st.last_run) : ""},
         {"last_exit_code", last ? last->exit_code : -1},
         {"last_status", last ? last->Status() : ""}});
    text += fmt::format("{:<16} {:<18} {:<22} {:<22} {}\n", j.name,
                        j.schedule_text.empty() ? "-" : j.schedule_text,
                        LocalTime(next), LocalTime(st.last_run), result);
  }
  if (ctx.global.json) {
    ctx.PrintJson(out);
  } else {
    ctx.Print(text);
  }
  return 0;
}

Result<int> JobStatus(const JobCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(jobs::Config config, jobs::LoadConfig(ConfigPath(o)));
  std::vector<const jobs::Job*> which;
  if (o.name.empty()) {
    for (const auto& j : config.jobs) which.push_back(&j);
  } else {
    Error err;
    const jobs::Job* j = FindJob(config, o.name, &err);
    if (!j) return err;
    which.push_back(j);
  }
  nlohmann::json out = nlohmann::json::array();
  int worst = 0;
  std::time_t now = std::time(nullptr);
  for (const jobs::Job* j : which) {
    jobs::StateDir dir(config.state_dir, j->name);
    auto last = dir.LastReport();
    std::time_t next = j->schedule ? j->schedule->Next(now, j->timezone) : 0;
    jobs::JobState st = dir.LoadState();
    if (!last) {
      out.push_back({{"job", j->name},
                     {"last_report", nullptr},
                     {"next_run", next ? jobs::FormatUtc(next) : ""}});
      if (!ctx.global.json)
        ctx.Print(fmt::format("job {}: never ran; next run {}\n", j->name,
                              LocalTime(next)));
      continue;
    }
    worst = jobs::WorseExitCode(worst, last->exit_code);
    out.push_back(
        {{"job", j->name},
         {"last_report", last->ToJson()},
         {"next_run", next ? jobs::FormatUtc(next) : ""},
         {"last_prune", st.last_prune ? jobs::FormatUtc(st.last_prune) : ""},
         {"last_check", st.last_check ? jobs::FormatUtc(st.last_check) : ""},
         {"last_lock_extend",
          st.last_lock_extend ? jobs::FormatUtc(st.last_lock_extend) : ""}});
    if (!ctx.global.json) {
      ctx.Print(fmt::format("last run {} ({:.0f} s); next run {}\n",
                            LocalTime(last->started),
                            static_cast<double>(last->finished - last->started),
                            LocalTime(next)));
      PrintReport(ctx, *last, false);
    }
  }
  if (ctx.global.json) ctx.PrintJson(o.name.empty() ? out : out[0]);
  return 0;
}

Result<int> RunDaemonCommand(const JobCliOptions& o, Context& ctx) {
  struct sigaction sa {};
  sa.sa_handler = OnHangup;
  sigaction(SIGHUP, &sa, nullptr);
  jobs::DaemonOptions d;
  d.config_path = ConfigPath(o);
  d.run = MakeRunOptions(ctx, true);
  d.stop = &ctx.cancel;
  d.reload = &g_reload;
  d.max_runs = o.max_runs;
  if (ctx.global.json)
    d.on_report = [&ctx](const jobs::JobReport& r) {
      ctx.PrintJson(r.ToJson());
    };
  return jobs::RunDaemon(d);
}

}  // namespace

void RegisterJob(CLI::App& app, Context& ctx) {
  CLI::App* job = app.add_subcommand(
      "job", "Scheduled backup jobs from a configuration file (docs/JOBS.md)");
  job->require_subcommand(1);
  auto add_config = [](CLI::App* c, std::shared_ptr<JobCliOptions> o) {
    c->add_option("-c,--config", o->config,
                  "Configuration file (env EFS2S3_CONFIG, default "
                  "/etc/efs2s3/efs2s3.toml)");
  };

  auto run = std::make_shared<JobCliOptions>();
  CLI::App* r = job->add_subcommand(
      "run",
      "Run a job now: hooks, backup, forget, lock extend, prune and check when "
      "due, report");
  r->add_option("name", run->name, "Job name")->required();
  add_config(r, run);
  r->add_flag("-n,--dry-run", run->dry_run,
              "Print the steps and their commands; run nothing");
  r->add_flag("--force-maintenance", run->force_maintenance,
              "Run lock extend, prune and check even if they are not due");
  r->add_option("--only", run->only,
                "Run one part of the job: backup (hooks, mount, backup) or "
                "maintenance (forget, lock extend, prune, check)")
      ->check(CLI::IsMember({"backup", "maintenance"}));
  CLI::Option* shard = r->add_option(
      "--shard", run->shard,
      "Run only the backup, as worker I/N of a sharded run (README, "
      "\"Sharded backup\"; auto/N: I from the Indexed Job or array job)");
  r->add_option("--run-id", run->run_id,
                "The sharded run (default $EFS2S3_RUN_ID)")
      ->needs(shard);
  r->add_flag("--merge-if-last", run->merge_if_last,
              "The worker that finds every shard saved merges the run")
      ->needs(shard);
  r->add_option("--merge", run->merge,
                "Merge the sharded run ID (instead of a backup), then run the "
                "job's other steps")
      ->excludes(shard);
  r->callback([&ctx, run] {
    ctx.run = [&ctx, run] { return RunJobCommand(*run, ctx); };
  });

  auto list = std::make_shared<JobCliOptions>();
  CLI::App* l = job->add_subcommand("list", "List jobs, next and last runs");
  add_config(l, list);
  l->callback([&ctx, list] {
    ctx.run = [&ctx, list] { return ListJobs(*list, ctx); };
  });

  auto status = std::make_shared<JobCliOptions>();
  CLI::App* s =
      job->add_subcommand("status", "The last run's report of a job (or all)");
  s->add_option("name", status->name, "Job name");
  add_config(s, status);
  s->callback([&ctx, status] {
    ctx.run = [&ctx, status] { return JobStatus(*status, ctx); };
  });

  auto daemon = std::make_shared<JobCliOptions>();
  CLI::App* d = app.add_subcommand("daemon",
                                   "Run all jobs on their schedules (SIGTERM: "
                                   "stop cleanly, SIGHUP: reload)");
  add_config(d, daemon);
  d->add_option("--max-runs", daemon->max_runs,
                "Exit after this many job runs (0 = never)");
  d->callback([&ctx, daemon] {
    ctx.run = [&ctx, daemon] { return RunDaemonCommand(*daemon, ctx); };
  });
}

}  // namespace efs2s3::cli
