// A byte-rate limit shared by every thread and connection that moves data in
// one direction (`--limit-upload`, `--limit-download`): a token bucket that
// lets a transfer run into debt and makes it sleep the debt off, so that the
// average over any stretch longer than the burst is at most the rate, however
// many threads take from it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

namespace efs2s3 {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  // `bytes_per_second` > 0. The bucket holds at most `burst` bytes (default a
  // tenth of a second's worth, at least 16 KiB) and starts full.
  explicit RateLimiter(std::uint64_t bytes_per_second, std::uint64_t burst = 0);

  // Takes n bytes, sleeping for as long as the bucket is in debt after it.
  // Thread-safe.
  void Take(std::uint64_t n);
  // The arithmetic of Take: takes n bytes at `now` and returns how long the
  // caller must wait (zero while the bucket holds enough).
  std::chrono::nanoseconds Reserve(std::uint64_t n, Clock::time_point now);

  std::uint64_t rate() const { return rate_; }

 private:
  const std::uint64_t rate_;
  const double burst_;
  std::mutex mu_;
  double tokens_;  // bytes; negative: debt
  std::optional<Clock::time_point> last_;
};

// The limits of one process, by direction; null: unlimited.
struct TransferLimits {
  std::shared_ptr<RateLimiter> upload, download;
};

}  // namespace efs2s3
