// Internal to restorer/: the Restorer of one restore run (restorer.cc: the
// walk of the snapshot's trees, directories, symlinks and special files;
// restorer_files.cc: files, restored in batches, pack by pack).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/error_sink.h"
#include "base/thread_pool.h"
#include "restorer/restorer.h"

namespace efs2s3::restorer::detail {

using model::Node;
using model::NodeType;

std::vector<std::string> SplitPath(const std::string& path);

// fs::OpenBeneath (no symlink followed, never outside root), failing as
// open(2) does: -1 with errno.
int OpenBeneath(int root, const std::string& rel, int flags, mode_t mode = 0);

// Every file of two batches is open at once: raise the soft limit on open files
// to the hard one, and size batches to fit (4096 files when it allows).
size_t BatchFilesForFdLimit();

std::string Parent(const std::string& rel);

bool AllZero(ByteSpan b);

class Restorer {
 public:
  Restorer(repo::BlobLoader& repo, const RestoreOptions& opts)
      : repo_(repo),
        opts_(opts),
        errors_(opts.on_error, opts.cancel),
        pool_(std::max(1, opts.workers), 1024),
        as_root_(::geteuid() == 0),
        max_batch_files_(BatchFilesForFdLimit()) {}

  Result<RestoreResult> Run(const model::Snapshot& snap);

 private:
  struct DirMeta {
    std::string rel;  // relative to the target, "" for the target itself
    Node node;
  };
  bool Cancelled() const { return errors_.Stopped(); }
  void ReportError(const std::string& path, const Error& e) {
    {
      std::lock_guard lock(mu_);
      ++result_.errors;
      if (opts_.progress) ++opts_.progress->errors;
    }
    errors_.Report(path, e);
  }
  bool Selected(const std::string& snap_path, bool is_dir, bool* descend) const;
  // Counts a restored node that carries flags and names it to on_flagged.
  void NoteFlagged(const std::string& snap_path, const Node& node) {
    if (!node.flags) return;
    {
      std::lock_guard lock(mu_);
      ++result_.flagged;
    }
    if (opts_.on_flagged) opts_.on_flagged(snap_path, node);
  }
  Result<void> RestoreTree(int dirfd, const Id& tree_id,
                           const std::string& snap_path, const std::string& rel,
                           bool parent_selected);
  void RestoreNode(int dirfd, const Node& node, const std::string& snap_path,
                   const std::string& rel);
  // Files are restored in batches, pack by pack: every pack (or range of it) is
  // fetched once and its blobs are written to all the files and offsets that
  // need them, so a large file is written by many workers at once and a pack
  // full of small files costs one request.
  struct FileJob {
    std::string rel, snap_path;
    Node node;
    // Open from its creation until FinishFile: each file costs one lookup of
    // its path, not one per piece.
    int fd = -1;
    std::atomic<size_t> remaining{0};
    std::atomic<bool> failed{false};
    std::atomic<std::uint64_t> bytes{0};
    std::optional<Error> error;  // guarded by mu_
    // The error is that of a whole pack, already reported once.
    std::atomic<bool> pack_failed{false};
  };
  struct Piece {
    Id id;
    repo::BlobLocation loc;
    FileJob* file;
    std::uint64_t offset;  // in the file
  };
  void QueueFile(const Node& node, const std::string& snap_path,
                 const std::string& rel);
  void RunBatch();
  void WaitBatch();
  void ExecuteBatch(std::vector<std::unique_ptr<FileJob>> batch);
  Result<void> CreateFile(FileJob& f);
  void FailFile(FileJob& f, const Error& e);
  // A pack that cannot be read at all: every file with a piece in it fails,
  // named in the pack's one error line (ReportFailedPacks).
  void FailPack(const Id& pack, const Error& e, const std::string& file);
  void PieceDone(FileJob& f);
  void FinishFile(FileJob& f);
  // Sorts a pack's pieces by offset and groups them into ranges to fetch,
  // [first, last) index pairs.
  static std::vector<std::pair<size_t, size_t>> PlanRanges(
      std::vector<Piece>& pieces);
  void RestoreRange(const Id& pack, std::vector<Piece>& pieces, size_t i,
                    size_t j);
  Result<void> WriteAt(FileJob& f, std::uint64_t offset, ByteSpan data);
  Result<void> VerifyFile(int fd, const Node& node,
                          const std::string& snap_path);
  void ApplyMeta(int fd, int dirfd, const std::string& name, const Node& node,
                 const std::string& snap_path);

  repo::BlobLoader& repo_;
  const RestoreOptions& opts_;
  ErrorSink errors_;
  ThreadPool pool_;
  bool as_root_;
  std::mutex mu_;
  RestoreResult result_;
  std::vector<std::unique_ptr<FileJob>> batch_;
  std::uint64_t batch_bytes_ = 0;
  std::vector<DirMeta> dirs_;
  // Hard links: (device, inode) -> first restored path relative to the target.
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> link_first_;
  std::vector<std::pair<std::string, std::string>> links_;  // (existing, new)
  // Packs that could not be read at all, and the files of the running batch
  // they took (named in one error line per pack when the batch ends).
  struct FailedPack {
    Error error;
    std::set<std::string> files;
  };
  std::map<Id, FailedPack> failed_packs_;  // guarded by mu_
  void ReportFailedPacks();
  int target_fd_ = -1;
  size_t max_batch_files_;         // files of a batch are open at once
  ThreadPool batch_runner_{1, 1};  // runs one batch beside the walk
  std::future<void> running_;      // the batch being restored
};

}  // namespace efs2s3::restorer::detail
