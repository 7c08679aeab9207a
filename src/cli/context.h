// What every command shares: global options, the repository, output and
// signals.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "base/rate_limit.h"
#include "base/result.h"
#include "repo/lock.h"
#include "repo/repository.h"
#include "storage/options.h"

namespace efs2s3::cli {

struct GlobalOptions {
  std::string repository;        // -r, EFS2S3_REPOSITORY
  std::string password_file;     // --password-file, EFS2S3_PASSWORD_FILE
  std::string password_command;  // --password-command, EFS2S3_PASSWORD_COMMAND
  std::string cache_dir;         // --cache-dir
  bool no_cache = false;
  bool json = false;
  bool quiet = false;
  int verbose = 0;
  bool no_lock = false;
  // --point-in-time TIME as given; UsePointInTime() parses it into
  // backend.point_in_time_ns.
  std::string point_in_time;
  storage::BackendOptions backend;
  // --limit-upload / --limit-download in KiB/s, 0 = none.
  std::int64_t limit_upload_kib = 0, limit_download_kib = 0;
  // Makes the limiters of the limits given, shared by every backend and S3
  // client the command opens.
  void UseLimits() {
    auto make = [](std::int64_t kib) -> std::shared_ptr<RateLimiter> {
      if (kib <= 0) return nullptr;
      return std::make_shared<RateLimiter>(static_cast<std::uint64_t>(kib) *
                                           1024);
    };
    backend.limits = {make(limit_upload_kib), make(limit_download_kib)};
    backend.s3.limits = backend.limits;
  }
};

// Where a password comes from: PREFIX_PASSWORD, then the file (option or
// PREFIX_PASSWORD_FILE), then the command (option or
// PREFIX_PASSWORD_COMMAND), then the terminal. option_prefix names the
// options in messages ("--" or "--from-").
struct PasswordSource {
  std::string file, command;
  const char* env_prefix = "EFS2S3";
  const char* option_prefix = "--";
};

class Context {
 public:
  GlobalOptions global;
  std::atomic<bool> cancel{false};
  // The command to run after parsing: returns the exit code.
  std::function<Result<int>()> run;

  // Reads the password from (in order) EFS2S3_PASSWORD, --password-file /
  // EFS2S3_PASSWORD_FILE, --password-command / EFS2S3_PASSWORD_COMMAND, or a
  // terminal prompt. kInvalidArgument if none is available.
  Result<std::string> Password(bool confirm = false,
                               const char* prompt = "enter password: ");
  Result<std::string> PasswordFrom(const PasswordSource& source, bool confirm,
                                   const char* prompt);
  // With --point-in-time: Ok for a command that only reads the repository
  // (ReadsRepositoryOnly), whose repository is then opened read-only as it
  // was at that time, without locks and without the local cache; kUsage for
  // any other command or a time that does not parse, before anything is
  // opened.
  Result<void> UsePointInTime(const std::string& command);
  bool point_in_time() const {
    return global.backend.point_in_time_ns.has_value();
  }
  // Whether commands lock the repository: not with --no-lock, nor in a
  // point-in-time view (a read-only view of the past cannot conflict with
  // anything, and the view could not write a lock anyway).
  bool TakesLocks() const { return !global.no_lock && !point_in_time(); }
  Result<std::unique_ptr<storage::Backend>> OpenBackend();
  // Ok when `backend` holds a repository (its config): kNoRepository when it
  // does not, any other failure as it is (it has spent the request's retry
  // budget; the caller must not ask again). Before asking for a password.
  Result<void> RequireRepository(storage::Backend& backend) const;
  // Opens the repository; takes a shared or exclusive lock unless lock ==
  // kNone.
  enum class LockMode { kNone, kShared, kExclusive };
  Result<repo::Repository*> OpenRepository(LockMode lock);
  // A second repository, that a command reads from (`copy --from-repo`),
  // with its own password source; the S3, cache and lock options are
  // shared.
  Result<repo::Repository*> OpenSourceRepository(const std::string& location,
                                                 const PasswordSource& password,
                                                 LockMode lock);
  repo::OpenOptions CacheOptions() const;
  // The repository opened by OpenRepository, or nullptr.
  repo::Repository* repository() { return repo_.get(); }
  // The requests OpenRepository's repository made of its backend so far
  // (storage/counting_backend.h).
  std::uint64_t requests() const { return requests_.load(); }

  // Output: text to stdout unless --json; JSON documents to stdout with --json.
  void Print(const std::string& text) const;
  void Info(const std::string& text) const;  // not with -q or --json
  void Verbose(const std::string& text) const;
  void PrintJson(const nlohmann::json& j) const;
  bool IsTerminal() const;
  void Warn(const std::string& text) const;  // stderr, always
  // A warning line that first clears a progress line (on a terminal only).
  void WarnLine(const std::string& text) const {
    Warn((IsTerminal() ? "\r\033[K" : "") + text + "\n");
  }

  // Names each unreadable snapshot a command left out in one warning line
  // ("snapshots/ID: unreadable: WHY; skipped (...)"), once per process, and
  // remembers it: main() then turns the command's exit 0 into
  // kExitIncomplete (3, "completed with problems").
  void SkipUnreadable(const std::vector<repo::UnreadableSnapshot>& skipped);
  bool skipped_snapshots() const { return !skipped_.empty(); }

  ~Context();

 private:
  Result<repo::Repository*> OpenRepositoryOn(
      std::unique_ptr<storage::Backend> backend,
      const std::function<Result<std::string>()>& password, LockMode lock,
      std::unique_ptr<repo::Repository>& repo_slot,
      std::unique_ptr<repo::Lock>& lock_slot,
      std::atomic<std::uint64_t>& requests_slot);
  std::set<Id> skipped_;
  std::atomic<std::uint64_t> requests_{0};
  std::unique_ptr<repo::Repository> repo_;
  std::unique_ptr<repo::Lock> lock_;
  std::atomic<std::uint64_t> source_requests_{0};  // of the source repo
  std::unique_ptr<repo::Repository> source_repo_;
  std::unique_ptr<repo::Lock> source_lock_;
};

// --compression MODE, for the commands that write blobs (backup, copy,
// rewrite): stored in *mode, checked against codec::ParseCompression's names.
void AddCompressionOption(CLI::App* command, std::string* mode);
// Sets the mode of AddCompressionOption's option on `repo`.
void UseCompression(const std::string& mode, repo::Repository& repo);

// Each command registers its subcommand (cmd_*.cc); the table is in
// commands.cc.
void RegisterCommands(CLI::App& app, Context& ctx);
// Whether the (top-level) command only reads a repository: the commands
// --point-in-time allows.
bool ReadsRepositoryOnly(const std::string& command);
// The names of those commands, for messages ("snapshots, ls, ...").
std::string ReadOnlyCommandNames();

// Repository::FindSnapshot for a snapshot named on the command line: an
// ambiguous ID prefix (whose message lists the candidates) is a usage error,
// exit 2. Unreadable snapshots that could have changed the answer ("latest")
// are skipped and named (Context::SkipUnreadable); one named by its ID is an
// error.
Result<std::pair<Id, model::Snapshot>> FindSnapshotArg(
    Context& ctx, repo::Repository& repo, const std::string& spec,
    const std::string& host = "", const std::vector<std::string>& paths = {});

// JSON string for raw bytes (invalid UTF-8 replaced), and a path printer.
std::string Printable(std::string_view raw);
std::string HumanBytes(std::uint64_t n);

}  // namespace efs2s3::cli
