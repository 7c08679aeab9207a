#include "jobs/report.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "aws/sigv4.h"
#include "base/exit_codes.h"
#include "base/file_util.h"
#include "jobs/cron.h"

namespace efs2s3::jobs {

namespace {

int Severity(int code) {
  if (code == kExitOk) return 0;
  if (code == kExitIncomplete) return 1;
  if (code == kExitInterrupted) return 3;
  return 2;
}

std::string TimeOrEmpty(std::time_t t) { return t ? FormatUtc(t) : ""; }

std::time_t TimeField(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j.at(key).is_string()) return 0;
  std::time_t t = ParseUtc(j.at(key).get<std::string>());
  return t < 0 ? 0 : t;
}

Result<nlohmann::json> ReadJson(const std::string& path) {
  ASSIGN_OR_RETURN(Bytes data, ReadFile(path));
  nlohmann::json j = nlohmann::json::parse(data.begin(), data.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded())
    return MakeError(ErrorCode::kCorruption, path + ": not valid JSON");
  return j;
}

Result<void> WriteJson(const std::string& path, const nlohmann::json& j) {
  std::string text = j.dump(2) + "\n";
  return WriteFileAtomic(path, AsBytes(text), false, true);
}

}  // namespace

const char* StepStatusName(StepStatus s) {
  switch (s) {
    case StepStatus::kOk:
      return "ok";
    case StepStatus::kWarning:
      return "warning";
    case StepStatus::kFailed:
      return "failed";
    case StepStatus::kSkipped:
      return "skipped";
    case StepStatus::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

int WorseExitCode(int a, int b) { return Severity(b) > Severity(a) ? b : a; }

std::string JobReport::Status() const {
  switch (Severity(exit_code)) {
    case 0:
      return "ok";
    case 1:
      return "warning";
    case 3:
      return "interrupted";
    default:
      return "failed";
  }
}

nlohmann::json JobReport::ToJson() const {
  nlohmann::json steps_json = nlohmann::json::array();
  for (const StepReport& s : steps) {
    nlohmann::json j = {{"name", s.name},
                        {"status", StepStatusName(s.status)},
                        {"exit_code", s.exit_code},
                        {"started", TimeOrEmpty(s.started)},
                        {"duration_seconds", s.duration_seconds},
                        {"figures", s.figures},
                        {"errors", s.errors}};
    if (!s.command.empty()) j["command"] = s.command;
    if (!s.reason.empty()) j["reason"] = s.reason;
    steps_json.push_back(std::move(j));
  }
  return {{"message_type", "job_report"},
          {"job", job},
          {"repository", repository},
          {"host", host},
          {"status", Status()},
          {"exit_code", exit_code},
          {"snapshot_id", snapshot_id},
          {"last_backup", TimeOrEmpty(last_backup)},
          {"started", TimeOrEmpty(started)},
          {"finished", TimeOrEmpty(finished)},
          {"duration_seconds", static_cast<double>(finished - started)},
          {"steps", steps_json}};
}

Result<JobReport> JobReport::FromJson(const nlohmann::json& j) {
  auto bad = [] {
    return MakeError(ErrorCode::kCorruption, "not a job report");
  };
  // at(), not operator[]: a missing key of a const object is undefined
  // behaviour there.
  if (!j.is_object() || !j.contains("job") || !j.contains("exit_code") ||
      !j.contains("steps") || !j.at("steps").is_array())
    return bad();
  // A field of another type (a damaged or foreign file) makes value() throw:
  // that is no report either.
  try {
    JobReport r;
    r.job = j.value("job", "");
    r.repository = j.value("repository", "");
    r.host = j.value("host", "");
    r.exit_code = j.value("exit_code", 1);
    r.snapshot_id = j.value("snapshot_id", "");
    r.started = TimeField(j, "started");
    r.finished = TimeField(j, "finished");
    r.last_backup = TimeField(j, "last_backup");
    for (const nlohmann::json& s : j.at("steps")) {
      if (!s.is_object()) return bad();
      StepReport st;
      st.name = s.value("name", "");
      std::string status = s.value("status", "failed");
      for (StepStatus v :
           {StepStatus::kOk, StepStatus::kWarning, StepStatus::kFailed,
            StepStatus::kSkipped, StepStatus::kInterrupted})
        if (status == StepStatusName(v)) st.status = v;
      st.exit_code = s.value("exit_code", 0);
      st.command = s.value("command", "");
      st.started = TimeField(s, "started");
      st.duration_seconds = s.value("duration_seconds", 0.0);
      if (s.contains("figures")) st.figures = s.at("figures");
      if (s.contains("errors") && s.at("errors").is_array())
        for (const auto& e : s.at("errors"))
          if (e.is_string()) st.errors.push_back(e.get<std::string>());
      st.reason = s.value("reason", "");
      r.steps.push_back(std::move(st));
    }
    return r;
  } catch (const nlohmann::json::exception&) {
    return bad();
  }
}

nlohmann::json JobState::ToJson() const {
  return {{"last_run", TimeOrEmpty(last_run)},
          {"last_prune", TimeOrEmpty(last_prune)},
          {"last_check", TimeOrEmpty(last_check)},
          {"last_lock_extend", TimeOrEmpty(last_lock_extend)},
          {"last_backup", TimeOrEmpty(last_backup)},
          {"last_exit_code", last_exit_code}};
}

JobState JobState::FromJson(const nlohmann::json& j) {
  JobState s;
  if (!j.is_object()) return s;
  s.last_run = TimeField(j, "last_run");
  s.last_prune = TimeField(j, "last_prune");
  s.last_check = TimeField(j, "last_check");
  s.last_lock_extend = TimeField(j, "last_lock_extend");
  s.last_backup = TimeField(j, "last_backup");
  // A damaged state file is an empty state, not an exception out of the
  // daemon (value() throws on a field of another type).
  if (auto it = j.find("last_exit_code");
      it != j.end() && it->is_number_integer())
    s.last_exit_code = it->get<int>();
  return s;
}

Result<JobReport> StateDir::LastReport() const {
  ASSIGN_OR_RETURN(nlohmann::json j, ReadJson(JobDir() + "/last.json"));
  return JobReport::FromJson(j);
}

Result<void> StateDir::SaveReport(const JobReport& r) const {
  RETURN_IF_ERROR(MakeDirs(JobDir() + "/runs", 0755));
  nlohmann::json j = r.ToJson();
  std::string stamp = FormatUtc(r.started);
  for (char& c : stamp)
    if (c == ':') c = '-';
  RETURN_IF_ERROR(WriteJson(JobDir() + "/runs/" + stamp + ".json", j));
  return WriteJson(JobDir() + "/last.json", j);
}

JobState StateDir::LoadState() const {
  auto j = ReadJson(JobDir() + "/state.json");
  if (!j) return {};
  return JobState::FromJson(*j);
}

Result<void> StateDir::SaveState(const JobState& s) const {
  RETURN_IF_ERROR(MakeDirs(JobDir(), 0755));
  return WriteJson(JobDir() + "/state.json", s.ToJson());
}

JobLock::~JobLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<JobLock>> JobLock::Acquire(
    const StateDir& dir, const std::string& job,
    const std::string& repository) {
  RETURN_IF_ERROR(MakeDirs(dir.JobDir(), 0755));
  std::string hash = aws::Sha256Hex(AsBytes(repository)).substr(0, 16);
  std::string path = dir.JobDir() + "/" + hash + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError(path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
        pid.pop_back();
      return MakeError(
          ErrorCode::kLocked,
          fmt::format("job {} is already running on {}{}", job, repository,
                      pid.empty() ? "" : " (pid " + pid + ")"));
    }
    return PosixError(path, err);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    ssize_t w = ::pwrite(fd, pid.data(), pid.size(), 0);
    (void)w;
  }
  return std::unique_ptr<JobLock>(new JobLock(fd));
}

}  // namespace efs2s3::jobs
