#include "repo/lock.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>

#include "repo/maintenance_access.h"

namespace efs2s3::repo {

using json = nlohmann::json;
using storage::ObjectType;

namespace {
constexpr auto kRefreshInterval = std::chrono::minutes(5);
constexpr std::int64_t kStaleNs = 30LL * 60 * 1000000000;

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::string Host() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}
}  // namespace

// The fields of a lock object (or of a release record, whose names go to
// `released`); false when one has the wrong type.
static bool ParseLock(const json& j, LockInfo& li,
                      std::set<std::string>& released) {
  try {
    li.time_ns = j.value("time_ns", std::int64_t{0});
    li.hostname = j.value("hostname", "");
    li.pid = j.value("pid", std::int64_t{0});
    if (j.contains("released")) {
      std::vector<std::string> names = j.at("released");
      released.insert(names.begin(), names.end());
      li.release_record = true;
      return true;
    }
    li.username = j.value("username", "");
    li.exclusive = j.value("exclusive", false);
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

Result<std::vector<LockInfo>> ListLocks(Repository& repo) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(MaintenanceAccess(repo).List(
      ObjectType::kLock, [&](const storage::ObjectInfo& i) -> Result<void> {
        names.push_back(i.name);
        return Ok();
      }));
  std::vector<LockInfo> out;
  std::string host = Host();
  // Locks whose holder released them without being allowed to delete them
  // (backup credentials without s3:DeleteObject): see Lock::Release.
  std::set<std::string> released;
  for (const auto& n : names) {
    auto plain = repo.LoadObject(ObjectType::kLock, n);
    if (!plain) {
      if (plain.error().code == ErrorCode::kNotFound)
        continue;  // removed meanwhile
      if (plain.error().code != ErrorCode::kCorruption) return plain.error();
    }
    json j = plain ? json::parse(AsString(*plain), nullptr, false) : json();
    LockInfo li;
    li.name = n;
    if (!j.is_discarded() && j.is_object() && !ParseLock(j, li, released))
      j = json();  // fields of the wrong type: damaged
    if (j.is_discarded() || !j.is_object()) {
      // Who holds a damaged lock cannot be told: it counts as exclusive and
      // live, so nothing runs beside what may be a prune; `unlock
      // --remove-all` removes it.
      li.damaged = true;
      li.exclusive = true;
      out.push_back(li);
      continue;
    }
    if (li.release_record) {
      li.stale = true;
      out.push_back(li);
      continue;
    }
    li.stale = NowNs() - li.time_ns > kStaleNs;
    if (li.hostname == host && li.pid > 0 &&
        ::kill(static_cast<pid_t>(li.pid), 0) != 0 && errno == ESRCH)
      li.stale = true;
    out.push_back(li);
  }
  for (auto& li : out)
    if (released.count(li.name)) li.stale = true;
  return out;
}

Result<std::string> Lock::Write() {
  json j = {{"time_ns", NowNs()},
            {"hostname", Host()},
            {"username", std::to_string(::getuid())},
            {"pid", static_cast<std::int64_t>(::getpid())},
            {"exclusive", exclusive_}};
  ASSIGN_OR_RETURN(Id id,
                   repo_.SaveObject(ObjectType::kLock, AsBytes(j.dump())));
  return id.Hex();
}

static Result<void> CheckConflicts(Repository& repo, bool exclusive,
                                   const std::string& own) {
  ASSIGN_OR_RETURN(auto locks, ListLocks(repo));
  for (const auto& l : locks) {
    if (l.name == own || l.stale) continue;
    if (l.damaged)
      return MakeError(
          ErrorCode::kLocked,
          "repository is locked by a damaged lock, locks/" + l.name +
              " (who holds it cannot be told): `efs2s3 unlock --remove-all` "
              "removes it once no other efs2s3 uses the repository");
    if (exclusive || l.exclusive)
      return MakeError(
          ErrorCode::kLocked,
          "repository is locked " +
              std::string(l.exclusive ? "exclusively " : "") + "by PID " +
              std::to_string(l.pid) + " on " + l.hostname + " since " +
              model::FormatTime(l.time_ns) + " (locks/" + l.name.substr(0, 8) +
              "; `efs2s3 unlock` removes stale locks)");
  }
  return Ok();
}

Result<std::unique_ptr<Lock>> AcquireLock(Repository& repo, bool exclusive) {
  RETURN_IF_ERROR(CheckConflicts(repo, exclusive, ""));
  std::unique_ptr<Lock> lock(new Lock(repo, exclusive));
  ASSIGN_OR_RETURN(lock->name_, lock->Write());
  // Re-check after writing: two processes racing both see each other's lock.
  if (auto r = CheckConflicts(repo, exclusive, lock->name_); !r) {
    (void)MaintenanceAccess(repo).Remove(ObjectType::kLock, lock->name_);
    lock->name_.clear();
    return r.error();
  }
  lock->refresher_ = std::thread([l = lock.get()] { l->RefreshLoop(); });
  return lock;
}

void Lock::RefreshLoop() {
  std::unique_lock lk(mu_);
  while (!cv_.wait_for(lk, kRefreshInterval, [&] { return stop_; })) {
    lk.unlock();
    auto fresh = Write();
    lk.lock();
    if (fresh) {
      Drop(name_);
      name_ = *fresh;
    }
  }
}

void Lock::Drop(const std::string& name) {
  auto r = MaintenanceAccess(repo_).Remove(ObjectType::kLock, name);
  if (!r && r.error().code == ErrorCode::kPermission)
    undeletable_.push_back(name);
}

Lock::~Lock() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  if (!name_.empty()) Drop(name_);
  if (!undeletable_.empty()) {
    // Credentials that may write but not delete (a backup-only role): a
    // release record names the locks this process held, so that nobody waits
    // for them; maintenance with delete rights removes them all later.
    json j = {{"time_ns", NowNs()},
              {"hostname", Host()},
              {"pid", static_cast<std::int64_t>(::getpid())},
              {"released", undeletable_}};
    (void)repo_.SaveObject(ObjectType::kLock, AsBytes(j.dump()));
  }
}

Result<int> RemoveLocks(Repository& repo, bool all) {
  ASSIGN_OR_RETURN(auto locks, ListLocks(repo));
  int n = 0;
  for (const auto& l : locks) {
    if (!all && !l.stale) continue;
    auto r = MaintenanceAccess(repo).Remove(ObjectType::kLock, l.name);
    if (!r && r.error().code != ErrorCode::kNotFound) return r.error();
    ++n;
  }
  return n;
}

}  // namespace efs2s3::repo
