// The storage class table and the estimates built on it.
#include "storage/storage_class.h"

#include <gtest/gtest.h>

namespace efs2s3::storage {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;

TEST(StorageClass, TableFacts) {
  EXPECT_EQ(FindStorageClass("")->name, "STANDARD");
  EXPECT_EQ(FindStorageClass("nope"), nullptr);
  EXPECT_TRUE(IsArchiveClass("GLACIER"));
  EXPECT_TRUE(IsArchiveClass("DEEP_ARCHIVE"));
  EXPECT_FALSE(IsArchiveClass("GLACIER_IR"));
  EXPECT_FALSE(IsArchiveClass("STANDARD_IA"));
  EXPECT_FALSE(IsArchiveClass(""));
  EXPECT_EQ(FindStorageClass("STANDARD_IA")->min_days, 30);
  EXPECT_EQ(FindStorageClass("GLACIER_IR")->min_days, 90);
  EXPECT_EQ(FindStorageClass("GLACIER")->min_days, 90);
  EXPECT_EQ(FindStorageClass("DEEP_ARCHIVE")->min_days, 180);
  // Deep Archive costs about 1/23 of Standard per GB-month.
  EXPECT_NEAR(FindStorageClass("STANDARD")->usd_per_gb_month /
                  FindStorageClass("DEEP_ARCHIVE")->usd_per_gb_month,
              23.2, 0.1);
}

TEST(StorageClass, Tiers) {
  EXPECT_TRUE(FindTier("GLACIER", "Expedited"));
  auto no = FindTier("DEEP_ARCHIVE", "Expedited");
  ASSERT_FALSE(no);
  EXPECT_EQ(no.error().message,
            "DEEP_ARCHIVE has no retrieval tier 'Expedited' (it has Standard, "
            "Bulk)");
  EXPECT_FALSE(FindTier("STANDARD", "Bulk"));
  EXPECT_EQ(*ParseTierOption("bULk"), "Bulk");
  auto bad = ParseTierOption("fast");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kUsage);
  EXPECT_EQ(bad.error().message,
            "--cold-tier fast: use Expedited, Standard or Bulk");
}

TEST(StorageClass, RestoreEstimates) {
  // 1000 packs of 16 MiB from DEEP_ARCHIVE, kept 10 days.
  const std::uint64_t bytes = 1000ull << 24;
  const double gb = static_cast<double>(bytes) / kGiB;
  auto est = EstimateTiers({{"DEEP_ARCHIVE", {1000, bytes}}}, 10, {});
  ASSERT_EQ(est.size(), 2u);
  EXPECT_EQ(est[0].tier, "Standard");
  EXPECT_NEAR(est[0].usd, gb * 0.02 + 0.10 + gb * 0.023 * 10 / 30, 1e-9);
  EXPECT_EQ(est[0].hours_max, 12);
  EXPECT_NEAR(est[1].usd, gb * 0.0025 + 0.025 + gb * 0.023 * 10 / 30, 1e-9);
  EXPECT_EQ(est[1].hours_max, 48);
  // With GLACIER too, only tiers both offer, and the slower time.
  auto mixed =
      EstimateTiers({{"DEEP_ARCHIVE", {1, 1}}, {"GLACIER", {1, 1}}}, 1, {});
  ASSERT_EQ(mixed.size(), 2u);
  EXPECT_EQ(mixed[1].hours_max, 48);
  // An override replaces the per-GB price of every tier.
  auto priced = EstimateTiers({{"GLACIER", {0, bytes}}}, 0, 1.0);
  ASSERT_EQ(priced.size(), 3u);
  EXPECT_NEAR(priced[2].usd, gb, 1e-9);
  EXPECT_TRUE(EstimateTiers({}, 1, {}).empty());
}

TEST(StorageClass, EarlyDeletionAndMonthlyCost) {
  const StorageClassInfo& deep = *FindStorageClass("DEEP_ARCHIVE");
  const std::uint64_t gib = 1ull << 30;
  // 60 days old: 120 days of the 180 still to pay.
  EXPECT_NEAR(EarlyDeletionCharge(deep, gib, 60), 0.00099 * 120 / 30, 1e-12);
  EXPECT_EQ(EarlyDeletionCharge(deep, gib, 180), 0);
  EXPECT_EQ(EarlyDeletionCharge(*FindStorageClass("STANDARD"), gib, 0), 0);
  // Per object in an archive class: 32 KB at its rate, 8 KB at STANDARD's.
  EXPECT_NEAR(MonthlyStorageCost(deep, 1000, gib),
              0.00099 + 1000 * (32.0 * 0.00099 + 8.0 * 0.023) / (1024 * 1024),
              1e-12);
  EXPECT_NEAR(MonthlyStorageCost(*FindStorageClass(""), 5, gib), 0.023, 1e-12);
}

}  // namespace
}  // namespace efs2s3::storage
