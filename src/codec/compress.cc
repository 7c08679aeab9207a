#include "codec/compress.h"

#include <zstd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace efs2s3::codec {
namespace {
// Decompression contexts are small (about 100 KiB): one per thread.
struct DCtx {
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~DCtx() { ZSTD_freeDCtx(d); }
};
thread_local DCtx tls_ctx;

// Compression contexts keep a workspace of 1-3 MiB at the levels used (more
// at high levels), and a backup has 50 threads that may compress (readers,
// the CPU pool, walkers saving trees): one per thread held 42 MiB at the peak
// of a first backup. They are shared instead, at most max(2, cores) at once;
// compression is CPU-bound, so more at once than cores would only take turns.
class CCtxPool {
 public:
  CCtxPool() : max_(std::max<size_t>(2, std::thread::hardware_concurrency())) {}
  ~CCtxPool() {
    for (ZSTD_CCtx* c : free_) ZSTD_freeCCtx(c);
  }
  ZSTD_CCtx* Get() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty() || created_ < max_; });
    if (!free_.empty()) {
      ZSTD_CCtx* c = free_.back();
      free_.pop_back();
      return c;
    }
    ++created_;
    lock.unlock();
    ZSTD_CCtx* c = ZSTD_createCCtx();
    EFS2S3_CHECK(c != nullptr);
    return c;
  }
  void Put(ZSTD_CCtx* c) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(c);
    }
    cv_.notify_one();
  }
  size_t created() {
    std::lock_guard lock(mu_);
    return created_;
  }

 private:
  const size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ZSTD_CCtx*> free_;
  size_t created_ = 0;
};

CCtxPool& Pool() {
  static CCtxPool* pool = new CCtxPool;  // never destroyed: threads may
  return *pool;                          // compress during exit
}

// A pooled context for one compression call.
class PooledCCtx {
 public:
  PooledCCtx() : c_(Pool().Get()) {}
  ~PooledCCtx() { Pool().Put(c_); }
  PooledCCtx(const PooledCCtx&) = delete;
  PooledCCtx& operator=(const PooledCCtx&) = delete;
  ZSTD_CCtx* get() const { return c_; }

 private:
  ZSTD_CCtx* c_;
};
}  // namespace

size_t CompressionContexts() { return Pool().created(); }

Bytes Compress(ByteSpan data, int level) {
  Bytes out(ZSTD_compressBound(data.size()));
  PooledCCtx ctx;
  size_t n = ZSTD_compressCCtx(ctx.get(), out.data(), out.size(), data.data(),
                               data.size(), level);
  EFS2S3_CHECK(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

Compressed CompressUninitialized(ByteSpan data, int level) {
  size_t bound = ZSTD_compressBound(data.size());
  Compressed out{std::make_unique_for_overwrite<std::uint8_t[]>(bound), 0};
  PooledCCtx ctx;
  out.size = ZSTD_compressCCtx(ctx.get(), out.buffer.get(), bound, data.data(),
                               data.size(), level);
  EFS2S3_CHECK(!ZSTD_isError(out.size));
  return out;
}

bool LooksIncompressible(ByteSpan data) {
  constexpr size_t kSample = 16 << 10;
  if (data.size() < 4 * kSample) return false;
  ByteSpan sample = data.subspan(data.size() / 2 - kSample / 2, kSample);
  std::uint8_t out[kSample + 512];
  PooledCCtx ctx;
  size_t n = ZSTD_compressCCtx(ctx.get(), out, sizeof out, sample.data(),
                               sample.size(), 1);
  if (ZSTD_isError(n)) return false;
  return n * 100 >= sample.size() * 98;
}

std::optional<Compression> ParseCompression(std::string_view name) {
  for (Compression c :
       {Compression::kAuto, Compression::kOff, Compression::kFastest,
        Compression::kDefault, Compression::kMax})
    if (CompressionName(c) == name) return c;
  return std::nullopt;
}

std::string_view CompressionName(Compression mode) {
  switch (mode) {
    case Compression::kOff:
      return "off";
    case Compression::kFastest:
      return "fastest";
    case Compression::kDefault:
      return "default";
    case Compression::kMax:
      return "max";
    case Compression::kAuto:
      break;
  }
  return "auto";
}

int LevelFor(Compression mode, int default_level, bool uploads_behind,
             ByteSpan data) {
  switch (mode) {
    case Compression::kOff:
      return 0;
    case Compression::kFastest:
      return kFastestLevel;
    case Compression::kDefault:
      return default_level;
    case Compression::kMax:
      return kMaxLevel;
    case Compression::kAuto:
      break;
  }
  if (LooksIncompressible(data)) return 0;
  return uploads_behind ? default_level : kFastestLevel;
}

Result<Bytes> Decompress(ByteSpan data, size_t expected_size) {
  auto corrupt = [](const char* what) {
    return MakeError(ErrorCode::kCorruption, what);
  };
  unsigned long long content =
      ZSTD_getFrameContentSize(data.data(), data.size());
  if (content == ZSTD_CONTENTSIZE_ERROR ||
      (content != ZSTD_CONTENTSIZE_UNKNOWN && content != expected_size))
    return corrupt("zstd frame has the wrong size");
  // Up to this size the output buffer is allocated at once. Beyond it, it grows
  // with the output actually produced: a damaged or hostile frame that claims
  // gigabytes (an unauthenticated length field) costs only what it decodes.
  constexpr size_t kDirect = 64 << 20;
  if (expected_size <= kDirect) {
    Bytes out(expected_size);
    size_t n = ZSTD_decompressDCtx(tls_ctx.d, out.data(), out.size(),
                                   data.data(), data.size());
    if (ZSTD_isError(n) || n != expected_size)
      return corrupt("zstd decompression failed");
    return out;
  }
  ZSTD_DCtx_reset(tls_ctx.d, ZSTD_reset_session_only);
  Bytes out(kDirect);
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t produced = 0;
  for (;;) {
    if (produced == out.size() && out.size() < expected_size)
      out.resize(std::min(expected_size, out.size() * 2));
    bool no_room = produced == out.size();  // all expected bytes are out
    ZSTD_outBuffer o{out.data(), out.size(), produced};
    size_t r = ZSTD_decompressStream(tls_ctx.d, &o, &in);
    if (ZSTD_isError(r)) return corrupt("zstd decompression failed");
    bool progress = o.pos > produced;
    produced = o.pos;
    if (r == 0) break;  // the frame is complete
    // The expected size reached and the frame goes on, or out of input.
    if (no_room || (in.pos == in.size && !progress))
      return corrupt("zstd frame does not have the expected size");
  }
  if (produced != expected_size || in.pos != in.size)
    return corrupt("zstd frame does not have the expected size");
  return out;
}

}  // namespace efs2s3::codec
