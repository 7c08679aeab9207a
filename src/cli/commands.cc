// The table of commands: one Register function per cmd_*.cc file.
#include "cli/context.h"

namespace efs2s3::cli {

void RegisterInit(CLI::App& app, Context& ctx);  // init, key, version, unlock
void RegisterBackup(CLI::App& app, Context& ctx);
void RegisterSnapshots(CLI::App& app,
                       Context& ctx);  // snapshots, ls, find, diff
void RegisterRestore(CLI::App& app, Context& ctx);
void RegisterDump(CLI::App& app, Context& ctx);   // cmd_dump.cc
void RegisterStats(CLI::App& app, Context& ctx);  // cmd_stats.cc
void RegisterRewrite(CLI::App& app,
                     Context& ctx);  // cmd_rewrite.cc: tag, rewrite
void RegisterCat(CLI::App& app, Context& ctx);
void RegisterUploads(CLI::App& app, Context& ctx);  // cmd_uploads.cc
void RegisterForget(CLI::App& app, Context& ctx);
void RegisterPrune(CLI::App& app, Context& ctx);   // cmd_prune.cc
void RegisterCheck(CLI::App& app, Context& ctx);   // cmd_check.cc
void RegisterDrill(CLI::App& app, Context& ctx);   // cmd_drill.cc
void RegisterReport(CLI::App& app, Context& ctx);  // cmd_report.cc
void RegisterRepair(CLI::App& app, Context& ctx);
void RegisterLock(CLI::App& app,
                  Context& ctx);  // cmd_lock.cc  // cmd_repair.cc

void RegisterJob(CLI::App& app, Context& ctx);       // cmd_job.cc: job, daemon
void RegisterGenerate(CLI::App& app, Context& ctx);  // cmd_generate.cc
// cmd_generate_docs.cc: generate completion, generate man (hidden)
void RegisterGenerateDocs(CLI::App& app, Context& ctx);
void RegisterMountEfs(CLI::App& app, Context& ctx);  // cmd_mount_efs.cc
void RegisterSync(CLI::App& app, Context& ctx);      // cmd_sync.cc
void RegisterCopy(CLI::App& app, Context& ctx);      // cmd_copy.cc
void RegisterMount(CLI::App& app, Context& ctx);     // cmd_mount.cc

void RegisterCommands(CLI::App& app, Context& ctx) {
  RegisterInit(app, ctx);
  RegisterBackup(app, ctx);
  RegisterRestore(app, ctx);
  RegisterDump(app, ctx);
  RegisterStats(app, ctx);
  RegisterRewrite(app, ctx);
  RegisterCopy(app, ctx);
  RegisterMount(app, ctx);
  RegisterSnapshots(app, ctx);
  RegisterForget(app, ctx);
  RegisterPrune(app, ctx);
  RegisterCheck(app, ctx);
  RegisterDrill(app, ctx);
  RegisterReport(app, ctx);
  RegisterRepair(app, ctx);
  RegisterLock(app, ctx);
  RegisterCat(app, ctx);
  RegisterUploads(app, ctx);
  RegisterJob(app, ctx);
  RegisterGenerate(app, ctx);
  RegisterGenerateDocs(app, ctx);
  RegisterMountEfs(app, ctx);
  RegisterSync(app, ctx);
}

namespace {
// Commands that never write to a repository (restore writes only its target):
// what --point-in-time allows. A command added later is refused until it is
// listed here.
constexpr const char* kReadOnlyCommands[] = {"snapshots", "ls",    "find",
                                             "diff",      "cat",   "restore",
                                             "dump",      "check", "version"};
}  // namespace

bool ReadsRepositoryOnly(const std::string& command) {
  for (const char* c : kReadOnlyCommands)
    if (command == c) return true;
  return false;
}

std::string ReadOnlyCommandNames() {
  std::string out;
  for (const char* c : kReadOnlyCommands) {
    if (std::string_view(c) == "version") continue;
    out += (out.empty() ? "" : ", ") + std::string(c);
  }
  return out;
}

}  // namespace efs2s3::cli
