// storage: where repository objects live.
//
// A Backend stores immutable named objects grouped by type. It knows nothing
// about packs, encryption or snapshots: only (type, name) -> bytes. Every
// repository location (a local directory, s3://bucket/prefix) is a Backend;
// decorators (retry, concurrency limits) wrap one another, composed in Open()
// (registry.h).
//
// Object keys, relative to the repository root (docs/FORMAT.md, "Layout"):
//   config                      kConfig   (name is ignored; always "config")
//   keys/<name>                 kKey
//   data/<name[0:2]>/<name>     kPack
//   index/<name>                kIndex
//   snapshots/<name>            kSnapshot
//   locks/<name>                kLock
//   runs/<name>                 kRun      (sharded runs' plans)
//
// Error contract (checked by the conformance suite, storage/testing/):
//   - a missing object is kNotFound, on Load, Stat and Remove;
//   - a create-only Save of an existing object is kAlreadyExists and leaves it
//   as it was;
//   - retryable failures are kTransient; everything else is permanent;
//   - a ranged Load past the end of the object is kCorruption (never a short
//   result).
// All methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "base/source.h"

namespace efs2s3::storage {

enum class ObjectType { kConfig, kKey, kPack, kIndex, kSnapshot, kLock, kRun };

// Directory name of a type ("keys", "data", ...), "" for kConfig.
const char* ObjectTypeDir(ObjectType type);

struct Handle {
  ObjectType type;
  std::string name;  // lowercase hex (or "config")
};

// Key of an object relative to the repository root, e.g. "data/3f/3fa2...".
std::string ObjectKey(const Handle& h);

struct ObjectInfo {
  std::string name;
  std::uint64_t size = 0;
  // When the object was written, in seconds since the epoch (0 when the
  // backend does not say).
  std::int64_t mtime = 0;
  // The storage class an object store keeps it in ("" when the backend has
  // none or does not say: STANDARD). See storage/storage_class.h.
  std::string storage_class{};
};

// Whether an object can be read now (archive storage classes).
struct ArchiveStatus {
  std::string storage_class;  // as ObjectInfo
  std::uint64_t size = 0;
  // In an archive tier: a GET fails until a restore made a readable copy.
  bool archived = false;
  // A restore was requested and is not done yet.
  bool restore_ongoing = false;
  // A restored copy can be read until then (seconds since the epoch), or 0.
  std::int64_t restored_until = 0;
  bool Readable() const { return !archived || restored_until > 0; }
};

// Write-once retention of objects (S3 Object Lock). With a policy set, every
// object written but locks carries a retention of `seconds` from its write;
// until then no one, whatever their credentials (COMPLIANCE) or without a
// bypass right (GOVERNANCE), can delete or overwrite that version.
struct LockPolicy {
  std::string mode;  // "GOVERNANCE" or "COMPLIANCE"; "" = none
  std::int64_t seconds = 0;
};
struct Retention {
  std::string mode;        // "" when the object has none
  std::int64_t until = 0;  // seconds since the epoch
  std::string version_id;  // the current version ("" unversioned)
};

struct SaveOptions {
  // Fail with kAlreadyExists instead of replacing an existing object.
  bool create_only = false;
  // The object holds metadata (a pack of tree blobs): object stores keep it in
  // the metadata storage class, so listing and planning never need a cold
  // retrieval.
  bool metadata = false;
  // The SHA-256 of the data in hex, when the caller knows it (objects named
  // by their hash). An object store signs it as the payload hash instead of
  // reading the data again to compute it, and the server then refuses a body
  // that does not match, which also catches a spool file damaged on disk.
  std::string sha256_hex{};
};

class Backend {
 public:
  virtual ~Backend() = default;
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // A human-readable location ("/srv/repo", "s3:bucket/prefix"), without
  // secrets.
  virtual std::string Location() const = 0;

  // Creates the empty layout (directories, or nothing for object stores).
  // kAlreadyExists if a config object is present.
  virtual Result<void> Create() = 0;

  // Stores `data` atomically: readers see either nothing or all of it.
  virtual Result<void> Save(const Handle& h, ByteSpan data,
                            const SaveOptions& opts) = 0;

  // The same, with the bytes read from `data` on demand (a pack waiting in a
  // temporary file). The default reads it all into memory and calls Save.
  virtual Result<void> SaveFrom(const Handle& h, const Source& data,
                                const SaveOptions& opts);

  // Reads `length` bytes at `offset`; length 0 means "to the end".
  virtual Result<Bytes> Load(const Handle& h, std::uint64_t offset = 0,
                             std::uint64_t length = 0) = 0;

  virtual Result<ObjectInfo> Stat(const Handle& h) = 0;

  // Removes an object. kNotFound if it does not exist.
  virtual Result<void> Remove(const Handle& h) = 0;

  // Calls fn once per object of `type`, in no particular order. Stops at and
  // returns the first error fn returns.
  virtual Result<void> List(
      ObjectType type,
      const std::function<Result<void>(const ObjectInfo&)>& fn) = 0;

  // Object Lock (see LockPolicy). Backends without it: kUnsupported for a
  // policy with a mode, and for the calls below.
  //
  // Whether the store can hold locked objects (the bucket was created with
  // Object Lock).
  virtual Result<bool> CanLock() { return false; }
  // Every later write carries the policy. While a policy is set, Remove of an
  // object whose retention lasts hides it (a delete marker) and leaves the
  // locked version until its retention ends; once it ended, Remove deletes it.
  virtual Result<void> SetLockPolicy(const LockPolicy& policy);
  virtual Result<Retention> GetRetention(const Handle& h);
  // Sets the retention of the object's current version to end at `until`
  // (never earlier than it is).
  virtual Result<void> ExtendRetention(const Handle& h, std::int64_t until);

  // Archive storage classes (S3 GLACIER, DEEP_ARCHIVE, INTELLIGENT_TIERING
  // archive tiers). Backends without them: every object is readable, and
  // RequestRestore is kUnsupported.
  virtual bool HasArchiveClasses() const { return false; }
  virtual Result<ArchiveStatus> GetArchiveStatus(const Handle& h);
  // Asks for a readable copy of an archived object, kept `days` days,
  // retrieved at `tier` ("Expedited", "Standard", "Bulk"). Asking again for
  // an object whose restore is under way or done costs nothing more.
  virtual Result<void> RequestRestore(const Handle& h, int days,
                                      const std::string& tier);

  // Number of requests the backend can usefully have in flight (S3: tens).
  virtual int Concurrency() const { return 4; }
};

}  // namespace efs2s3::storage
