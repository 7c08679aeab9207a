// Packs: many sealed blobs in one object, self-describing via an encrypted
// header.
//
//   pack := blob_0 || ... || blob_{n-1} || Seal(header) ||
//   u32le(len(Seal(header))) header := "EPK1" || entry*          entry := type
//   u8 | flags u8 | length u32le |
//                                                 raw_length u32le | id[32]
// Blob i starts at the sum of the lengths before it. Every blob is Seal()ed on
// its own, so one blob can be read with a ranged request. (docs/FORMAT.md,
// "Packs".)
#pragma once

#include <cstdint>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "crypto/crypto.h"

namespace efs2s3::repo {

enum class BlobType : std::uint8_t { kData = 0, kTree = 1 };

constexpr std::uint8_t kBlobCompressed = 1;

struct PackEntry {
  Id id;
  BlobType type = BlobType::kData;
  bool compressed = false;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;      // stored (sealed) length
  std::uint32_t raw_length = 0;  // plaintext length
};

// Accumulates sealed blobs. Not thread-safe.
class PackWriter {
 public:
  void Add(const PackEntry& entry, Bytes sealed_blob);
  size_t size() const { return data_.size(); }
  size_t count() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Appends the sealed header; returns the pack bytes and its entries.
  std::pair<Bytes, std::vector<PackEntry>> Finish(const crypto::Key& key);

 private:
  Bytes data_;
  std::vector<PackEntry> entries_;
};

// Parses the header from the last `tail` bytes of a pack of `pack_size` bytes.
// If the tail is too short, returns kNotFound with the needed length in
// *needed (call again with that many bytes). kCorruption on any inconsistency.
Result<std::vector<PackEntry>> ParsePackHeader(const crypto::Key& key,
                                               ByteSpan tail,
                                               std::uint64_t pack_size,
                                               size_t* needed);

}  // namespace efs2s3::repo
