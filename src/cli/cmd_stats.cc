// stats: what snapshots hold and what the repository stores
#include <fmt/format.h>

#include <algorithm>

#include "cli/context.h"
#include "maintenance/stats.h"
#include "storage/storage_class.h"

namespace efs2s3::cli {

namespace {

// The monthly storage cost of one class's objects (us-east-1 list prices,
// storage/storage_class.h); -1 for a directory or an unknown class.
double MonthlyUsd(const maintenance::StorageClassUse& c) {
  if (c.storage_class.empty()) return -1;
  const storage::StorageClassInfo* info =
      storage::FindStorageClass(c.storage_class);
  return info ? storage::MonthlyStorageCost(*info, c.objects, c.bytes) : -1;
}
struct StatsCliOptions {
  std::vector<std::string> snapshots;
  std::string host;
  std::vector<std::string> paths, tags;
  std::string mode = "restore-size";
};

maintenance::StatsMode ModeOf(const std::string& name) {
  if (name == "files-by-contents")
    return maintenance::StatsMode::kFilesByContents;
  if (name == "raw-data") return maintenance::StatsMode::kRawData;
  if (name == "blobs-per-file") return maintenance::StatsMode::kBlobsPerFile;
  return maintenance::StatsMode::kRestoreSize;
}

// a / b, 0 when b is 0.
double Ratio(std::uint64_t a, std::uint64_t b) {
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}

Result<int> RunStats(const StatsCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kShared));
  std::vector<Id> roots;
  if (o.snapshots.empty()) {
    std::vector<repo::UnreadableSnapshot> unreadable;
    ASSIGN_OR_RETURN(auto all, repo->ListSnapshots(&unreadable));
    ctx.SkipUnreadable(unreadable);
    auto has_all = [](const std::vector<std::string>& have,
                      const std::vector<std::string>& want) {
      return std::all_of(want.begin(), want.end(), [&](const std::string& w) {
        return std::find(have.begin(), have.end(), w) != have.end();
      });
    };
    for (const auto& [id, s] : all)
      if ((o.host.empty() || s.hostname == o.host) &&
          has_all(s.paths, o.paths) && has_all(s.tags, o.tags))
        roots.push_back(s.tree);
  } else {
    for (const std::string& spec : o.snapshots) {
      ASSIGN_OR_RETURN(auto snap,
                       FindSnapshotArg(ctx, *repo, spec, o.host, o.paths));
      roots.push_back(snap.second.tree);
    }
  }
  maintenance::StatsMode mode = ModeOf(o.mode);
  ASSIGN_OR_RETURN(maintenance::RepoStats s,
                   maintenance::ComputeStats(*repo, roots, mode, &ctx.cancel));
  // The mode's two figures, as restic names them.
  std::uint64_t count = 0, size = 0;
  switch (mode) {
    case maintenance::StatsMode::kRestoreSize:
      count = s.entries;
      size = s.restore_size;
      break;
    case maintenance::StatsMode::kFilesByContents:
      count = s.unique_files;
      size = s.unique_files_size;
      break;
    case maintenance::StatsMode::kRawData:
      count = s.blobs;
      size = s.stored_size;
      break;
    case maintenance::StatsMode::kBlobsPerFile:
      count = s.unique_files;
      size = s.unique_files_blob_size;
      break;
  }
  double dedup = Ratio(s.restore_size, s.uncompressed_size);
  double compression = Ratio(s.uncompressed_size, s.stored_size);
  if (s.missing_blobs > 0)
    ctx.Warn(fmt::format(
        "warning: {} blob(s) the snapshots use are not in the index; run "
        "check\n",
        s.missing_blobs));
  if (ctx.global.json) {
    nlohmann::json classes = nlohmann::json::array();
    for (const auto& c : s.storage_classes)
      classes.push_back({{"storage_class", c.storage_class},
                         {"objects", c.objects},
                         {"bytes", c.bytes},
                         {"usd_per_month", MonthlyUsd(c)}});
    ctx.PrintJson(
        {{"message_type", "stats"},
         {"mode", o.mode},
         {"snapshots_processed", s.snapshots},
         {mode == maintenance::StatsMode::kRawData ? "total_blob_count"
                                                   : "total_file_count",
          count},
         {"total_size", size},
         {"restore_size",
          {{"entries", s.entries},
           {"files", s.files},
           {"dirs", s.dirs},
           {"other", s.other},
           {"bytes", s.restore_size}}},
         {"raw_data",
          {{"blobs", s.blobs},
           {"tree_blobs", s.tree_blobs},
           {"data_blobs", s.data_blobs},
           {"uncompressed_size", s.uncompressed_size},
           {"stored_size", s.stored_size},
           {"missing_blobs", s.missing_blobs}}},
         {"dedup_ratio", dedup},
         {"compression_ratio", compression},
         {"repository",
          {{"objects", s.stored_objects},
           {"bytes", s.stored_bytes},
           {"storage_classes", classes}}}});
    return 0;
  }
  std::string text = fmt::format(
      "stats in {} mode:\n"
      "     snapshots processed: {}\n",
      o.mode, s.snapshots);
  if (mode == maintenance::StatsMode::kRawData)
    text += fmt::format(
        "        total blob count: {} ({} trees, {} data)\n"
        " total uncompressed size: {}\n"
        "              total size: {}\n",
        s.blobs, s.tree_blobs, s.data_blobs, HumanBytes(s.uncompressed_size),
        HumanBytes(s.stored_size));
  else
    text += fmt::format(
        "        total file count: {}{}\n"
        "              total size: {}\n",
        count,
        mode == maintenance::StatsMode::kRestoreSize
            ? fmt::format(" ({} files, {} directories, {} other)", s.files,
                          s.dirs, s.other)
            : "",
        HumanBytes(size));
  text += fmt::format(
      "     deduplication ratio: {:.2f} (restore size / distinct data, "
      "uncompressed)\n"
      "       compression ratio: {:.2f} (distinct data, uncompressed / "
      "stored)\n"
      "repository, by storage class: {} in {} objects\n",
      dedup, compression, HumanBytes(s.stored_bytes), s.stored_objects);
  for (const auto& c : s.storage_classes) {
    double usd = MonthlyUsd(c);
    text += fmt::format(
        "  {:<20} {:>12} {:>8} objects{}\n",
        c.storage_class.empty() ? "(none: a directory)" : c.storage_class,
        HumanBytes(c.bytes), c.objects,
        usd >= 0 ? fmt::format("  ~${:.2f}/month", usd) : "");
  }
  if (!s.storage_classes.empty() && !s.storage_classes[0].storage_class.empty())
    text += fmt::format(
        "  (storage only, us-east-1 list prices of {}; requests and "
        "transfer not included)\n",
        storage::kPriceDate);
  ctx.Print(text);
  return 0;
}
}  // namespace

void RegisterStats(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<StatsCliOptions>();
  CLI::App* c = app.add_subcommand(
      "stats",
      "Sizes of snapshots (all, or those named) and of the repository: "
      "restore size, distinct data, deduplication and compression ratios, "
      "bytes per storage class");
  c->add_option("snapshot", o->snapshots,
                "Snapshot IDs, prefixes or 'latest' (default: all)");
  c->add_option("--host", o->host,
                "Only snapshots of this host (with 'latest': its latest)");
  c->add_option("--path", o->paths,
                "Only snapshots with this path (repeatable)");
  c->add_option("--tag", o->tags,
                "Without SNAPSHOT: only snapshots with this tag (repeatable)");
  c->add_option("--mode", o->mode,
                "restore-size (default), files-by-contents, raw-data or "
                "blobs-per-file")
      ->check(CLI::IsMember(
          {"restore-size", "files-by-contents", "raw-data", "blobs-per-file"}));
  c->callback([&ctx, o] { ctx.run = [&ctx, o] { return RunStats(*o, ctx); }; });
}

}  // namespace efs2s3::cli
