#include "cli/eta.h"

#include <gtest/gtest.h>

namespace efs2s3::cli {
namespace {

TEST(EtaTest, FractionAndTimeLeftAtTheAverageRate) {
  // 250 of 1000 bytes in 10 s: 25%, 750 bytes left at 25 B/s = 30 s.
  Estimate e = EstimateProgress(250, 1000, 10.0);
  ASSERT_TRUE(e.fraction);
  EXPECT_DOUBLE_EQ(*e.fraction, 0.25);
  ASSERT_TRUE(e.seconds_left);
  EXPECT_EQ(*e.seconds_left, 30);
  // A part of a second left counts as a second.
  EXPECT_EQ(*EstimateProgress(999, 1000, 9.99).seconds_left, 1);
  // 1 GiB of 100 GiB in a minute: 99 minutes left.
  EXPECT_EQ(*EstimateProgress(1ULL << 30, 100ULL << 30, 60.0).seconds_left,
            99 * 60);
}

TEST(EtaTest, NothingWithoutAnExpectationOrPastIt) {
  EXPECT_FALSE(EstimateProgress(10, 0, 5.0).fraction);
  EXPECT_FALSE(EstimateProgress(10, 0, 5.0).seconds_left);
  // Done reaches the expectation (the tree grew): no guess.
  EXPECT_FALSE(EstimateProgress(1000, 1000, 5.0).fraction);
  EXPECT_FALSE(EstimateProgress(2000, 1000, 5.0).seconds_left);
  // Nothing moved yet: a fraction (0) but no time left.
  Estimate e = EstimateProgress(0, 1000, 5.0);
  ASSERT_TRUE(e.fraction);
  EXPECT_DOUBLE_EQ(*e.fraction, 0.0);
  EXPECT_FALSE(e.seconds_left);
  EXPECT_FALSE(EstimateProgress(10, 1000, 0.0).seconds_left);
}

TEST(EtaTest, FormatDuration) {
  EXPECT_EQ(FormatDuration(0), "0:00:00");
  EXPECT_EQ(FormatDuration(59), "0:00:59");
  EXPECT_EQ(FormatDuration(3600 + 2 * 60 + 3), "1:02:03");
  EXPECT_EQ(FormatDuration(100 * 3600), "100:00:00");
  EXPECT_EQ(FormatDuration(-5), "0:00:00");
}

}  // namespace
}  // namespace efs2s3::cli
