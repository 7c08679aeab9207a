// The command of `backup --stdin-from-command -- CMD ...`: started without a
// shell (argv[0] looked up in PATH), in a process group of its own, its
// standard output a pipe the backup reads, its standard input and standard
// error this process's.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace efs2s3::cli {

class StreamCommand {
 public:
  // kInvalidArgument naming the command if it cannot be started.
  static Result<std::unique_ptr<StreamCommand>> Start(
      const std::vector<std::string>& argv);
  ~StreamCommand();  // kills and reaps a command that was not finished
  StreamCommand(const StreamCommand&) = delete;
  StreamCommand& operator=(const StreamCommand&) = delete;

  int fd() const { return out_.get(); }  // its standard output
  // Closes the pipe (a command still writing gets SIGPIPE), sends SIGTERM to
  // its process group if *cancel, and waits for it. Ok only for exit status
  // 0; otherwise one line: "command 'CMD' failed: exit status N" or "...:
  // killed by signal N (NAME)".
  Result<void> Finish(const std::atomic<bool>* cancel);

 private:
  StreamCommand(std::string name, pid_t pid, Fd out)
      : name_(std::move(name)), pid_(pid), out_(std::move(out)) {}
  std::string name_;
  pid_t pid_;
  Fd out_;
  bool reaped_ = false;
};

}  // namespace efs2s3::cli
