// Starting a child process: the one place that sets up posix_spawn.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"

namespace efs2s3 {

struct SpawnOptions {
  // Descriptors that become the child's 0, 1 and 2; -1 keeps this process's.
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  bool stdin_null = false;  // standard input from /dev/null (over stdin_fd)
  // "NAME=VALUE" strings; null: this process's environment.
  const std::vector<std::string>* env = nullptr;
};

// Starts argv (argv[0] looked up in PATH unless it holds a '/') in a process
// group of its own (its ID is the child's), with the default action for
// SIGPIPE, SIGINT, SIGTERM, SIGHUP and SIGCHLD (this process may ignore or
// catch them) and no signal blocked. An error (PosixError naming argv[0]) if
// it could not be started, a missing program included.
Result<pid_t> Spawn(const std::vector<std::string>& argv,
                    const SpawnOptions& options);

}  // namespace efs2s3
