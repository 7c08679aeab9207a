#include "codec/chunker.h"

#include <bit>

#include "crypto/crypto.h"

namespace efs2s3::codec {

GearTable MakeGearTable(ByteSpan seed) {
  GearTable t{};
  for (std::uint32_t block = 0; block < 64; ++block) {
    Bytes input(seed.begin(), seed.end());
    PutU32(input, block);
    crypto::Digest d = crypto::Sha256(input);
    for (int j = 0; j < 4; ++j)
      t[block * 4 + static_cast<std::uint32_t>(j)] = GetU64(d.data() + 8 * j);
  }
  return t;
}

static std::uint64_t TopBitsMask(int bits) {
  if (bits <= 0) return 0;
  if (bits >= 64) return ~0ULL;
  return ~0ULL << (64 - bits);
}

Chunker::Chunker(const ChunkerParams& params, const GearTable& gear)
    : params_(params), gear_(gear) {
  int bits = std::bit_width(params.avg_size) - 1;  // log2(avg)
  // Normalization level 2: 4x harder before the average, 4x easier after it.
  mask_small_ = TopBitsMask(bits + 2);
  mask_large_ = TopBitsMask(bits - 2);
}

size_t Chunker::NextCut(ByteSpan buf, bool eof, size_t scanned) const {
  size_t n = buf.size();
  if (n == 0) return 0;
  if (n <= params_.min_size) return eof ? n : 0;
  size_t limit = std::min<size_t>(n, params_.max_size);
  size_t normal = std::min<size_t>(limit, params_.avg_size);
  std::uint64_t h = 0;
  size_t i = params_.min_size;
  constexpr size_t kWindow = 64;  // bits of h: older bytes are shifted out
  if (scanned >= i + kWindow && scanned <= limit) {
    // Positions before `scanned` held no cut; rebuild the hash from the last
    // 64 of them.
    for (i = scanned - kWindow; i < scanned; ++i) h = (h << 1) + gear_[buf[i]];
  }
  for (; i < normal; ++i) {
    h = (h << 1) + gear_[buf[i]];
    if ((h & mask_small_) == 0) return i + 1;
  }
  for (; i < limit; ++i) {
    h = (h << 1) + gear_[buf[i]];
    if ((h & mask_large_) == 0) return i + 1;
  }
  if (limit == params_.max_size) return limit;
  return eof ? n : 0;
}

}  // namespace efs2s3::codec
