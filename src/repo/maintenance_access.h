// Raw access to an open repository for maintenance (check, prune, repair) and
// for locks: listing and removing objects of any type, whole packs and their
// headers, new packs written outside the blob write path, and the check of one
// sealed blob. The backend and the master key stay inside the Repository:
// what is read here is authenticated as everywhere else (pack headers are
// opened with the key, blobs checked against their IDs by VerifySealedBlob),
// except whole packs, whose blobs are sealed one by one and must be verified
// by the caller before use.
//
// Not for backup, restore or the commands' listings: they use Repository and
// the interfaces in repo/interfaces.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "repo/pack.h"
#include "repo/repository.h"
#include "storage/backend.h"

namespace efs2s3::repo {

class MaintenanceAccess {
 public:
  explicit MaintenanceAccess(Repository& repo) : repo_(repo) {}

  // Calls fn for every object of `type` (name and size), in listing order.
  Result<void> List(
      storage::ObjectType type,
      const std::function<Result<void>(const storage::ObjectInfo&)>& fn);
  // Names of all objects of `type`, sorted.
  Result<std::vector<std::string>> ListNames(storage::ObjectType type);
  // All packs: name -> size.
  Result<std::unordered_map<Id, std::uint64_t, IdHash>> ListPacks();
  Result<void> Remove(storage::ObjectType type, const std::string& name);
  // An object as stored, sealed and unchecked: for keeping a copy of a damaged
  // object before it is removed (repair), never for use.
  Result<Bytes> LoadStored(storage::ObjectType type, const std::string& name);

  // A whole pack, checked against its name; a check that fails is read again
  // (repo/read_checked.h), so kTransient when reads disagree. When the stored
  // pack is damaged: kCorruption, or, if `intact` is given, the damaged bytes
  // as stored and *intact = false (for callers that salvage blob by blob).
  Result<Bytes> LoadPack(const Id& pack, bool* intact = nullptr);
  // The entries of a pack held whole in memory (`pack` as LoadPack returns
  // it), from its authenticated header. kCorruption if damaged.
  Result<std::vector<PackEntry>> ParsePackHeader(ByteSpan pack) const;
  // The entries of a pack held whole in memory whose header length field is
  // damaged or cut off (repo/pack.h, FindPackHeader). kCorruption if none.
  Result<std::vector<PackEntry>> FindPackHeader(ByteSpan pack) const;
  // The entries of pack `pack` of `size` bytes, by ranged reads of its tail.
  Result<std::vector<PackEntry>> ReadPackHeader(const Id& pack,
                                                std::uint64_t size);
  // Seals the header of the pack `writer` holds and stores the pack (tree
  // packs with the metadata flag, as the write path does). Returns the stored
  // pack (its name, entries and size).
  Result<std::unique_ptr<FinishedPack>> SavePack(PackWriter& writer);

  // Authenticates one sealed blob as stored in a pack: decrypts, decompresses
  // and compares the content with its ID. kCorruption ("damaged: ...",
  // without the blob ID: callers add it) otherwise.
  Result<void> VerifySealedBlob(const PackEntry& entry, ByteSpan sealed) const;

  // Object Lock (storage/backend.h): the retention of an object's current
  // version, and extending it to `until` (seconds since the epoch).
  Result<storage::Retention> GetRetention(storage::ObjectType type,
                                          const std::string& name);
  Result<void> ExtendRetention(storage::ObjectType type,
                               const std::string& name, std::int64_t until);
  // Requests the storage can usefully have in flight.
  int Concurrency() const;
  // This repository's cache directory ("" when there is none).
  const std::string& CacheDir() const;

 private:
  Repository& repo_;
};

}  // namespace efs2s3::repo
