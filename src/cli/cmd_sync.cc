// sync: a plain-object mirror of a tree in S3, or back (docs/SYNC.md).
#include <fmt/format.h>

#include <mutex>

#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "pattern/pattern.h"
#include "storage/s3/s3_backend.h"
#include "sync/sync.h"

namespace efs2s3::cli {

namespace {
struct SyncCliOptions {
  std::string src, dst;
  bool delete_extra = false, ignore_errors = false, dry_run = false,
       checksum = false;
  bool size_only = false, links = false, keep_empty_dirs = false;
  std::vector<std::string> excludes, includes, exclude_files;
  int transfers = 256, walkers = 32, part_parallel = 4;
  std::uint64_t multipart_threshold_mib = 32, part_size_mib = 16;
  std::string storage_class, backup_prefix;
};

bool IsS3(const std::string& s) {
  return s.rfind("s3://", 0) == 0 || s.rfind("s3:", 0) == 0;
}

Result<std::pair<std::string, std::string>> BucketAndPrefix(
    const std::string& loc) {
  ASSIGN_OR_RETURN(storage::s3::S3Location l,
                   storage::s3::ParseS3Location(loc));
  return std::make_pair(l.bucket, l.prefix.empty() ? "" : l.prefix + "/");
}

nlohmann::json RequestsJson(const aws::RequestCounts& n) {
  return {{"get", n.get},   {"head", n.head}, {"put", n.put},
          {"post", n.post}, {"list", n.list}, {"delete", n.delete_}};
}

// The sync's options from the command line: direction, bucket and prefix,
// comparison, patterns, limits. kInvalidArgument for contradictions.
Result<sync::SyncOptions> MakeSyncOptions(const SyncCliOptions& o,
                                          Context& ctx) {
  if (IsS3(o.src) == IsS3(o.dst))
    return MakeError(
        ErrorCode::kInvalidArgument,
        "sync: exactly one of SRC and DEST must be s3://BUCKET[/PREFIX]");
  if (o.checksum && o.size_only)
    return MakeError(ErrorCode::kInvalidArgument,
                     "sync: --checksum and --size-only exclude each other");
  sync::SyncOptions opts;
  opts.upload = IsS3(o.dst);
  opts.local = opts.upload ? o.src : o.dst;
  ASSIGN_OR_RETURN(auto where, BucketAndPrefix(opts.upload ? o.dst : o.src));
  opts.bucket = where.first;
  opts.prefix = where.second;
  if (!o.backup_prefix.empty()) {
    if (!opts.upload)
      return MakeError(ErrorCode::kInvalidArgument,
                       "sync: --backup-prefix is for uploads to S3");
    ASSIGN_OR_RETURN(auto b, BucketAndPrefix(o.backup_prefix));
    if (b.first == opts.bucket && b.second.rfind(opts.prefix, 0) == 0)
      return MakeError(ErrorCode::kInvalidArgument,
                       "sync: --backup-prefix must not lie inside the mirror");
    opts.backup_bucket = b.first;
    opts.backup_prefix = b.second;
  }
  opts.delete_extra = o.delete_extra;
  opts.ignore_errors = o.ignore_errors;
  opts.dry_run = o.dry_run;
  opts.links = o.links;
  opts.keep_empty_dirs = o.keep_empty_dirs;
  opts.compare = o.checksum    ? sync::CompareMode::kChecksum
                 : o.size_only ? sync::CompareMode::kSizeOnly
                               : sync::CompareMode::kDefault;
  opts.excludes = o.excludes;
  for (const auto& f : o.exclude_files) {
    ASSIGN_OR_RETURN(auto more, pattern::ReadPatternFile(f));
    opts.excludes.insert(opts.excludes.end(), more.begin(), more.end());
  }
  opts.includes = o.includes;
  opts.transfers = std::max(1, o.transfers);
  opts.walkers = std::max(1, o.walkers);
  opts.part_parallel = std::max(1, o.part_parallel);
  opts.multipart_threshold = o.multipart_threshold_mib << 20;
  opts.part_size = std::max<std::uint64_t>(5, o.part_size_mib) << 20;
  const storage::S3Options& s3 = ctx.global.backend.s3;
  opts.put.storage_class = o.storage_class;
  opts.put.sse = s3.sse;
  opts.put.sse_kms_key_id = s3.sse_kms_key_id;

  return opts;
}

using PathErrors = std::vector<std::pair<std::string, std::string>>;

void PrintSyncResult(const SyncCliOptions& o, const sync::SyncOptions& opts,
                     const Result<sync::SyncResult>& r,
                     const PathErrors& errors,
                     const std::vector<nlohmann::json>& actions, Context& ctx) {
  const char* moved = opts.upload ? "uploaded" : "downloaded";
  if (ctx.global.json) {
    nlohmann::json errs = nlohmann::json::array();
    for (const auto& [p, e] : errors)
      errs.push_back({{"path", Printable(p)}, {"error", e}});
    nlohmann::json j = {{"message_type", "summary"},
                        {"direction", opts.upload ? "upload" : "download"},
                        {"dry_run", o.dry_run},
                        {"source_entries", r->source_entries},
                        {std::string("files_") + moved, r->copied},
                        {std::string("bytes_") + moved, r->copied_bytes},
                        {"files_unchanged", r->unchanged},
                        {"deleted", r->deleted},
                        {"deletions_withheld", r->withheld},
                        {"backed_up", r->backed_up},
                        {"objects_looked_up", r->heads},
                        {"manifest_used", r->manifest_used},
                        {"requests", RequestsJson(r->requests)},
                        {"request_cost_usd", r->request_cost_usd},
                        {"errors", errs}};
    if (o.dry_run) j["actions"] = actions;
    ctx.PrintJson(j);
  } else {
    const aws::RequestCounts& n = r->requests;
    ctx.Info(fmt::format(
        "{}{} {} files ({}), {} unchanged, {} deleted{}{}{}\n"
        "requests: {} GET, {} HEAD, {} PUT, {} POST, {} LIST, {} DELETE; "
        "estimated cost ${:.6f}\n",
        o.dry_run ? "dry run: would have " : "", moved, r->copied,
        HumanBytes(r->copied_bytes), r->unchanged, r->deleted,
        r->backed_up ? fmt::format(", {} backed up", r->backed_up) : "",
        r->withheld ? fmt::format(", {} deletions withheld", r->withheld) : "",
        errors.empty() ? "" : fmt::format(", {} errors", errors.size()), n.get,
        n.head, n.put, n.post, n.list, n.delete_, r->request_cost_usd));
  }
}

Result<int> RunSyncCommand(const SyncCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(sync::SyncOptions opts, MakeSyncOptions(o, ctx));
  const storage::S3Options& s3 = ctx.global.backend.s3;
  ASSIGN_OR_RETURN(aws::S3Config config,
                   storage::s3::ResolveS3Config(s3, aws::ProcessEnv()));
  config.http.max_in_flight =
      opts.transfers + opts.large_parallel * opts.part_parallel + 4;
  aws::S3Client client(std::move(config), aws::NewDefaultCredentialsChain());

  std::mutex mu;
  PathErrors errors;
  std::vector<nlohmann::json> actions;
  opts.on_error = [&](const std::string& rel, const Error& e) -> Result<void> {
    std::lock_guard lock(mu);
    errors.emplace_back(rel, e.message);
    ctx.WarnLine("error: " + Printable(e.message));
    return Ok();
  };
  opts.on_warning = [&](const std::string& text) {
    if (!ctx.global.quiet) ctx.WarnLine("warning: " + Printable(text));
  };
  if (o.dry_run || ctx.global.verbose > 0)
    opts.on_action = [&](const std::string& what, const std::string& rel,
                         const std::string& why) {
      std::lock_guard lock(mu);
      if (ctx.global.json)
        actions.push_back(
            {{"action", what}, {"path", Printable(rel)}, {"why", why}});
      else
        ctx.Print(fmt::format("{}{} {} ({})\n", o.dry_run ? "would " : "", what,
                              Printable(rel), why));
    };
  sync::SyncProgress progress;
  opts.progress = &progress;
  opts.cancel = &ctx.cancel;
  Result<sync::SyncResult> r = MakeError(ErrorCode::kUnknown, "");
  {
    ProgressReporter reporter(ctx, "sync", [&] {
      return ProgressSample{progress.files, 0, progress.bytes,
                            progress.bytes_expected, progress.errors};
    });
    r = sync::RunSync(client, opts);
  }
  if (!r) return r.error();
  PrintSyncResult(o, opts, r, errors, actions, ctx);
  return errors.empty() ? kExitOk : kExitIncomplete;
}
}  // namespace

void RegisterSync(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<SyncCliOptions>();
  CLI::App* c = app.add_subcommand(
      "sync",
      "Mirror a directory to s3://BUCKET/PREFIX as plain objects, or back");
  c->add_option("src", o->src, "Source: a directory or s3://BUCKET[/PREFIX]")
      ->required();
  c->add_option("dest", o->dst,
                "Destination: s3://BUCKET[/PREFIX] or a directory")
      ->required();
  c->add_flag("--delete", o->delete_extra,
              "Delete what the source no longer has");
  c->add_flag("--ignore-errors", o->ignore_errors,
              "With --delete: delete even when parts of the local tree could "
              "not be read (what could not be read is never deleted)");
  c->add_flag("-n,--dry-run", o->dry_run, "Print every action, change nothing");
  c->add_option("-e,--exclude", o->excludes,
                "Skip paths matching this glob (repeatable)");
  c->add_option("--exclude-file", o->exclude_files,
                "Read exclude patterns from a file");
  c->add_option("-i,--include", o->includes,
                "Take only files matching this glob (repeatable)");
  c->add_flag("--checksum", o->checksum,
              "Compare contents (MD5) instead of size and mtime");
  c->add_flag("--size-only", o->size_only, "Compare sizes only");
  c->add_flag("-l,--links", o->links,
              "Copy symlinks as symlinks (default: skip with a warning)");
  c->add_flag("--keep-empty-dirs", o->keep_empty_dirs,
              "Keep empty directories as marker objects (KEY/)");
  c->add_option("--transfers", o->transfers, "Requests in flight (default 256)")
      ->check(CLI::Range(1, 4096));
  c->add_option("--walkers", o->walkers,
                "Threads walking the local tree (default 32)")
      ->check(CLI::Range(1, 1024));
  c->add_option("--multipart-threshold", o->multipart_threshold_mib,
                "Files from this size (MiB) go in parts (default 32)")
      ->check(CLI::Range(5, 5 << 20));
  c->add_option("--part-size", o->part_size_mib,
                "Part size in MiB (default 16, at least 5)")
      ->check(CLI::Range(5, 5120));
  c->add_option("--part-parallel", o->part_parallel,
                "Parts in flight per large file (default 4)")
      ->check(CLI::Range(1, 64));
  c->add_option(
      "--storage-class", o->storage_class,
      "Storage class of uploaded objects (STANDARD_IA, GLACIER_IR, ...)");
  c->add_option(
      "--backup-prefix", o->backup_prefix,
      "Copy replaced and deleted objects to s3://BUCKET/PREFIX/ first");
  c->callback(
      [&ctx, o] { ctx.run = [&ctx, o] { return RunSyncCommand(*o, ctx); }; });
}

}  // namespace efs2s3::cli
