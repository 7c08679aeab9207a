// The local side of a sync: the tree as a flat list of entries, from the one
// parallel walk of fs/walk.h (no symlink followed, latency overlapped), with
// what it could not read.
//
// Writes go through fs::OpenBeneath (no symlink followed, never outside the
// target): nothing a remote key says can make a download write outside the
// target directory.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "base/error_sink.h"
#include "base/result.h"
#include "fs/file_system.h"
#include "fs/open.h"
#include "sync/plan.h"

namespace efs2s3::sync {

struct WalkOptions {
  int threads = 32;
  const Filter* filter = nullptr;
  bool links = false;  // report symlinks (else skipped with a warning)
  bool keep_empty_dirs = false;  // report empty directories as "rel/"
  bool warn_links = true;        // warn about each skipped symlink
  // Names skipped at the root (the manifest).
  std::string reserved_name;
  // Per-entry problems, from many threads: Ok goes on; an error stops the
  // walk (no new directory or entry is read).
  OnError on_error;
  std::function<void(const std::string& text)> on_warning;
  std::atomic<std::uint64_t>* counter = nullptr;  // entries seen
  const std::atomic<bool>* cancel = nullptr;
  fs::FileSystem* files = nullptr;  // tests: a recording file system
};

// What a walk saw, and what it could not see. A path in `incomplete` or
// `vanished` ("" for the root) covers itself and everything below it: nothing
// there may be taken as gone (sync --delete keeps its copies).
struct WalkResult {
  std::vector<Entry> entries;  // sorted by rel
  // Not read completely: a directory that could not be opened or whose listing
  // failed half-way, an entry that could not be stat'ed. Also reported to
  // on_error. Sorted.
  std::vector<std::string> incomplete;
  // Listed by its parent, then gone when stat'ed or opened (ENOENT): deleted
  // during the walk, or a network file system's passing glitch. Sorted.
  std::vector<std::string> vanished;
};

// Files (and symlinks, empty directories as asked) below root.
// kNotFound / kIo when root itself cannot be opened.
Result<WalkResult> WalkTree(const std::string& root, const WalkOptions& opts);

using fs::MakeDirsBeneath;
using fs::OpenBeneath;

}  // namespace efs2s3::sync
