// uploads: leftover S3 multipart uploads of crashed runs (they cost storage
// until aborted).
#include <fmt/format.h>

#include "cli/context.h"
#include "storage/s3/s3_backend.h"

namespace efs2s3::cli {

namespace {
Result<int> RunUploads(bool abort, int older_than_hours, Context& ctx) {
  ASSIGN_OR_RETURN(auto backend, ctx.OpenBackend());
  storage::s3::S3Maintenance* m = storage::s3::AsS3Maintenance(*backend);
  if (!m)
    return MakeError(
        ErrorCode::kInvalidArgument,
        backend->Location() + ": not an S3 repository (no multipart uploads)");
  ASSIGN_OR_RETURN(auto uploads, m->ListIncompleteUploads());
  nlohmann::json list = nlohmann::json::array();
  for (const auto& u : uploads) {
    list.push_back({{"key", u.key},
                    {"upload_id", u.upload_id},
                    {"initiated", u.initiated}});
    if (!ctx.global.json)
      ctx.Print(fmt::format("{}  {}\n", u.initiated, u.key));
  }
  int aborted = 0;
  if (abort) {
    auto before =
        std::chrono::system_clock::now() - std::chrono::hours(older_than_hours);
    ASSIGN_OR_RETURN(aborted, m->AbortIncompleteUploads(before));
  }
  if (ctx.global.json)
    ctx.PrintJson({{"uploads", list}, {"aborted", aborted}});
  else
    ctx.Info(fmt::format("{} incomplete upload(s){}\n", uploads.size(),
                         abort ? fmt::format(", {} aborted", aborted) : ""));
  return 0;
}
}  // namespace

void RegisterUploads(CLI::App& app, Context& ctx) {
  auto abort = std::make_shared<bool>(false);
  auto hours = std::make_shared<int>(24);
  CLI::App* c = app.add_subcommand("uploads",
                                   "List (and --abort) incomplete S3 multipart "
                                   "uploads left by crashed runs");
  c->add_flag("--abort", *abort, "Abort them");
  c->add_option(
      "--older-than", *hours,
      "Only abort uploads started more than this many hours ago (default 24)");
  c->callback([&ctx, abort, hours] {
    ctx.run = [&ctx, abort, hours] { return RunUploads(*abort, *hours, ctx); };
  });
}

}  // namespace efs2s3::cli
