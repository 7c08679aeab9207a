#include "sync/local_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

#include "base/fd.h"
#include "base/test_hooks.h"
#include "fs/walk.h"

namespace efs2s3::sync {
namespace {

Time Ts(const struct timespec& t) {
  return {static_cast<std::int64_t>(t.tv_sec),
          static_cast<std::uint32_t>(t.tv_nsec)};
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

// The sync's view of fs::Walk: a flat list of entries, and the paths it
// could not read. Paths are relative to the root ("" is the root).
class Lister {
 public:
  struct Dir {};
  struct Value {};

  explicit Lister(const WalkOptions& o) : opts_(o) {}

  bool Cancelled() const {
    return refused_.load() || (opts_.cancel && opts_.cancel->load());
  }
  bool Skip(const Dir&, const std::string& rel, const std::string& name) {
    if (rel != name || name != opts_.reserved_name) return false;
    Warn(name + ": skipped (the name of the sync manifest)");
    return true;
  }
  std::optional<Value> Visit(const Dir&, int, const fs::Entry& e) {
    Count();
    const std::string& rel = e.path;
    if (opts_.filter && !opts_.filter->Included(rel)) return std::nullopt;
    if (S_ISREG(e.st.st_mode)) {
      Add(FromStat(rel, e.st));
    } else if (S_ISLNK(e.st.st_mode)) {
      if (opts_.links)
        Add(FromStat(rel, e.st));
      else if (opts_.warn_links)
        Warn(rel + ": symlink skipped (--links copies symlinks)");
    } else {
      Warn(rel + ": skipped (not a regular file, directory or symlink)");
    }
    return std::nullopt;
  }
  std::optional<Dir> Enter(const Dir&, const fs::Entry& e) {
    Count();
    if (opts_.filter && opts_.filter->Excluded(e.path)) return std::nullopt;
    return Dir{};
  }
  std::optional<Value> Opened(Dir&, int, const fs::Entry&) {
    return std::nullopt;
  }
  void Listed(Dir&, const fs::Entry& self,
              const std::vector<std::string>& names) {
    // Lets a test remove an entry between the listing and its lstat.
    if (self.path.empty()) test_hooks::Gate("WALK_ROOT_LISTED");
    if (names.empty() && opts_.keep_empty_dirs && !self.path.empty())
      Add(FromStat(self.path + "/", self.st));
  }
  Result<std::optional<Value>> Leave(Dir&, const fs::Entry&,
                                     std::vector<Value>) {
    return std::optional<Value>{};
  }
  void Abandon(Dir&, const fs::Entry&) {}
  // rel could not be read completely, or vanished.
  void Unread(const std::string& rel, const Error& e, bool vanished) {
    if (vanished) {
      Warn(rel + ": vanished during the walk");
      std::lock_guard lock(mu_);
      result_.vanished.push_back(rel);
      return;
    }
    if (opts_.on_error && !opts_.on_error(rel, e)) refused_ = true;
    std::lock_guard lock(mu_);
    result_.incomplete.push_back(rel);
  }

  WalkResult Take() {
    std::sort(result_.entries.begin(), result_.entries.end(),
              [](const Entry& a, const Entry& b) { return a.rel < b.rel; });
    std::sort(result_.incomplete.begin(), result_.incomplete.end());
    std::sort(result_.vanished.begin(), result_.vanished.end());
    return std::move(result_);
  }

 private:
  void Count() {
    if (opts_.counter) ++*opts_.counter;
  }
  void Warn(const std::string& text) {
    if (opts_.on_warning) opts_.on_warning(text);
  }
  void Add(Entry e) {
    std::lock_guard lock(mu_);
    result_.entries.push_back(std::move(e));
  }

  const WalkOptions& opts_;
  std::atomic<bool> refused_{false};
  std::mutex mu_;
  WalkResult result_;
};

}  // namespace

Result<WalkResult> WalkTree(const std::string& root, const WalkOptions& opts) {
  Fd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return PosixError(root, errno);
  fs::Entry self;
  if (::fstat(fd.get(), &self.st) != 0) return PosixError(root, errno);
  Lister lister(opts);
  fs::Walk<Lister> walk(lister, {opts.threads, opts.threads},
                        opts.files ? *opts.files : fs::RealFileSystem());
  Lister::Dir dir;
  auto r = walk.Contents(dir, fd.get(), self);
  if (!r) lister.Unread("", r.error(), false);
  return lister.Take();
}

}  // namespace efs2s3::sync
