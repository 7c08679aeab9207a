// The index: blob ID -> (pack, offset, length), designed for 100 M blobs
// without holding them in RAM (docs/FORMAT.md, "Index" and "Memory model").
//
// In the repository, index/<name> objects are sealed "index files":
//   "EIX1" | u32 n_super | n_super x id[32]      index objects this one
//   replaces
//          | u32 n_packs | n_packs x id[32]      pack table
//          | u64 n_entries | entries sorted by blob ID, 48 bytes each:
//            id[32] | u32 pack_no (bit 31: tree blob) | u32 offset | u32 length
//                   | u32 raw_length (bit 31: compressed)
// The local cache keeps each index file decrypted as a "run" (the same layout)
// and merges runs k-way into bigger runs. Lookups are binary searches over
// mmap()ed runs, so resident memory is what the page cache decides, not the
// size of the index.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "repo/pack.h"

namespace efs2s3::repo {

struct BlobLocation {
  Id pack;
  BlobType type = BlobType::kData;
  bool compressed = false;
  std::uint32_t offset = 0, length = 0, raw_length = 0;
};

// Builds an index file in memory. Not thread-safe.
class IndexBuilder {
 public:
  void AddPack(const Id& pack, const std::vector<PackEntry>& entries);
  void Supersede(const Id& index_name) { supersedes_.push_back(index_name); }
  size_t blob_count() const { return count_; }
  size_t pack_count() const { return packs_.size(); }
  Bytes Finish();  // plaintext index file

 private:
  std::vector<Id> supersedes_;
  std::vector<std::pair<Id, std::vector<PackEntry>>> packs_;
  size_t count_ = 0;
};

// A read-only view of one index file (plaintext), in memory or mmap()ed.
class IndexRun {
 public:
  // Validates layout and sort order. kCorruption if malformed.
  static Result<std::unique_ptr<IndexRun>> FromBytes(Bytes data);
  static Result<std::unique_ptr<IndexRun>> MapFile(const std::string& path);
  ~IndexRun();
  IndexRun(const IndexRun&) = delete;
  IndexRun& operator=(const IndexRun&) = delete;

  std::optional<BlobLocation> Find(const Id& id) const;
  size_t size() const { return n_entries_; }
  BlobLocation At(size_t i, Id* id) const;
  const std::vector<Id>& supersedes() const { return supersedes_; }
  size_t pack_count() const { return n_packs_; }
  Id PackAt(size_t i) const;
  ByteSpan bytes() const { return {base_, len_}; }

 private:
  IndexRun() = default;
  Result<void> Parse();
  const std::uint8_t* base_ = nullptr;
  size_t len_ = 0;
  Bytes owned_;
  bool mapped_ = false;
  std::vector<Id> supersedes_;
  const std::uint8_t* packs_ = nullptr;
  size_t n_packs_ = 0;
  const std::uint8_t* entries_ = nullptr;
  size_t n_entries_ = 0;
};

// Writes the k-way merge of `runs` (dropping duplicate blob IDs) to `path`.
Result<void> MergeRuns(const std::vector<const IndexRun*>& runs,
                       const std::string& path);

}  // namespace efs2s3::repo
