// Shared by check, prune and repair (defined in cmd_check.cc).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "cli/context.h"

namespace efs2s3::cli {

// A repository opened by a maintenance command itself: tolerant of unreadable
// index files, so that check can report them and repair can replace them.
struct MaintenanceRepo {
  std::unique_ptr<repo::Repository> repo;
  std::unique_ptr<repo::Lock> lock;
  ~MaintenanceRepo() {
    lock.reset();
    repo.reset();
  }
};

// Takes the shared or exclusive lock (refuses --no-lock for exclusive use).
// fresh_cache: a temporary cache, so every index file is read from the
// repository.
Result<std::unique_ptr<MaintenanceRepo>> OpenForMaintenance(Context& ctx,
                                                            bool exclusive,
                                                            bool fresh_cache);

// Step messages: redrawn on a terminal (stderr), as lines with -v otherwise.
std::function<void(const std::string&)> StepPrinter(const Context& ctx);
void ClearSteps(const Context& ctx);

}  // namespace efs2s3::cli
