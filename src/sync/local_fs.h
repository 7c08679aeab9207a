// The local side of a sync: a parallel walk of a tree, and contained file
// operations below a root directory.
//
// The walk opens every directory relative to its parent's descriptor
// (O_NOFOLLOW) and lstat()s entries with fstatat(), so a directory swapped
// for a symlink during the walk is never followed. Each directory's entries
// are stat'ed in batches by a pool of threads, so network file system latency
// overlaps.
//
// Writes go through OpenBeneath (openat2 with RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS): nothing a remote key says can make a download write
// outside the target directory.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
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
  // Per-entry problems; the walk goes on. Called from many threads.
  std::function<void(const std::string& rel, const Error& e)> on_error;
  std::function<void(const std::string& text)> on_warning;
  std::atomic<std::uint64_t>* counter = nullptr;  // entries seen
  const std::atomic<bool>* cancel = nullptr;
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

// Opens rel below the directory root without following symlinks or leaving
// it. Returns the descriptor or -errno.
int OpenBeneath(int root, const std::string& rel, int flags, unsigned mode = 0);

// mkdir -p of rel below root (0755 & ~umask), never through a symlink.
Result<void> MakeDirsBeneath(int root, const std::string& rel);

}  // namespace efs2s3::sync
