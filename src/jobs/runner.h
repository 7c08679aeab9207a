// Running a job: hooks, mount, backup, forget, lock extend, prune, check and
// the restore drill as child processes of the efs2s3 binary itself, then the
// report.
//
//   lock (job + repository) ──► pre hooks ──► mount EFS ──► backup
//     ──► forget (retention) ──► lock extend (when due) ──► prune (when due)
//     ──► check (when due) ──► drill (when due) ──► unmount
//     ──► post hooks (always)
//     ──► report (state dir, file, webhook)
//
// A failed pre hook, mount or backup skips the repository steps; a failed
// forget skips prune, check and the drill but not lock extend (the snapshots
// it kept still need their retention); post hooks and the report always run.
// The job's exit code is the worst step's (see WorseExitCode); a failed hook
// counts as 1.
//
// A run can do one part of the job (RunOptions::only): the backup (hooks,
// mount, backup, unmount) or the maintenance (unlock of stale locks, forget,
// lock extend, prune, check, drill, without hooks or mount), so that two
// schedules with two sets of credentials run the same job: the backup's cannot
// delete (and so leaves its lock objects for the maintenance's unlock), the
// maintenance's can. The other part's steps are reported as skipped.
//
// Each child runs in its own process group, so a terminal's ^C reaches only
// efs2s3 itself; when `cancel` becomes true the running child gets one
// SIGTERM (a backup then saves a checkpoint and exits 130), the remaining
// steps are skipped and the job ends with 130.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "jobs/child.h"
#include "jobs/config.h"
#include "jobs/efs.h"
#include "jobs/report.h"

namespace efs2s3::jobs {

// Which part of the job a run does (job run --only).
enum class JobPart { kAll, kBackup, kMaintenance };
const char* JobPartName(JobPart part);  // "all", "backup", "maintenance"
// kInvalidArgument for anything else.
Result<JobPart> ParseJobPart(const std::string& name);

struct RunOptions {
  std::string exe;       // the efs2s3 binary for child steps
  bool dry_run = false;  // plan only: every step is "skipped", with its command
  // Run lock extend, prune, check and the drill even if they are not due.
  bool force_maintenance = false;
  JobPart only = JobPart::kAll;
  // One worker of a sharded run (job run --shard): these arguments are added
  // to the backup's ("--shard", "I/N", ...); only the backup part runs, and
  // without the job's lock, as the run's other workers run beside it.
  std::vector<std::string> shard_args;
  // job run --merge RUN: the backup step merges the run's shards (`backup
  // --merge RUN`, no hooks or mount); the steps after it run as usual.
  std::string merge_run;
  const std::atomic<bool>* cancel = nullptr;
  // Log lines (children's stderr, step starts and ends).
  std::function<void(const std::string&)> log;
  // For tests: EFS discovery inputs.
  aws::Getenv env = aws::ProcessEnv();
  Resolver resolver = SystemResolver();
};

// Runs `job`. Returns the report (also saved in the state directory and
// delivered); kLocked if the job is already running on its repository, other
// errors only when the state directory is unusable.
Result<JobReport> RunJob(const Config& config, const Job& job,
                         const RunOptions& opts);

// Delivers a report: appends one JSON line to `file` and/or POSTs the JSON
// document to `webhook`. Returns the errors, if any.
std::vector<std::string> DeliverReport(const nlohmann::json& report,
                                       const std::string& file,
                                       const std::string& webhook);

}  // namespace efs2s3::jobs
