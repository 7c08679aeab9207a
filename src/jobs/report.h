// Job run reports, per-job state and the per-job lock.
//
// Layout under the state directory (state_dir in the configuration):
//   <state_dir>/jobs/<job>/last.json          the report of the last run
//   <state_dir>/jobs/<job>/runs/<time>.json   every run's report (UTC time)
//   <state_dir>/jobs/<job>/state.json         last run / prune / check / lock
//                                             extend times
//   <state_dir>/jobs/<job>/<repo-hash>.lock   held (flock) while the job runs
#pragma once

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"

namespace efs2s3::jobs {

enum class StepStatus { kOk, kWarning, kFailed, kSkipped, kInterrupted };
const char* StepStatusName(StepStatus s);

struct StepReport {
  std::string name;  // "pre-hook", "mount", "backup", "forget", "prune", ...
  StepStatus status = StepStatus::kOk;
  int exit_code = 0;
  std::string command;  // what ran, without secrets
  std::time_t started = 0;
  double duration_seconds = 0;
  nlohmann::json figures = nlohmann::json::object();  // the child's summary
  std::vector<std::string> errors;
  std::string reason;  // why skipped
};

struct JobReport {
  std::string job;
  std::string repository;
  std::string host;
  std::time_t started = 0, finished = 0;
  std::vector<StepReport> steps;
  int exit_code = 0;
  std::string snapshot_id;
  // When the last backup of the job that saved a snapshot started (this run's
  // or an earlier one's, from the state directory); 0 when none is known.
  std::time_t last_backup = 0;

  StepReport& Add(StepReport s) {
    steps.push_back(std::move(s));
    return steps.back();
  }
  // The overall status: "ok", "warning", "failed" or "interrupted".
  std::string Status() const;
  nlohmann::json ToJson() const;
  static Result<JobReport> FromJson(const nlohmann::json& j);
};

// Exit codes ranked by severity: 0 < 3 (incomplete) < errors < 130. Returns the
// worse of a and b.
int WorseExitCode(int a, int b);

struct JobState {
  std::time_t last_run = 0, last_prune = 0, last_check = 0,
              last_lock_extend = 0;
  std::time_t last_backup = 0;  // the start of the last backup that saved
                                // a snapshot
  int last_exit_code = -1;      // -1: never ran
  nlohmann::json ToJson() const;
  static JobState FromJson(const nlohmann::json& j);
};

class StateDir {
 public:
  StateDir(std::string root, std::string job)
      : root_(std::move(root)), job_(std::move(job)) {}
  std::string JobDir() const { return root_ + "/jobs/" + job_; }

  // kNotFound when the job never ran.
  Result<JobReport> LastReport() const;
  Result<void> SaveReport(const JobReport& r) const;
  JobState LoadState() const;  // empty state when missing or unreadable
  Result<void> SaveState(const JobState& s) const;

 private:
  std::string root_, job_;
};

// A held job lock; released when destroyed (or when the process dies).
class JobLock {
 public:
  ~JobLock();
  JobLock(const JobLock&) = delete;
  JobLock& operator=(const JobLock&) = delete;

  // Takes the lock for `job` on `repository` without waiting. kLocked with the
  // holder's pid when it is held by another process.
  static Result<std::unique_ptr<JobLock>> Acquire(
      const StateDir& dir, const std::string& job,
      const std::string& repository);

 private:
  explicit JobLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace efs2s3::jobs
