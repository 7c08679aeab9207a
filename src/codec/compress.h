// zstd compression of blobs.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"

namespace efs2s3::codec {

// What a writer does with each blob (`--compression`, a job's `compression`
// key). Every mode keeps a blob raw when zstd does not make it shorter; the
// format records that per blob (docs/FORMAT.md, "Blobs and chunking").
//   off      never compress
//   fastest  zstd level 1 (kFastestLevel)
//   default  the repository's level (its config's zstd_level, 3)
//   max      zstd level kMaxLevel
//   auto     skip blobs that LooksIncompressible() says do not compress, and
//            the fastest level while the CPU is the bottleneck, the default
//            one while uploads are (AutoLevel)
enum class Compression { kAuto, kOff, kFastest, kDefault, kMax };
inline constexpr int kFastestLevel = 1;
inline constexpr int kMaxLevel = 19;
inline constexpr std::string_view kCompressionNames =
    "auto, off, fastest, default or max";

// The mode of a name ("auto", "off", "fastest", "default", "max"), or nullopt.
std::optional<Compression> ParseCompression(std::string_view name);
std::string_view CompressionName(Compression mode);

// The zstd level a blob is compressed at, 0 for none. `default_level` is the
// repository's; `uploads_behind` says whether packs are waiting for an
// uploader (the network, not the CPU, is the bottleneck): then auto spends
// CPU on the default level, since it has time to; otherwise the fastest.
// `data` is what auto probes (LooksIncompressible).
int LevelFor(Compression mode, int default_level, bool uploads_behind,
             ByteSpan data);

// Compresses with zstd at `level`. Thread-safe: the compression contexts are
// shared by all threads, at most max(2, cores) of them; a call waits while
// that many compress.
Bytes Compress(ByteSpan data, int level = 3);

// How many compression contexts exist (they are kept for reuse).
size_t CompressionContexts();

// Compress's result in a buffer that is not zeroed before zstd writes it
// (a blob's compression bound is its size and more: zeroing it cost 3 % of a
// backup's CPU). The compressed bytes are view().
struct Compressed {
  std::unique_ptr<std::uint8_t[]> buffer;
  size_t size = 0;
  ByteSpan view() const { return ByteSpan(buffer.get(), size); }
};
Compressed CompressUninitialized(ByteSpan data, int level);

// True if `data` (64 KiB or more) is very likely not worth compressing: a
// 16 KiB sample from its middle, compressed at zstd's fastest level, shrinks
// by less than 2 %. Costs about 1 % of compressing the whole at level 3, and
// saves all of it on media, archives and encrypted files.
bool LooksIncompressible(ByteSpan data);

// Decompresses a zstd frame that must expand to exactly `expected_size` bytes.
// kCorruption otherwise.
Result<Bytes> Decompress(ByteSpan data, size_t expected_size);

}  // namespace efs2s3::codec
