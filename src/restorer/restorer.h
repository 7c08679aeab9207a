// restorer: writes a snapshot (or part of it) back to a directory.
//
// Algorithm:
//   resolve SUBPATH in the snapshot's trees
//   walk trees depth first, relative to an O_DIRECTORY fd of --target:
//     directories: mkdirat + openat(O_NOFOLLOW)   (never follows a symlink)
//     files: queued to workers: openat(O_CREAT|O_EXCL|O_NOFOLLOW), write blobs
//            (holes with --sparse), xattrs, owner (root), mode, times
//     symlinks, fifos, sockets, devices: created in place with their metadata
//     later members of a hard-link group: remembered
//   wait for the workers; create hard links
//   set directory metadata deepest first (times last, after their content)
// Names come from trees that were authenticated and checked (no "/", "..",
// NUL), and every path operation is relative to a directory fd this restore
// created, so no entry can redirect a write outside the target. A damaged blob
// makes that one file fail (reported, removed); the rest is restored. Flagged
// nodes (a file that changed while it was backed up, an incomplete file or
// directory) are restored as stored, and named to on_flagged.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/error_sink.h"
#include "base/result.h"
#include "model/snapshot.h"
#include "repo/interfaces.h"

namespace efs2s3::restorer {

struct RestoreProgress {
  std::atomic<std::uint64_t> files{0}, dirs{0}, bytes{0}, errors{0};
  std::uint64_t bytes_expected = 0;
};

// Whether a file is restored in this pass (cold restores, restorer/cold.h).
enum class FileDecision {
  kRestore,
  kDefer,  // not yet: counted in RestoreResult::deferred
  kSkip,   // restored before
};

struct RestoreOptions {
  std::string target;
  std::string subpath;                // "" or "/" = everything
  std::vector<std::string> includes;  // glob patterns on snapshot paths
  std::vector<std::string> excludes;
  bool sparse = false;
  bool verify =
      false;  // re-read every restored file and compare with its blobs
  bool dry_run = false;
  int workers = 8;
  // Every per-file error, from many threads: Ok goes on, an error stops the
  // restore, which then fails with it.
  OnError on_error;
  // Every restored node stored with flags (model::Node::flags: changed while
  // read, incomplete), by its snapshot path, from the walking thread, before
  // it is written: its content or listing may not be what the source held.
  std::function<void(const std::string& path, const model::Node& node)>
      on_flagged;
  RestoreProgress* progress = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  // Restores in passes (restorer/cold.h): every selected file is shown to
  // file_filter (also in a dry run), which decides whether it is written
  // now; null restores all. Directories are made in every pass and get their
  // metadata at its end; other entries (symlinks, FIFOs, devices) only when
  // restore_others.
  std::function<FileDecision(const std::string& snap_path,
                             const model::Node& node)>
      file_filter;
  bool restore_others = true;
};

struct RestoreResult {
  std::uint64_t files = 0, dirs = 0, other = 0, bytes = 0, errors = 0,
                verified = 0;
  std::uint64_t flagged = 0;   // nodes restored that carry flags
  std::uint64_t deferred = 0;  // files file_filter deferred
  // Packs that could not be read at all (named once each to on_error, not
  // once per file).
  std::uint64_t packs_failed = 0;
  std::vector<Id> failed_packs;  // their IDs
};

// Reads through `repo` only: blob locations, pack ranges, trees (a
// repo::Repository is one).
Result<RestoreResult> RunRestore(repo::BlobLoader& repo,
                                 const model::Snapshot& snapshot,
                                 const RestoreOptions& options);

// Finds the node at `path` ("/a/b") below tree `root`. kNotFound if absent.
Result<model::Node> FindNode(repo::TreeLoader& repo, const Id& root,
                             const std::string& path);

}  // namespace efs2s3::restorer
