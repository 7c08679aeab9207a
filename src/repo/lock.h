// Repository locks (docs/FORMAT.md, "Locks").
//
// A lock is a sealed object locks/<random> naming host, pid, time and whether
// it is exclusive. Backups take shared locks, prune/repair take exclusive ones.
// A holder refreshes its lock every 5 minutes (write new, then delete old); a
// lock that has not been refreshed for 30 minutes, or whose process is gone on
// this host, is stale and ignored (and removed by `unlock`). A holder that may
// not delete objects (backup-only credentials) writes a release record naming
// its locks instead: they are stale from then on.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "repo/repository.h"

namespace efs2s3::repo {

struct LockInfo {
  std::string name;
  std::int64_t time_ns = 0;
  std::string hostname, username;
  std::int64_t pid = 0;
  bool exclusive = false;
  bool stale = false;
  bool damaged = false;  // did not authenticate or parse: counts as exclusive
  // A record of locks released by a process that could not delete them (it
  // names them; they and it are stale).
  bool release_record = false;
};

class Lock {
 public:
  ~Lock();  // stops refreshing and removes the lock object
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  friend Result<std::unique_ptr<Lock>> AcquireLock(Repository&, bool);
  explicit Lock(Repository& repo, bool exclusive)
      : repo_(repo), exclusive_(exclusive) {}
  Result<std::string> Write();
  void RefreshLoop();
  // Removes a lock object of ours; remembers it when not allowed to.
  void Drop(const std::string& name);
  Repository& repo_;
  bool exclusive_;
  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread refresher_;
  std::vector<std::string> undeletable_;
};

// kLocked (naming the holder) if a conflicting, non-stale lock exists.
Result<std::unique_ptr<Lock>> AcquireLock(Repository& repo, bool exclusive);

// All locks with their staleness.
Result<std::vector<LockInfo>> ListLocks(Repository& repo);

// Removes stale locks, or all locks with `all`. Returns how many were removed.
Result<int> RemoveLocks(Repository& repo, bool all);

}  // namespace efs2s3::repo
