// The one parallel walk of a file tree, used by backup (which builds a tree of
// directories from it, bottom up) and by sync (which lists it).
//
// On a network file system every stat, open and readdir is a round trip, so
// the walk keeps many in flight: each directory's entries are lstat'ed (and
// visited, which for a backup means read) by a pool of readers, and
// subdirectories are walked by up to `walkers` threads at once, inline when
// all are busy (a thread only waits for work that is already running, so this
// cannot deadlock however deep the tree). Every directory is opened relative
// to its parent's descriptor without following symlinks (O_NOFOLLOW), so a
// directory swapped for a symlink during the walk is never followed.
//
// The walk tells its visitor what it could not read: an entry that vanished
// between its listing and its lstat/open (ENOENT), or a subtree it could not
// read completely (a directory that could not be opened or whose listing
// failed half-way, an entry that could not be stat'ed). A consumer that
// deletes what it did not see (sync --delete) must keep such subtrees.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <optional>
#include <semaphore>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "base/thread_pool.h"
#include "fs/file_system.h"

namespace efs2s3::fs {

// An entry of a directory, as lstat saw it.
struct Entry {
  std::string name;  // in its directory ("" for the walk's own start)
  std::string path;  // the walk's name for it (JoinPath of its parent's)
  struct stat st {};
};

// "a" + "b" = "a/b"; "" + "b" = "b"; "/" + "b" = "/b".
std::string JoinPath(const std::string& dir, const std::string& name);

struct WalkLimits {
  int readers = 16;  // entries lstat'ed and visited at once
  int walkers = 32;  // directories walked at once
};

// The visitor V of a Walk<V> provides (called from many threads at once):
//   using Dir = ...;    state of a directory being walked, made by Enter
//   using Value = ...;  what an entry contributes to its directory
//   bool Cancelled();   checked before each entry: no new work once true
//   bool Skip(const Dir& dir, const std::string& path, const std::string&
//   name);
//                       true: leave the entry out without an lstat
//   std::optional<Value> Visit(const Dir& dir, int dirfd, const Entry& e);
//                       every entry but a directory, on a reader thread
//   std::optional<Dir> Enter(const Dir& parent, const Entry& e);
//                       a subdirectory, before it is opened (nullopt: skip)
//   std::optional<Value> Opened(Dir& dir, int fd, const Entry& e);
//                       it is open; a value stands for it without listing it
//                       (a mount point under --one-file-system)
//   void Listed(Dir& dir, const Entry& e, const std::vector<std::string>& n);
//   Result<std::optional<Value>> Leave(Dir& dir, const Entry& e,
//                       std::vector<Value> children);  // in name order
//                       an error here ends the walk (kCancelled: left out)
//   void Abandon(Dir& dir, const Entry& e);  entered, but not read
//   void Unread(const std::string& path, const Error& error, bool vanished);
//                       path (and all below it) could not be read; vanished:
//                       it was gone (ENOENT) when stat'ed or opened
template <class V>
class Walk {
 public:
  using Dir = typename V::Dir;
  using Value = typename V::Value;
  using Outcome = Result<std::optional<Value>>;

  Walk(V& visitor, const WalkLimits& limits,
       FileSystem& files = RealFileSystem())
      : v_(visitor),
        fs_(files),
        readers_(std::max(1, limits.readers), 4096),
        walkers_(std::max(1, limits.walkers - 1)),
        walker_slots_(std::max(0, limits.walkers - 1)) {}

  // Lists the directory open at fd (`self`, state `dir`), walks what it holds
  // and returns Leave's value. A listing that fails is returned (the caller
  // decides whether that ends its walk), after Abandon.
  Outcome Contents(Dir& dir, int fd, const Entry& self) {
    std::optional<Error> listing;
    Outcome r = Read(dir, fd, self, &listing);
    if (listing) return *listing;
    return r;
  }

  // One entry of the directory dirfd (state `parent`), lstat'ed already: a
  // directory is entered, opened and walked; anything else visited.
  Outcome Child(const Dir& parent, int dirfd, const Entry& e) {
    if (v_.Cancelled()) return std::optional<Value>{};
    if (!S_ISDIR(e.st.st_mode)) return v_.Visit(parent, dirfd, e);
    std::optional<Dir> dir = v_.Enter(parent, e);
    if (!dir) return std::optional<Value>{};
    Fd fd(fs_.OpenDirAt(dirfd, e.name, e.path));
    if (!fd) {
      int err = -fd.release();
      v_.Abandon(*dir, e);
      v_.Unread(e.path, PosixError(e.path + ": opening the directory", err),
                err == ENOENT);
      return std::optional<Value>{};
    }
    if (std::optional<Value> leaf = v_.Opened(*dir, fd.get(), e)) return leaf;
    std::optional<Error> listing;
    Outcome r = Read(*dir, fd.get(), e, &listing);
    if (listing) {
      v_.Unread(e.path, *listing, false);
      return std::optional<Value>{};
    }
    return r;
  }

  // lstat of `name` in dirfd: the entry, or nullopt after Unread.
  std::optional<Entry> StatEntry(int dirfd, std::string name,
                                 std::string path) {
    Entry e{std::move(name), std::move(path), {}};
    int err = fs_.StatAt(dirfd, e.name, e.path, &e.st);
    if (err == 0) return e;
    v_.Unread(e.path, PosixError(e.path, err), err == ENOENT);
    return std::nullopt;
  }

  FileSystem& files() { return fs_; }

 private:
  struct Staged {
    bool dir = false;
    Entry entry;                 // directories: walked by the caller
    std::optional<Value> value;  // anything else: visited already
  };

  // Contents; a failed listing goes to *listing (after Abandon).
  Outcome Read(Dir& dir, int fd, const Entry& self,
               std::optional<Error>* listing) {
    auto names = fs_.ListDir(fd, self.path);
    if (!names) {
      v_.Abandon(dir, self);
      *listing = names.error();
      return std::optional<Value>{};
    }
    std::sort(names->begin(), names->end());
    v_.Listed(dir, self, *names);
    std::vector<std::future<Staged>> staged;
    staged.reserve(names->size());
    for (const std::string& n : *names) {
      std::string path = JoinPath(self.path, n);
      if (v_.Skip(dir, path, n)) continue;
      staged.push_back(readers_.Submit(
          [this, &dir, fd, n, path = std::move(path)]() mutable {
            return Stage(dir, fd, std::move(n), std::move(path));
          }));
    }
    std::vector<std::optional<Value>> values(staged.size());
    std::vector<std::pair<size_t, std::future<Outcome>>> subdirs;
    Result<void> failure = Ok();
    auto take = [&](size_t slot, Outcome r) {
      if (r)
        values[slot] = std::move(*r);
      else if (r.error().code != ErrorCode::kCancelled && failure)
        failure = r.error();
    };
    for (size_t i = 0; i < staged.size(); ++i) {
      Staged s = staged[i].get();
      if (!s.dir) {
        values[i] = std::move(s.value);
        continue;
      }
      if (v_.Cancelled()) continue;  // no descent once interrupted
      if (walker_slots_.try_acquire()) {
        subdirs.emplace_back(
            i, walkers_.Submit([this, &dir, fd, e = std::move(s.entry)] {
              Outcome r = Child(dir, fd, e);
              walker_slots_.release();
              return r;
            }));
      } else {
        take(i, Child(dir, fd, s.entry));
      }
    }
    for (auto& [slot, fut] : subdirs) take(slot, fut.get());
    if (!failure) {
      v_.Abandon(dir, self);
      return failure.error();
    }
    std::vector<Value> children;
    children.reserve(values.size());
    for (auto& v : values)
      if (v) children.push_back(std::move(*v));
    return v_.Leave(dir, self, std::move(children));
  }

  Staged Stage(const Dir& dir, int fd, std::string name, std::string path) {
    Staged s;
    if (v_.Cancelled()) return s;
    std::optional<Entry> e = StatEntry(fd, std::move(name), std::move(path));
    if (!e) return s;
    if (S_ISDIR(e->st.st_mode)) {
      s.dir = true;
      s.entry = std::move(*e);
      return s;
    }
    s.value = v_.Visit(dir, fd, *e);
    return s;
  }

  V& v_;
  FileSystem& fs_;
  ThreadPool readers_;
  ThreadPool walkers_;
  std::counting_semaphore<4096> walker_slots_;
};

}  // namespace efs2s3::fs
