// storage: what S3 storage classes cost and how their objects are read.
//
// One table (storage_class.cc) of us-east-1 list prices with the date they
// were read, the minimum storage durations and the retrieval tiers of the
// archive classes. Every estimate the commands print (restore plans, early
// deletion charges, monthly storage) comes from it; --cold-price overrides the
// retrieval price of a tier (prices change; other regions differ).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace efs2s3::storage {

// When the prices below were read (us-east-1 list prices).
inline constexpr std::string_view kPriceDate = "2026-12-01";

struct RetrievalTier {
  std::string_view name;  // "Expedited", "Standard", "Bulk"
  double usd_per_gb = 0;
  double usd_per_1000_requests = 0;
  double hours_typical = 0;  // the time AWS gives for most restores
  double hours_max = 0;
};

struct StorageClassInfo {
  std::string_view name;  // "STANDARD", "DEEP_ARCHIVE", ...
  double usd_per_gb_month = 0;
  int min_days = 0;  // minimum storage duration (early deletion charge)
  // Archived: a GET fails until RestoreObject made a readable copy.
  bool archive = false;
  // Readable at once, but each GB read costs (STANDARD_IA, GLACIER_IR).
  double read_usd_per_gb = 0;
  // Billed extra per object in an archive class (KB of metadata: 32 KB at the
  // class's rate and 8 KB at STANDARD's).
  int overhead_kb = 0;
  std::vector<RetrievalTier> tiers;  // archive classes only
};

// The entry of a class ("" is STANDARD); nullptr for an unknown class.
const StorageClassInfo* FindStorageClass(std::string_view name);
// Every known class, STANDARD first.
const std::vector<StorageClassInfo>& StorageClasses();

// Whether objects of this class must be restored before a GET (GLACIER,
// DEEP_ARCHIVE). INTELLIGENT_TIERING objects only in their archive tiers,
// which only a HEAD tells (ArchiveStatus).
bool IsArchiveClass(std::string_view name);

// The tier of an archive class, with a price override; kInvalidArgument
// naming the class and the tiers it has.
Result<RetrievalTier> FindTier(std::string_view storage_class,
                               std::string_view tier);

// What a restore of `objects` objects of `bytes` costs at `tier`, with the
// restored copies kept `days` days (billed at STANDARD's rate).
double RestoreCost(const StorageClassInfo& cls, const RetrievalTier& tier,
                   std::uint64_t objects, std::uint64_t bytes, int days);

// The charge for deleting an object of `bytes` that is `age_days` old before
// its class's minimum duration: the storage of the remaining days.
double EarlyDeletionCharge(const StorageClassInfo& cls, std::uint64_t bytes,
                           double age_days);

// Storage cost of `objects` objects of `bytes` in all for one month.
double MonthlyStorageCost(const StorageClassInfo& cls, std::uint64_t objects,
                          std::uint64_t bytes);

struct TierEstimate {
  std::string tier;
  double usd = 0;
  double hours_typical = 0, hours_max = 0;
};
// What restoring archived objects would cost and take, per tier: `by_class`
// maps a storage class to (objects, bytes); restored copies are kept `days`
// days; `usd_per_gb` replaces the table's retrieval price. Only tiers every
// class involved offers are listed (DEEP_ARCHIVE has no Expedited).
std::vector<TierEstimate> EstimateTiers(
    const std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>&
        by_class,
    int days, std::optional<double> usd_per_gb);

// "Expedited" from "expedited" (the --cold-tier options); kUsage naming the
// option and the tiers for another word.
Result<std::string> ParseTierOption(std::string_view tier);

}  // namespace efs2s3::storage
