#include "base/rate_limit.h"

#include <gtest/gtest.h>

namespace efs2s3 {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(RateLimiterTest, BurstIsFreeThenDebtIsSleptOff) {
  // 1000 B/s, a bucket of 100 bytes, full at the start.
  RateLimiter r(1000, 100);
  const auto t0 = RateLimiter::Clock::now();
  EXPECT_EQ(r.Reserve(100, t0), nanoseconds(0));
  // Empty: 500 more bytes are 0.5 s of debt.
  EXPECT_EQ(r.Reserve(500, t0), milliseconds(500));
  // A second taker at the same moment waits for both debts.
  EXPECT_EQ(r.Reserve(250, t0), milliseconds(750));
  // 0.75 s later the debt is paid; 1 s later the bucket holds 250 bytes, no
  // more than its 100 (the burst).
  EXPECT_EQ(r.Reserve(100, t0 + milliseconds(1750)), nanoseconds(0));
  EXPECT_EQ(r.Reserve(1, t0 + milliseconds(1750)), milliseconds(1));
}

TEST(RateLimiterTest, AverageRateOverManyTakesIsTheLimit) {
  // Taking 10,000 bytes in 1,000-byte pieces at 2,000 B/s, each taker starting
  // when the one before it may: the last may start at (10,000 - burst) / 2,000.
  RateLimiter fresh(2000, 1000);
  auto t = RateLimiter::Clock::now();
  const auto start = t;
  for (int i = 0; i < 10; ++i) t += fresh.Reserve(1000, t);
  EXPECT_EQ(t - start, milliseconds(4500));
}

TEST(RateLimiterTest, DefaultBurstIsATenthOfASecondAndAtLeast16KiB) {
  RateLimiter slow(1024);
  const auto t0 = RateLimiter::Clock::now();
  EXPECT_EQ(slow.Reserve(16 << 10, t0), nanoseconds(0));
  EXPECT_EQ(slow.Reserve(1024, t0), std::chrono::seconds(1));
  RateLimiter fast(10 << 20);
  EXPECT_EQ(fast.Reserve(1 << 20, t0), nanoseconds(0));
  EXPECT_GT(fast.Reserve(1, t0), nanoseconds(0));
}

}  // namespace
}  // namespace efs2s3
