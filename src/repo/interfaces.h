// The narrow views of a repository that backup and restore depend on.
// Repository implements all of them; tests may implement one alone.
//
// Every load authenticates what it returns (docs/FORMAT.md, "Encryption"): a
// blob or tree is decrypted, decompressed and compared with its ID; a snapshot
// object with its name.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "base/id.h"
#include "base/result.h"
#include "codec/chunker.h"
#include "model/node.h"
#include "model/snapshot.h"
#include "repo/index.h"
#include "repo/pack.h"
#include "storage/backend.h"

namespace efs2s3::repo {

struct SaveBlobResult {
  Id id;
  bool added = false;             // false: already in the repository (dedup)
  std::uint64_t stored_size = 0;  // sealed size if added
};

// Loads and decodes trees. Thread-safe.
class TreeLoader {
 public:
  virtual ~TreeLoader() = default;
  virtual Result<model::Tree> LoadTree(const Id& id) = 0;
};

// What a backup writes: blobs and trees, deduplicated against what the
// repository holds, made durable by Checkpoint/Flush.
class BlobSaver {
 public:
  virtual ~BlobSaver() = default;
  // The content-defined chunker of this repository (its cut points depend on a
  // secret seed).
  virtual const codec::Chunker& chunker() const = 0;
  // The ID a blob with this content has (keyed hash).
  virtual Id BlobId(ByteSpan plaintext) const = 0;
  // Thread-safe. See Repository::SaveBlob.
  virtual Result<SaveBlobResult> SaveBlob(BlobType type,
                                          ByteSpan plaintext) = 0;
  // Indexed or being saved. Thread-safe.
  virtual bool HasBlob(const Id& id) = 0;
  virtual Result<Id> SaveTree(const model::Tree& tree) = 0;
  // Uploads on `n` background threads (0 = on the calling thread).
  virtual void SetUploadConcurrency(int n) = 0;
  // The concurrency the storage behind suits best (e.g. 32 for S3).
  virtual int PreferredUploadConcurrency() const = 0;
  // Everything saved before the call is durable and indexed. Thread-safe.
  virtual Result<void> Checkpoint() = 0;
  // Same, with no other thread saving. Thread-compatible.
  virtual Result<void> Flush() = 0;
};

// Snapshots: saved only after the index files covering their blobs (the
// caller flushes first); removed when superseded or forgotten.
class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  virtual Result<Id> SaveSnapshot(const model::Snapshot& snapshot) = 0;
  virtual Result<model::Snapshot> LoadSnapshot(const Id& id) = 0;
  // Removes the snapshot object; its data stays until a prune.
  virtual Result<void> RemoveSnapshot(const Id& id) = 0;
};

// What a restore reads: blob locations, ranges of packs, and the decoding of
// one sealed blob out of such a range. Thread-safe.
class BlobLoader : public TreeLoader {
 public:
  virtual std::optional<BlobLocation> Lookup(const Id& id) = 0;
  virtual Id BlobId(ByteSpan plaintext) const = 0;
  // `length` bytes of pack `pack` from `offset`: sealed blobs, not yet
  // authenticated (DecodeBlob does that).
  virtual Result<Bytes> LoadPackRange(const Id& pack, std::uint64_t offset,
                                      std::uint64_t length) = 0;
  // Reads one blob by itself, authenticated; a failed check is read again
  // (repo/read_checked.h). For a blob whose copy in a larger range did not
  // decode: kCorruption only when the stored blob is damaged.
  virtual Result<Bytes> LoadBlob(const Id& id) = 0;
  // Authenticates, decompresses and verifies a sealed blob against its ID.
  // kCorruption naming blob and pack.
  virtual Result<Bytes> DecodeBlob(const Id& id, const BlobLocation& loc,
                                   ByteSpan sealed) const = 0;
};

// Data packs in archive storage classes (S3 GLACIER, DEEP_ARCHIVE; docs/S3.md,
// "Cold storage"): which can be read now, and asking for readable copies.
// Thread-safe.
class PackArchive {
 public:
  virtual ~PackArchive() = default;
  // Whether packs can be in an archive class at all (S3: yes; a directory:
  // no, and none of the calls below is needed).
  virtual bool HasArchiveClasses() const = 0;
  // Every pack with its size, write time and storage class, from a listing
  // (no request per pack).
  virtual Result<void> ListPackClasses(
      const std::function<Result<void>(const Id&, const storage::ObjectInfo&)>&
          fn) = 0;
  // About how many data and tree packs the repository has (what its index
  // names), so that a caller can tell what a listing costs (one request per
  // 1,000 packs) against a request per pack; 0 if not known.
  virtual size_t PackCountHint() { return 0; }
  // One request (S3: HEAD).
  virtual Result<storage::ArchiveStatus> PackArchiveStatus(const Id& pack) = 0;
  virtual Result<void> RequestPackRestore(const Id& pack, int days,
                                          const std::string& tier) = 0;
};

}  // namespace efs2s3::repo
