#include "jobs/runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <deque>

#include "base/exit_codes.h"
#include "base/file_util.h"
#include "jobs/sns.h"
#include "storage/s3/http.h"

extern char** environ;

namespace efs2s3::jobs {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kErrLines = 20;

}  // namespace

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

namespace {

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
  std::vector<std::string> Efs2s3(std::vector<std::string> args) const;
  std::vector<std::string> BackupArgs() const;
  std::vector<std::string> ForgetArgs() const;
  bool Due(const Maintenance& m, std::time_t last, std::string* why) const;
  int ExitCode() const;

  const Config& config_;
  const Job& job_;
  const RunOptions& opts_;
  StateDir state_dir_;
  JobReport report_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> paths_;
  std::time_t now_ = 0;
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
  std::vector<std::string> a = {"backup"};
  a.insert(a.end(), paths_.begin(), paths_.end());
  for (const auto& t : job_.tags) a.insert(a.end(), {"--tag", t});
  if (!job_.host.empty()) a.insert(a.end(), {"--host", job_.host});
  for (const auto& e : job_.excludes) a.insert(a.end(), {"--exclude", e});
  for (const auto& f : job_.exclude_files)
    a.insert(a.end(), {"--exclude-file", f});
  if (job_.one_file_system) a.push_back("--one-file-system");
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
  if (!job_.host.empty()) a.insert(a.end(), {"--host", job_.host});
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
  int code = 0;
  for (const StepReport& s : report_.steps) {
    int c = s.exit_code;
    // A failed hook, mount or unmount (whatever its own code) fails the job
    // with 1; the efs2s3 steps' codes keep their meaning (README).
    bool tool = s.name == "backup" || s.name == "forget" || s.name == "prune" ||
                s.name == "check";
    if (s.status == StepStatus::kFailed &&
        (!tool || c == kExitOk || c == kExitIncomplete))
      c = kExitError;
    if (s.status == StepStatus::kSkipped) c = 0;
    code = WorseExitCode(code, c);
  }
  return code;
}

Result<JobReport> JobRun::Run() {
  now_ = std::time(nullptr);
  report_.job = job_.name;
  report_.repository = job_.repository;
  report_.started = now_;
  report_.host = job_.host;
  if (report_.host.empty()) {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) == 0) report_.host = buf;
  }
  std::unique_ptr<JobLock> lock;
  if (!opts_.dry_run) {
    ASSIGN_OR_RETURN(lock,
                     JobLock::Acquire(state_dir_, job_.name, job_.repository));
  }
  JobState state = state_dir_.LoadState();

  // The children's environment: this process's, the job's env table, and the
  // password source of the configuration (which then wins over
  // EFS2S3_PASSWORD).
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

  bool ok = true;
  std::string why_not;
  for (size_t i = 0; i < job_.pre_hooks.size() && ok; ++i) {
    StepReport& s =
        Step(job_.pre_hooks.size() > 1 ? fmt::format("pre-hook-{}", i + 1)
                                       : "pre-hook",
             {"/bin/sh", "-c", job_.pre_hooks[i]}, job_.hook_timeout, false);
    if (!opts_.dry_run && (s.status == StepStatus::kFailed ||
                           s.status == StepStatus::kInterrupted)) {
      ok = false;
      why_not = s.status == StepStatus::kInterrupted ? "interrupted"
                                                     : "pre-hook failed";
    }
  }

  std::optional<EfsMountPlan> mount;
  paths_ = job_.paths;
  if (ok && job_.efs) {
    const EfsSource& e = *job_.efs;
    EfsMountRequest req;
    req.file_system_id = e.file_system_id;
    req.path = e.path;
    req.region = e.region;
    req.access_point = e.access_point;
    req.options = e.mount_options;
    req.mount_point = e.mount_point.empty()
                          ? config_.state_dir + "/mnt/" + e.file_system_id
                          : e.mount_point;
    auto plan = PlanEfsMount(req, opts_.env, opts_.resolver);
    if (!plan && opts_.dry_run) {
      Skip("mount", "cannot plan the mount here: " + plan.error().message);
      paths_ = {req.mount_point};
    } else if (!plan) {
      StepReport s;
      s.name = "mount";
      s.status = StepStatus::kFailed;
      s.exit_code = kExitError;
      s.started = std::time(nullptr);
      s.errors.push_back(plan.error().message);
      report_.Add(std::move(s));
      ok = false;
      why_not = "mount failed";
    } else {
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
      if (s.status == StepStatus::kOk || opts_.dry_run) {
        mount = *plan;
      } else {
        ok = false;
        why_not = "mount failed";
      }
      paths_ = {req.mount_point};
    }
  }

  if (ok && Cancelled()) {
    ok = false;
    why_not = "interrupted";
  }
  if (ok) {
    StepReport& s = Step("backup", BackupArgs(), std::chrono::seconds(0), true,
                         {"summary"});
    report_.snapshot_id = s.figures.value("snapshot_id", "");
    if (s.status == StepStatus::kWarning && s.figures.contains("errors")) {
      for (const auto& e : s.figures["errors"])
        s.errors.push_back(e.value("path", "") + ": " + e.value("error", ""));
      if (s.errors.size() > 100) s.errors.resize(100);
    }
    if (s.figures.contains("errors"))
      s.figures["errors"] = s.figures["errors"].size();
    if (!opts_.dry_run && s.status != StepStatus::kOk &&
        s.status != StepStatus::kWarning) {
      ok = false;
      why_not = s.status == StepStatus::kInterrupted ? "interrupted"
                                                     : "backup failed";
    }
  } else {
    Skip("backup", why_not);
  }

  auto maintenance_step = [&](const char* name, bool enabled,
                              std::vector<std::string> argv,
                              std::initializer_list<const char*> types,
                              std::time_t* last) {
    if (!enabled) return;
    if (!ok || Cancelled()) {
      Skip(name, ok ? "interrupted" : why_not);
      return;
    }
    if (last) {
      std::string why;
      const Maintenance& m =
          std::string(name) == "prune" ? job_.prune : job_.check;
      if (!Due(m, *last, &why)) {
        Skip(name, why);
        return;
      }
    }
    StepReport& s =
        Step(name, std::move(argv), std::chrono::seconds(0), true, types);
    if (s.status == StepStatus::kOk && last) *last = now_;
    if (s.status == StepStatus::kInterrupted ||
        (s.status == StepStatus::kFailed && std::string(name) == "forget")) {
      ok = false;
      why_not = s.status == StepStatus::kInterrupted
                    ? "interrupted"
                    : std::string(name) + " failed";
    }
  };
  maintenance_step("forget", !job_.retention.empty(), ForgetArgs(), {"forget"},
                   nullptr);
  if (job_.prune.enabled) {
    std::vector<std::string> a = {"prune"};
    if (!job_.prune.max_unused.empty())
      a.insert(a.end(), {"--max-unused", job_.prune.max_unused});
    maintenance_step("prune", true, Efs2s3(a), {"prune"}, &state.last_prune);
  }
  if (job_.check.enabled) {
    std::vector<std::string> a = {"check"};
    if (!job_.check.read_data_subset.empty())
      a.insert(a.end(), {"--read-data-subset", job_.check.read_data_subset});
    maintenance_step("check", true, Efs2s3(a), {"check"}, &state.last_check);
  }

  if (mount)
    Step("unmount", mount->unmount_command, std::chrono::seconds(120), false,
         {}, false);

  // Post hooks always run and learn how the job went.
  int code = ExitCode();
  env_["EFS2S3_JOB_EXIT_CODE"] = std::to_string(code);
  env_["EFS2S3_JOB_SNAPSHOT"] = report_.snapshot_id;
  for (size_t i = 0; i < job_.post_hooks.size(); ++i)
    Step(job_.post_hooks.size() > 1 ? fmt::format("post-hook-{}", i + 1)
                                    : "post-hook",
         {"/bin/sh", "-c", job_.post_hooks[i]}, job_.hook_timeout, false, {},
         false);

  code = ExitCode();
  if (Cancelled()) code = WorseExitCode(code, kExitInterrupted);
  report_.exit_code = code;
  report_.finished = std::time(nullptr);
  if (opts_.dry_run) return report_;

  state.last_run = now_;
  state.last_exit_code = code;
  auto saved_state = state_dir_.SaveState(state);
  if (!saved_state) Log(opts_, "warning: " + saved_state.error().message);

  if (!job_.report_file.empty() || !job_.report_webhook.empty()) {
    std::vector<std::string> errs =
        DeliverReport(report_.ToJson(), job_.report_file, job_.report_webhook);
    for (const auto& e : errs) Log(opts_, "warning: report: " + e);
  }
  if (!job_.report_sns_topic.empty() &&
      (!job_.report_sns_problems_only || report_.Status() != "ok")) {
    // The job's [env] (AWS_PROFILE, endpoints) applies here as to its steps.
    storage::s3::Getenv env =
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
  RETURN_IF_ERROR(state_dir_.SaveReport(report_));
  return report_;
}

}  // namespace

Result<ChildResult> RunChild(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env,
    const std::atomic<bool>* cancel, std::chrono::seconds timeout,
    const std::function<void(const std::string&)>& log) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return PosixError("pipe", errno);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return PosixError("pipe", errno);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t def, mask;
  sigemptyset(&def);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD})
    sigaddset(&def, sig);
  sigemptyset(&mask);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return PosixError(argv[0], rc);
  }

  ChildResult res;
  std::deque<std::string> err_lines;
  std::string err_partial;
  auto take_err = [&](std::string_view data, bool flush) {
    err_partial.append(data);
    size_t nl;
    while ((nl = err_partial.find('\n')) != std::string::npos ||
           (flush && !err_partial.empty())) {
      std::string line = err_partial.substr(0, nl);
      err_partial.erase(0,
                        nl == std::string::npos ? std::string::npos : nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      size_t cr = line.rfind('\r');
      if (cr != std::string::npos) line = line.substr(cr + 1);
      if (line.empty()) continue;
      if (log) log(line);
      err_lines.push_back(line);
      if (err_lines.size() > kErrLines) err_lines.pop_front();
    }
  };
  Clock::time_point start = Clock::now(), term_at{};
  bool term_sent = false, killed = false, exited = false;
  int status = 0;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (!exited || open_fds > 0) {
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    bool cancel_now = cancel && cancel->load();
    bool timeout_now = timeout.count() > 0 && Clock::now() - start > timeout;
    if (!exited && !term_sent && (cancel_now || timeout_now)) {
      ::kill(-pid, SIGTERM);
      term_sent = true;
      term_at = Clock::now();
      res.interrupted = cancel_now;
      res.timed_out = !cancel_now;
    }
    if (!exited && term_sent && !killed &&
        Clock::now() - term_at > std::chrono::seconds(30)) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
    if (open_fds == 0) {
      // Only the exit is missing.
      ::usleep(50000);
      continue;
    }
    int n = ::poll(fds, 2, exited ? 100 : 200);
    if (n < 0 && errno != EINTR) break;
    if (n == 0 && exited) break;  // pipes held open by a grandchild
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      std::string_view data(buf, static_cast<size_t>(got));
      if (i == 0) {
        res.out.append(data);
      } else {
        take_err(data, false);
      }
    }
  }
  for (pollfd& p : fds)
    if (p.fd >= 0) ::close(p.fd);
  take_err("", true);
  if (!exited) ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) {
    res.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    res.exit_code = 128 + WTERMSIG(status);
  }
  res.err_lines.assign(err_lines.begin(), err_lines.end());
  return res;
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
    storage::s3::HttpOptions o;
    o.max_in_flight = 1;
    o.total_timeout = std::chrono::milliseconds(30000);
    storage::s3::HttpClient http(o);
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
