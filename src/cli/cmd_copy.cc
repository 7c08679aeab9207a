// copy --from-repo LOC [SNAPSHOT...]
#include <fmt/format.h>

#include <algorithm>

#include "archiver/parent.h"
#include "base/file_util.h"
#include "cli/context.h"
#include "cli/exit_codes.h"
#include "copier/copier.h"
#include "repo/snapshots.h"

namespace efs2s3::cli {

namespace {

struct CopyCliOptions {
  std::string from_repo;
  std::string from_password_file, from_password_command;
  std::vector<std::string> snapshots;  // none: all but partial ones
  std::string compression;             // --compression
};

// The source snapshots to copy, oldest first: those named, else every
// complete one (partial snapshots are copied only when named).
Result<repo::SnapshotList> SelectSnapshots(const CopyCliOptions& o,
                                           repo::Repository& from,
                                           const repo::SnapshotList& all,
                                           Context& ctx) {
  repo::SnapshotList out;
  if (o.snapshots.empty()) {
    for (const auto& s : all)
      if (!archiver::IsPartial(s.second)) out.push_back(s);
    return out;
  }
  for (const std::string& spec : o.snapshots) {
    ASSIGN_OR_RETURN(auto s, FindSnapshotArg(ctx, from, spec));
    if (std::none_of(out.begin(), out.end(),
                     [&](const auto& have) { return have.first == s.first; }))
      out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.time_ns < b.second.time_ns;
  });
  return out;
}

// Where the map of earlier copies between the two repositories is kept: the
// local cache, "" without one.
std::string MapPath(Context& ctx, repo::Repository& from,
                    repo::Repository& to) {
  std::string dir = ctx.CacheOptions().cache_dir;
  if (dir.empty()) return "";
  dir += "/copy";
  if (!MakeDirs(dir)) return "";
  return dir + "/" + from.config().id + "-" + to.config().id;
}

Result<int> RunCopy(const CopyCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(repo::Repository * to,
                   ctx.OpenRepository(Context::LockMode::kShared));
  UseCompression(o.compression, *to);
  PasswordSource pw{o.from_password_file, o.from_password_command,
                    "EFS2S3_FROM", "--from-"};
  ASSIGN_OR_RETURN(
      repo::Repository * from,
      ctx.OpenSourceRepository(o.from_repo, pw, Context::LockMode::kShared));
  if (from->config().id == to->config().id)
    return MakeError(ErrorCode::kUsage,
                     "copy: --from-repo is the destination repository itself");
  std::vector<repo::UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(repo::SnapshotList all, from->ListSnapshots(&unreadable));
  ctx.SkipUnreadable(unreadable);
  copier::CopyOptions opts;
  ASSIGN_OR_RETURN(opts.snapshots, SelectSnapshots(o, *from, all, ctx));
  opts.all_source = std::move(all);
  unreadable.clear();
  ASSIGN_OR_RETURN(opts.destination, to->ListSnapshots(&unreadable));
  ctx.SkipUnreadable(unreadable);
  opts.cancel = &ctx.cancel;
  opts.on_copied = [&](const Id& src, const Id& dst) {
    ctx.Info(
        fmt::format("snapshot {} copied as {}\n", src.Short(), dst.Short()));
  };
  copier::IdMap map = copier::IdMap::Load(MapPath(ctx, *from, *to));
  Result<copier::CopyResult> r = copier::Copy(*from, *to, map, opts);
  // Only a cache: entries whose blob the destination lacks are not used.
  if (Result<void> saved = map.Save(); !saved)
    ctx.WarnLine("warning: copy map not saved: " +
                 Printable(saved.error().message));
  if (!r) return r.error();
  if (ctx.global.json) {
    nlohmann::json copied = nlohmann::json::array();
    for (const auto& [src, dst] : r->copied)
      copied.push_back({{"from", src.Hex()}, {"to", dst.Hex()}});
    ctx.PrintJson({{"message_type", "summary"},
                   {"snapshots_copied", r->copied.size()},
                   {"snapshots_skipped", r->skipped},
                   {"copied", copied},
                   {"blobs_read", r->blobs_read},
                   {"trees_read", r->trees_read},
                   {"blobs_added", r->blobs_added},
                   {"bytes_added", r->bytes_added},
                   {"trees_written", r->trees_written},
                   {"packs_uploaded", to->stats().packs_uploaded.load()}});
  } else {
    ctx.Info(fmt::format(
        "{} snapshot(s) copied, {} already there; {} blob(s) ({}) added\n",
        r->copied.size(), r->skipped, r->blobs_added,
        HumanBytes(r->bytes_added)));
  }
  return kExitOk;
}

}  // namespace

void RegisterCopy(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<CopyCliOptions>();
  CLI::App* c = app.add_subcommand(
      "copy",
      "Copy snapshots from another repository into this one (only the data "
      "it lacks, re-encrypted)");
  c->add_option("--from-repo", o->from_repo,
                "Source repository (env EFS2S3_FROM_REPOSITORY)")
      ->envname("EFS2S3_FROM_REPOSITORY")
      ->required();
  c->add_option("--from-password-file", o->from_password_file,
                "Read the source's password from a file (env "
                "EFS2S3_FROM_PASSWORD_FILE)");
  c->add_option("--from-password-command", o->from_password_command,
                "Run a shell command that prints the source's password (env "
                "EFS2S3_FROM_PASSWORD_COMMAND)");
  AddCompressionOption(c, &o->compression);
  c->add_option("snapshots", o->snapshots,
                "Source snapshots to copy (default: all but partial ones)");
  c->callback([&ctx, o] { ctx.run = [&ctx, o] { return RunCopy(*o, ctx); }; });
}

}  // namespace efs2s3::cli
