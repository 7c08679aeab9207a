// Property test of the forget policy's parsers (--keep-within durations,
// --group-by): what is formatted parses back the same; any text parses to a
// value or kInvalidArgument, never a crash, an overflow or an escaped
// exception (base/testing/mutate.h).
#include <gtest/gtest.h>

#include "base/testing/mutate.h"
#include "policy/forget_policy.h"

namespace efs2s3::policy {
namespace {

TEST(DecodePropertyTest, DurationsRoundTripOrAreRejected) {
  testing::ForEachTextVariant(
      {"1y2m3d4h", "30d", "36h", "10000y", "4h3d"}, 901,
      [](const std::string& text) {
        auto d = ParseDuration(text);
        if (!d) {
          EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument);
          return;
        }
        EXPECT_GT(d->count(), 0);
        EXPECT_LE(d->count(), std::int64_t{10000} * 365 * 86400);
        auto again = ParseDuration(FormatDuration(*d));
        ASSERT_TRUE(again) << FormatDuration(*d);
        EXPECT_EQ(*again, *d);
      });
}

TEST(DecodePropertyTest, GroupBysRoundTripOrAreRejected) {
  testing::ForEachTextVariant(
      {"host,paths,tags", "tag", "paths,host,hosts", ""}, 902,
      [](const std::string& text) {
        auto g = ParseGroupBy(text);
        if (!g) {
          EXPECT_EQ(g.error().code, ErrorCode::kInvalidArgument);
          return;
        }
        auto again = ParseGroupBy(FormatGroupBy(*g));
        ASSERT_TRUE(again);
        EXPECT_EQ(*again, *g);
      });
}

}  // namespace
}  // namespace efs2s3::policy
