// Running one child process for a job step: its own process group, stdout
// collected, the last lines of stderr kept (and forwarded as log lines),
// cancellation and a timeout by SIGTERM, then SIGKILL.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace efs2s3::jobs {

// The result of one child process.
struct ChildResult {
  int exit_code = 0;  // 128+N for a signal
  bool interrupted = false;
  bool timed_out = false;
  std::string out;                     // stdout
  std::vector<std::string> err_lines;  // the last lines of stderr
};

// This process's environment as a map.
std::map<std::string, std::string> ProcessEnvironment();

// Runs argv (argv[0] looked up in PATH) with `env` (full environment),
// forwarding stderr lines to `log`. Cancellation and the timeout (0 = none)
// send SIGTERM to the child's process group, then SIGKILL after 30 s.
Result<ChildResult> RunChild(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env,
    const std::atomic<bool>* cancel, std::chrono::seconds timeout,
    const std::function<void(const std::string&)>& log);

}  // namespace efs2s3::jobs
