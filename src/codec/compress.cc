#include "codec/compress.h"

#include <zstd.h>

namespace efs2s3::codec {
namespace {
struct Ctx {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~Ctx() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
thread_local Ctx tls_ctx;
}  // namespace

Bytes Compress(ByteSpan data, int level) {
  Bytes out(ZSTD_compressBound(data.size()));
  size_t n = ZSTD_compressCCtx(tls_ctx.c, out.data(), out.size(), data.data(),
                               data.size(), level);
  EFS2S3_CHECK(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

bool LooksIncompressible(ByteSpan data) {
  constexpr size_t kSample = 16 << 10;
  if (data.size() < 4 * kSample) return false;
  ByteSpan sample = data.subspan(data.size() / 2 - kSample / 2, kSample);
  std::uint8_t out[kSample + 512];
  size_t n = ZSTD_compressCCtx(tls_ctx.c, out, sizeof out, sample.data(),
                               sample.size(), 1);
  if (ZSTD_isError(n)) return false;
  return n * 100 >= sample.size() * 98;
}

Result<Bytes> Decompress(ByteSpan data, size_t expected_size) {
  unsigned long long content =
      ZSTD_getFrameContentSize(data.data(), data.size());
  if (content == ZSTD_CONTENTSIZE_ERROR ||
      (content != ZSTD_CONTENTSIZE_UNKNOWN && content != expected_size))
    return MakeError(ErrorCode::kCorruption, "zstd frame has the wrong size");
  Bytes out(expected_size);
  size_t n = ZSTD_decompressDCtx(tls_ctx.d, out.data(), out.size(), data.data(),
                                 data.size());
  if (ZSTD_isError(n) || n != expected_size)
    return MakeError(ErrorCode::kCorruption, "zstd decompression failed");
  return out;
}

}  // namespace efs2s3::codec
