// Content-defined chunking (FastCDC-style gear hash with normalized chunking).
//
// Cut points depend only on content (and the repository's secret gear table),
// so an insertion in a file moves only the chunks around it; the rest dedup.
// The chunker is pure: bytes in, cut lengths out; it owns no buffers and does
// no I/O.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"

namespace efs2s3::codec {

struct ChunkerParams {
  std::uint32_t min_size = 512 * 1024;
  std::uint32_t avg_size = 1024 * 1024;  // a power of two
  std::uint32_t max_size = 8 * 1024 * 1024;
};

using GearTable = std::array<std::uint64_t, 256>;

// Derives the 256-entry gear table from a secret seed (docs/FORMAT.md: entry i
// is little-endian bytes [8*(i%4), 8*(i%4)+8) of SHA-256(seed || u32le(i/4))).
GearTable MakeGearTable(ByteSpan seed);

class Chunker {
 public:
  Chunker(const ChunkerParams& params, const GearTable& gear);

  // Length of the next chunk at the start of `buf`, or 0 if more data is needed
  // to decide. With `eof` the whole rest may be one chunk; the result is never
  // 0 then unless buf is empty. A cut within `buf` is found however few bytes
  // follow it, so callers may read a little at a time: after a 0, pass the
  // same start with more bytes and `scanned` = the previous buf.size(), and the
  // bytes already searched are not searched again (the hash at a position
  // depends only on the 64 bytes before it). The cuts are the same whatever
  // the reads.
  size_t NextCut(ByteSpan buf, bool eof, size_t scanned = 0) const;

  const ChunkerParams& params() const { return params_; }

 private:
  ChunkerParams params_;
  const GearTable& gear_;
  std::uint64_t mask_small_;  // used before avg_size: harder to match
  std::uint64_t mask_large_;  // used after avg_size: easier to match
};

}  // namespace efs2s3::codec
