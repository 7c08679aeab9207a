// mount-efs FS DIR: mount Amazon EFS (NFSv4.1, recommended options), finding
// the region and, without DNS, the mount target of this availability zone.
#include <fmt/format.h>

#include "aws/credentials.h"
#include "base/file_util.h"
#include "cli/context.h"
#include "jobs/efs.h"
#include "jobs/runner.h"

namespace efs2s3::cli {

namespace {

struct MountEfsCliOptions {
  jobs::EfsMountRequest req;
  bool read_write = false;
  bool dry_run = false;
  bool unmount = false;
};

Result<int> RunMountEfs(MountEfsCliOptions o, Context& ctx) {
  o.req.read_only = !o.read_write;
  if (o.req.path.empty() || o.req.path.front() != '/')
    return MakeError(ErrorCode::kInvalidArgument, "--path must start with '/'");
  auto log = [&ctx](const std::string& line) { ctx.Warn(line + "\n"); };
  if (o.unmount) {
    std::vector<std::string> argv = {"umount", o.req.mount_point};
    nlohmann::json j = {{"message_type", "unmount_efs"},
                        {"mount_point", o.req.mount_point},
                        {"unmount_command", argv},
                        {"dry_run", o.dry_run}};
    if (o.dry_run) {
      if (ctx.global.json)
        ctx.PrintJson(j);
      else
        ctx.Print(jobs::ShellJoin(argv) + "\n");
      return 0;
    }
    ASSIGN_OR_RETURN(
        jobs::ChildResult r,
        jobs::RunChild(argv, jobs::ProcessEnvironment(), &ctx.cancel,
                       std::chrono::seconds(120), log));
    if (r.exit_code != 0)
      return MakeError(ErrorCode::kIo,
                       fmt::format("{}: unmount failed (exit {})",
                                   jobs::ShellJoin(argv), r.exit_code));
    if (ctx.global.json) ctx.PrintJson(j);
    return 0;
  }
  ASSIGN_OR_RETURN(
      jobs::EfsMountPlan plan,
      jobs::PlanEfsMount(o.req, aws::ProcessEnv(), jobs::SystemResolver()));
  nlohmann::json j;
  if (ctx.global.json) {
    j = {{"message_type", "mount_efs"},
         {"file_system_id", o.req.file_system_id},
         {"region", plan.region},
         {"host", plan.host},
         {"resolved_by", plan.resolved_by},
         {"availability_zone", plan.availability_zone},
         {"mount_target_id", plan.mount_target_id},
         {"mount_command", plan.mount_command},
         {"unmount_command", plan.unmount_command},
         {"dry_run", o.dry_run}};
    if (o.dry_run) {
      ctx.PrintJson(j);
      return 0;
    }
  }
  if (o.dry_run) {
    ctx.Print(jobs::ShellJoin(plan.mount_command) + "\n");
    return 0;
  }
  RETURN_IF_ERROR(MakeDirs(o.req.mount_point, 0755));
  ASSIGN_OR_RETURN(
      jobs::ChildResult r,
      jobs::RunChild(plan.mount_command, jobs::ProcessEnvironment(),
                     &ctx.cancel, std::chrono::seconds(120), log));
  if (r.exit_code != 0)
    return MakeError(
        ErrorCode::kIo,
        fmt::format("{}: mount failed (exit {})",
                    jobs::ShellJoin(plan.mount_command), r.exit_code));
  if (ctx.global.json) ctx.PrintJson(j);
  ctx.Info(fmt::format("mounted {} ({}) on {}\n", o.req.file_system_id,
                       plan.host, o.req.mount_point));
  return 0;
}

}  // namespace

void RegisterMountEfs(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<MountEfsCliOptions>();
  CLI::App* c = app.add_subcommand(
      "mount-efs",
      "Mount an EFS file system over NFSv4.1 (region and mount target found "
      "automatically)");
  c->add_option("fs", o->req.file_system_id, "File system ID (fs-12345678)")
      ->required();
  c->add_option("dir", o->req.mount_point, "Mount point")->required();
  c->add_option("--path", o->req.path,
                "Directory inside the file system (default /)");
  c->add_option(
      "--region", o->req.region,
      "Region (default: AWS_REGION, the profile, or instance metadata)");
  c->add_option(
      "--access-point", o->req.access_point,
      "Access point (fsap-...): mounts with amazon-efs-utils, TLS and IAM");
  c->add_option("-o,--options", o->req.options,
                "NFS options instead of the recommended ones");
  c->add_flag("--read-write", o->read_write,
              "Mount read-write (default read-only)");
  c->add_flag("-n,--dry-run", o->dry_run,
              "Print the mount command; mount nothing");
  c->add_flag("--unmount", o->unmount, "Unmount DIR instead");
  c->callback(
      [&ctx, o] { ctx.run = [&ctx, o] { return RunMountEfs(*o, ctx); }; });
}

}  // namespace efs2s3::cli
