#include "sync/local_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "base/test_hooks.h"

namespace efs2s3::sync {
namespace {

struct Fd {
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int fd;
};

// Runs jobs on a fixed set of threads; jobs may push more jobs. Wait()
// returns when every job pushed so far has run.
class WorkQueue {
 public:
  explicit WorkQueue(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i)
      threads_.emplace_back([this] { Loop(); });
  }
  ~WorkQueue() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void Push(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
      ++pending_;
    }
    cv_.notify_one();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return pending_ == 0; });
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        // Depth first: the newest job first keeps few directories open.
        job = std::move(jobs_.back());
        jobs_.pop_back();
      }
      job();
      std::lock_guard lock(mu_);
      if (--pending_ == 0) idle_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::deque<std::function<void()>> jobs_;
  size_t pending_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

Time Ts(const struct timespec& t) {
  return {static_cast<std::int64_t>(t.tv_sec),
          static_cast<std::uint32_t>(t.tv_nsec)};
}

class Walker {
 public:
  Walker(const WalkOptions& o) : opts_(o), queue_(o.threads) {}

  Result<WalkResult> Run(const std::string& root) {
    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError(root, errno);
    Dir(std::make_shared<Fd>(fd), "");
    queue_.Wait();
    std::sort(result_.entries.begin(), result_.entries.end(),
              [](const Entry& a, const Entry& b) { return a.rel < b.rel; });
    std::sort(result_.incomplete.begin(), result_.incomplete.end());
    std::sort(result_.vanished.begin(), result_.vanished.end());
    return std::move(result_);
  }

 private:
  bool Cancelled() const { return opts_.cancel && opts_.cancel->load(); }
  void Error(const std::string& rel, const efs2s3::Error& e) {
    if (opts_.on_error) opts_.on_error(rel, e);
  }
  void Warn(const std::string& text) {
    if (opts_.on_warning) opts_.on_warning(text);
  }
  void Add(Entry e) {
    std::lock_guard lock(mu_);
    result_.entries.push_back(std::move(e));
  }
  // rel could not be read completely (err != ENOENT) or vanished (ENOENT).
  void Unread(const std::string& rel, const std::string& what, int err) {
    if (err == ENOENT) {
      Warn(rel + ": vanished during the walk");
      std::lock_guard lock(mu_);
      result_.vanished.push_back(rel);
      return;
    }
    Error(rel, PosixError(what, err));
    std::lock_guard lock(mu_);
    result_.incomplete.push_back(rel);
  }

  // Reads the directory dir (rel "" for the root) and queues its entries.
  void Dir(std::shared_ptr<Fd> dir, const std::string& rel) {
    if (Cancelled()) return;
    int dup = ::dup(dir->fd);
    DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
    if (!d) {
      int err = errno;
      if (dup >= 0) ::close(dup);
      Unread(rel, rel + ": reading the directory", err);
      return;
    }
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      struct dirent* de = ::readdir(d);
      if (!de) {
        // A listing that fails half-way is not the directory's content.
        if (errno != 0) {
          int err = errno;
          ::closedir(d);
          Unread(rel, rel + ": reading the directory",
                 err == ENOENT ? EIO : err);
          return;
        }
        break;
      }
      std::string n = de->d_name;
      if (n == "." || n == "..") continue;
      if (rel.empty() && n == opts_.reserved_name) {
        Warn(n + ": skipped (the name of the sync manifest)");
        continue;
      }
      names.push_back(std::move(n));
    }
    ::closedir(d);
    // Lets a test remove an entry between the listing and its lstat.
    if (rel.empty()) test_hooks::Gate("WALK_ROOT_LISTED");
    if (names.empty() && opts_.keep_empty_dirs && !rel.empty()) {
      struct stat st {};
      if (::fstat(dir->fd, &st) == 0) Add(FromStat(rel + "/", st));
    }
    constexpr size_t kBatch = 32;
    for (size_t start = 0; start < names.size(); start += kBatch) {
      size_t end = std::min(names.size(), start + kBatch);
      std::vector<std::string> batch(names.begin() + static_cast<long>(start),
                                     names.begin() + static_cast<long>(end));
      queue_.Push([this, dir, rel, batch = std::move(batch)] {
        for (const std::string& n : batch) Stat(dir, rel, n);
      });
    }
  }

  Entry FromStat(const std::string& rel, const struct stat& st) {
    Entry e;
    e.rel = rel;
    e.kind = S_ISDIR(st.st_mode)   ? Kind::kDir
             : S_ISLNK(st.st_mode) ? Kind::kSymlink
                                   : Kind::kFile;
    e.size = S_ISDIR(st.st_mode) ? 0 : static_cast<std::uint64_t>(st.st_size);
    e.mtime = Ts(st.st_mtim);
    e.atime = Ts(st.st_atim);
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    return e;
  }

  void Stat(const std::shared_ptr<Fd>& dir, const std::string& parent,
            const std::string& name) {
    if (Cancelled()) return;
    std::string rel = parent.empty() ? name : parent + "/" + name;
    if (opts_.counter) ++*opts_.counter;
    struct stat st {};
    if (::fstatat(dir->fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      Unread(rel, rel, errno);
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      if (opts_.filter && opts_.filter->Excluded(rel)) return;
      int fd = ::openat(dir->fd, name.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        Unread(rel, rel + ": opening the directory", errno);
        return;
      }
      auto sub = std::make_shared<Fd>(fd);
      queue_.Push([this, sub, rel] { Dir(sub, rel); });
      return;
    }
    if (opts_.filter && !opts_.filter->Included(rel)) return;
    if (S_ISREG(st.st_mode)) {
      Add(FromStat(rel, st));
    } else if (S_ISLNK(st.st_mode)) {
      if (opts_.links)
        Add(FromStat(rel, st));
      else if (opts_.warn_links)
        Warn(rel + ": symlink skipped (--links copies symlinks)");
    } else {
      Warn(rel + ": skipped (not a regular file, directory or symlink)");
    }
  }

  const WalkOptions& opts_;
  WorkQueue queue_;
  std::mutex mu_;
  WalkResult result_;
};

}  // namespace

Result<WalkResult> WalkTree(const std::string& root, const WalkOptions& opts) {
  Walker w(opts);
  return w.Run(root);
}

int OpenBeneath(int root, const std::string& rel, int flags, unsigned mode) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
  if (fd < 0 && errno == ENOSYS) {
    // Old kernels: every intermediate directory is opened with O_NOFOLLOW.
    int cur = ::dup(root);
    size_t start = 0;
    for (;;) {
      size_t slash = rel.find('/', start);
      if (slash == std::string::npos) break;
      std::string comp = rel.substr(start, slash - start);
      int next = ::openat(cur, comp.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int err = errno;
      ::close(cur);
      if (next < 0) return -err;
      cur = next;
      start = slash + 1;
    }
    int f = ::openat(cur, rel.substr(start).c_str(),
                     flags | O_CLOEXEC | O_NOFOLLOW, mode);
    int err = errno;
    ::close(cur);
    return f < 0 ? -err : f;
  }
  return fd < 0 ? -errno : static_cast<int>(fd);
}

Result<void> MakeDirsBeneath(int root, const std::string& rel) {
  int cur = ::dup(root);
  if (cur < 0) return PosixError("dup", errno);
  size_t start = 0;
  while (start < rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    std::string comp = rel.substr(start, slash - start);
    start = slash + 1;
    if (comp.empty()) continue;
    if (::mkdirat(cur, comp.c_str(), 0755) != 0 && errno != EEXIST) {
      int err = errno;
      ::close(cur);
      return PosixError(rel + ": creating directory", err);
    }
    int next = ::openat(cur, comp.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    ::close(cur);
    if (next < 0)
      return PosixError(rel + ": " + comp + " is not a directory", err);
    cur = next;
  }
  ::close(cur);
  return Ok();
}

}  // namespace efs2s3::sync
