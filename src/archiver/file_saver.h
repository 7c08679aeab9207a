// Backup of one file's content: read, cut into chunks, each saved as a blob.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <semaphore>
#include <string>
#include <vector>

#include "archiver/archiver.h"
#include "base/error_sink.h"
#include "base/result.h"
#include "base/thread_pool.h"
#include "model/node.h"
#include "model/snapshot.h"
#include "repo/interfaces.h"

namespace efs2s3::archiver {

// What a backup counts, for its snapshot's summary.
struct Counters {
  std::atomic<std::uint64_t> files_new{0}, files_changed{0}, files_unchanged{0};
  std::atomic<std::uint64_t> dirs_new{0}, dirs_changed{0}, dirs_unchanged{0};
  std::atomic<std::uint64_t> other{0}, errors{0}, bytes_read{0}, bytes_total{0};
  std::atomic<std::uint64_t> bytes_added{0}, bytes_stored{0}, blobs_added{0};
  std::atomic<std::uint64_t> changed_while_read{0}, incomplete{0};
};

// A snapshot of `tree` with what `counters` counted; time, host and tags from
// opts.
model::Snapshot SnapshotOf(const BackupOptions& opts, const Counters& counters,
                           const std::vector<std::string>& paths, Id tree,
                           bool partial,
                           std::chrono::steady_clock::time_point start,
                           const std::string& username);

class ReadAhead;

// Reads files and saves their chunks. A small file is read and saved by the
// calling thread, 1 MiB at a time. A file of at least four maximum chunks is
// large: read ahead with four 2 MiB preads in flight, and its chunks hashed,
// compressed and sealed on a CPU pool (one thread per core, a window of two
// chunks per core), so one large file keeps every core busy; at most
// max(2, cores) large files at once. Thread-safe.
class FileSaver {
 public:
  FileSaver(repo::BlobSaver& repo, const BackupOptions& opts,
            Counters& counters, ErrorSink& errors, int readers);

  // Reads the file open at fd and sets node.content (node.size is what its
  // stat said). A file that changed size while read keeps what was read, with
  // node.size set to it, and the error says so. An error of the file (reading
  // it) is returned, for the caller to report against the file; an error of
  // the repository (saving a blob) is no file's: it stops the run
  // (ErrorSink::Stop) and kCancelled is returned.
  Result<void> Save(int fd, const std::string& path, model::Node& node);
  // Reads a stream (a pipe) open at fd to its end and sets node.content and
  // node.size. `what` names the stream in errors. A cancelled run returns
  // kCancelled while waiting for bytes.
  Result<void> SaveStream(int fd, const std::string& what, model::Node& node);

 private:
  // Appends the next bytes at `offset` to buf; sets *eof at the end.
  using ReadFn = std::function<Result<size_t>(std::uint64_t offset, Bytes& buf,
                                              bool* eof)>;
  // Cuts what read_more gives into chunks and saves them (node.content);
  // returns the bytes read. `large`: chunks are sealed on the CPU pool.
  Result<std::uint64_t> Chunk(model::Node& node, bool large,
                              const ReadFn& read_more);
  Result<size_t> ReadStream(int fd, const std::string& what, size_t block,
                            Bytes& buf, bool* eof);
  bool Cancelled() const { return errors_.Stopped(); }
  Result<size_t> ReadMore(int fd, const std::string& path, std::uint64_t offset,
                          std::uint64_t size, ReadAhead* ahead, Bytes& buf,
                          bool* eof);
  void Got(size_t n);
  // An error saving a blob is the repository's, not the file's: it stops the
  // run once (it would meet every later file too). Returns kCancelled.
  Error StopRun(const Error& repository_error);

  repo::BlobSaver& repo_;
  const BackupOptions& opts_;
  Counters& counters_;
  ErrorSink& errors_;
  ThreadPool read_ahead_pool_;  // preads of large files; its tasks never wait
  // Its tasks wait only for upload slots.
  ThreadPool cpu_pool_;
  // Each large file holds up to ~30 MiB of buffers, and one already keeps the
  // CPU pool busy.
  std::counting_semaphore<256> large_file_slots_;
};

int Cores();

}  // namespace efs2s3::archiver
