// Repository's write path: SaveBlob (dedup, compression, sealing), pack
// assembly and upload (on background threads), index files and checkpoints.
// See "Concurrency in the repository" in docs/ARCHITECTURE.md.
#include <chrono>
#include <memory>

#include "base/file_util.h"
#include "codec/compress.h"
#include "repo/repository.h"

namespace efs2s3::repo {

using storage::ObjectType;

namespace {
// Write an index checkpoint after this many blobs (the entries wait in memory:
// 250,000 are about 64 packs of 4 KiB files), this many packs (16 GiB of large
// files) or this much time, so that an interrupted backup can reuse what it
// already uploaded. Counting blobs, not packs, keeps a repository of large
// files from gathering an index file per GiB.
constexpr size_t kCheckpointBlobs = 250000;
constexpr size_t kCheckpointPacks = 1024;
constexpr auto kCheckpointInterval = std::chrono::minutes(5);
}  // namespace

Result<SaveBlobResult> Repository::SaveBlob(BlobType type, ByteSpan plaintext) {
  return SaveBlobWithId(type, BlobId(plaintext), plaintext);
}

Result<SaveBlobResult> Repository::SaveBlobWithId(BlobType type, const Id& id,
                                                  ByteSpan plaintext) {
  bool uploads_behind;
  {
    std::unique_lock lock(mu_);
    sealed_.wait(lock, [&] { return !sealing_.count(id); });
    if (inflight_.count(id) || LookupLocked(id))
      return SaveBlobResult{id, false, 0};
    inflight_.insert(id);
    sealing_.insert(id);
    // Packs wait in the queue for an uploader: the network is behind.
    uploads_behind = uploads_ && uploads_in_flight_ > upload_threads_;
  }
  int level = codec::LevelFor(compression_.load(), config_.zstd_level,
                              uploads_behind, plaintext);
  codec::Compressed compressed;
  if (level > 0) compressed = codec::CompressUninitialized(plaintext, level);
  bool use_compressed = level > 0 && compressed.size < plaintext.size();
  Bytes sealed = crypto::Seal(key_.encrypt,
                              use_compressed ? compressed.view() : plaintext);
  compressed = {};
  std::uint64_t stored = sealed.size();
  PackEntry e;
  e.id = id;
  e.type = type;
  e.compressed = use_compressed;
  e.raw_length = static_cast<std::uint32_t>(plaintext.size());
  std::optional<PackWriter> full;
  std::uint64_t seq = 0;
  {
    std::lock_guard lock(mu_);
    PackWriter& w = writers_[static_cast<int>(type)];
    if (w.empty() && !w.counted()) {
      if (spool_dir_.empty() ||
          (packs_in_memory_ + 1) * config_.pack_size <= pack_memory_) {
        // A pack closes at the first blob that takes it past the pack size.
        w = PackWriter::InMemory(config_.pack_size + config_.chunker.max_size +
                                 4096);
        ++packs_in_memory_;
      } else {
        w = PackWriter::Spooled(spool_dir_);
      }
    }
    auto added = w.Add(e, sealed);
    sealing_.erase(id);
    sealed_.notify_all();
    if (!added) {
      inflight_.erase(id);
      return added.error();
    }
    if (w.size() >= config_.pack_size) {
      full.emplace(std::move(w));
      w = PackWriter();
      // Registered as running in the same step that takes it out of writers_:
      // a Checkpoint() in between would neither upload this pack nor wait for
      // it, while other files already deduplicate against its blobs (their
      // checkpoint would name blobs no index holds yet).
      seq = next_upload_seq_++;
      running_uploads_.insert(seq);
      if (uploads_) ++uploads_in_flight_;
    }
  }
  if (full) {
    if (uploads_) {
      // Submit blocks while the upload queue is full: backpressure on the
      // readers.
      auto pack = std::make_shared<PackWriter>(std::move(*full));
      (void)uploads_->Submit([this, pack, seq] {
        auto r = UploadPack(std::move(*pack));
        std::lock_guard lock(mu_);
        if (!r && !upload_error_) upload_error_ = r.error();
        --uploads_in_flight_;
        running_uploads_.erase(seq);
        uploads_done_.notify_all();
      });
    } else {
      auto r = UploadPack(std::move(*full));
      {
        std::lock_guard lock(mu_);
        running_uploads_.erase(seq);
        uploads_done_.notify_all();
      }
      RETURN_IF_ERROR(r);
    }
  }
  {
    std::lock_guard lock(mu_);
    if (upload_error_) return *upload_error_;
  }
  return SaveBlobResult{id, true, stored};
}

Result<void> Repository::UploadPack(PackWriter writer) {
  // The memory of a pack held in memory is given back when its upload is over
  // (the backend retries a failed PUT with the same bytes before that).
  struct Release {
    Repository* repo;
    bool counted;
    ~Release() {
      if (!counted) return;
      std::lock_guard lock(repo->mu_);
      --repo->packs_in_memory_;
    }
  } release{this, writer.counted()};
  auto finished = writer.Finish(key_.encrypt);
  if (!finished) {
    std::lock_guard lock(mu_);
    for (const PackEntry& e : writer.entries()) inflight_.erase(e.id);
    return finished.error();
  }
  const FinishedPack& pack = **finished;
  const Id& name = pack.name;
  const std::vector<PackEntry>& entries = pack.entries;
  bool tree_pack = !entries.empty() && entries[0].type == BlobType::kTree;
  // A pack is named by its SHA-256, computed as it was written.
  auto saved =
      backend_->SaveFrom({ObjectType::kPack, name.Hex()}, pack,
                         {.metadata = tree_pack, .sha256_hex = name.Hex()});
  std::optional<IndexBuilder> checkpoint;
  {
    std::lock_guard lock(mu_);
    for (const PackEntry& e : entries) {
      inflight_.erase(e.id);
      if (saved)
        pending_[e.id] = BlobLocation{name,     e.type,   e.compressed,
                                      e.offset, e.length, e.raw_length};
    }
    if (!saved) return saved.error();
    pending_index_.AddPack(name, entries);
    ++stats_.packs_uploaded;
    stats_.bytes_uploaded += pack.size();
    auto now = std::chrono::steady_clock::now();
    if (pending_index_.blob_count() >= kCheckpointBlobs ||
        pending_index_.pack_count() >= kCheckpointPacks ||
        now - last_index_write_ >= kCheckpointInterval) {
      checkpoint.emplace(std::move(pending_index_));
      pending_index_ = IndexBuilder();
      last_index_write_ = now;
    }
  }
  if (checkpoint) RETURN_IF_ERROR(WriteIndex(std::move(*checkpoint)));
  return Ok();
}

Result<void> Repository::WriteIndex(IndexBuilder builder) {
  if (builder.pack_count() == 0) return Ok();
  Bytes plain = builder.Finish();
  ASSIGN_OR_RETURN(Id name, SaveObject(ObjectType::kIndex, plain));
  ++stats_.index_files_written;
  // The new index file becomes a cached run right away, so `pending_` stays
  // small.
  std::string file = name.Hex() + ".run";
  RETURN_IF_ERROR(
      WriteFileAtomic(cache_dir_ + "/index/" + file, plain, false, false));
  ASSIGN_OR_RETURN(auto run, IndexRun::FromBytes(std::move(plain)));
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < run->size(); ++i) {
    Id id;
    run->At(i, &id);
    pending_.erase(id);
  }
  runs_.push_back(std::move(run));
  index_names_.push_back(name.Hex());
  return Ok();
}

void Repository::SetUploadConcurrency(int n) {
  uploads_.reset();
  if (n > 0)
    uploads_ = std::make_unique<ThreadPool>(n, static_cast<size_t>(n / 2 + 1));
  std::lock_guard lock(mu_);
  upload_threads_ = n;
}

void Repository::SetPackMemory(std::uint64_t bytes) {
  std::lock_guard lock(mu_);
  pack_memory_ = bytes;
}

Result<void> Repository::Flush() {
  // With no other thread saving blobs, a checkpoint covers everything: the
  // packs being filled and every upload submitted so far.
  return Checkpoint();
}

Result<void> Repository::Checkpoint() {
  PackWriter taken[2];
  std::uint64_t watermark;
  {
    std::lock_guard lock(mu_);
    for (int t = 0; t < 2; ++t) {
      if (writers_[t].empty()) continue;
      taken[t] = std::move(writers_[t]);
      writers_[t] = PackWriter();
    }
    watermark = next_upload_seq_;
  }
  for (PackWriter& w : taken)
    if (!w.empty()) RETURN_IF_ERROR(UploadPack(std::move(w)));
  IndexBuilder b;
  {
    std::unique_lock lock(mu_);
    uploads_done_.wait(lock, [&] {
      return upload_error_ || running_uploads_.empty() ||
             *running_uploads_.begin() >= watermark;
    });
    if (upload_error_) return *upload_error_;
    b = std::move(pending_index_);
    pending_index_ = IndexBuilder();
    last_index_write_ = std::chrono::steady_clock::now();
  }
  return WriteIndex(std::move(b));
}

}  // namespace efs2s3::repo
