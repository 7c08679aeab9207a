#include "cli/backup_shard.h"

#include <fmt/format.h>

#include <algorithm>

#include "archiver/parent.h"
#include "cli/exit_codes.h"
#include "shard/merge.h"
#include "shard/weights.h"

namespace efs2s3::cli {

namespace {
// How deep a worker without a parent snapshot scans to plan.
constexpr int kScanDepth = 2;

bool HasTag(const model::Snapshot& s, const std::string& tag) {
  return std::find(s.tags.begin(), s.tags.end(), tag) != s.tags.end();
}
}  // namespace

Result<shard::Plan> LoadOrMakePlan(repo::Repository& repo,
                                   const std::string& run_id, int shards,
                                   std::vector<std::string> abs_paths,
                                   const std::optional<Id>& parent_root,
                                   Context& ctx) {
  std::sort(abs_paths.begin(), abs_paths.end());
  abs_paths.erase(std::unique(abs_paths.begin(), abs_paths.end()),
                  abs_paths.end());
  auto stored = repo.LoadRunObject(run_id);
  if (!stored && stored.error().code == ErrorCode::kNotFound) {
    // The first worker: plans, and stores the plan unless another was first.
    shard::WeightTree weights;
    if (parent_root) {
      ASSIGN_OR_RETURN(weights, shard::WeightsFromSnapshot(repo, *parent_root));
    } else {
      ASSIGN_OR_RETURN(weights, shard::WeightsFromScan(abs_paths, kScanDepth));
    }
    shard::Plan plan = shard::MakePlan(weights, shards);
    plan.run_id = run_id;
    plan.paths = abs_paths;
    auto saved = repo.SaveRunObject(run_id, AsBytes(shard::EncodePlan(plan)));
    if (saved) {
      ctx.Verbose(fmt::format("run {}: planned {} shards ({}), plan {}\n",
                              run_id, shards,
                              parent_root ? "by the parent snapshot"
                                          : "by a scan of the top levels",
                              plan.Identity()));
      return plan;
    }
    if (saved.error().code != ErrorCode::kAlreadyExists)
      return saved.error().Wrap("run " + run_id + ": saving the plan");
    stored = repo.LoadRunObject(run_id);  // another worker's
  }
  if (!stored) return stored.error().Wrap("run " + run_id + ": the plan");
  ASSIGN_OR_RETURN(shard::Plan plan, shard::DecodePlan(AsString(*stored)));
  if (plan.run_id != run_id)
    return MakeError(
        ErrorCode::kCorruption,
        "run " + run_id + ": the stored plan is of run " + plan.run_id);
  if (plan.shards != shards || plan.paths != abs_paths)
    return MakeError(
        ErrorCode::kUsage,
        fmt::format("run {}: planned for {} shards of {} other paths; a run "
                    "ID is for one set of paths and one shard count",
                    run_id, plan.shards, plan.paths.size()));
  return plan;
}

std::vector<int> RunState::Missing() const {
  std::vector<int> out;
  for (size_t i = 0; i < shards.size(); ++i)
    if (!shards[i]) out.push_back(static_cast<int>(i));
  return out;
}

std::string ShardList(const std::vector<int>& shards) {
  std::string out;
  for (int s : shards) out += (out.empty() ? "" : ", ") + std::to_string(s);
  return out;
}

Result<RunState> InspectRun(repo::Repository& repo, const std::string& run_id) {
  ASSIGN_OR_RETURN(auto all, repo.ListSnapshots());
  RunState state;
  const std::string prefix = "shard:" + run_id + ":";
  for (auto& [id, s] : all) {
    if (!model::IsShardSnapshot(s)) {
      if (!HasTag(s, shard::RunTag(run_id))) continue;
      state.all_merged.push_back(id);
      if (!state.merged || id < state.merged->first) state.merged = {id, s};
      continue;
    }
    for (const std::string& t : s.tags) {
      if (t.rfind(prefix, 0) != 0) continue;
      auto spec = shard::ParseShardSpec(t.substr(prefix.size()));
      if (!spec) continue;
      state.all_shard_snapshots.push_back(id);
      if (archiver::IsPartial(s)) continue;
      if (state.count == 0) {
        state.count = spec->count;
        state.shards.resize(static_cast<size_t>(spec->count));
      }
      if (spec->count != state.count) continue;  // reported by the merge
      state.shards[static_cast<size_t>(spec->index)] = {id, s};  // latest
    }
  }
  return state;
}

Result<int> MergeRun(repo::Repository& repo, const std::string& run_id,
                     const std::string& time, Context& ctx) {
  RETURN_IF_ERROR(shard::ValidateRunId(run_id));
  ASSIGN_OR_RETURN(RunState state, InspectRun(repo, run_id));
  auto cleanup = [&]() {
    for (const Id& id : state.all_shard_snapshots)
      (void)repo.RemoveSnapshot(id);  // gone already if two merges raced
    (void)repo.RemoveRunObject(run_id);
  };
  if (state.merged) {
    cleanup();
    ctx.Info(fmt::format("run {} is already merged: snapshot {}\n", run_id,
                         state.merged->first.Short()));
    if (ctx.global.json)
      ctx.PrintJson({{"message_type", "summary"},
                     {"run_id", run_id},
                     {"snapshot_id", state.merged->first.Hex()},
                     {"already_merged", true}});
    return kExitOk;
  }
  auto stored = repo.LoadRunObject(run_id);
  if (!stored) {
    if (stored.error().code == ErrorCode::kNotFound)
      return MakeError(ErrorCode::kNotFound,
                       "run " + run_id +
                           ": no such sharded run (no plan in the repository)");
    return stored.error().Wrap("run " + run_id + ": the plan");
  }
  ASSIGN_OR_RETURN(shard::Plan plan, shard::DecodePlan(AsString(*stored)));
  if (state.count == 0) state.shards.resize(static_cast<size_t>(plan.shards));
  if (state.count != 0 && state.count != plan.shards)
    return MakeError(ErrorCode::kCorruption,
                     fmt::format("run {}: shards of {} workers, planned for {}",
                                 run_id, state.count, plan.shards));
  if (auto missing = state.Missing(); !missing.empty()) {
    ctx.Warn(fmt::format(
        "efs2s3: run {}: shard{} {} of {} missing (not saved, or failed): run "
        "{} again, then merge\n",
        run_id, missing.size() > 1 ? "s" : "", ShardList(missing), plan.shards,
        missing.size() > 1 ? "them" : "it"));
    return kExitShardsMissing;
  }
  // The shards' trees were indexed by the other workers after this process
  // loaded the index.
  RETURN_IF_ERROR(repo.ReloadIndex());
  std::vector<Id> roots;
  const model::Snapshot& first = state.shards.front()->second;
  model::Snapshot merged = first;
  merged.summary = {};
  for (size_t i = 0; i < state.shards.size(); ++i) {
    const model::Snapshot& s = state.shards[i]->second;
    if (!HasTag(s, shard::PlanTag(plan)))
      return MakeError(
          ErrorCode::kCorruption,
          fmt::format("run {}: shard {} ({}) was saved with another plan than "
                      "{}: run it again",
                      run_id, i, state.shards[i]->first.Short(),
                      plan.Identity()));
    if (s.hostname != first.hostname || s.paths != first.paths)
      return MakeError(ErrorCode::kCorruption,
                       fmt::format("run {}: shard {} has another host or other "
                                   "paths than shard 0",
                                   run_id, i));
    roots.push_back(s.tree);
    merged.time_ns = std::min(merged.time_ns, s.time_ns);
    model::SnapshotSummary& m = merged.summary;
    const model::SnapshotSummary& a = s.summary;
    m.files_new += a.files_new;
    m.files_changed += a.files_changed;
    m.files_unchanged += a.files_unchanged;
    m.dirs_new += a.dirs_new;
    m.dirs_changed += a.dirs_changed;
    m.dirs_unchanged += a.dirs_unchanged;
    m.other_nodes += a.other_nodes;
    m.errors += a.errors;
    m.changed_while_read += a.changed_while_read;
    m.incomplete += a.incomplete;
    m.bytes_read += a.bytes_read;
    m.bytes_total += a.bytes_total;
    m.bytes_added += a.bytes_added;
    m.bytes_stored += a.bytes_stored;
    m.blobs_added += a.blobs_added;
    m.duration_seconds = std::max(m.duration_seconds, a.duration_seconds);
  }
  std::optional<Id> parent_root;
  if (first.parent) {
    auto p = repo.LoadSnapshot(*first.parent);
    if (p) parent_root = p->tree;  // else: only atimes of united directories
  }
  shard::MergeStats stats;
  ASSIGN_OR_RETURN(merged.tree, shard::MergeTrees(repo, repo, plan, roots,
                                                  parent_root, &stats));
  RETURN_IF_ERROR(repo.Flush());
  merged.summary.dirs_new += stats.dirs_new;
  merged.summary.dirs_changed += stats.dirs_changed;
  merged.summary.dirs_unchanged += stats.dirs_unchanged;
  std::erase_if(merged.tags, [](const std::string& t) {
    return t.rfind("shard:", 0) == 0 || t.rfind("shard-plan:", 0) == 0;
  });
  merged.tags.push_back(shard::RunTag(run_id));
  if (!time.empty()) {
    ASSIGN_OR_RETURN(merged.time_ns, model::ParseTime(time));
  }
  ASSIGN_OR_RETURN(Id id, repo.SaveSnapshot(merged));
  // Two merges at once each save one: the smallest ID stays, whoever looks
  // last removes the others (the first to save cannot know of the second).
  ASSIGN_OR_RETURN(RunState after, InspectRun(repo, run_id));
  if (after.merged) {
    for (const Id& other : after.all_merged)
      if (other != after.merged->first) (void)repo.RemoveSnapshot(other);
    id = after.merged->first;
  }
  cleanup();
  ctx.Info(fmt::format(
      "run {}: {} shards merged into snapshot {} ({} united directories, {} "
      "new trees)\n",
      run_id, plan.shards, id.Short(), stats.trees_merged, stats.trees_saved));
  if (ctx.global.json) {
    nlohmann::json j = model::SummaryToJson(merged.summary);
    j.update({{"message_type", "summary"},
              {"run_id", run_id},
              {"snapshot_id", id.Hex()},
              {"tree", merged.tree.Hex()},
              {"shards", plan.shards},
              {"already_merged", false}});
    ctx.PrintJson(j);
  }
  return kExitOk;
}

}  // namespace efs2s3::cli
