// tag, rewrite: new snapshots in place of old ones (trees/rewrite.h)
#include <fmt/format.h>

#include <algorithm>

#include "cli/context.h"
#include "pattern/pattern.h"
#include "trees/rewrite.h"

namespace efs2s3::cli {

namespace {

using SnapshotList = std::vector<std::pair<Id, model::Snapshot>>;

// The snapshots named on the command line, each once, in the order given;
// every snapshot when none is named and `all_by_default`.
Result<SnapshotList> Resolve(Context& ctx, repo::Repository& repo,
                             const std::vector<std::string>& specs,
                             const SnapshotList& all, bool all_by_default) {
  if (specs.empty() && all_by_default) return all;
  SnapshotList out;
  for (const std::string& spec : specs) {
    ASSIGN_OR_RETURN(auto snap, FindSnapshotArg(ctx, repo, spec));
    bool seen = std::any_of(out.begin(), out.end(), [&](const auto& s) {
      return s.first == snap.first;
    });
    if (!seen) out.push_back(std::move(snap));
  }
  return out;
}

// After a replacement: `all` lists the new snapshot, and the old one only if
// it was kept.
void Replaced(SnapshotList& all, const Id& old_id, const Id& new_id,
              const model::Snapshot& s, bool removed) {
  if (removed)
    std::erase_if(all, [&](const auto& e) { return e.first == old_id; });
  if (std::none_of(all.begin(), all.end(),
                   [&](const auto& e) { return e.first == new_id; }))
    all.emplace_back(new_id, s);
}

std::string JoinTags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) out += (out.empty() ? "" : ",") + t;
  return out.empty() ? "(none)" : out;
}

struct TagOptions {
  std::vector<std::string> snapshots, add, remove, set;
};

// The tags after --set, or --add and --remove: in their order, each once.
std::vector<std::string> NewTags(const std::vector<std::string>& old,
                                 const TagOptions& o) {
  std::vector<std::string> out;
  auto put = [&](const std::string& t) {
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  };
  if (!o.set.empty()) {
    for (const auto& t : o.set) put(t);
    return out;
  }
  for (const auto& t : old)
    if (std::find(o.remove.begin(), o.remove.end(), t) == o.remove.end())
      put(t);
  for (const auto& t : o.add) put(t);
  return out;
}

Result<int> RunTag(const TagOptions& o, Context& ctx) {
  if (o.add.empty() && o.remove.empty() && o.set.empty())
    return MakeError(ErrorCode::kUsage,
                     "tag: nothing to do: give --add, --remove or --set");
  if (!o.set.empty() && (!o.add.empty() || !o.remove.empty()))
    return MakeError(ErrorCode::kUsage,
                     "tag: --set replaces all tags; it cannot be combined "
                     "with --add or --remove");
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kExclusive));
  std::vector<repo::UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(SnapshotList all, repo->ListSnapshots(&unreadable));
  ASSIGN_OR_RETURN(SnapshotList chosen,
                   Resolve(ctx, *repo, o.snapshots, all, false));
  nlohmann::json changed = nlohmann::json::array(),
                 unchanged = nlohmann::json::array();
  for (const auto& [id, snap] : chosen) {
    if (ctx.cancel.load())
      return MakeError(ErrorCode::kCancelled, "interrupted");
    model::Snapshot next = snap;
    next.tags = NewTags(snap.tags, o);
    if (next.tags == snap.tags) {
      unchanged.push_back(id.Hex());
      ctx.Info(fmt::format("snapshot {}: tags unchanged ({})\n", id.Short(),
                           JoinTags(snap.tags)));
      continue;
    }
    ASSIGN_OR_RETURN(Id new_id,
                     trees::ReplaceSnapshot(*repo, id, next, all, true));
    Replaced(all, id, new_id, next, true);
    changed.push_back(
        {{"old", id.Hex()}, {"new", new_id.Hex()}, {"tags", next.tags}});
    ctx.Info(fmt::format("snapshot {}: tags {} -> {}, now snapshot {}\n",
                         id.Short(), JoinTags(snap.tags), JoinTags(next.tags),
                         new_id.Short()));
  }
  if (ctx.global.json)
    ctx.PrintJson({{"message_type", "summary"},
                   {"changed", changed},
                   {"unchanged", unchanged}});
  return 0;
}

struct RewriteOptions {
  std::vector<std::string> snapshots, excludes;
  std::vector<std::string> exclude_files;
  bool forget = false;
  std::string compression;  // --compression (of the new trees)
};

Result<int> RunRewrite(const RewriteOptions& o, Context& ctx) {
  std::vector<std::string> patterns = o.excludes;
  for (const auto& f : o.exclude_files) {
    ASSIGN_OR_RETURN(auto more, pattern::ReadPatternFile(f));
    patterns.insert(patterns.end(), more.begin(), more.end());
  }
  if (patterns.empty())
    return MakeError(
        ErrorCode::kUsage,
        "rewrite: nothing to do: give --exclude or --exclude-file");
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kExclusive));
  UseCompression(o.compression, *repo);
  std::vector<repo::UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(SnapshotList all, repo->ListSnapshots(&unreadable));
  ctx.SkipUnreadable(unreadable);
  ASSIGN_OR_RETURN(SnapshotList chosen,
                   Resolve(ctx, *repo, o.snapshots, all, true));
  auto drop = [&](const std::string& path, const model::Node&) {
    return pattern::IsExcluded(patterns, path);
  };
  nlohmann::json changed = nlohmann::json::array(),
                 unchanged = nlohmann::json::array();
  for (const auto& [id, snap] : chosen) {
    if (ctx.cancel.load())
      return MakeError(ErrorCode::kCancelled, "interrupted");
    trees::RewriteCounts counts;
    ASSIGN_OR_RETURN(
        Id root, trees::RewriteTree(*repo, *repo, snap.tree, drop, &counts));
    if (root == snap.tree) {
      unchanged.push_back(id.Hex());
      ctx.Info(fmt::format("snapshot {}: nothing excluded\n", id.Short()));
      continue;
    }
    // The new trees are indexed before a snapshot refers to them.
    RETURN_IF_ERROR(repo->Flush());
    model::Snapshot next = snap;
    next.tree = root;
    for (const auto& p : patterns)
      if (std::find(next.excludes.begin(), next.excludes.end(), p) ==
          next.excludes.end())
        next.excludes.push_back(p);
    next.summary.bytes_total -=
        std::min(next.summary.bytes_total, counts.removed_bytes);
    ASSIGN_OR_RETURN(Id new_id,
                     trees::ReplaceSnapshot(*repo, id, next, all, o.forget));
    Replaced(all, id, new_id, next, o.forget);
    changed.push_back({{"old", id.Hex()},
                       {"new", new_id.Hex()},
                       {"removed_entries", counts.removed},
                       {"removed_files", counts.removed_files},
                       {"removed_bytes", counts.removed_bytes},
                       {"trees_saved", counts.trees_saved},
                       {"old_forgotten", o.forget}});
    ctx.Info(fmt::format(
        "snapshot {}: {} entr{} excluded ({} files, {}), {} new trees; "
        "new snapshot {}{}\n",
        id.Short(), counts.removed, counts.removed == 1 ? "y" : "ies",
        counts.removed_files, HumanBytes(counts.removed_bytes),
        counts.trees_saved, new_id.Short(),
        o.forget ? ", the old one is forgotten" : ""));
  }
  if (ctx.global.json)
    ctx.PrintJson({{"message_type", "summary"},
                   {"changed", changed},
                   {"unchanged", unchanged}});
  return 0;
}

}  // namespace

void RegisterRewrite(CLI::App& app, Context& ctx) {
  auto t = std::make_shared<TagOptions>();
  CLI::App* tag = app.add_subcommand(
      "tag",
      "Change the tags of snapshots: each changed snapshot is replaced by a "
      "new one with the same tree");
  tag->add_option("snapshot", t->snapshots,
                  "Snapshot IDs, prefixes or 'latest'")
      ->required();
  tag->add_option("--add", t->add, "Add this tag (repeatable)");
  tag->add_option("--remove", t->remove, "Remove this tag (repeatable)");
  tag->add_option("--set", t->set, "Replace all tags by these (repeatable)");
  tag->callback([&ctx, t] { ctx.run = [&ctx, t] { return RunTag(*t, ctx); }; });

  auto r = std::make_shared<RewriteOptions>();
  CLI::App* rw = app.add_subcommand(
      "rewrite",
      "Remove files from snapshots: a new snapshot whose trees change only "
      "above what is excluded (the old one is kept unless --forget)");
  rw->add_option("snapshot", r->snapshots,
                 "Snapshot IDs, prefixes or 'latest' (default: all)");
  rw->add_option("-e,--exclude", r->excludes,
                 "Remove paths matching this glob (repeatable; as backup "
                 "--exclude)");
  rw->add_option("--exclude-file", r->exclude_files,
                 "Read exclude patterns from a file (repeatable)");
  AddCompressionOption(rw, &r->compression);
  rw->add_flag("--forget", r->forget,
               "Remove each old snapshot once its replacement is saved");
  rw->callback(
      [&ctx, r] { ctx.run = [&ctx, r] { return RunRewrite(*r, ctx); }; });
}

}  // namespace efs2s3::cli
