#include "jobs/child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <string_view>

#include "base/spawn.h"

extern char** environ;

namespace efs2s3::jobs {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kErrLines = 20;

// The last kErrLines lines of a child's stderr; a progress line's carriage
// returns keep only its last state. Every line also goes to `log`.
class ErrLines {
 public:
  explicit ErrLines(const std::function<void(const std::string&)>& log)
      : log_(log) {}

  void Take(std::string_view data, bool flush) {
    partial_.append(data);
    size_t nl;
    while ((nl = partial_.find('\n')) != std::string::npos ||
           (flush && !partial_.empty())) {
      std::string line = partial_.substr(0, nl);
      partial_.erase(0, nl == std::string::npos ? std::string::npos : nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      size_t cr = line.rfind('\r');
      if (cr != std::string::npos) line = line.substr(cr + 1);
      if (line.empty()) continue;
      if (log_) log_(line);
      lines_.push_back(line);
      if (lines_.size() > kErrLines) lines_.pop_front();
    }
  }
  std::vector<std::string> Lines() const {
    return {lines_.begin(), lines_.end()};
  }

 private:
  const std::function<void(const std::string&)>& log_;
  std::deque<std::string> lines_;
  std::string partial_;
};

// Starts argv in a process group of its own, stdin /dev/null, stdout and
// stderr to the given pipe ends, with default signal handling.
Result<pid_t> Spawn(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env, int out_fd,
                    int err_fd) {
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  SpawnOptions o;
  o.stdin_null = true;
  o.stdout_fd = out_fd;
  o.stderr_fd = err_fd;
  o.env = &env_strings;
  return efs2s3::Spawn(argv, o);
}

// Reads the child's stdout and stderr until both are closed and it has
// exited; sends SIGTERM on cancellation or timeout, SIGKILL 30 s later.
// Returns the wait status.
int Supervise(pid_t pid, int out_fd, int err_fd, ChildResult& res,
              ErrLines& err, const std::atomic<bool>* cancel,
              std::chrono::seconds timeout) {
  Clock::time_point start = Clock::now(), term_at{};
  bool term_sent = false, killed = false, exited = false;
  int status = 0;
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
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
        err.Take(data, false);
      }
    }
  }
  for (pollfd& p : fds)
    if (p.fd >= 0) ::close(p.fd);
  err.Take("", true);
  if (!exited) ::waitpid(pid, &status, 0);
  return status;
}

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
  auto pid = Spawn(argv, env, out_pipe[1], err_pipe[1]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (!pid) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return pid.error();
  }
  ChildResult res;
  ErrLines err(log);
  int status =
      Supervise(*pid, out_pipe[0], err_pipe[0], res, err, cancel, timeout);
  if (WIFEXITED(status)) {
    res.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    res.exit_code = 128 + WTERMSIG(status);
  }
  res.err_lines = err.Lines();
  return res;
}

}  // namespace efs2s3::jobs
