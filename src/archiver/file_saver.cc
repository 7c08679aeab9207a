#include "archiver/file_saver.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <future>
#include <optional>
#include <thread>

#include "archiver/parent.h"
#include "base/io.h"

namespace efs2s3::archiver {

using model::Node;

int Cores() {
  static const int n =
      std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return n;
}

// Reads a large file ahead of the chunker with several preads in flight, so one
// big file on a network file system is not limited to one round trip at a time.
class ReadAhead {
 public:
  ReadAhead(ThreadPool& pool, int fd, size_t block, size_t depth)
      : pool_(pool), fd_(fd), block_(block), depth_(depth) {}
  ~ReadAhead() {
    for (auto& f : queue_) f.wait();  // tasks use fd_
  }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The next block in file order; empty at the end of the file.
  Result<Bytes> Next() {
    if (done_) return Bytes{};
    Fill();
    Result<Bytes> r = queue_.front().get();
    queue_.pop_front();
    if (!r || r->size() < block_) done_ = true;  // a short block is the end
    return r;
  }

 private:
  void Fill() {
    while (queue_.size() < depth_) {
      std::uint64_t off = next_;
      next_ += block_;
      queue_.push_back(
          pool_.Submit([fd = fd_, off, n = block_]() -> Result<Bytes> {
            Bytes b(n);
            ASSIGN_OR_RETURN(size_t got, PreadFull(fd, b, off, "read"));
            b.resize(got);
            return b;
          }));
    }
  }
  ThreadPool& pool_;
  int fd_;
  size_t block_, depth_;
  std::uint64_t next_ = 0;
  bool done_ = false;
  std::deque<std::future<Result<Bytes>>> queue_;
};

model::Snapshot SnapshotOf(const BackupOptions& opts, const Counters& counters,
                           const std::vector<std::string>& paths, Id tree,
                           bool partial,
                           std::chrono::steady_clock::time_point start,
                           const std::string& username) {
  model::Snapshot snap;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  snap.time_ns = opts.time_ns.value_or(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  snap.hostname = HostOrThis(opts.hostname);
  snap.username = username;
  snap.paths = paths;
  snap.tags = opts.tags;
  if (partial) snap.tags.push_back("partial");
  snap.excludes = opts.excludes;
  snap.tree = tree;
  snap.parent = opts.parent;
  snap.program_version = EFS2S3_VERSION;
  model::SnapshotSummary& m = snap.summary;
  m.files_new = counters.files_new;
  m.files_changed = counters.files_changed;
  m.files_unchanged = counters.files_unchanged;
  m.dirs_new = counters.dirs_new;
  m.dirs_changed = counters.dirs_changed;
  m.dirs_unchanged = counters.dirs_unchanged;
  m.other_nodes = counters.other;
  m.errors = counters.errors;
  m.changed_while_read = counters.changed_while_read;
  m.incomplete = counters.incomplete;
  m.bytes_read = counters.bytes_read;
  m.bytes_total = counters.bytes_total;
  m.bytes_added = counters.bytes_added;
  m.bytes_stored = counters.bytes_stored;
  m.blobs_added = counters.blobs_added;
  m.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return snap;
}

FileSaver::FileSaver(repo::BlobSaver& repo, const BackupOptions& opts,
                     Counters& counters, ErrorSink& errors, int readers)
    : repo_(repo),
      opts_(opts),
      counters_(counters),
      errors_(errors),
      read_ahead_pool_(std::max(4, readers), 256),
      cpu_pool_(Cores(), static_cast<size_t>(Cores())),
      large_file_slots_(std::max(2, Cores())) {}

Error FileSaver::StopRun(const Error& repository_error) {
  if (repository_error.code != ErrorCode::kCancelled)
    errors_.Stop(repository_error);
  return MakeError(ErrorCode::kCancelled, "interrupted");
}

void FileSaver::Got(size_t n) {
  counters_.bytes_read += n;
  if (opts_.progress) {
    opts_.progress->bytes_read += n;
    opts_.progress->bytes_done += n;
  }
}

namespace {

// Where a file's chunks go, in file order: IDs only on a dry run; a small
// file's chunks saved by the reading thread; a large file's sealed on the CPU
// pool, a window of them in flight (their IDs are collected in order).
class ChunkSink {
 public:
  ChunkSink(repo::BlobSaver& repo, ThreadPool& cpu, Counters& counters,
            bool dry_run, bool large, Node& node)
      : repo_(repo),
        cpu_(cpu),
        counters_(counters),
        dry_run_(dry_run),
        large_(large),
        node_(node) {}
  ~ChunkSink() {  // tasks in flight finish before their buffers go away
    for (auto& f : pending_) f.wait();
  }

  Result<void> Add(ByteSpan chunk) {
    if (dry_run_) {
      node_.content.push_back(repo_.BlobId(chunk));
      return Ok();
    }
    if (!large_) {
      ASSIGN_OR_RETURN(repo::SaveBlobResult r,
                       repo_.SaveBlob(repo::BlobType::kData, chunk));
      Account(r, chunk.size());
      return Ok();
    }
    pending_.push_back(
        cpu_.Submit([this, c = Bytes(chunk.begin(), chunk.end())] {
          return repo_.SaveBlob(repo::BlobType::kData, c);
        }));
    sizes_.push_back(chunk.size());
    const size_t window = static_cast<size_t>(2 * Cores());
    while (pending_.size() > window) RETURN_IF_ERROR(DrainOne());
    return Ok();
  }
  Result<void> Finish() {
    while (!pending_.empty()) RETURN_IF_ERROR(DrainOne());
    return Ok();
  }

 private:
  void Account(const repo::SaveBlobResult& r, size_t raw) {
    if (r.added) {
      ++counters_.blobs_added;
      counters_.bytes_added += raw;
      counters_.bytes_stored += r.stored_size;
    }
    node_.content.push_back(r.id);
  }
  Result<void> DrainOne() {
    Result<repo::SaveBlobResult> r = pending_.front().get();
    pending_.pop_front();
    size_t raw = sizes_.front();
    sizes_.pop_front();
    if (!r) return r.error();
    Account(*r, raw);
    return Ok();
  }

  repo::BlobSaver& repo_;
  ThreadPool& cpu_;
  Counters& counters_;
  const bool dry_run_, large_;
  Node& node_;
  std::deque<std::future<Result<repo::SaveBlobResult>>> pending_;
  std::deque<size_t> sizes_;
};

}  // namespace

// The next bytes of the file onto the end of buf: the next block of the
// read-ahead for a large file; else what the file still holds (plus a little,
// to see its end or growth), so that a small file costs one read and no
// zero-filled block. Sets *eof at the end.
Result<size_t> FileSaver::ReadMore(int fd, const std::string& path,
                                   std::uint64_t offset, std::uint64_t size,
                                   ReadAhead* ahead, Bytes& buf, bool* eof) {
  constexpr size_t kBlock = 1u << 20;
  if (ahead) {
    auto block = ahead->Next();
    if (!block) return block.error().Wrap(path);
    if (block->empty()) *eof = true;
    buf.insert(buf.end(), block->begin(), block->end());
    return block->size();
  }
  std::uint64_t expect_left = offset < size ? size - offset : 0;
  size_t want = static_cast<size_t>(
      std::clamp<std::uint64_t>(expect_left + 1, 65536, kBlock));
  size_t old = buf.size();
  buf.resize(old + want);
  auto n = PreadFull(fd, std::span(buf).subspan(old), offset, path);
  if (!n) return n.error();
  buf.resize(old + *n);
  if (*n < want) *eof = true;
  return *n;
}

Result<void> FileSaver::Save(int fd, const std::string& path, Node& node) {
  // Files of at least 4 maximum chunks are large: read ahead (4 blocks of
  // 2 MiB in flight), and their chunks go to the CPU pool, a window of them at
  // a time, so hashing, compressing and sealing run on every core.
  const bool large = node.size >= 4ULL * repo_.chunker().params().max_size;
  std::optional<ReadAhead> ahead;
  if (large) ahead.emplace(read_ahead_pool_, fd, 2u << 20, 4);
  ASSIGN_OR_RETURN(
      std::uint64_t total,
      Chunk(node, large, [&](std::uint64_t offset, Bytes& buf, bool* eof) {
        return ReadMore(fd, path, offset, node.size, ahead ? &*ahead : nullptr,
                        buf, eof);
      }));
  if (total != node.size) {
    std::uint64_t expected = node.size;
    node.size = total;
    return MakeError(ErrorCode::kIo,
                     path + ": file changed size while being read (" +
                         std::to_string(expected) + " -> " +
                         std::to_string(total) + " bytes)");
  }
  return Ok();
}

Result<void> FileSaver::SaveStream(int fd, const std::string& what,
                                   Node& node) {
  constexpr size_t kBlock = 2u << 20;
  ASSIGN_OR_RETURN(node.size,
                   Chunk(node, true, [&](std::uint64_t, Bytes& buf, bool* eof) {
                     return ReadStream(fd, what, kBlock, buf, eof);
                   }));
  return Ok();
}

// Up to `block` more bytes of a pipe onto the end of buf (fewer at its end,
// which sets *eof). Waits in slices, so that a cancelled run does not wait for
// a writer that has nothing to say.
Result<size_t> FileSaver::ReadStream(int fd, const std::string& what,
                                     size_t block, Bytes& buf, bool* eof) {
  const size_t old = buf.size();
  buf.resize(old + block);
  size_t got = 0;
  while (got < block) {
    if (Cancelled()) {
      buf.resize(old + got);
      return MakeError(ErrorCode::kCancelled, "interrupted");
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 200);
    if (r < 0 && errno != EINTR) return PosixError(what, errno);
    if (r <= 0) continue;
    ssize_t n = ::read(fd, buf.data() + old + got, block - got);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return PosixError(what, errno);
    }
    if (n == 0) {
      *eof = true;
      break;
    }
    got += static_cast<size_t>(n);
  }
  buf.resize(old + got);
  return got;
}

Result<std::uint64_t> FileSaver::Chunk(Node& node, bool large,
                                       const ReadFn& read_more) {
  const codec::Chunker& chunker = repo_.chunker();
  struct SlotGuard {
    std::counting_semaphore<256>* sem = nullptr;
    ~SlotGuard() {
      if (sem) sem->release();
    }
  } slot;
  if (large) {
    large_file_slots_.acquire();
    slot.sem = &large_file_slots_;
  }
  node.content.clear();
  ChunkSink sink(repo_, cpu_pool_, counters_, opts_.dry_run, large, node);
  // The buffer holds the chunk being cut and the last block read: blocks of
  // 1 MiB (2 MiB from the read-ahead of a large file) are read only when the
  // bytes in hand hold no cut, and consumed bytes are dropped before the next
  // read. A reader so holds about two average chunks, not two maximum ones.
  Bytes buf;
  buf.reserve(static_cast<size_t>(
      std::min<std::uint64_t>(node.size + 1, (large ? 4 : 2) << 20)));
  size_t start = 0;    // buf[start, size) is not yet chunked
  size_t scanned = 0;  // buf[start, start + scanned) holds no cut
  bool eof = false;
  bool need = true;  // the bytes in hand hold no cut
  std::uint64_t total = 0;
  for (;;) {
    if (Cancelled()) return MakeError(ErrorCode::kCancelled, "interrupted");
    if (need && !eof) {
      if (start > 0) {  // moves the tail after the last cut, once
        buf.erase(buf.begin(), buf.begin() + static_cast<long>(start));
        start = 0;
      }
      ASSIGN_OR_RETURN(size_t n, read_more(total, buf, &eof));
      total += n;
      Got(n);
      need = false;
    }
    if (start == buf.size()) {
      if (eof) break;
      need = true;
      continue;
    }
    ByteSpan rest(buf.data() + start, buf.size() - start);
    size_t cut = chunker.NextCut(rest, eof, scanned);
    if (cut == 0) {
      scanned = rest.size();
      need = true;
      continue;
    }
    if (Result<void> added = sink.Add(rest.first(cut)); !added)
      return StopRun(added.error());
    start += cut;
    scanned = 0;
  }
  if (Result<void> finished = sink.Finish(); !finished)
    return StopRun(finished.error());
  return total;
}

}  // namespace efs2s3::archiver
