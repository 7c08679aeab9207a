// archiver: backup of file trees into a repository.
//
// Algorithm (one snapshot):
//   for each backup path, depth first:
//     SaveDir(dir, parent_tree):
//       readdir, then for every entry in parallel (--readers workers):
//         lstat; read xattrs;
//         file unchanged vs. parent (size, mtime, ctime, inode)? reuse its blob
//         list else read, chunk (FastCDC), SaveBlob each chunk
//       subdirectories: SaveDir(sub, parent subtree) on a new walker thread
//       while
//         fewer than --walkers run, else on this thread (a thread only ever
//         waits for work that is already running, so this cannot deadlock)
//       SaveTree(sorted nodes) -> subtree ID
//   intermediate directories of absolute paths become trees too (like restic)
//   Flush (packs, then index), then SaveSnapshot.
// Per-file problems (vanished, unreadable, changed while read) go to on_error
// and the backup goes on; they are counted in the summary (exit code 3 in the
// CLI). What is stored anyway but suspect is flagged on its node
// (model::Node::flags): a file still changing after the re-reads
// (changed-while-read), a file a read error cut short and a directory with
// entries that could not be read (incomplete). Flagged files are never the
// parent match of a later backup: it reads them again.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "base/error_sink.h"
#include "base/id.h"
#include "base/result.h"
#include "fs/file_system.h"
#include "model/snapshot.h"
#include "repo/interfaces.h"

namespace efs2s3::archiver {

// Live counters, read by the progress display from another thread.
struct BackupProgress {
  std::atomic<std::uint64_t> files{0}, dirs{0}, bytes_read{0}, bytes_done{0};
  std::atomic<std::uint64_t> errors{0};
  std::uint64_t bytes_expected = 0;  // from the parent snapshot, 0 if unknown
};

// What a sharded run's worker stores of a path (BackupOptions::share).
struct ShardShare {
  bool mine = true;    // the path is this worker's (and, unless split, all
                       // below it)
  bool split = false;  // a directory whose entries several workers share
};

struct BackupOptions {
  std::vector<std::string> paths;
  std::vector<std::string> excludes;  // glob patterns (README, "Patterns")
  bool one_file_system = false;
  std::string hostname;  // "" = this host
  std::vector<std::string> tags;
  std::optional<std::int64_t> time_ns;  // snapshot time; default now
  std::optional<Id> parent;             // snapshot to compare with
  // When `parent` is partial (an interrupted run or a checkpoint): the last
  // complete snapshot, for what the partial one does not hold.
  std::optional<Id> fallback_parent;
  // A partial snapshot of what is complete is saved this often (replacing the
  // previous one; the final snapshot replaces the last), so that a run killed
  // without warning (SIGKILL, a lost instance) resumes from it. 0 = never.
  std::chrono::milliseconds checkpoint_interval{300'000};
  // Called after each checkpoint with its snapshot ID (from the checkpoint
  // thread).
  std::function<void(const Id&)> on_checkpoint;
  int readers = 16;  // entries (stat + read) in flight
  int walkers = 32;  // directories scanned in parallel
  int uploads =
      0;  // packs uploaded in parallel (0 = the backend's concurrency)
  bool dry_run = false;
  // One worker of a sharded run (shard/plan.h): which paths this worker
  // stores. A path neither its own nor split is left out without a stat; a
  // split directory is stored as a skeleton (its own metadata, and below it
  // only what is this worker's). Null: everything.
  std::function<ShardShare(const std::string& abs_path)> share;
  // Called for every per-file error, from many threads: Ok goes on, an error
  // stops the backup, which then fails with it (what was uploaded is indexed).
  OnError on_error;
  BackupProgress* progress = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  fs::FileSystem* files = nullptr;  // tests: a recording file system
};

// A node stored with flags, by its path.
struct FlaggedPath {
  std::string path;
  std::uint32_t flags = 0;
};

struct BackupResult {
  Id snapshot_id;
  model::Snapshot snapshot;
  // The first kMaxFlaggedListed flagged nodes, in the order the walk finished
  // them (the counts are in snapshot.summary).
  std::vector<FlaggedPath> flagged;
  std::uint64_t flagged_total = 0;  // all nodes stored with flags
  static constexpr size_t kMaxFlaggedListed = 20;
  // Interrupted (*cancel): the snapshot (tagged "partial") holds what was
  // completed; the next run uses it as its parent and neither re-reads nor
  // re-uploads that.
  bool partial = false;
  int checkpoints = 0;  // partial snapshots saved on the way
};

// A repository, as what a backup uses of it.
template <class R>
concept BackupRepository = std::is_base_of_v<repo::BlobSaver, R> &&
    std::is_base_of_v<repo::TreeLoader, R> &&
    std::is_base_of_v<repo::SnapshotStore, R>;

// What a backup uses of a repository: it saves blobs and trees, loads the
// parent's trees, and saves (and replaces) snapshots.
struct BackupStores {
  BackupStores(repo::BlobSaver& b, repo::TreeLoader& t, repo::SnapshotStore& s)
      : blobs(b), trees(t), snapshots(s) {}
  // repo::Repository is all three.
  template <BackupRepository Repo>
  BackupStores(Repo& repo)  // NOLINT(google-explicit-constructor)
      : blobs(repo), trees(repo), snapshots(repo) {}
  repo::BlobSaver& blobs;
  repo::TreeLoader& trees;
  repo::SnapshotStore& snapshots;
};

// When *cancel becomes true, the walk stops descending, files being read are
// left out, and a partial snapshot of what was completed is saved
// (result.partial). Repository errors are fatal.
Result<BackupResult> RunBackup(BackupStores stores,
                               const BackupOptions& options);

}  // namespace efs2s3::archiver
