// The scheduler for hosts that stay up: runs every scheduled job of a
// configuration file at its next run time, one job at a time.
//
// - `stop` (SIGTERM/SIGINT) is checked between jobs and forwarded to a running
//   job (which stops its child: a backup saves a checkpoint), then RunDaemon
//   returns 0.
// - `reload` (SIGHUP) re-reads the file between jobs; a file that no longer
//   validates is reported and the previous configuration stays in force.
// - A job that is already running (started by hand) is skipped for this slot.
// - After a pause longer than a slot (suspend, a long job), a missed slot runs
//   once, not once per missed slot.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "base/result.h"
#include "jobs/runner.h"

namespace efs2s3::jobs {

struct DaemonOptions {
  std::string config_path;
  RunOptions run;  // exe, log; cancel is set to `stop`
  std::atomic<bool>* stop = nullptr;
  std::atomic<bool>* reload = nullptr;
  // Stop after this many job runs (0 = never); for tests and --once.
  int max_runs = 0;
  // Called with each finished run's report (daemon --json prints it), on the
  // daemon's thread; may be empty.
  std::function<void(const JobReport&)> on_report;
};

// Returns when stopped (0), or an error if the configuration cannot be loaded
// at start.
Result<int> RunDaemon(const DaemonOptions& opts);

}  // namespace efs2s3::jobs
