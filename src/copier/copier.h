// copier: `copy`, snapshots from one repository into another. Blob IDs are
// keyed by each repository's key (docs/FORMAT.md), so a copied blob gets a new
// ID: every tree is rewritten with the IDs of the destination, bottom up, and
// only blobs the destination lacks are stored (re-encrypted under its keys,
// by its own SaveBlob). Which source blob became which destination blob is
// remembered in an IdMap (kept in the local cache between runs), so that a
// later copy neither reads unchanged data nor walks unchanged trees again; an
// entry is used only while the destination still indexes its blob.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "repo/repository.h"

namespace efs2s3::copier {

// Source blob ID -> destination blob ID, for one pair of repositories.
// Thread-safe.
class IdMap {
 public:
  // The map stored at `path`; empty if there is none or it is damaged (it is
  // only a cache). "" keeps it in memory only.
  static IdMap Load(const std::string& path);
  IdMap() = default;
  IdMap(IdMap&& o) noexcept
      : path_(std::move(o.path_)), map_(std::move(o.map_)) {}
  std::optional<Id> Find(const Id& from) const;
  void Insert(const Id& from, const Id& to);
  size_t size() const;
  // Writes the map to its path (crash-safe: new file, then rename).
  Result<void> Save() const;

 private:
  std::string path_;
  mutable std::mutex mu_;
  std::unordered_map<Id, Id, IdHash> map_;
};

struct CopyOptions {
  // Source snapshots to copy, oldest first; one the destination already holds
  // (a copy whose `original` is its ID or its original) is skipped.
  std::vector<std::pair<Id, model::Snapshot>> snapshots;
  // Every source snapshot (to find the copies of parents).
  std::vector<std::pair<Id, model::Snapshot>> all_source;
  // The destination's snapshots, as listed before the copy.
  std::vector<std::pair<Id, model::Snapshot>> destination;
  int workers = 8;  // data blobs read and saved in parallel
  const std::atomic<bool>* cancel = nullptr;
  // After each snapshot copied (source ID, destination ID).
  std::function<void(const Id&, const Id&)> on_copied;
};

struct CopyResult {
  std::vector<std::pair<Id, Id>> copied;  // source -> destination snapshot
  std::uint64_t skipped = 0;  // snapshots the destination already held
  std::uint64_t blobs_read = 0, trees_read = 0;  // from the source
  std::uint64_t blobs_added = 0;  // data blobs new to the destination
  std::uint64_t bytes_added = 0;  // their plaintext bytes
  std::uint64_t trees_written = 0;
};

// Copies options.snapshots from `from` into `to`. Each snapshot is saved only
// after every blob and tree it needs is uploaded and indexed (Flush), so an
// interrupted copy leaves the destination consistent: the snapshots copied so
// far, and data a later run reuses. kCancelled when *cancel is set.
Result<CopyResult> Copy(repo::Repository& from, repo::Repository& to,
                        IdMap& map, const CopyOptions& options);

}  // namespace efs2s3::copier
