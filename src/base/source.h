// Source: the bytes of an object to store, read on demand.
//
// Upload paths take a Source rather than a buffer so that a pack can wait for
// its upload in a temporary file instead of in memory: what a backup holds in
// RAM then does not grow with the number of uploads in flight. A Source is
// read from several threads at once (multipart parts), so ReadAt is const and
// must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace efs2s3 {

class Source {
 public:
  virtual ~Source() = default;
  virtual std::uint64_t size() const = 0;
  // Fills `out` with the bytes at `offset`; offset + out.size() <= size().
  virtual Result<void> ReadAt(std::uint64_t offset,
                              std::span<std::uint8_t> out) const = 0;
  // The bytes, if they are in memory (no copy needed); else nullptr.
  virtual const ByteSpan* Memory() const { return nullptr; }
};

// Bytes in memory (not owned).
class SpanSource final : public Source {
 public:
  explicit SpanSource(ByteSpan data) : data_(data) {}
  std::uint64_t size() const override { return data_.size(); }
  Result<void> ReadAt(std::uint64_t offset,
                      std::span<std::uint8_t> out) const override;
  const ByteSpan* Memory() const override { return &data_; }

 private:
  ByteSpan data_;
};

// `size` bytes at `offset` of an open file (not owned), read with pread.
// `what` names the file in errors.
class FileSource final : public Source {
 public:
  FileSource(int fd, std::uint64_t offset, std::uint64_t size, std::string what)
      : fd_(fd), offset_(offset), size_(size), what_(std::move(what)) {}
  std::uint64_t size() const override { return size_; }
  Result<void> ReadAt(std::uint64_t offset,
                      std::span<std::uint8_t> out) const override;

 private:
  int fd_;
  std::uint64_t offset_, size_;
  std::string what_;
};

// `length` bytes at `offset` of another source (which must outlive it).
class SliceSource final : public Source {
 public:
  SliceSource(const Source& base, std::uint64_t offset, std::uint64_t length);
  std::uint64_t size() const override { return length_; }
  Result<void> ReadAt(std::uint64_t offset,
                      std::span<std::uint8_t> out) const override {
    return base_.ReadAt(offset_ + offset, out);
  }
  const ByteSpan* Memory() const override {
    return memory_.data() ? &memory_ : nullptr;
  }

 private:
  const Source& base_;
  std::uint64_t offset_, length_;
  ByteSpan memory_;
};

// Calls fn on consecutive pieces of at most `block` bytes covering the whole
// source (one piece, without a copy, for bytes in memory).
Result<void> ForEachPiece(const Source& src, size_t block,
                          const std::function<void(ByteSpan)>& fn);

// The whole source in memory.
Result<Bytes> ReadAll(const Source& src);

}  // namespace efs2s3
