#include "cli/context.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "base/bytes.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/spawn.h"
#include "base/test_hooks.h"
#include "codec/compress.h"
#include "model/snapshot.h"
#include "storage/counting_backend.h"
#include "storage/registry.h"

namespace efs2s3::cli {

namespace {
std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string StripNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A password is at most this long: a file or command that gives more
// (/dev/zero, `yes`) is a mistake, not a password.
constexpr size_t kMaxPassword = 4096;

// The password file, at most kMaxPassword bytes (plus a newline).
Result<std::string> ReadPasswordFile(const std::string& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return PosixError("password file " + file, errno);
  std::string out(kMaxPassword + 3, '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError("password file " + file, errno);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  out = StripNewline(std::move(out));
  if (out.size() > kMaxPassword)
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("password file {}: longer than {} bytes", file,
                                 kMaxPassword));
  return out;
}

// Runs the password command (sh -c) and takes what it prints, within
// `timeout` and kMaxPassword bytes; past either it is killed (its whole
// process group).
Result<std::string> RunPasswordCommand(const std::string& cmd,
                                       std::chrono::seconds timeout) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    return PosixError("password command", errno);
  Fd rd(pipefd[0]), wr(pipefd[1]);
  SpawnOptions so;
  so.stdout_fd = wr.get();
  Result<pid_t> spawned = Spawn({"/bin/sh", "-c", cmd}, so);
  wr.Reset();
  if (!spawned)
    return MakeError(ErrorCode::kInvalidArgument,
                     "password command could not be started");
  const pid_t pid = *spawned;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out;
  std::optional<Error> problem;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      problem = MakeError(ErrorCode::kInvalidArgument,
                          fmt::format("password command gave no password "
                                      "within {} s (killed)",
                                      timeout.count()));
      break;
    }
    pollfd p{rd.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long>(left, 1000)));
    if (r < 0 && errno != EINTR) {
      problem = PosixError("password command", errno);
      break;
    }
    if (r <= 0) continue;
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of its output
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxPassword + 2) {
      problem = MakeError(ErrorCode::kInvalidArgument,
                          fmt::format("password command: output longer than "
                                      "{} bytes (killed)",
                                      kMaxPassword));
      break;
    }
  }
  if (problem) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (problem) return *problem;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return MakeError(
        ErrorCode::kInvalidArgument,
        "password command failed (exit status " +
            std::to_string(WIFEXITED(status) ? WEXITSTATUS(status)
                                             : 128 + WTERMSIG(status)) +
            ")");
  return StripNewline(std::move(out));
}

// How long a password command may take: EFS2S3_PASSWORD_TIMEOUT seconds
// (default 60).
std::chrono::seconds PasswordTimeout() {
  std::string v = Env("EFS2S3_PASSWORD_TIMEOUT");
  if (auto n = ParseUint(v); n && *n > 0 && *n <= 86400)
    return std::chrono::seconds(*n);
  return std::chrono::seconds(60);
}

Result<std::string> NotEmpty(Result<std::string> pw, const char* source) {
  if (pw && pw->empty())
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("empty password (from {})", source));
  return pw;
}

Result<std::string> ReadFromTerminal(const char* prompt) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (!tty)
    return MakeError(ErrorCode::kInvalidArgument,
                     "no terminal to ask for a password");
  std::fputs(prompt, tty);
  std::fflush(tty);
  termios old{};
  int fd = fileno(tty);
  bool restore = ::tcgetattr(fd, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  char buf[4096];
  char* got = std::fgets(buf, sizeof buf, tty);
  if (restore) ::tcsetattr(fd, TCSAFLUSH, &old);
  std::fputs("\n", tty);
  std::fclose(tty);
  if (!got)
    return MakeError(ErrorCode::kInvalidArgument, "no password entered");
  return StripNewline(buf);
}
}  // namespace

Result<std::string> Context::Password(bool confirm, const char* prompt) {
  return PasswordFrom(
      {global.password_file, global.password_command, "EFS2S3", "--"}, confirm,
      prompt);
}

Result<std::string> Context::PasswordFrom(const PasswordSource& src,
                                          bool confirm, const char* prompt) {
  const std::string env = src.env_prefix;
  const std::string opt = src.option_prefix;
  if (std::string p = Env((env + "_PASSWORD").c_str()); !p.empty()) return p;
  std::string file =
      src.file.empty() ? Env((env + "_PASSWORD_FILE").c_str()) : src.file;
  if (!file.empty())
    return NotEmpty(ReadPasswordFile(file), "the password file");
  std::string cmd = src.command.empty()
                        ? Env((env + "_PASSWORD_COMMAND").c_str())
                        : src.command;
  if (!cmd.empty())
    return NotEmpty(RunPasswordCommand(cmd, PasswordTimeout()),
                    "the password command");
  if (!::isatty(STDIN_FILENO))
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("no password given (set {0}_PASSWORD, "
                                 "{0}_PASSWORD_FILE, {1}password-file or "
                                 "{1}password-command)",
                                 env, opt));
  ASSIGN_OR_RETURN(std::string pw,
                   NotEmpty(ReadFromTerminal(prompt), "the terminal"));
  if (confirm) {
    ASSIGN_OR_RETURN(std::string again,
                     ReadFromTerminal("enter password again: "));
    if (again != pw)
      return MakeError(ErrorCode::kInvalidArgument, "passwords do not match");
  }
  return pw;
}

Result<void> Context::UsePointInTime(const std::string& command) {
  if (global.point_in_time.empty()) return Ok();
  if (!ReadsRepositoryOnly(command))
    return MakeError(ErrorCode::kUsage,
                     "--point-in-time opens the repository read-only as it "
                     "was then; " +
                         command + " is not a command that only reads it (" +
                         ReadOnlyCommandNames() + " are)");
  auto t = model::ParseTime(global.point_in_time);
  if (!t)
    return MakeError(ErrorCode::kUsage,
                     "--point-in-time: " + t.error().message +
                         " (use RFC 3339, e.g. 2026-12-01T12:00:00Z, or "
                         "\"YYYY-MM-DD HH:MM:SS\" in local time)");
  global.backend.point_in_time_ns = *t;
  return Ok();
}

repo::OpenOptions Context::CacheOptions() const {
  repo::OpenOptions o;
  // A view of the past keeps its own temporary cache: the local cache of the
  // repository as it is now (its index, its tree packs) is neither read nor
  // changed by it.
  if (global.no_cache || point_in_time()) return o;
  std::string dir =
      global.cache_dir.empty() ? repo::DefaultCacheDir() : global.cache_dir;
  // A cache this user cannot write (another user's, a read-only home) is not
  // a reason to fail: the command runs without one, a little slower.
  Result<void> usable = MakeDirs(dir);
  if (usable) {
    auto probe = OpenTempFile(dir);
    if (probe)
      ::close(*probe);
    else
      usable = probe.error();
  }
  if (!usable) {
    if (!global.quiet)
      WarnLine("warning: cache " + Printable(dir) + " is not writable (" +
               Printable(usable.error().message) +
               "): running without a cache");
    return o;
  }
  o.cache_dir = dir;
  return o;
}

Result<std::unique_ptr<storage::Backend>> Context::OpenBackend() {
  std::string location =
      global.repository.empty() ? Env("EFS2S3_REPOSITORY") : global.repository;
  if (location.empty())
    return MakeError(ErrorCode::kInvalidArgument,
                     "no repository given (use -r or EFS2S3_REPOSITORY)");
  return storage::Open(location, global.backend);
}

Result<void> Context::RequireRepository(storage::Backend& backend) const {
  auto st = backend.Stat({storage::ObjectType::kConfig, "config"});
  if (!st && st.error().code == ErrorCode::kNotFound)
    return MakeError(
        ErrorCode::kNoRepository,
        backend.Location() +
            (point_in_time()
                 ? ": no repository here at --point-in-time " +
                       global.point_in_time + " (config not found then)"
                 : ": no repository here (config not found; run init)"));
  if (!st) return st.error();
  return Ok();
}

Result<repo::Repository*> Context::OpenRepository(LockMode lock) {
  ASSIGN_OR_RETURN(auto backend, OpenBackend());
  return OpenRepositoryOn(
      std::move(backend), [this] { return Password(); }, lock, repo_, lock_,
      requests_);
}

Result<repo::Repository*> Context::OpenSourceRepository(
    const std::string& location, const PasswordSource& password,
    LockMode lock) {
  ASSIGN_OR_RETURN(auto backend, storage::Open(location, global.backend));
  return OpenRepositoryOn(
      std::move(backend),
      [&] {
        return PasswordFrom(password, false,
                            "enter password of the source repository: ");
      },
      lock, source_repo_, source_lock_, source_requests_);
}

Result<repo::Repository*> Context::OpenRepositoryOn(
    std::unique_ptr<storage::Backend> backend,
    const std::function<Result<std::string>()>& password, LockMode lock,
    std::unique_ptr<repo::Repository>& repo_slot,
    std::unique_ptr<repo::Lock>& lock_slot,
    std::atomic<std::uint64_t>& requests_slot) {
  // A missing repository is reported before asking for a password.
  RETURN_IF_ERROR(RequireRepository(*backend));
  ASSIGN_OR_RETURN(std::string pw, password());
  ASSIGN_OR_RETURN(
      repo_slot, repo::Repository::Open(storage::NewCountingBackend(
                                            std::move(backend), &requests_slot),
                                        pw, CacheOptions()));
  if (lock != LockMode::kNone && TakesLocks()) {
    // Lets a test run another command between loading the index and locking.
    test_hooks::Gate("OPENED");
    auto locked = repo::AcquireLock(*repo_slot, lock == LockMode::kExclusive);
    if (!locked && lock == LockMode::kShared &&
        locked.error().code == ErrorCode::kPermission) {
      // A repository this user may only read (a read-only mount, a bucket
      // policy without PutObject) can still be read without a lock.
      Error e = locked.error();
      e.message +=
          " (the repository cannot be written: --no-lock reads it "
          "without a lock)";
      return e;
    }
    if (!locked) return locked.error();
    lock_slot = std::move(*locked);
    // The index was loaded before the lock was held: a prune that ran in
    // between may have deleted packs it names (a backup would then deduplicate
    // against them), and a backup that finished in between added index files a
    // prune must see. Reload it under the lock (one listing when nothing
    // changed).
    RETURN_IF_ERROR(repo_slot->ReloadIndex());
    // Lets the lock tests hold this command while it holds the lock.
    test_hooks::Gate("LOCKED");
  }
  return repo_slot.get();
}

Context::~Context() {
  lock_.reset();
  repo_.reset();
  source_lock_.reset();
  source_repo_.reset();
}

void Context::Print(const std::string& text) const {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}
void Context::Info(const std::string& text) const {
  if (!global.quiet && !global.json) Print(text);
}
void Context::Verbose(const std::string& text) const {
  if (global.verbose > 0 && !global.json) Print(text);
}
void Context::PrintJson(const nlohmann::json& j) const {
  Print(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
        "\n");
}
void Context::Warn(const std::string& text) const {
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
}
bool Context::IsTerminal() const {
  return ::isatty(STDERR_FILENO) && !global.json && !global.quiet;
}

void Context::SkipUnreadable(
    const std::vector<repo::UnreadableSnapshot>& skipped) {
  for (const auto& u : skipped)
    if (skipped_.insert(u.id).second)
      WarnLine("warning: snapshots/" + u.id.Hex() +
               ": unreadable: " + Printable(u.reason) +
               "; skipped (`efs2s3 repair snapshots --forget` removes it)");
}

Result<std::pair<Id, model::Snapshot>> FindSnapshotArg(
    Context& ctx, repo::Repository& repo, const std::string& spec,
    const std::string& host, const std::vector<std::string>& paths) {
  std::vector<repo::UnreadableSnapshot> skipped;
  auto found = repo.FindSnapshot(spec, host, paths, &skipped);
  ctx.SkipUnreadable(skipped);
  // kInvalidArgument is FindSnapshot's "ambiguous prefix" (repo/snapshots.h).
  if (!found && found.error().code == ErrorCode::kInvalidArgument) {
    Error e = found.error();
    e.code = ErrorCode::kUsage;
    return e;
  }
  return found;
}

std::string Printable(std::string_view raw) {
  // Keeps valid UTF-8, escapes control characters and invalid bytes as \xNN.
  std::string out;
  for (size_t i = 0; i < raw.size();) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    size_t len = c < 0x80         ? 1
                 : (c >> 5) == 6  ? 2
                 : (c >> 4) == 14 ? 3
                 : (c >> 3) == 30 ? 4
                                  : 0;
    bool valid = len > 0 && i + len <= raw.size();
    for (size_t k = 1; valid && k < len; ++k)
      valid = (static_cast<unsigned char>(raw[i + k]) >> 6) == 2;
    if (valid && len == 1 && (c < 0x20 || c == 0x7f || c == '\\'))
      valid = false;
    if (!valid) {
      out += c == '\\' ? std::string("\\\\") : fmt::format("\\x{:02x}", c);
      ++i;
      continue;
    }
    out.append(raw.substr(i, len));
    i += len;
  }
  return out;
}

std::string HumanBytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n)
                : fmt::format("{:.2f} {}", v, units[u]);
}

void AddCompressionOption(CLI::App* command, std::string* mode) {
  *mode = "auto";
  command
      ->add_option("--compression", *mode,
                   "How new blobs are compressed: auto (default: skip data "
                   "that does not compress, zstd's fastest level unless "
                   "uploads are the bottleneck), off, fastest, default or "
                   "max")
      ->check([](const std::string& v) -> std::string {
        if (codec::ParseCompression(v)) return "";
        return "'" + v + "' is not a compression mode (" +
               std::string(codec::kCompressionNames) + ")";
      });
}

void UseCompression(const std::string& mode, repo::Repository& repo) {
  repo.SetCompression(
      codec::ParseCompression(mode).value_or(codec::Compression::kAuto));
}

}  // namespace efs2s3::cli
