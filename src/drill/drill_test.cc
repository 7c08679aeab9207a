#include "drill/drill.h"

#include <gtest/gtest.h>

#include <set>

namespace efs2s3::drill {
namespace {

TEST(DrillTest, StratumNamesSizeAgeAndClass) {
  EXPECT_EQ(Stratum(0, 0, "none"), "empty/day/none");
  EXPECT_EQ(Stratum(100, 2 * 86400, "STANDARD"), "small/month/STANDARD");
  EXPECT_EQ(Stratum(1 << 20, 40 * 86400, "STANDARD_IA"),
            "medium/year/STANDARD_IA");
  EXPECT_EQ(Stratum(1ULL << 30, 400 * 86400, "GLACIER"), "large/older/GLACIER");
}

TEST(DrillTest, ColdClassesAreGlacierAndDeepArchive) {
  EXPECT_TRUE(IsColdStorageClass("GLACIER"));
  EXPECT_TRUE(IsColdStorageClass("DEEP_ARCHIVE"));
  EXPECT_FALSE(IsColdStorageClass("GLACIER_IR"));
  EXPECT_FALSE(IsColdStorageClass("STANDARD"));
  EXPECT_FALSE(IsColdStorageClass(""));
}

// A stratum of one file among 10,000 of another is still sampled, and no item
// is taken twice.
TEST(DrillTest, EveryStratumIsRepresented) {
  StratifiedSample<int> s(5, 42);
  for (int i = 0; i < 10000; ++i) s.Add("small/day/STANDARD", i);
  s.Add("large/older/STANDARD", -1);
  s.Add("medium/year/STANDARD_IA", -2);
  s.Add("medium/year/STANDARD_IA", -3);
  auto got = s.Take(5);
  ASSERT_EQ(got.size(), 5u);
  std::set<std::string> strata;
  std::set<int> items;
  for (const auto& [stratum, item] : got) {
    strata.insert(stratum);
    items.insert(item);
  }
  EXPECT_EQ(strata.size(), 3u);
  EXPECT_EQ(items.size(), 5u);
  EXPECT_TRUE(items.count(-1));
}

TEST(DrillTest, TakesAtMostWhatThereIs) {
  StratifiedSample<int> s(10, 1);
  s.Add("a", 1);
  s.Add("b", 2);
  s.Add("b", 3);
  EXPECT_EQ(s.Take(10).size(), 3u);
}

// The same seed gives the same sample; another seed (very likely) another.
TEST(DrillTest, SeedDecides) {
  auto run = [](std::uint64_t seed) {
    StratifiedSample<int> s(3, seed);
    for (int i = 0; i < 1000; ++i) s.Add(i % 2 ? "a" : "b", i);
    std::vector<int> out;
    for (auto& [stratum, item] : s.Take(3)) out.push_back(item);
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

// Every candidate of a stratum can be chosen: over many seeds, a reservoir
// of one picks more than a few distinct items.
TEST(DrillTest, ReservoirIsNotBiasedToTheFirst) {
  std::set<int> seen;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    StratifiedSample<int> s(1, seed);
    for (int i = 0; i < 50; ++i) s.Add("a", i);
    seen.insert(s.Take(1).at(0).second);
  }
  EXPECT_GT(seen.size(), 25u);
}

}  // namespace
}  // namespace efs2s3::drill
