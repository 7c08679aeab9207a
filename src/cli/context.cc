#include "cli/context.h"

#include <fmt/format.h>
#include <stdio.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>

#include "base/file_util.h"
#include "base/test_hooks.h"
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
  if (std::string p = Env("EFS2S3_PASSWORD"); !p.empty()) return p;
  std::string file = global.password_file.empty() ? Env("EFS2S3_PASSWORD_FILE")
                                                  : global.password_file;
  if (!file.empty()) {
    auto data = ReadFile(file);
    if (!data) return data.error().Wrap("password file");
    return StripNewline(std::string(AsString(*data)));
  }
  std::string cmd = global.password_command.empty()
                        ? Env("EFS2S3_PASSWORD_COMMAND")
                        : global.password_command;
  if (!cmd.empty()) {
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p)
      return MakeError(ErrorCode::kInvalidArgument,
                       "password command could not be started");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = ::pclose(p);
    if (status != 0)
      return MakeError(ErrorCode::kInvalidArgument,
                       "password command failed (exit status " +
                           std::to_string(WEXITSTATUS(status)) + ")");
    return StripNewline(out);
  }
  if (!::isatty(STDIN_FILENO))
    return MakeError(
        ErrorCode::kInvalidArgument,
        "no password given (set EFS2S3_PASSWORD, EFS2S3_PASSWORD_FILE, "
        "--password-file or --password-command)");
  ASSIGN_OR_RETURN(std::string pw, ReadFromTerminal(prompt));
  if (confirm) {
    ASSIGN_OR_RETURN(std::string again,
                     ReadFromTerminal("enter password again: "));
    if (again != pw)
      return MakeError(ErrorCode::kInvalidArgument, "passwords do not match");
  }
  return pw;
}

repo::OpenOptions Context::CacheOptions() const {
  repo::OpenOptions o;
  if (!global.no_cache)
    o.cache_dir =
        global.cache_dir.empty() ? repo::DefaultCacheDir() : global.cache_dir;
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

Result<repo::Repository*> Context::OpenRepository(LockMode lock) {
  ASSIGN_OR_RETURN(auto backend, OpenBackend());
  // A missing repository is reported before asking for a password.
  auto st = backend->Stat({storage::ObjectType::kConfig, "config"});
  if (!st && st.error().code == ErrorCode::kNotFound)
    return MakeError(ErrorCode::kNoRepository,
                     backend->Location() +
                         ": no repository here (config not found; run init)");
  ASSIGN_OR_RETURN(std::string pw, Password());
  ASSIGN_OR_RETURN(
      repo_, repo::Repository::Open(std::move(backend), pw, CacheOptions()));
  if (lock != LockMode::kNone && !global.no_lock) {
    // Lets a test run another command between loading the index and locking.
    test_hooks::Gate("OPENED");
    ASSIGN_OR_RETURN(lock_,
                     repo::AcquireLock(*repo_, lock == LockMode::kExclusive));
    // The index was loaded before the lock was held: a prune that ran in
    // between may have deleted packs it names (a backup would then deduplicate
    // against them), and a backup that finished in between added index files a
    // prune must see. Reload it under the lock (one listing when nothing
    // changed).
    RETURN_IF_ERROR(repo_->ReloadIndex());
    // Lets the lock tests hold this command while it holds the lock.
    test_hooks::Gate("LOCKED");
  }
  return repo_.get();
}

Context::~Context() {
  lock_.reset();
  repo_.reset();
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

}  // namespace efs2s3::cli
