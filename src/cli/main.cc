// efs2s3: back up EFS/NFS/POSIX trees into deduplicated, encrypted
// repositories.
#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/context.h"
#include "cli/exit_codes.h"

namespace {
efs2s3::cli::Context* g_ctx = nullptr;

void OnSignal(int) {
  if (g_ctx) {
    if (g_ctx->cancel.exchange(true))
      _exit(efs2s3::cli::kExitInterrupted);  // second ^C
  }
}
// The options every command takes (README, "Global options").
void RegisterGlobalOptions(CLI::App& app, efs2s3::cli::GlobalOptions& g) {
  app.add_option("-r,--repo", g.repository,
                 "Repository location: a directory or s3://BUCKET[/PREFIX] "
                 "(env EFS2S3_REPOSITORY)");
  app.add_option("--password-file", g.password_file,
                 "Read the password from a file (env EFS2S3_PASSWORD_FILE)");
  app.add_option("--password-command", g.password_command,
                 "Run a shell command that prints the password (env "
                 "EFS2S3_PASSWORD_COMMAND)");
  app.add_option("--cache-dir", g.cache_dir,
                 "Cache directory (default $XDG_CACHE_HOME/efs2s3)");
  app.add_flag("--no-cache", g.no_cache, "Use a temporary cache");
  app.add_flag("--no-lock", g.no_lock,
               "Do not lock the repository (read-only use on read-only media)");
  app.add_option("--point-in-time", g.point_in_time,
                 "Read the repository as it was at TIME, from the object "
                 "versions of its S3 bucket (read-only commands; RFC 3339 or "
                 "\"YYYY-MM-DD HH:MM:SS\")");
  app.add_flag("--json", g.json, "Machine-readable output");
  app.add_flag("-q,--quiet", g.quiet, "Only errors and requested output");
  app.add_flag("-v,--verbose", g.verbose, "More output (repeatable)");
  efs2s3::storage::S3Options& s3 = g.backend.s3;
  app.add_option("--s3-endpoint", s3.endpoint,
                 "S3 endpoint URL (env AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)");
  app.add_option("--s3-region", s3.region,
                 "S3 region (env AWS_REGION, AWS_DEFAULT_REGION)");
  app.add_flag("--s3-path-style", s3.path_style,
               "Path-style addressing instead of virtual-host style");
  app.add_option("--s3-connections", s3.connections,
                 "S3 requests in flight (default 32)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--s3-sse", s3.sse,
                 "Server-side encryption: AES256 or aws:kms");
  app.add_option("--s3-sse-kms-key-id", s3.sse_kms_key_id,
                 "KMS key for --s3-sse aws:kms");
  app.add_option("--s3-storage-class-data", s3.storage_class_data,
                 "Storage class of data packs (e.g. GLACIER_IR)");
  app.add_option("--s3-storage-class-meta", s3.storage_class_meta,
                 "Storage class of metadata objects");
  app.add_option(
      "--s3-multipart-threshold", s3.multipart_threshold,
      "Upload objects of at least this many bytes in parts (default 64 MiB)");
  app.add_option(
      "--s3-part-size", s3.multipart_part_size,
      "Multipart part size in bytes, at least 5 MiB (default 16 MiB)");
  app.add_option("--s3-part-parallel", s3.multipart_parallel,
                 "Parts of one object uploaded at once (default 4)");
  app.add_option("--s3-connect-timeout", s3.connect_timeout_s,
                 "Seconds to connect (default 10)");
  app.add_option("--s3-stall-timeout", s3.stall_timeout_s,
                 "Seconds a transfer may move nothing (default 60)");
  app.add_option("--s3-request-timeout", s3.request_timeout_s,
                 "Seconds for a whole request, 0 = none (default)");
  app.add_option("--s3-max-attempts", s3.max_attempts,
                 "Attempts per request on retryable errors (default 8)")
      ->check(CLI::Range(1, 100));
  app.add_option("--limit-upload", g.limit_upload_kib,
                 "Limit what is written to the repository (or S3) to KiB/s, "
                 "across all connections")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--limit-download", g.limit_download_kib,
                 "Limit what is read from the repository (or S3) to KiB/s, "
                 "across all connections")
      ->check(CLI::Range(1, 1 << 30));
}

// Levenshtein distance, for suggestions.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t k = 0; k <= b.size(); ++k) row[k] = k;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t k = 1; k <= b.size(); ++k) {
      size_t up = row[k];
      row[k] = std::min(
          {row[k] + 1, row[k - 1] + 1, diag + (a[i - 1] == b[k - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The name among `names` closest to `word` (a prefix of it, or within an edit
// distance of a third of its length, at least 2), for "did you mean".
std::string Closest(const std::string& word,
                    const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = std::string::npos;
  for (const std::string& name : names) {
    size_t d = name.rfind(word, 0) == 0 ? 1 : EditDistance(word, name);
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  }
  return best_distance <= std::max<size_t>(2, word.size() / 3) ? best : "";
}

// The options `app` and the commands above it take, as written ("--exclude",
// "-x").
std::vector<std::string> OptionNames(CLI::App* app) {
  std::vector<std::string> names;
  for (CLI::App* a = app; a; a = a->get_parent())
    for (const CLI::Option* opt : a->get_options()) {
      for (const std::string& n : opt->get_lnames()) names.push_back("--" + n);
      for (const std::string& n : opt->get_snames()) names.push_back("-" + n);
    }
  return names;
}

// After a parse error: if a word of argv stands where a command is expected
// and names none, "unknown command 'snapshot' (did you mean 'snapshots'?)";
// if an option names none of the command's, "unknown option '--exlude' of
// 'backup' (did you mean '--exclude'?)"; "" otherwise (the parser's own
// message is then the better one).
std::string UnknownCommand(CLI::App& app, int argc, char** argv) {
  CLI::App* cur = &app;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--") return "";
    if (word.size() > 1 && word[0] == '-') {
      std::string name = word.substr(0, word.find('='));
      // "-abc": a cluster of short flags; only its first is checked.
      if (name[1] != '-' && name.size() > 2) name = name.substr(0, 2);
      const CLI::Option* opt = nullptr;
      for (CLI::App* a = cur; a && !opt; a = a->get_parent())
        opt = a->get_option_no_throw(name);
      if (!opt) {
        std::string msg =
            "unknown option '" + name + "'" +
            (path.empty() ? ""
                          : " of '" + path.substr(0, path.size() - 1) + "'");
        // A single letter is one edit from every other: no guess for "-Z".
        std::string best =
            name[1] == '-' ? Closest(name, OptionNames(cur)) : "";
        return best.empty() ? msg + " (see --help)"
                            : msg + " (did you mean '" + best + "'?)";
      }
      // An option that takes a value takes the next word too.
      if (word.find('=') == std::string::npos &&
          opt->get_items_expected_min() > 0)
        ++i;
      continue;
    }
    auto subs = cur->get_subcommands(
        [](CLI::App* c) { return !c->get_name().empty(); });
    if (subs.empty()) continue;  // a positional argument of a command
    CLI::App* next = nullptr;
    for (CLI::App* c : subs)
      if (c->check_name(word)) next = c;
    if (next) {
      cur = next;
      path += word + " ";
      continue;
    }
    std::vector<std::string> names;
    for (CLI::App* c : subs) names.push_back(c->get_name());
    std::string msg = "unknown command '" + path + word + "'";
    if (std::string best = Closest(word, names); !best.empty())
      return msg + " (did you mean '" + path + best + "'?)";
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    return msg + " (commands: " + list + ")";
  }
  return "";
}
}  // namespace

int main(int argc, char** argv) {
  using namespace efs2s3::cli;
  // Bounded memory (docs/ARCHITECTURE.md, "Memory"): dozens of threads would
  // each get a malloc arena that keeps freed chunk buffers, and glibc's
  // adaptive threshold would serve even 32 MiB buffers from those arenas.
  // Two arenas per core and a fixed 4 MiB threshold (buffers above it go back
  // to the system when freed) cut the peak RSS of a large-file backup by a
  // third at no measurable cost. MALLOC_* environment variables still win.
  if (!std::getenv("MALLOC_ARENA_MAX"))
    mallopt(
        M_ARENA_MAX,
        2 * std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  if (!std::getenv("MALLOC_MMAP_THRESHOLD_"))
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
  Context ctx;
  g_ctx = &ctx;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "efs2s3: incremental, deduplicated, encrypted backups of EFS/NFS trees "
      "to S3 or a directory"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the command
  app.set_help_all_flag("--help-all", "Help for every command");
  RegisterGlobalOptions(app, ctx.global);
  RegisterCommands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // One line naming the option and what is wrong with it, or the command
    // that does not exist.
    std::string unknown = UnknownCommand(app, argc, argv);
    std::fprintf(stderr, "efs2s3: %s\n",
                 Printable(unknown.empty() ? e.what() : unknown).c_str());
    return kExitUsage;
  }
  // --point-in-time is refused here for a command that writes, before the
  // command opens anything.
  if (auto pit = ctx.UsePointInTime(app.get_subcommands().front()->get_name());
      !pit) {
    std::fprintf(stderr, "efs2s3: %s\n",
                 Printable(pit.error().message).c_str());
    return ExitCodeFor(pit.error());
  }
  ctx.global.UseLimits();
  int code = kExitError;
  try {
    auto r = ctx.run();
    if (r) {
      code = *r;
      // Unreadable snapshots left out (each named in a warning): the command
      // completed, with problems.
      if (code == kExitOk && ctx.skipped_snapshots()) code = kExitIncomplete;
    } else {
      code = ExitCodeFor(r.error());
      if (ctx.global.json)
        ctx.PrintJson({{"message_type", "error"},
                       {"code", efs2s3::ErrorCodeName(r.error().code)},
                       {"message", r.error().message},
                       {"exit_code", code}});
      std::fprintf(stderr, "efs2s3: %s\n",
                   Printable(r.error().message).c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "efs2s3: internal error: %s\n", e.what());
    code = kExitError;
  }
  if (ctx.cancel.load() && code != 0) code = kExitInterrupted;
  return code;
}
