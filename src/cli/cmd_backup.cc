// backup
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <optional>

#include "archiver/archiver.h"
#include "archiver/parent.h"
#include "archiver/stream.h"
#include "cli/backup_shard.h"
#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "cli/stream_command.h"
#include "model/snapshot.h"
#include "pattern/pattern.h"
#include "shard/plan.h"

namespace efs2s3::cli {

namespace {
struct BackupCliOptions {
  std::vector<std::string> paths;
  std::vector<std::string> tags;
  std::string host;
  std::string time;
  std::vector<std::string> excludes;
  std::vector<std::string> exclude_files;
  bool one_file_system = false;
  std::string parent;
  bool force = false;  // ignore the parent: re-read everything
  int readers = 16, walkers = 32, uploads = 0;
  int checkpoint_interval = 300;  // seconds, 0 = none
  std::string compression;        // --compression
  std::uint64_t pack_memory_mib = repo::Repository::kDefaultPackMemory >> 20;
  bool dry_run = false;
  // --stdin / --stdin-from-command (paths is then the command's argv).
  bool from_stdin = false, stdin_from_command = false;
  std::string stdin_filename = "stdin";
  bool stream() const { return from_stdin || stdin_from_command; }
  // A sharded run (README, "Sharded backup"): --shard I/N, --run-id,
  // --merge-if-last; or --merge RUN.
  std::string shard, run_id, merge;
  bool merge_if_last = false;
};

// A worker of a sharded run: which one, of which run.
struct ShardWorker {
  shard::ShardSpec spec;
  std::string run_id;
};

Result<std::optional<ShardWorker>> ParseShardWorker(const BackupCliOptions& o) {
  if (o.shard.empty()) return std::optional<ShardWorker>();
  ShardWorker w;
  ASSIGN_OR_RETURN(w.spec, shard::ParseShardSpec(o.shard));
  w.run_id = o.run_id;
  if (w.run_id.empty())
    if (const char* env = std::getenv("EFS2S3_RUN_ID")) w.run_id = env;
  if (w.run_id.empty())
    return MakeError(ErrorCode::kUsage,
                     "--shard needs --run-id or $EFS2S3_RUN_ID (the same for "
                     "every worker of the run)");
  RETURN_IF_ERROR(shard::ValidateRunId(w.run_id));
  return std::optional<ShardWorker>(std::move(w));
}

// After a worker saved its shard: with --merge-if-last, merges when every
// shard of the run is there, else says which are still missing.
Result<int> MergeIfLast(const ShardWorker& w, const BackupCliOptions& o,
                        repo::Repository& repo, Context& ctx) {
  ASSIGN_OR_RETURN(RunState state, InspectRun(repo, w.run_id));
  if (!state.merged && state.count == w.spec.count &&
      !state.Missing().empty()) {
    ctx.Info(
        fmt::format("run {}: shards {} of {} still missing; the last "
                    "worker merges\n",
                    w.run_id, ShardList(state.Missing()), w.spec.count));
    return kExitOk;
  }
  return MergeRun(repo, w.run_id, o.time, ctx);
}

// The archiver's options from the command line (patterns files read).
Result<archiver::BackupOptions> MakeBackupOptions(const BackupCliOptions& o,
                                                  Context& ctx) {
  archiver::BackupOptions opts;
  opts.paths = o.paths;
  opts.excludes = o.excludes;
  for (const auto& f : o.exclude_files) {
    ASSIGN_OR_RETURN(auto more, pattern::ReadPatternFile(f));
    opts.excludes.insert(opts.excludes.end(), more.begin(), more.end());
  }
  opts.one_file_system = o.one_file_system;
  opts.hostname = o.host;
  opts.tags = o.tags;
  opts.readers = o.readers;
  opts.walkers = o.walkers;
  opts.uploads = o.uploads;
  opts.checkpoint_interval = std::chrono::seconds(o.checkpoint_interval);
  opts.on_checkpoint = [&ctx](const Id& id) {
    ctx.Verbose(
        fmt::format("checkpoint: partial snapshot {} saved\n", id.Short()));
  };
  opts.dry_run = o.dry_run;
  if (!o.time.empty()) {
    ASSIGN_OR_RETURN(std::int64_t t, model::ParseTime(o.time));
    opts.time_ns = t;
  }
  return opts;
}

// The parent: given, or the latest snapshot of this host with the same paths
// (and, when that is partial, the last complete one as its fallback). Returns
// the partial snapshot this run resumes from, if any.
Result<std::optional<Id>> ChooseParent(const BackupCliOptions& o,
                                       const std::vector<std::string>& abs,
                                       repo::Repository& repo,
                                       archiver::BackupOptions& opts,
                                       archiver::BackupProgress& progress,
                                       Context& ctx) {
  std::optional<Id> resumed_from;
  if (o.force) return resumed_from;
  // A damaged snapshot is skipped and named (exit 3): the parent is the
  // latest readable one. Any other failure of the listing fails the backup: a
  // run without the parent it should have would read every file again.
  std::vector<repo::UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(auto all, repo.ListSnapshots(&unreadable));
  ctx.SkipUnreadable(unreadable);
  ASSIGN_OR_RETURN(
      archiver::ParentChoice choice,
      archiver::SelectParent(all, archiver::HostOrThis(o.host), abs, o.parent));
  if (choice.parent) {
    opts.parent = choice.parent->first;
    progress.bytes_expected = choice.parent->second.summary.bytes_total;
    ctx.Verbose(fmt::format("using parent snapshot {}\n",
                            choice.parent->first.Short()));
    if (archiver::IsPartial(choice.parent->second))
      resumed_from = choice.parent->first;
  }
  if (choice.fallback) {
    const auto& [id, c] = *choice.fallback;
    opts.fallback_parent = id;
    if (progress.bytes_expected < c.summary.bytes_total)
      progress.bytes_expected = c.summary.bytes_total;
    ctx.Verbose(
        fmt::format("resuming; complete parent snapshot {}\n", id.Short()));
  }
  return resumed_from;
}

using PathErrors = std::vector<std::pair<std::string, std::string>>;

// The first flagged nodes (BackupResult::kMaxFlaggedListed) with their flags.
nlohmann::json FlaggedJson(const std::vector<archiver::FlaggedPath>& flagged) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : flagged)
    out.push_back({{"path", f.path}, {"flags", model::FlagNames(f.flags)}});
  return out;
}

// What was stored but is suspect: the counts, then the first paths.
void PrintFlagged(const archiver::BackupResult& result, Context& ctx) {
  const model::SnapshotSummary& m = result.snapshot.summary;
  const std::uint64_t total = result.flagged_total;
  if (total == 0) return;
  ctx.Warn(fmt::format(
      "{} stored but flagged in the snapshot ({} changed while read, {} "
      "incomplete; `ls -l` shows them):\n",
      total, m.changed_while_read, m.incomplete));
  for (const auto& f : result.flagged)
    ctx.Warn(fmt::format("  {}  [{}]\n", Printable(f.path),
                         model::FlagsString(f.flags)));
  if (total > result.flagged.size())
    ctx.Warn(fmt::format("  ... and {} more\n", total - result.flagged.size()));
}

void PrintBackupResult(const BackupCliOptions& o,
                       const archiver::BackupResult& result,
                       const PathErrors& errors, repo::Repository& repo,
                       Context& ctx) {
  const model::Snapshot& s = result.snapshot;
  const model::SnapshotSummary& m = s.summary;
  if (ctx.global.json) {
    nlohmann::json errs = nlohmann::json::array();
    for (const auto& [p, e] : errors)
      errs.push_back({{"path", p}, {"error", e}});
    // The snapshot's summary, with the per-file errors instead of their count.
    nlohmann::json j = model::SummaryToJson(m);
    j.update({{"message_type", "summary"},
              {"snapshot_id", o.dry_run ? "" : result.snapshot_id.Hex()},
              {"parent", s.parent ? s.parent->Hex() : ""},
              {"dry_run", o.dry_run},
              {"partial", result.partial},
              {"checkpoints", result.checkpoints},
              {"packs_uploaded", repo.stats().packs_uploaded.load()},
              {"requests", ctx.requests()},
              {"errors", errs},
              {"flagged", FlaggedJson(result.flagged)},
              {"flagged_total", result.flagged_total}});
    ctx.PrintJson(j);
    return;
  }
  ctx.Info(fmt::format(
      "Files:       {} new, {} changed, {} unchanged\n"
      "Dirs:        {} new, {} changed, {} unchanged\n"
      "Read:        {} of {} in {:.2f} s\n"
      "Added:       {} ({} stored in {} packs)\n",
      m.files_new, m.files_changed, m.files_unchanged, m.dirs_new,
      m.dirs_changed, m.dirs_unchanged, HumanBytes(m.bytes_read),
      HumanBytes(m.bytes_total), m.duration_seconds, HumanBytes(m.bytes_added),
      HumanBytes(m.bytes_stored), repo.stats().packs_uploaded.load()));
  if (o.dry_run)
    ctx.Info("dry run: no snapshot saved\n");
  else
    ctx.Info(fmt::format("snapshot {} saved\n", result.snapshot_id.Short()));
  if (!errors.empty()) {
    ctx.Warn(fmt::format("{} file(s) could not be read:\n", errors.size()));
    for (const auto& [p, e] : errors) ctx.Warn("  " + Printable(p) + "\n");
  }
  PrintFlagged(result, ctx);
}

// The stream of --stdin or --stdin-from-command as one file at `path`.
Result<archiver::BackupResult> RunStreamBackup(
    const BackupCliOptions& o, const std::string& path, repo::Repository& repo,
    const archiver::BackupOptions& opts, Context& ctx) {
  archiver::StreamSource source;
  source.name = path;
  std::unique_ptr<StreamCommand> command;
  if (o.stdin_from_command) {
    ASSIGN_OR_RETURN(command, StreamCommand::Start(o.paths));
    source.fd = command->fd();
    source.what = "output of '" + o.paths.front() + "'";
    source.finished = [&] { return command->Finish(&ctx.cancel); };
  } else {
    source.fd = STDIN_FILENO;
    source.what = "standard input";
  }
  return archiver::RunStreamBackup(repo, opts, source);
}

Result<int> RunBackup(const BackupCliOptions& o, Context& ctx) {
  if (!o.merge.empty()) {
    RETURN_IF_ERROR(shard::ValidateRunId(o.merge));
    ASSIGN_OR_RETURN(repo::Repository * repo,
                     ctx.OpenRepository(Context::LockMode::kShared));
    return MergeRun(*repo, o.merge, o.time, ctx);
  }
  ASSIGN_OR_RETURN(std::optional<ShardWorker> worker, ParseShardWorker(o));
  std::vector<std::string> abs;
  if (o.stream()) {
    ASSIGN_OR_RETURN(std::string p, archiver::StreamPath(o.stdin_filename));
    abs.push_back(p);
  } else {
    for (const auto& p : o.paths)
      abs.push_back(archiver::NormalizeBackupPath(p));
  }
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kShared));
  UseCompression(o.compression, *repo);
  repo->SetPackMemory(o.pack_memory_mib << 20);
  ASSIGN_OR_RETURN(archiver::BackupOptions opts, MakeBackupOptions(o, ctx));
  archiver::BackupProgress progress;
  ASSIGN_OR_RETURN(std::optional<Id> resumed_from,
                   ChooseParent(o, abs, *repo, opts, progress, ctx));
  std::optional<shard::Plan> plan;
  if (worker) {
    const ShardWorker& w = *worker;
    ASSIGN_OR_RETURN(RunState state, InspectRun(*repo, w.run_id));
    if (state.merged) {
      ctx.Info(fmt::format("run {} is already merged: snapshot {}\n", w.run_id,
                           state.merged->first.Short()));
      return kExitOk;
    }
    if (state.count == w.spec.count &&
        state.shards[static_cast<size_t>(w.spec.index)]) {
      ctx.Info(fmt::format(
          "shard {}/{} of run {} is already saved: snapshot {}\n", w.spec.index,
          w.spec.count, w.run_id,
          state.shards[static_cast<size_t>(w.spec.index)]->first.Short()));
      return o.merge_if_last ? MergeIfLast(w, o, *repo, ctx) : kExitOk;
    }
    // Planned by the last complete snapshot (the fallback when resuming).
    std::optional<Id> parent_root;
    if (auto p = opts.fallback_parent ? opts.fallback_parent : opts.parent) {
      ASSIGN_OR_RETURN(model::Snapshot ps, repo->LoadSnapshot(*p));
      parent_root = ps.tree;
    }
    ASSIGN_OR_RETURN(plan, LoadOrMakePlan(*repo, w.run_id, w.spec.count, abs,
                                          parent_root, ctx));
    opts.share = [&plan, index = w.spec.index](const std::string& path) {
      return archiver::ShardShare{plan->Owner(path) == index,
                                  plan->Split(path)};
    };
    opts.tags.push_back(shard::ShardTag(w.run_id, w.spec.index, w.spec.count));
    opts.tags.push_back(shard::PlanTag(*plan));
    // Other workers may resume from the same partial snapshot still.
    resumed_from.reset();
  }
  std::mutex err_mu;
  PathErrors errors;
  opts.on_error = [&](const std::string& path, const Error& e) -> Result<void> {
    std::lock_guard lock(err_mu);
    errors.emplace_back(path, e.message);
    ctx.WarnLine("error: " + Printable(e.message));
    return Ok();
  };
  opts.progress = &progress;
  opts.cancel = &ctx.cancel;
  Result<archiver::BackupResult> result = MakeError(ErrorCode::kUnknown, "");
  {
    ProgressReporter reporter(ctx, "backup", [&] {
      return ProgressSample{progress.files, progress.dirs, progress.bytes_done,
                            progress.bytes_expected, progress.errors};
    });
    result = o.stream() ? RunStreamBackup(o, abs.front(), *repo, opts, ctx)
                        : archiver::RunBackup(*repo, opts);
  }
  if (!result) return result.error();
  if (resumed_from && !result->partial && !o.dry_run && o.parent.empty()) {
    // The partial snapshot this run resumed from is superseded.
    (void)repo->RemoveSnapshot(*resumed_from);
  }
  PrintBackupResult(o, *result, errors, *repo, ctx);
  if (result->partial) {
    ctx.Warn("interrupted: the partial snapshot " +
             result->snapshot_id.Short() +
             " holds what was completed; the next backup continues from it\n");
    return kExitInterrupted;
  }
  if (worker && o.merge_if_last) {
    ASSIGN_OR_RETURN(int merged, MergeIfLast(*worker, o, *repo, ctx));
    if (merged != kExitOk) return merged;
  }
  return errors.empty() ? kExitOk : kExitIncomplete;
}
}  // namespace

void RegisterBackup(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<BackupCliOptions>();
  CLI::App* c = app.add_subcommand(
      "backup", "Back up files and directories into a new snapshot");
  c->add_option("paths", o->paths,
                "Files and directories to back up (with --stdin-from-command: "
                "the command and its arguments, after --)");
  c->add_option("--tag", o->tags, "Tag the snapshot (repeatable)");
  c->add_option("--host", o->host, "Host name to record (default: this host)");
  c->add_option("--time", o->time,
                "Snapshot time to record (RFC 3339 or 'YYYY-MM-DD HH:MM:SS')");
  c->add_option("-e,--exclude", o->excludes,
                "Exclude a glob pattern (repeatable)");
  c->add_option("--exclude-file", o->exclude_files,
                "Read exclude patterns from a file (repeatable)");
  c->add_flag("-x,--one-file-system", o->one_file_system,
              "Do not cross file system boundaries");
  c->add_option("--parent", o->parent,
                "Compare with this snapshot instead of the latest");
  c->add_flag("--force", o->force,
              "Re-read all files, ignoring the parent snapshot");
  c->add_option("--readers,--workers", o->readers,
                "Entries stat'ed and read in parallel (default 16)")
      ->check(CLI::Range(1, 1024));
  c->add_option("--walkers", o->walkers,
                "Directories scanned in parallel (default 32)")
      ->check(CLI::Range(1, 1024));
  c->add_option(
       "--uploads", o->uploads,
       "Packs uploaded in parallel (default: the backend's, S3 32, local 4)")
      ->check(CLI::Range(0, 256));
  AddCompressionOption(c, &o->compression);
  c->add_option("--pack-memory", o->pack_memory_mib,
                "MiB of packs held in memory while they are filled and "
                "uploaded; beyond it packs wait in temporary files (default "
                "64, 0 = always temporary files)")
      ->check(CLI::Range(0, 1 << 20));
  c->add_option("--checkpoint-interval", o->checkpoint_interval,
                "Seconds between checkpoints: partial snapshots that a run "
                "killed without warning resumes from (default 300, 0 = none)")
      ->check(CLI::NonNegativeNumber);
  c->add_flag("-n,--dry-run", o->dry_run,
              "Read and hash everything but store nothing");
  CLI::Option* in = c->add_flag("--stdin", o->from_stdin,
                                "Back up standard input as one file");
  CLI::Option* from = c->add_flag(
      "--stdin-from-command", o->stdin_from_command,
      "Back up the standard output of the command after -- as one file (run "
      "without a shell; a failure fails the backup)");
  CLI::Option* name = c->add_option(
      "--stdin-filename", o->stdin_filename,
      "Name of the file of --stdin / --stdin-from-command (default stdin)");
  CLI::Option* shard_opt =
      c->add_option("--shard", o->shard,
                    "Back up worker I's share of a run of N workers (I/N, "
                    "0-based; auto/N: I from $JOB_COMPLETION_INDEX or "
                    "$AWS_BATCH_JOB_ARRAY_INDEX) into a shard snapshot");
  CLI::Option* run_opt = c->add_option(
      "--run-id", o->run_id,
      "The run the shard belongs to, the same for all its workers (default "
      "$EFS2S3_RUN_ID)");
  CLI::Option* last_opt = c->add_flag(
      "--merge-if-last", o->merge_if_last,
      "After saving the shard, merge the run if every shard is saved");
  CLI::Option* merge_opt = c->add_option(
      "--merge", o->merge,
      "Merge the shard snapshots of run ID into its one snapshot, and remove "
      "them");
  run_opt->needs(shard_opt);
  last_opt->needs(shard_opt);
  merge_opt->excludes(shard_opt);
  in->excludes(from);
  for (const char* opt :
       {"--exclude", "--exclude-file", "--one-file-system", "--walkers",
        "--checkpoint-interval", "--shard", "--merge"}) {
    in->excludes(opt);
    from->excludes(opt);
  }
  c->callback([&ctx, o, name] {
    if (o->from_stdin && !o->paths.empty())
      throw CLI::ValidationError("--stdin", "takes no PATH");
    if (o->stdin_from_command && o->paths.empty())
      throw CLI::ValidationError("--stdin-from-command",
                                 "needs a command after --");
    if (!o->merge.empty()) {
      if (!o->paths.empty())
        throw CLI::ValidationError("--merge", "takes no PATH");
      ctx.run = [&ctx, o] { return RunBackup(*o, ctx); };
      return;
    }
    if (!o->stream() && o->paths.empty())
      throw CLI::ValidationError(
          "PATH",
          "at least one is required (or --stdin, --stdin-from-command)");
    if (!o->stream() && name->count() > 0)
      throw CLI::ValidationError("--stdin-filename",
                                 "needs --stdin or --stdin-from-command");
    ctx.run = [&ctx, o] { return RunBackup(*o, ctx); };
  });
}

}  // namespace efs2s3::cli
