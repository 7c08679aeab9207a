// Property test of zstd decompression of stored blobs: compressed data
// round-trips, and any bytes with any expected size decompress to exactly that
// size or to kCorruption, never a crash or an allocation sized by a damaged
// frame (base/testing/mutate.h, base/testing/alloc_limit.cc).
#include <gtest/gtest.h>

#include "base/testing/mutate.h"
#include "codec/compress.h"

namespace efs2s3::codec {
namespace {

std::vector<Bytes> SamplePlain() {
  Bytes text;
  for (int i = 0; i < 200; ++i)
    for (char c : std::string("line " + std::to_string(i) + "\n"))
      text.push_back(static_cast<std::uint8_t>(c));
  Bytes noise(512);
  for (size_t i = 0; i < noise.size(); ++i)
    noise[i] = static_cast<std::uint8_t>(i * 2654435761u >> 13);
  return {Bytes{}, Bytes(1000, 0), text, noise};
}

TEST(DecodePropertyTest, CompressedDataRoundTrips) {
  for (const Bytes& p : SamplePlain()) {
    auto back = Decompress(Compress(p), p.size());
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, p);
    EXPECT_FALSE(Decompress(Compress(p), p.size() + 1));
  }
}

TEST(DecodePropertyTest, AnyBytesDecompressToTheSizeOrCorruption) {
  std::vector<Bytes> valid;
  for (const Bytes& p : SamplePlain()) valid.push_back(Compress(p));
  // The expected size comes from an index entry or a length field: small,
  // what the valid frames hold, and sizes a damaged field may claim.
  const size_t sizes[] = {0, 1000, 1 << 20, (size_t{1} << 32) + 5, ~size_t{0}};
  std::uint64_t n = 0;
  testing::ForEachVariant(valid, 301, [&](const Bytes& b) {
    size_t expected = sizes[n++ % std::size(sizes)];
    auto r = Decompress(b, expected);
    if (r) {
      EXPECT_EQ(r->size(), expected);
    } else {
      EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
    }
  });
}

}  // namespace
}  // namespace efs2s3::codec
