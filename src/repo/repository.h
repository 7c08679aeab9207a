// repo: the repository, i.e. everything between storage (named bytes) and the
// commands (snapshots of trees of files).
//
// A Repository owns the backend, the master key, the config, the index and the
// packers. Write order (docs/FORMAT.md, "Crash safety"): a blob becomes visible
// to other processes only through an index file, which is written only after
// every pack it names is stored; a snapshot is written only after the index
// files covering all its blobs. So a crash at any point leaves, at worst,
// unreferenced packs.
//
// Thread-safety: SaveBlob, LoadBlob, LoadTree, SaveTree, Lookup are
// thread-safe; Flush and the snapshot/key/index management methods must not run
// concurrently with SaveBlob.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "base/thread_pool.h"
#include "codec/chunker.h"
#include "codec/compress.h"
#include "crypto/crypto.h"
#include "model/node.h"
#include "model/snapshot.h"
#include "repo/index.h"
#include "repo/interfaces.h"
#include "repo/keys.h"
#include "repo/pack.h"
#include "repo/snapshots.h"
#include "storage/backend.h"

namespace efs2s3::repo {

struct RepoConfig {
  int version = 1;
  std::string id;  // random, 64 hex digits
  codec::ChunkerParams chunker;
  Bytes gear_seed;                     // secret: cut points depend on it
  std::uint32_t pack_size = 16 << 20;  // target pack size
  int zstd_level = 3;
  // S3 Object Lock: every object but locks is written with this retention
  // ("GOVERNANCE" or "COMPLIANCE", for lock_days days); "" = none.
  std::string lock_mode;
  int lock_days = 0;
};

inline constexpr int kMaxLockDays = 36500;

// The config object's plaintext, JSON (docs/FORMAT.md, "Config"), and back:
// kUnsupported for another format version, kCorruption for anything else that
// is not a valid config.
std::string EncodeRepoConfig(const RepoConfig& config);
Result<RepoConfig> ParseRepoConfig(std::string_view text);

// The retention the repository gives each object it writes, in seconds (days
// unless a test build shortens it with EFS2S3_TEST_LOCK_SECONDS).
std::int64_t LockSeconds(const RepoConfig& config);

struct InitOptions {
  crypto::ScryptParams kdf;
  codec::ChunkerParams chunker;
  std::uint32_t pack_size = 16 << 20;
  int zstd_level = 3;
  std::string lock_mode;  // see RepoConfig
  int lock_days = 0;
};

struct OpenOptions {
  std::string cache_dir;  // root of all caches; "" means a temporary cache
  // Open even if some index files cannot be read or parsed (check, repair):
  // they are left out of the index and listed by UnreadableIndex().
  bool skip_unreadable_index = false;
};

struct RepoStats {
  std::atomic<std::uint64_t> packs_uploaded{0};
  std::atomic<std::uint64_t> bytes_uploaded{0};
  std::atomic<std::uint64_t> index_files_written{0};
};

// The only holder of the backend and the master key: callers see blobs,
// trees, snapshots and keys, never raw objects or key material. Maintenance
// (check, prune, repair) and locks reach raw objects through
// MaintenanceAccess (repo/maintenance_access.h), which authenticates what it
// reads too.
class Repository : public BlobSaver,
                   public SnapshotStore,
                   public BlobLoader,
                   public PackArchive {
 public:
  // Creates a repository with a first key. kAlreadyExists if one is there.
  static Result<std::unique_ptr<Repository>> Init(
      std::unique_ptr<storage::Backend> backend, std::string_view password,
      const InitOptions& options, const OpenOptions& open);
  // Opens and loads the index. kNoRepository if there is no config,
  // kWrongPassword if no key file opens with the password.
  static Result<std::unique_ptr<Repository>> Open(
      std::unique_ptr<storage::Backend> backend, std::string_view password,
      const OpenOptions& open);
  ~Repository() override;

  const RepoConfig& config() const { return config_; }
  const codec::Chunker& chunker() const override { return *chunker_; }
  RepoStats& stats() { return stats_; }
  const std::string& key_name() const { return key_name_; }
  // This repository's cache directory ("" before the index was loaded).
  const std::string& cache_dir() const { return cache_dir_; }
  // The storage's preferred number of parallel uploads.
  int PreferredUploadConcurrency() const override;

  Id BlobId(ByteSpan plaintext) const override;

  // Stores a blob unless the repository already has it. The blob is durable and
  // visible to other processes after the next Flush (or index checkpoint).
  Result<SaveBlobResult> SaveBlob(BlobType type, ByteSpan plaintext) override;
  // Same, with the ID already computed by the caller.
  Result<SaveBlobResult> SaveBlobWithId(BlobType type, const Id& id,
                                        ByteSpan plaintext);

  // Reads, authenticates, decompresses and verifies a blob against its ID.
  // kNotFound if not indexed; kCorruption naming blob and pack otherwise.
  Result<Bytes> LoadBlob(const Id& id) override;
  // Sealed bytes of a pack (a range of blobs, for the caller to decode one by
  // one with DecodeBlob).
  Result<Bytes> LoadPackRange(const Id& pack, std::uint64_t offset,
                              std::uint64_t length) override;
  // Authenticates, decompresses and verifies a sealed blob read by the caller
  // (e.g. as part of a larger range of its pack). kCorruption naming blob and
  // pack.
  Result<Bytes> DecodeBlob(const Id& id, const BlobLocation& loc,
                           ByteSpan sealed) const override;
  std::optional<BlobLocation> Lookup(const Id& id) override;

  bool HasArchiveClasses() const override;
  Result<void> ListPackClasses(
      const std::function<Result<void>(const Id&, const storage::ObjectInfo&)>&
          fn) override;
  size_t PackCountHint() override;
  Result<storage::ArchiveStatus> PackArchiveStatus(const Id& pack) override;
  Result<void> RequestPackRestore(const Id& pack, int days,
                                  const std::string& tier) override;
  bool HasBlob(const Id& id) override;

  Result<Id> SaveTree(const model::Tree& tree) override;
  Result<model::Tree> LoadTree(const Id& id) override;

  // Writes all pending packs, then an index file for them; waits for background
  // uploads. Thread-compatible.
  Result<void> Flush() override;

  // Makes every blob whose SaveBlob returned before this call durable and
  // indexed: uploads the packs being filled, waits for the uploads submitted
  // before the call, and writes an index file. Other threads may go on saving
  // blobs meanwhile (their blobs may or may not be covered). Thread-safe; for
  // checkpoints of a running backup.
  Result<void> Checkpoint() override;

  // Uploads full packs on `n` background threads (at most n + n/2 + 1 packs
  // waiting), so the threads calling SaveBlob go on reading. 0 = upload on
  // the calling thread. An upload error is returned by the next SaveBlob or
  // Flush.
  void SetUploadConcurrency(int n) override;
  // How SaveBlob compresses (codec::Compression; default auto). Thread-safe.
  void SetCompression(codec::Compression mode) { compression_ = mode; }
  // Packs being filled or waiting for their upload are held in memory while
  // they fit in `bytes` (each counted at the pack size), in unnamed temporary
  // files of the cache beyond that. The memory of a pack is given back once
  // its upload succeeded (a retried PUT sends the same bytes again).
  // Default kDefaultPackMemory.
  void SetPackMemory(std::uint64_t bytes);
  static constexpr std::uint64_t kDefaultPackMemory = 64ull << 20;

  // Sealed whole objects (snapshots, index, locks, config). The name is the
  // SHA-256 of the stored bytes, except for locks (random).
  Result<Id> SaveObject(storage::ObjectType type, ByteSpan plaintext);
  // The object of a sharded run (docs/FORMAT.md, "Sharded runs"), named by
  // the SHA-256 of its run ID: written only if absent (kAlreadyExists if it
  // is there), loaded (kNotFound), removed once the run is merged.
  Result<void> SaveRunObject(const std::string& run_id, ByteSpan plaintext);
  Result<Bytes> LoadRunObject(const std::string& run_id);
  Result<void> RemoveRunObject(const std::string& run_id);
  // Loads, checks the name against the content hash (not for locks and runs)
  // and opens.
  Result<Bytes> LoadObject(storage::ObjectType type, const std::string& name);

  Result<Id> SaveSnapshot(const model::Snapshot& snapshot) override;
  Result<model::Snapshot> LoadSnapshot(const Id& id) override;
  Result<void> RemoveSnapshot(const Id& id) override;
  // All snapshots, sorted by time. An unreadable snapshot fails the call (what
  // a caller needs that must not go on without it: a snapshot it cannot read
  // may use any blob), unless `unreadable` is given: then a snapshot with
  // stable damage (kCorruption: repo/snapshots.h, UnreadableSnapshot) is left
  // out and appended there. Any other failure (kTransient when reads of it
  // disagree, kUnsupported for a newer format, I/O) fails the call either way.
  Result<std::vector<std::pair<Id, model::Snapshot>>> ListSnapshots(
      std::vector<UnreadableSnapshot>* unreadable = nullptr);
  // Resolves "latest", a full ID or a unique prefix; host/path filters apply to
  // latest (FindSnapshotIn, repo/snapshots.h). Without `skipped`, any
  // unreadable snapshot fails the call; with it, unreadable snapshots are
  // left out and those that could have changed the answer appended there.
  Result<std::pair<Id, model::Snapshot>> FindSnapshot(
      const std::string& spec, const std::string& host = "",
      const std::vector<std::string>& paths = {},
      std::vector<UnreadableSnapshot>* skipped = nullptr);

  // Keys.
  Result<std::string> AddKey(std::string_view password,
                             const crypto::ScryptParams& params);
  // Every key file, read (fails on a damaged one).
  Result<std::vector<std::pair<std::string, KeyFileInfo>>> ListKeys();
  // The names of the key files, none read: a damaged one is listed too.
  Result<std::vector<std::string>> ListKeyNames();
  Result<void> RemoveKey(const std::string& name);
  // Adds a key file for `password`, then removes the one in use; the new one
  // is in use afterwards. Returns its name.
  Result<std::string> ChangePassword(std::string_view password,
                                     const crypto::ScryptParams& params);
  // A key file as stored (JSON; the master key in it is sealed).
  Result<std::string> LoadKeyFile(const std::string& name);

  // The blob entries of pack `name`, from its authenticated header (ranged
  // reads of the pack's tail).
  Result<std::vector<PackEntry>> PackHeader(const std::string& name);

  // Index maintenance.
  Result<void> ReloadIndex();
  // Calls fn for every indexed blob (id, location), run by run; duplicates
  // possible.
  Result<void> ForEachIndexed(
      const std::function<Result<void>(const Id&, const BlobLocation&)>& fn);
  std::vector<std::string> IndexNames() const { return index_names_; }
  // Index files left out by OpenOptions::skip_unreadable_index, with the
  // reason.
  const std::vector<std::pair<std::string, Error>>& UnreadableIndex() const {
    return unreadable_index_;
  }

  std::string ConfigJson() const;

 private:
  friend class MaintenanceAccess;
  Repository(std::unique_ptr<storage::Backend> backend,
             const OpenOptions& open);
  // Ranged reads of the tail of pack `name` of `size` bytes (one request for
  // most packs, two for packs with very many blobs).
  Result<std::vector<PackEntry>> ReadPackHeader(const std::string& name,
                                                std::uint64_t size);
  // Why a sealed blob did not open (callers word the error differently).
  enum class BlobFault { kAuthentication, kDecompression, kContent };
  // Authenticates, decompresses and compares a sealed blob with its ID; on
  // error, *fault says which step failed.
  Result<Bytes> OpenSealedBlob(const PackEntry& entry, ByteSpan sealed,
                               BlobFault* fault) const;
  Result<void> PrepareCacheDir();
  Result<void> LoadIndexOnce();
  Result<void> LoadConfig(std::string_view password);
  Result<void> LoadIndex();
  Result<void> UploadPack(PackWriter writer);
  Result<void> WriteIndex(IndexBuilder builder);
  std::optional<BlobLocation> LookupLocked(const Id& id);
  std::string TreePackCachePath(const Id& pack) const;
  // A tree blob from the local tree-pack cache, authenticated; nullopt (and
  // the entry dropped if it was damaged) when the cache cannot provide it.
  std::optional<Bytes> LoadCachedTreeBlob(const Id& id,
                                          const BlobLocation& loc);
  // A whole pack, checked against its name (read again when a check fails:
  // repo/read_checked.h). On stable damage, kCorruption, and the bytes in
  // *damaged when given.
  Result<Bytes> LoadWholePack(const Id& pack, Bytes* damaged = nullptr);
  // A tree blob through the tree-pack cache: nullopt when the caller is to
  // read the blob by itself (the cache is off, the pack could not be cached,
  // or kMaxWholeTreePacks packs are being fetched already).
  std::optional<Result<Bytes>> LoadTreeBlobCached(const Id& id,
                                                  const BlobLocation& loc);
  // The blob of `id` from its pack fetched whole, after the pack was written
  // into the cache (nullopt: the pack was not intact; read the blob alone).
  std::optional<Result<Bytes>> FetchTreePack(const Id& id,
                                             const BlobLocation& loc);

  std::unique_ptr<storage::Backend> backend_;
  OpenOptions open_;
  std::string cache_dir_;  // this repository's cache directory
  std::string spool_dir_;  // temporary files of packs ("" = packs in memory)
  std::atomic<codec::Compression> compression_{codec::Compression::kAuto};
  std::uint64_t pack_memory_ = kDefaultPackMemory;  // guarded by mu_
  std::uint64_t packs_in_memory_ = 0;  // writers in memory, guarded by mu_
  bool temp_cache_ = false;
  MasterKey key_;
  std::string key_name_;
  RepoConfig config_;
  codec::GearTable gear_{};
  std::unique_ptr<codec::Chunker> chunker_;
  RepoStats stats_;

  std::mutex mu_;
  std::vector<std::unique_ptr<IndexRun>> runs_;  // guarded by mu_ for mutation
  std::vector<std::string> index_names_;
  std::vector<std::pair<std::string, Error>> unreadable_index_;
  std::unordered_set<Id, IdHash> inflight_;  // in a pack being built
  std::unordered_map<Id, BlobLocation, IdHash>
      pending_;            // stored, not yet indexed
  PackWriter writers_[2];  // by BlobType
  IndexBuilder pending_index_;
  std::chrono::steady_clock::time_point last_index_write_;

  std::unique_ptr<ThreadPool> uploads_;
  std::condition_variable uploads_done_;
  int uploads_in_flight_ = 0;  // guarded by mu_
  int upload_threads_ = 0;     // guarded by mu_
  // Sequence numbers of the background uploads running (for Checkpoint).
  std::uint64_t next_upload_seq_ = 0;        // guarded by mu_
  std::set<std::uint64_t> running_uploads_;  // guarded by mu_
  // Blobs being compressed and sealed, not yet in a writer: a SaveBlob of the
  // same ID waits for them, so that it returns only once the blob is in a
  // pack (what Checkpoint relies on).
  std::unordered_set<Id, IdHash> sealing_;  // guarded by mu_
  std::condition_variable sealed_;
  std::optional<Error> upload_error_;  // guarded by mu_

  // Tree packs being fetched whole into the local cache. A reader of a tree
  // whose pack is among them waits for it and reads the cache, so a pack is
  // in memory once however many walkers need it (without this, every walker
  // of a backup with a cold cache held its own copy of the same 16 MiB
  // pack); beyond kMaxWholeTreePacks packs at once, trees are read by range.
  static constexpr size_t kMaxWholeTreePacks = 2;
  std::mutex tree_fetch_mu_;
  std::condition_variable tree_fetched_;
  std::set<Id> tree_fetches_;  // guarded by tree_fetch_mu_
};

// The cache root: $XDG_CACHE_HOME/efs2s3 or ~/.cache/efs2s3.
std::string DefaultCacheDir();

}  // namespace efs2s3::repo
