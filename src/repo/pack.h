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
#include <memory>
#include <string>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "base/source.h"
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

// A finished pack: its bytes, in memory or in a temporary file that it owns
// (closed, and so removed, with it), plus its name and entries.
class FinishedPack final : public Source {
 public:
  ~FinishedPack() override;
  std::uint64_t size() const override { return size_; }
  Result<void> ReadAt(std::uint64_t offset,
                      std::span<std::uint8_t> out) const override;
  const ByteSpan* Memory() const override { return fd_ < 0 ? &span_ : nullptr; }

  Id name;  // SHA-256 of the bytes
  std::vector<PackEntry> entries;

 private:
  friend class PackWriter;
  Bytes memory_;
  ByteSpan span_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// Accumulates sealed blobs, in memory or (Spooled) in an unnamed temporary
// file, so that a pack waiting for its upload holds no memory. The SHA-256 of
// the pack (its name) is computed as blobs are added. Not thread-safe.
class PackWriter {
 public:
  PackWriter() = default;
  // Blobs go to a temporary file in `dir`; falls back to memory if the file
  // cannot be created.
  static PackWriter Spooled(const std::string& dir);
  // Blobs go to memory, `reserve` bytes reserved at once (so that a pack
  // is not copied as it grows); counted() says it was made this way.
  static PackWriter InMemory(size_t reserve);
  PackWriter(PackWriter&& other) noexcept;
  PackWriter& operator=(PackWriter&& other) noexcept;
  ~PackWriter();

  Result<void> Add(const PackEntry& entry, ByteSpan sealed_blob);
  size_t size() const { return size_; }
  size_t count() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Made by InMemory() (and so counted against a memory budget).
  bool counted() const { return counted_; }
  const std::vector<PackEntry>& entries() const { return entries_; }
  // Appends the sealed header. The writer is empty (and in memory) afterwards.
  Result<std::unique_ptr<FinishedPack>> Finish(const crypto::Key& key);

 private:
  Result<void> Append(ByteSpan data);

  Bytes data_;
  int fd_ = -1;
  std::string spool_dir_;
  bool counted_ = false;
  size_t size_ = 0;
  std::unique_ptr<crypto::Sha256Stream> sha_ =
      std::make_unique<crypto::Sha256Stream>();
  std::vector<PackEntry> entries_;
};

// Looks in a whole pack for a sealed header whose length field is damaged or
// cut off (a pack truncated by up to 4 bytes): tries every header length that
// fits where the field would start, authenticating at most `budget` bytes.
// The entries if one opens and matches the blobs before it; kCorruption
// otherwise.
Result<std::vector<PackEntry>> FindPackHeader(const crypto::Key& key,
                                              ByteSpan pack,
                                              std::uint64_t budget);

// Parses the header from the last `tail` bytes of a pack of `pack_size` bytes.
// If the tail is too short, returns kNotFound with the needed length in
// *needed (call again with that many bytes). kCorruption on any inconsistency.
Result<std::vector<PackEntry>> ParsePackHeader(const crypto::Key& key,
                                               ByteSpan tail,
                                               std::uint64_t pack_size,
                                               size_t* needed);

}  // namespace efs2s3::repo
