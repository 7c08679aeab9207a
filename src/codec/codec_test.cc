#include <gtest/gtest.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "codec/chunker.h"
#include "codec/compress.h"

namespace efs2s3::codec {
namespace {

Bytes RandomData(size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

std::vector<size_t> Cuts(const Chunker& c, ByteSpan data) {
  std::vector<size_t> cuts;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t n = c.NextCut(data.subspan(pos), true);
    pos += n;
    cuts.push_back(pos);
  }
  return cuts;
}

class ChunkerTest : public ::testing::Test {
 protected:
  ChunkerParams params_{16 * 1024, 64 * 1024, 256 * 1024};
  GearTable gear_ = MakeGearTable(AsBytes("seed"));
};

TEST_F(ChunkerTest, RespectsSizeBounds) {
  Chunker c(params_, gear_);
  Bytes data = RandomData(8 << 20, 1);
  auto cuts = Cuts(c, data);
  size_t prev = 0;
  for (size_t i = 0; i < cuts.size(); ++i) {
    size_t len = cuts[i] - prev;
    EXPECT_LE(len, params_.max_size);
    if (i + 1 < cuts.size()) {
      EXPECT_GE(len, params_.min_size);
    }
    prev = cuts[i];
  }
  // The average is within a factor of two of the target.
  double avg =
      static_cast<double>(data.size()) / static_cast<double>(cuts.size());
  EXPECT_GT(avg, params_.avg_size / 2.0);
  EXPECT_LT(avg, params_.avg_size * 2.0);
}

TEST_F(ChunkerTest, BoundariesStableUnderInsertion) {
  // Given data and the same data with 100 bytes inserted near the start, then
  // all but the first few cut points are the same (shifted by 100).
  Chunker c(params_, gear_);
  Bytes data = RandomData(4 << 20, 2);
  Bytes changed = data;
  Bytes extra = RandomData(100, 3);
  changed.insert(changed.begin() + 5000, extra.begin(), extra.end());
  auto a = Cuts(c, data);
  auto b = Cuts(c, changed);
  std::set<size_t> shifted;
  for (size_t x : b) shifted.insert(x - 100);
  size_t common = 0;
  for (size_t x : a) common += shifted.count(x);
  EXPECT_GE(common + 2, a.size());
}

TEST_F(ChunkerTest, DifferentSeedsCutDifferently) {
  GearTable other = MakeGearTable(AsBytes("other"));
  Bytes data = RandomData(2 << 20, 4);
  EXPECT_NE(Cuts(Chunker(params_, gear_), data),
            Cuts(Chunker(params_, other), data));
}

TEST_F(ChunkerTest, NeedsMoreDataUnlessEof) {
  Chunker c(params_, gear_);
  Bytes small = RandomData(1000, 5);
  EXPECT_EQ(c.NextCut(small, false), 0u);
  EXPECT_EQ(c.NextCut(small, true), 1000u);
  Bytes zeros(params_.max_size * 2);
  EXPECT_EQ(c.NextCut(zeros, false), params_.max_size);
}

TEST_F(ChunkerTest, SmallReadsCutTheSame) {
  // Given the data offered a few bytes at a time, as a reader that reads in
  // blocks does, then the cuts are those of the whole data at once.
  Chunker c(params_, gear_);
  Bytes data = RandomData(3 << 20, 6);
  for (size_t block : {1000u, 4096u, 65536u, 100001u}) {
    std::vector<size_t> cuts;
    size_t start = 0, have = 0, scanned = 0;
    while (start < data.size()) {
      have = std::min(have, data.size());
      bool eof = have == data.size();
      size_t cut =
          c.NextCut(ByteSpan(data).subspan(start, have - start), eof, scanned);
      if (cut == 0) {
        scanned = have - start;
        have += block;
        continue;
      }
      start += cut;
      scanned = 0;
      cuts.push_back(start);
    }
    EXPECT_EQ(cuts, Cuts(c, data)) << "block " << block;
  }
}

TEST(CompressTest, RoundTripAndCorruption) {
  Bytes data(100000, 'a');
  Bytes z = Compress(data);
  EXPECT_LT(z.size(), 1000u);
  EXPECT_EQ(*Decompress(z, data.size()), data);
  EXPECT_FALSE(Decompress(z, data.size() + 1));
  z[z.size() / 2] ^= 0xff;
  auto r = Decompress(z, data.size());
  if (r) {
    EXPECT_NE(*r, data);
  }
}

TEST(CompressTest, LargeFramesDecodeInAGrowingBufferAndMustHaveTheirSize) {
  // Given a frame of more than 64 MiB (decoded in steps), then it round-trips,
  // and a truncated frame or a wrong expected size is kCorruption.
  Bytes big(80u << 20, 0);
  for (size_t i = 0; i < big.size(); i += 4096)
    big[i] = static_cast<std::uint8_t>(i >> 12);
  Bytes c = Compress(big, 1);
  auto back = Decompress(c, big.size());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, big);
  EXPECT_EQ(
      Decompress(ByteSpan(c).first(c.size() / 2), big.size()).error().code,
      ErrorCode::kCorruption);
  EXPECT_FALSE(Decompress(c, big.size() + 1));
  EXPECT_FALSE(Decompress(c, big.size() - 1));
  // A frame that does not state its size (streamed) is held to the expected
  // size while it decodes.
  ZSTD_CCtx* cc = ZSTD_createCCtx();
  Bytes s(ZSTD_compressBound(big.size()) + 1024);
  ZSTD_outBuffer out{s.data(), s.size(), 0};
  ZSTD_inBuffer half{big.data(), big.size() / 2, 0};
  ASSERT_FALSE(
      ZSTD_isError(ZSTD_compressStream2(cc, &out, &half, ZSTD_e_continue)));
  ZSTD_inBuffer rest{big.data() + big.size() / 2, big.size() - big.size() / 2,
                     0};
  ASSERT_EQ(ZSTD_compressStream2(cc, &out, &rest, ZSTD_e_end), 0u);
  ZSTD_freeCCtx(cc);
  s.resize(out.pos);
  ASSERT_EQ(ZSTD_getFrameContentSize(s.data(), s.size()),
            ZSTD_CONTENTSIZE_UNKNOWN);
  EXPECT_EQ(*Decompress(s, big.size()), big);
  EXPECT_FALSE(Decompress(s, big.size() - 4096));  // more than expected
  EXPECT_FALSE(Decompress(s, big.size() + 4096));  // less than expected
  EXPECT_FALSE(Decompress(s, size_t{3} << 30));    // a claimed 3 GiB
}

TEST(CompressTest, ManyThreadsShareAtMostOneContextPerCore) {
  // 16 threads compressing at once, at two levels, get correct frames from at
  // most max(2, cores) contexts (one per thread held 42 MiB in a backup).
  std::string text;
  for (int i = 0; text.size() < (256 << 10); ++i)
    text += "line " + std::to_string(i * 7919 % 100003) + " of a log\n";
  Bytes data(text.begin(), text.end());
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 8; ++i) {
        Bytes c = Compress(data, (t + i) % 2 ? 1 : 3);
        auto back = Decompress(c, data.size());
        if (!back || *back != data || c.size() >= data.size()) ++bad;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GE(CompressionContexts(), 1u);
  EXPECT_LE(CompressionContexts(),
            std::max<size_t>(2, std::thread::hardware_concurrency()));
}

TEST(CompressTest, IncompressibleDataIsRecognised) {
  Bytes random = RandomData(1 << 20, 42);
  EXPECT_TRUE(LooksIncompressible(random));
  EXPECT_GE(Compress(random).size(), random.size());  // the check is right
  // Log-like text compresses, and is compressed.
  std::string text;
  for (int i = 0; text.size() < (1 << 20); ++i)
    text += "2026-11-27T18:00:" + std::to_string(i % 60) +
            " GET /api/v1/items/" + std::to_string(i * 7919 % 100003) +
            " 200 " + std::to_string(i % 977) + "ms\n";
  EXPECT_FALSE(LooksIncompressible(AsBytes(text)));
  // Random bytes with runs of zeros in the sampled middle compress.
  Bytes mixed = random;
  std::fill(mixed.begin() + (1 << 19) - 20000, mixed.begin() + (1 << 19), 0);
  EXPECT_FALSE(LooksIncompressible(mixed));
  // Too small to judge: always tried.
  EXPECT_FALSE(LooksIncompressible(ByteSpan(random).first(60000)));
}

std::string LogText(size_t size) {
  std::string text;
  for (int i = 0; text.size() < size; ++i)
    text += "2026-11-27T18:00:" + std::to_string(i % 60) +
            " GET /api/v1/items/" + std::to_string(i * 7919 % 100003) +
            " 200 " + std::to_string(i % 977) + "ms\n";
  return text;
}

TEST(CompressionModeTest, NamesRoundTripAndOthersAreRefused) {
  for (std::string_view n : {"auto", "off", "fastest", "default", "max"}) {
    auto mode = ParseCompression(n);
    ASSERT_TRUE(mode) << n;
    EXPECT_EQ(CompressionName(*mode), n);
  }
  EXPECT_FALSE(ParseCompression(""));
  EXPECT_FALSE(ParseCompression("fast"));
  EXPECT_FALSE(ParseCompression("Auto"));
  EXPECT_FALSE(ParseCompression("3"));
}

TEST(CompressionModeTest, FixedModesMapToTheirLevelsWhateverTheData) {
  Bytes random = RandomData(1 << 20, 7);
  std::string text = LogText(1 << 20);
  for (ByteSpan data : {ByteSpan(random), AsBytes(text)}) {
    for (bool behind : {false, true}) {
      EXPECT_EQ(LevelFor(Compression::kOff, 3, behind, data), 0);
      EXPECT_EQ(LevelFor(Compression::kFastest, 3, behind, data), 1);
      EXPECT_EQ(LevelFor(Compression::kDefault, 3, behind, data), 3);
      EXPECT_EQ(LevelFor(Compression::kDefault, 7, behind, data), 7);
      EXPECT_EQ(LevelFor(Compression::kMax, 3, behind, data), kMaxLevel);
    }
  }
  // The levels are ordered by what they achieve on compressible data.
  size_t fastest = Compress(AsBytes(text), kFastestLevel).size();
  size_t max = Compress(AsBytes(text), kMaxLevel).size();
  EXPECT_LT(max, fastest);
  // The same frame as Compress, in a buffer of its own.
  Compressed c = CompressUninitialized(AsBytes(text), 3);
  EXPECT_EQ(Bytes(c.view().begin(), c.view().end()),
            Compress(AsBytes(text), 3));
  auto back = Decompress(c.view(), text.size());
  ASSERT_TRUE(back);
  EXPECT_EQ(std::string(back->begin(), back->end()), text);
}

TEST(CompressionModeTest, AutoSkipsIncompressibleDataAndFollowsTheUploads) {
  // Random data is not compressed, whether or not uploads are behind.
  Bytes random = RandomData(1 << 20, 8);
  EXPECT_EQ(LevelFor(Compression::kAuto, 3, false, random), 0);
  EXPECT_EQ(LevelFor(Compression::kAuto, 3, true, random), 0);
  // Compressible data: the fastest level while the CPU is the bottleneck,
  // the repository's level while packs wait for uploaders.
  std::string text = LogText(1 << 20);
  EXPECT_EQ(LevelFor(Compression::kAuto, 3, false, AsBytes(text)),
            kFastestLevel);
  EXPECT_EQ(LevelFor(Compression::kAuto, 3, true, AsBytes(text)), 3);
  EXPECT_EQ(LevelFor(Compression::kAuto, 6, true, AsBytes(text)), 6);
  // Blobs too small to probe are compressed (and kept raw by the writer if
  // that does not make them shorter).
  EXPECT_EQ(
      LevelFor(Compression::kAuto, 3, false, ByteSpan(random).first(1000)),
      kFastestLevel);
}

}  // namespace
}  // namespace efs2s3::codec
