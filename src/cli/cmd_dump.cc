// dump: a file of a snapshot to stdout, or a directory as a tar or zip archive
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "cli/context.h"
#include "restorer/cold.h"
#include "restorer/dump.h"
#include "restorer/restorer.h"

namespace efs2s3::cli {

namespace {
struct DumpCliOptions {
  std::string snapshot, path;
  std::string archive = "tar";
  bool archive_given = false;
  std::string host;
  std::vector<std::string> paths;
};

// "/a/b" for "a/b/", "/a//b" or "/a/b"; "/" for the root.
std::string NormalPath(const std::string& path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t end = path.find('/', i);
    if (end == std::string::npos) end = path.size();
    if (end > i) out += "/" + path.substr(i, end - i);
    i = end;
  }
  return out.empty() ? "/" : out;
}

Result<int> RunDump(const DumpCliOptions& o, Context& ctx) {
  if (ctx.global.json)
    return MakeError(ErrorCode::kUsage,
                     "dump: --json does not apply: dump writes a file's bytes "
                     "or an archive to standard output");
  // An archive (or a binary file) on a terminal is noise and may be taken
  // for control sequences.
  if (::isatty(STDOUT_FILENO))
    return MakeError(ErrorCode::kUsage,
                     "dump: standard output is a terminal; redirect it to a "
                     "file or a pipe");
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kShared));
  ASSIGN_OR_RETURN(auto snap,
                   FindSnapshotArg(ctx, *repo, o.snapshot, o.host, o.paths));
  std::string path = NormalPath(o.path);
  ASSIGN_OR_RETURN(model::Node node,
                   restorer::FindNode(*repo, snap.second.tree, path));
  if (repo->HasArchiveClasses()) {
    // Archived data cannot be streamed: plan as a restore would, and refuse
    // before writing a byte, with what a restore of it would take.
    restorer::RestoreOptions ro;
    ro.subpath = path == "/" ? "" : path;
    restorer::ColdOptions co;
    co.plan_only = true;
    ASSIGN_OR_RETURN(
        restorer::ColdResult plan,
        restorer::RunColdRestore(*repo, *repo, snap.second, ro, co, {}));
    const std::uint64_t cold =
        plan.plan.archived_packs - plan.plan.restored_packs;
    if (cold > 0)
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("dump: {} of {}'s {} packs are archived and not "
                      "restored; `efs2s3 restore {}:{} --target DIR` "
                      "plans, requests and waits for them (`--dry-run` shows "
                      "the cost)",
                      cold, path, plan.plan.packs, snap.first.Short(), path));
  }
  restorer::DumpOptions opts;
  opts.format = o.archive == "zip" ? restorer::ArchiveFormat::kZip
                                   : restorer::ArchiveFormat::kTar;
  opts.cancel = &ctx.cancel;
  // As many blobs fetched ahead as the storage serves well at once (S3: 32).
  opts.read_ahead = std::max(8, repo->PreferredUploadConcurrency());
  opts.on_skipped = [&ctx](const std::string& p, const std::string& why) {
    ctx.Warn(fmt::format("warning: {}: {}\n", Printable(p), why));
  };
  if (node.type == model::NodeType::kFile && !o.archive_given) {
    RETURN_IF_ERROR(restorer::DumpFile(*repo, node, path, opts));
    return 0;
  }
  // The root has no name of its own: its entries are the archive's top level.
  std::string name = path == "/" ? "" : path.substr(path.rfind('/') + 1);
  if (name.empty()) {
    node = model::Node{};
    node.type = model::NodeType::kDir;
    node.subtree = snap.second.tree;
  }
  RETURN_IF_ERROR(restorer::DumpArchive(*repo, node, name, path, opts));
  return 0;
}
}  // namespace

void RegisterDump(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<DumpCliOptions>();
  CLI::App* c = app.add_subcommand(
      "dump",
      "Write a file of a snapshot to standard output, or a directory as a tar "
      "(pax) or zip archive");
  c->add_option("snapshot", o->snapshot, "Snapshot ID, prefix or 'latest'")
      ->required();
  c->add_option("path", o->path, "Path inside the snapshot ('/' for all)")
      ->required();
  CLI::Option* archive =
      c->add_option("-a,--archive", o->archive,
                    "Archive format for a directory: tar (default) or zip; "
                    "given for a file, the file is archived too")
          ->check(CLI::IsMember({"tar", "zip"}));
  c->add_option("--host", o->host,
                "With 'latest': only snapshots of this host");
  c->add_option("--path", o->paths,
                "With 'latest': only snapshots of these paths");
  c->callback([&ctx, o, archive] {
    o->archive_given = archive->count() > 0;
    ctx.run = [&ctx, o] { return RunDump(*o, ctx); };
  });
}

}  // namespace efs2s3::cli
