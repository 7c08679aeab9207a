#include "base/rate_limit.h"

#include <algorithm>
#include <thread>

namespace efs2s3 {

RateLimiter::RateLimiter(std::uint64_t bytes_per_second, std::uint64_t burst)
    : rate_(std::max<std::uint64_t>(1, bytes_per_second)),
      burst_(static_cast<double>(
          burst > 0 ? burst : std::max<std::uint64_t>(16 << 10, rate_ / 10))),
      tokens_(burst_) {}

std::chrono::nanoseconds RateLimiter::Reserve(std::uint64_t n,
                                              Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (last_ && now > *last_) {
    const double elapsed = std::chrono::duration<double>(now - *last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * static_cast<double>(rate_));
  }
  if (!last_ || now > *last_) last_ = now;
  tokens_ -= static_cast<double>(n);
  if (tokens_ >= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(
      static_cast<std::int64_t>(-tokens_ / static_cast<double>(rate_) * 1e9));
}

void RateLimiter::Take(std::uint64_t n) {
  const std::chrono::nanoseconds wait = Reserve(n, Clock::now());
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
}

}  // namespace efs2s3
