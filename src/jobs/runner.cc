#include "jobs/runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "aws/http.h"
#include "base/exit_codes.h"
#include "base/file_util.h"
#include "jobs/identity.h"
#include "jobs/metrics.h"
#include "jobs/sns.h"

namespace efs2s3::jobs {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void Log(const RunOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

// The last JSON document on stdout with one of the wanted message types.
nlohmann::json Figures(const std::string& out,
                       std::initializer_list<const char*> types) {
  nlohmann::json found = nlohmann::json::object();
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    std::string line = out.substr(pos, nl == std::string::npos ? nl : nl - pos);
    pos = nl == std::string::npos ? out.size() : nl + 1;
    if (line.empty() || line.front() != '{') continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    std::string type = j.value("message_type", "");
    for (const char* t : types)
      if (type == t) found = std::move(j);
  }
  // Per-file errors are summarised in the step's errors instead.
  if (found.contains("message_type")) found.erase("message_type");
  return found;
}

// Interprets a child's exit code for a step.
StepStatus StatusFor(const ChildResult& r) {
  if (r.interrupted || r.exit_code == kExitInterrupted)
    return StepStatus::kInterrupted;
  if (r.exit_code == kExitOk) return StepStatus::kOk;
  if (r.exit_code == kExitIncomplete) return StepStatus::kWarning;
  return StepStatus::kFailed;
}

// One run of a job: the steps in their order (Run), each a method.
class JobRun {
 public:
  JobRun(const Config& c, const Job& j, const RunOptions& o)
      : config_(c), job_(j), opts_(o), state_dir_(c.state_dir, j.name) {}

  Result<JobReport> Run();

 private:
  bool Cancelled() const { return opts_.cancel && opts_.cancel->load(); }
  // Runs one step's command and records it. Returns the step.
  // Clean-up steps (unmount, post hooks) are not cancellable: they run to
  // the end (or their timeout) after an interruption.
  StepReport& Step(const std::string& name, std::vector<std::string> argv,
                   std::chrono::seconds timeout, bool efs2s3_child,
                   std::initializer_list<const char*> figure_types = {},
                   bool cancellable = true);
  void Skip(const std::string& name, const std::string& reason) {
    StepReport s;
    s.name = name;
    s.status = StepStatus::kSkipped;
    s.reason = reason;
    report_.Add(std::move(s));
  }
  // The repository steps that follow are skipped, with this reason.
  void Stop(const std::string& why) {
    ok_ = false;
    why_not_ = why;
  }
  std::vector<std::string> Efs2s3(std::vector<std::string> args) const;
  std::vector<std::string> BackupArgs() const;
  std::vector<std::string> ForgetArgs() const;
  std::vector<std::string> DrillArgs() const;
  bool Due(const Maintenance& m, std::time_t last, std::string* why) const;
  int ExitCode() const;

  // The steps, in order.
  void Begin();
  void PrepareEnvironment();
  void PreHooks();
  std::optional<EfsMountPlan> Mount();
  void Backup();
  // forget, lock extend, prune or check; `due` (all but forget) with the
  // time of its last successful run, updated.
  void Maintain(const char* name, std::vector<std::string> argv,
                std::initializer_list<const char*> types,
                const Maintenance* due, std::time_t* last);
  void MaintenanceSteps(JobState& state);
  void PostHooks();
  Result<JobReport> Finish(JobState& state);
  void Deliver();
  void WriteHtmlReport();

  const Config& config_;
  const Job& job_;
  const RunOptions& opts_;
  StateDir state_dir_;
  JobReport report_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> paths_;
  std::string host_;  // the snapshots' host (SnapshotHost); "" = hostname
  std::time_t now_ = 0;
  bool ok_ = true;              // false: skip the repository steps
  std::string why_not_;         // and why
  bool forget_failed_ = false;  // skip prune and check
};

std::vector<std::string> JobRun::Efs2s3(std::vector<std::string> args) const {
  std::vector<std::string> argv = {opts_.exe, "--json", "-r", job_.repository};
  for (const auto& [k, v] : job_.s3_options) {
    argv.push_back(k);
    if (!v.empty()) argv.push_back(v);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::vector<std::string> JobRun::BackupArgs() const {
  if (!opts_.merge_run.empty())
    return Efs2s3({"backup", "--merge", opts_.merge_run});
  std::vector<std::string> a = {"backup"};
  a.insert(a.end(), opts_.shard_args.begin(), opts_.shard_args.end());
  a.insert(a.end(), paths_.begin(), paths_.end());
  for (const auto& t : job_.tags) a.insert(a.end(), {"--tag", t});
  if (!host_.empty()) a.insert(a.end(), {"--host", host_});
  for (const auto& e : job_.excludes) a.insert(a.end(), {"--exclude", e});
  for (const auto& f : job_.exclude_files)
    a.insert(a.end(), {"--exclude-file", f});
  if (job_.one_file_system) a.push_back("--one-file-system");
  if (!job_.compression.empty())
    a.insert(a.end(), {"--compression", job_.compression});
  if (job_.workers)
    a.insert(a.end(), {"--workers", std::to_string(job_.workers)});
  return Efs2s3(a);
}

std::vector<std::string> JobRun::ForgetArgs() const {
  const Retention& r = job_.retention;
  std::vector<std::string> a = {"forget"};
  auto keep = [&](const char* flag, int n) {
    if (n) a.insert(a.end(), {flag, std::to_string(n)});
  };
  keep("--keep-last", r.keep_last);
  keep("--keep-hourly", r.keep_hourly);
  keep("--keep-daily", r.keep_daily);
  keep("--keep-weekly", r.keep_weekly);
  keep("--keep-monthly", r.keep_monthly);
  keep("--keep-yearly", r.keep_yearly);
  if (!r.keep_within.empty())
    a.insert(a.end(), {"--keep-within", r.keep_within});
  for (const auto& t : r.keep_tags) a.insert(a.end(), {"--keep-tag", t});
  if (!r.group_by.empty()) a.insert(a.end(), {"--group-by", r.group_by});
  if (!host_.empty()) a.insert(a.end(), {"--host", host_});
  return Efs2s3(a);
}

// The drill restores below its target (default <state_dir>/drill) from the
// latest snapshot of the job's host and paths.
std::vector<std::string> JobRun::DrillArgs() const {
  const Maintenance& d = job_.drill;
  std::vector<std::string> a = {
      "drill", "--target",
      d.target.empty() ? config_.state_dir + "/drill" : d.target};
  if (!d.sample.empty()) a.insert(a.end(), {"--sample", d.sample});
  if (d.max_duration.count())
    a.insert(a.end(), {"--max-duration", FormatInterval(d.max_duration)});
  if (d.allow_cold) a.push_back("--allow-cold");
  if (!job_.host.empty()) a.insert(a.end(), {"--host", job_.host});
  for (const auto& p : paths_) a.insert(a.end(), {"--path", p});
  return Efs2s3(a);
}

bool JobRun::Due(const Maintenance& m, std::time_t last,
                 std::string* why) const {
  if (opts_.force_maintenance) return true;
  if (!m.weekdays.empty()) {
    int wday = LocalWeekday(now_, job_.timezone);
    if (std::find(m.weekdays.begin(), m.weekdays.end(), wday) ==
        m.weekdays.end()) {
      *why = "not on this weekday";
      return false;
    }
  }
  if (last == 0 || m.every.count() == 0) return true;
  std::time_t next = last + m.every.count();
  if (now_ >= next) return true;
  *why = fmt::format("not due until {} (every {}, last {})", FormatUtc(next),
                     FormatInterval(m.every), FormatUtc(last));
  return false;
}

StepReport& JobRun::Step(const std::string& name, std::vector<std::string> argv,
                         std::chrono::seconds timeout, bool efs2s3_child,
                         std::initializer_list<const char*> figure_types,
                         bool cancellable) {
  StepReport s;
  s.name = name;
  s.command = ShellJoin(argv);
  if (efs2s3_child)
    s.command = "efs2s3 " + ShellJoin({argv.begin() + 1, argv.end()});
  s.started = std::time(nullptr);
  if (opts_.dry_run) {
    s.status = StepStatus::kSkipped;
    s.reason = "dry run";
    return report_.Add(std::move(s));
  }
  Log(opts_, fmt::format("job {}: {}: {}", job_.name, name, s.command));
  Clock::time_point t0 = Clock::now();
  auto r = RunChild(argv, env_, cancellable ? opts_.cancel : nullptr, timeout,
                    opts_.log);
  s.duration_seconds = Seconds(t0);
  if (!r) {
    s.status = StepStatus::kFailed;
    s.exit_code = kExitError;
    s.errors.push_back(r.error().message);
    return report_.Add(std::move(s));
  }
  s.exit_code = r->exit_code;
  s.status = StatusFor(*r);
  if (r->interrupted) s.exit_code = kExitInterrupted;
  if (figure_types.size()) s.figures = Figures(r->out, figure_types);
  if (s.status != StepStatus::kOk) {
    s.errors = r->err_lines;
    if (r->timed_out)
      s.errors.push_back(
          fmt::format("timed out after {}", FormatInterval(timeout)));
    if (s.errors.empty())
      s.errors.push_back(fmt::format("exited with code {}", r->exit_code));
  }
  if (!efs2s3_child && s.status == StepStatus::kWarning)
    s.status = StepStatus::kFailed;  // exit 3 means nothing special to a hook
  Log(opts_,
      fmt::format("job {}: {}: {} (exit {}, {:.1f} s)", job_.name, name,
                  StepStatusName(s.status), s.exit_code, s.duration_seconds));
  return report_.Add(std::move(s));
}

int JobRun::ExitCode() const {
  int code = kExitOk;
  for (const StepReport& s : report_.steps) {
    int c = s.exit_code;
    // A failed hook, mount or unmount (whatever its own code) fails the job
    // with 1; the efs2s3 steps' codes keep their meaning (README).
    bool tool = s.name == "backup" || s.name == "unlock" ||
                s.name == "forget" || s.name == "lock-extend" ||
                s.name == "prune" || s.name == "check" || s.name == "drill";
    if (s.status == StepStatus::kFailed &&
        (!tool || c == kExitOk || c == kExitIncomplete))
      c = kExitError;
    if (s.status == StepStatus::kSkipped) c = kExitOk;
    code = WorseExitCode(code, c);
  }
  return code;
}

void JobRun::Begin() {
  now_ = std::time(nullptr);
  report_.job = job_.name;
  report_.repository = job_.repository;
  report_.started = now_;
  host_ = SnapshotHost(job_);
  report_.host = host_;
  if (report_.host.empty()) {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) == 0) report_.host = buf;
  }
}

// The children's environment: this process's, the job's env table, and the
// password source of the configuration (which then wins over
// EFS2S3_PASSWORD).
void JobRun::PrepareEnvironment() {
  env_ = ProcessEnvironment();
  for (const auto& [k, v] : job_.env) env_[k] = v;
  if (!job_.password_file.empty() || !job_.password_command.empty()) {
    env_.erase("EFS2S3_PASSWORD");
    env_.erase("EFS2S3_PASSWORD_FILE");
    env_.erase("EFS2S3_PASSWORD_COMMAND");
    if (!job_.password_file.empty())
      env_["EFS2S3_PASSWORD_FILE"] = job_.password_file;
    if (!job_.password_command.empty())
      env_["EFS2S3_PASSWORD_COMMAND"] = job_.password_command;
  }
  env_["EFS2S3_JOB"] = job_.name;
  env_["EFS2S3_REPOSITORY"] = job_.repository;
}

void JobRun::PreHooks() {
  for (size_t i = 0; i < job_.pre_hooks.size() && ok_; ++i) {
    StepReport& s =
        Step(job_.pre_hooks.size() > 1 ? fmt::format("pre-hook-{}", i + 1)
                                       : "pre-hook",
             {"/bin/sh", "-c", job_.pre_hooks[i]}, job_.hook_timeout, false);
    if (!opts_.dry_run && (s.status == StepStatus::kFailed ||
                           s.status == StepStatus::kInterrupted))
      Stop(s.status == StepStatus::kInterrupted ? "interrupted"
                                                : "pre-hook failed");
  }
}

// Mounts an EFS source (the backup then reads the mount point). Returns the
// mount to undo.
std::optional<EfsMountPlan> JobRun::Mount() {
  paths_ = job_.paths;
  if (!ok_ || !job_.efs) return std::nullopt;
  const EfsSource& e = *job_.efs;
  EfsMountRequest req;
  req.file_system_id = e.file_system_id;
  req.path = e.path;
  req.region = e.region;
  req.access_point = e.access_point;
  req.options = e.mount_options;
  paths_ = BackupPaths(job_);
  req.mount_point = paths_.front();
  auto plan = PlanEfsMount(req, opts_.env, opts_.resolver);
  if (!plan && opts_.dry_run) {
    Skip("mount", "cannot plan the mount here: " + plan.error().message);
    return std::nullopt;
  }
  if (!plan) {
    StepReport s;
    s.name = "mount";
    s.status = StepStatus::kFailed;
    s.exit_code = kExitError;
    s.started = std::time(nullptr);
    s.errors.push_back(plan.error().message);
    report_.Add(std::move(s));
    paths_ = job_.paths;
    Stop("mount failed");
    return std::nullopt;
  }
  if (!opts_.dry_run) {
    auto made = MakeDirs(req.mount_point, 0755);
    (void)made;
  }
  StepReport& s =
      Step("mount", plan->mount_command, std::chrono::seconds(120), false);
  s.figures = {{"host", plan->host},
               {"resolved_by", plan->resolved_by},
               {"region", plan->region}};
  if (!plan->availability_zone.empty())
    s.figures["availability_zone"] = plan->availability_zone;
  if (s.status == StepStatus::kOk || opts_.dry_run) return *plan;
  Stop("mount failed");
  return std::nullopt;
}

void JobRun::Backup() {
  if (opts_.only == JobPart::kMaintenance) {
    Skip("backup", "not in this run (--only maintenance)");
    return;
  }
  if (ok_ && Cancelled()) Stop("interrupted");
  if (!ok_) {
    Skip("backup", why_not_);
    return;
  }
  for (const std::string& w : ExcludeWarnings(job_, paths_))
    Log(opts_, "warning: " + w);
  StepReport& s =
      Step("backup", BackupArgs(), std::chrono::seconds(0), true, {"summary"});
  report_.snapshot_id = s.figures.value("snapshot_id", "");
  if (s.status == StepStatus::kWarning && s.figures.contains("errors")) {
    for (const auto& e : s.figures["errors"])
      s.errors.push_back(e.value("path", "") + ": " + e.value("error", ""));
    if (s.errors.size() > 100) s.errors.resize(100);
  }
  if (s.figures.contains("errors"))
    s.figures["errors"] = s.figures["errors"].size();
  if (!opts_.dry_run && s.status != StepStatus::kOk &&
      s.status != StepStatus::kWarning)
    Stop(s.status == StepStatus::kInterrupted ? "interrupted"
                                              : "backup failed");
}

void JobRun::Maintain(const char* name, std::vector<std::string> argv,
                      std::initializer_list<const char*> types,
                      const Maintenance* due, std::time_t* last) {
  const std::string_view step = name;
  if (opts_.only == JobPart::kBackup) {
    Skip(name, "not in this run (--only backup)");
    return;
  }
  if (!ok_ || Cancelled()) {
    Skip(name, ok_ ? "interrupted" : why_not_);
    return;
  }
  // The snapshots a failed forget kept still need their retention extended.
  if (forget_failed_ && step != "lock-extend") {
    Skip(name, "forget failed");
    return;
  }
  if (due) {
    std::string why;
    if (!Due(*due, *last, &why)) {
      Skip(name, why);
      return;
    }
  }
  StepReport& s =
      Step(name, std::move(argv), std::chrono::seconds(0), true, types);
  if (s.status == StepStatus::kOk && last) *last = now_;
  if (s.status == StepStatus::kInterrupted)
    Stop("interrupted");
  else if (s.status == StepStatus::kFailed && step == "forget")
    forget_failed_ = true;
}

// forget (when the job has a retention), then lock extend, prune and check
// (when due). A maintenance-only run first removes stale locks: those of
// backups whose credentials could not delete them.
void JobRun::MaintenanceSteps(JobState& state) {
  if (opts_.only == JobPart::kMaintenance)
    Maintain("unlock", Efs2s3({"unlock"}), {}, nullptr, nullptr);
  if (!job_.retention.empty())
    Maintain("forget", ForgetArgs(), {"forget"}, nullptr, nullptr);
  if (job_.lock_extend.enabled)
    Maintain("lock-extend", Efs2s3({"lock", "extend"}), {"lock_extend"},
             &job_.lock_extend, &state.last_lock_extend);
  if (job_.prune.enabled) {
    std::vector<std::string> a = {"prune"};
    if (!job_.prune.max_unused.empty())
      a.insert(a.end(), {"--max-unused", job_.prune.max_unused});
    Maintain("prune", Efs2s3(a), {"prune"}, &job_.prune, &state.last_prune);
  }
  if (job_.check.enabled) {
    std::vector<std::string> a = {"check"};
    if (!job_.check.read_data_subset.empty())
      a.insert(a.end(), {"--read-data-subset", job_.check.read_data_subset});
    Maintain("check", Efs2s3(a), {"check"}, &job_.check, &state.last_check);
  }
  if (job_.drill.enabled)
    Maintain("drill", DrillArgs(), {"drill"}, &job_.drill, &state.last_drill);
}

// Post hooks always run and learn how the job went.
void JobRun::PostHooks() {
  env_["EFS2S3_JOB_EXIT_CODE"] = std::to_string(ExitCode());
  env_["EFS2S3_JOB_SNAPSHOT"] = report_.snapshot_id;
  for (size_t i = 0; i < job_.post_hooks.size(); ++i)
    Step(job_.post_hooks.size() > 1 ? fmt::format("post-hook-{}", i + 1)
                                    : "post-hook",
         {"/bin/sh", "-c", job_.post_hooks[i]}, job_.hook_timeout, false, {},
         false);
}

// The exit code, the state (last run) and the report, saved and delivered.
Result<JobReport> JobRun::Finish(JobState& state) {
  int code = ExitCode();
  if (Cancelled()) code = WorseExitCode(code, kExitInterrupted);
  report_.exit_code = code;
  report_.finished = std::time(nullptr);
  if (opts_.dry_run) return report_;

  state.last_run = now_;
  state.last_exit_code = code;
  for (const StepReport& s : report_.steps)
    if (s.name == "backup" &&
        (s.status == StepStatus::kOk || s.status == StepStatus::kWarning))
      state.last_backup = s.started;
  report_.last_backup = state.last_backup;
  auto saved_state = state_dir_.SaveState(state);
  if (!saved_state) Log(opts_, "warning: " + saved_state.error().message);
  Deliver();
  RETURN_IF_ERROR(state_dir_.SaveReport(report_));
  WriteHtmlReport();
  return report_;
}

// report.html: `efs2s3 report --html` with the job's policy and runs, this
// one included (its report is saved). A failure is logged, as a delivery's.
void JobRun::WriteHtmlReport() {
  if (job_.report_html.empty()) return;
  std::vector<std::string> argv =
      Efs2s3({"report", "--html", job_.report_html, "--job", job_.name,
              "--config", config_.path, "--state-dir", config_.state_dir});
  auto r = RunChild(argv, env_, nullptr, std::chrono::seconds(600), opts_.log);
  if (!r || r->exit_code != 0)
    Log(opts_,
        "warning: report: " + job_.report_html + ": " +
            (r ? (r->err_lines.empty() ? fmt::format("exit {}", r->exit_code)
                                       : r->err_lines.back())
               : r.error().message));
}

// Delivery errors are logged; they do not change the job's outcome.
void JobRun::Deliver() {
  if (!job_.metrics_file.empty()) {
    if (auto text = PrometheusText(report_)) {
      // Readable by node_exporter, which runs as a user of its own.
      auto written =
          WriteFileAtomic(job_.metrics_file, AsBytes(*text), false, true, 0644);
      if (!written)
        Log(opts_, "warning: metrics_file: " + written.error().message);
    }
  }
  if (!job_.report_file.empty() || !job_.report_webhook.empty()) {
    std::vector<std::string> errs =
        DeliverReport(report_.ToJson(), job_.report_file, job_.report_webhook);
    for (const auto& e : errs) Log(opts_, "warning: report: " + e);
  }
  if (!job_.report_sns_topic.empty() &&
      (!job_.report_sns_problems_only || report_.Status() != "ok")) {
    // The job's [env] (AWS_PROFILE, endpoints) applies here as to its steps.
    aws::Getenv env =
        [this](const std::string& name) -> std::optional<std::string> {
      auto it = job_.env.find(name);
      if (it != job_.env.end()) return it->second;
      return opts_.env(name);
    };
    auto id = SnsPublish(
        SnsReportMessage(report_.ToJson(), job_.report_sns_topic), env);
    if (!id) {
      Log(opts_, "warning: report: sns: " + id.error().message);
    } else {
      Log(opts_, "job " + job_.name + ": report published to " +
                     job_.report_sns_topic + " (message " + *id + ")");
    }
  }
}

Result<JobReport> JobRun::Run() {
  Begin();
  std::unique_ptr<JobLock> lock;
  if (!opts_.dry_run && opts_.shard_args.empty()) {
    ASSIGN_OR_RETURN(lock,
                     JobLock::Acquire(state_dir_, job_.name, job_.repository));
  }
  JobState state = state_dir_.LoadState();
  PrepareEnvironment();
  // Hooks and the mount are the backup's: a maintenance run has neither, nor
  // has a merge (it reads the repository only).
  const bool backup_part =
      opts_.only != JobPart::kMaintenance && opts_.merge_run.empty();
  if (backup_part) PreHooks();
  std::optional<EfsMountPlan> mount;
  if (backup_part) mount = Mount();
  Backup();
  MaintenanceSteps(state);
  if (mount)
    Step("unmount", mount->unmount_command, std::chrono::seconds(120), false,
         {}, false);
  if (backup_part) PostHooks();
  return Finish(state);
}

}  // namespace

const char* JobPartName(JobPart part) {
  switch (part) {
    case JobPart::kBackup:
      return "backup";
    case JobPart::kMaintenance:
      return "maintenance";
    case JobPart::kAll:
      break;
  }
  return "all";
}

Result<JobPart> ParseJobPart(const std::string& name) {
  for (JobPart p : {JobPart::kAll, JobPart::kBackup, JobPart::kMaintenance})
    if (name == JobPartName(p)) return p;
  return MakeError(ErrorCode::kInvalidArgument,
                   "'" + name + "': a job's part is backup or maintenance");
}

std::vector<std::string> DeliverReport(const nlohmann::json& report,
                                       const std::string& file,
                                       const std::string& webhook) {
  std::vector<std::string> errors;
  std::string line = report.dump() + "\n";
  if (!file.empty()) {
    int fd =
        ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      errors.push_back(PosixError(file, errno).message);
    } else {
      ssize_t w = ::write(fd, line.data(), line.size());
      if (w != static_cast<ssize_t>(line.size()))
        errors.push_back(PosixError(file, errno).message);
      ::close(fd);
    }
  }
  if (!webhook.empty()) {
    aws::HttpOptions o;
    o.max_in_flight = 1;
    o.total_timeout = std::chrono::milliseconds(30000);
    aws::HttpClient http(o);
    std::string body = report.dump();
    auto r = http.Do({"POST",
                      webhook,
                      {{"Content-Type", "application/json"}},
                      AsBytes(body),
                      "webhook"});
    if (!r) {
      errors.push_back("webhook: " + r.error().message);
    } else if (r->status < 200 || r->status >= 300) {
      errors.push_back(fmt::format("webhook: HTTP {}", r->status));
    }
  }
  return errors;
}

Result<JobReport> RunJob(const Config& config, const Job& job,
                         const RunOptions& opts) {
  JobRun run(config, job, opts);
  return run.Run();
}

}  // namespace efs2s3::jobs
