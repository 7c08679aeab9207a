// mount DIR [--allow-other]
#include <signal.h>

#include "cli/context.h"
#include "cli/exit_codes.h"
#ifdef EFS2S3_HAVE_FUSE
#include "mount/mount.h"
#endif

namespace efs2s3::cli {

namespace {

struct MountCliOptions {
  std::string dir;
  bool allow_other = false;
  std::uint64_t cache_mib = 256;
};

Result<int> RunMount(const MountCliOptions& o, Context& ctx) {
#ifdef EFS2S3_HAVE_FUSE
  // A shared lock for as long as the mount is up: no prune removes data it
  // shows.
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kShared));
  std::vector<repo::UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(repo::SnapshotList all, repo->ListSnapshots(&unreadable));
  ctx.SkipUnreadable(unreadable);
  mount::MountOptions opts;
  opts.dir = o.dir;
  opts.allow_other = o.allow_other;
  opts.cache_bytes = o.cache_mib << 20;
  opts.on_mounted = [&] {
    ctx.Info("mounted " + std::to_string(all.size()) + " snapshot(s) at " +
             Printable(o.dir) + "; Ctrl-C or `fusermount3 -u " +
             Printable(o.dir) + "` unmounts\n");
  };
  // libfuse installs its own SIGINT/SIGTERM/SIGHUP handlers (end the loop,
  // then unmount) only over the default ones.
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
  RETURN_IF_ERROR(mount::Serve(*repo, all, opts));
  if (ctx.global.json)
    ctx.PrintJson({{"message_type", "summary"},
                   {"unmounted", o.dir},
                   {"snapshots", all.size()}});
  return kExitOk;
#else
  (void)o;
  (void)ctx;
  return MakeError(ErrorCode::kUnsupported,
                   "mount: this efs2s3 was built without FUSE (libfuse3)");
#endif
}

}  // namespace

void RegisterMount(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<MountCliOptions>();
  CLI::App* c = app.add_subcommand(
      "mount", "Browse the snapshots as a read-only file system (FUSE)");
  c->add_option("dir", o->dir, "An empty directory to mount on")->required();
  c->add_flag("--allow-other", o->allow_other,
              "Let other users read the mount (needs user_allow_other in "
              "/etc/fuse.conf unless root)");
  c->add_option("--cache-mib", o->cache_mib,
                "Decoded file data kept in memory, MiB (default 256)")
      ->check(CLI::Range(16, 65536));
  c->callback([&ctx, o] { ctx.run = [&ctx, o] { return RunMount(*o, ctx); }; });
}

}  // namespace efs2s3::cli
