#include "cli/stream_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/spawn.h"

namespace efs2s3::cli {

Result<std::unique_ptr<StreamCommand>> StreamCommand::Start(
    const std::vector<std::string>& argv) {
  if (argv.empty())
    return MakeError(ErrorCode::kUsage, "--stdin-from-command: no command");
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    return PosixError("--stdin-from-command", errno);
  Fd rd(pipefd[0]), wr(pipefd[1]);
  // Spawn gives the command the default SIGPIPE this process ignores, so
  // that a command writing into a backup that stopped reading ends.
  SpawnOptions so;
  so.stdout_fd = wr.get();
  Result<pid_t> pid = Spawn(argv, so);
  if (!pid)
    return MakeError(
        ErrorCode::kInvalidArgument,
        "--stdin-from-command: could not start " + pid.error().message);
  return std::unique_ptr<StreamCommand>(
      new StreamCommand(argv[0], *pid, std::move(rd)));
}

StreamCommand::~StreamCommand() {
  if (reaped_) return;
  out_.Reset();
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

Result<void> StreamCommand::Finish(const std::atomic<bool>* cancel) {
  out_.Reset();
  if (cancel && cancel->load()) ::kill(-pid_, SIGTERM);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      reaped_ = true;
      return PosixError("command '" + name_ + "'", errno);
    }
  }
  reaped_ = true;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Ok();
  std::string why;
  if (WIFEXITED(status)) {
    why = "exit status " + std::to_string(WEXITSTATUS(status));
  } else {
    const char* abbrev = ::sigabbrev_np(WTERMSIG(status));
    why = "killed by signal " + std::to_string(WTERMSIG(status)) +
          (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  }
  return MakeError(
      ErrorCode::kInvalidArgument,
      "command '" + name_ + "' failed: " + why + "; no snapshot saved");
}

}  // namespace efs2s3::cli
