#include "storage/storage_class.h"

#include <cctype>

namespace efs2s3::storage {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// us-east-1 list prices on kPriceDate (aws.amazon.com/s3/pricing) and the
// restore times of docs.aws.amazon.com/AmazonS3/latest/userguide/
// restoring-objects-retrieval-options.html.
const std::vector<StorageClassInfo>& Table() {
  static const std::vector<StorageClassInfo> table = {
      {"STANDARD", 0.023, 0, false, 0, 0, {}},
      // Frequent access tier; objects that move to the archive tiers are
      // restored free (Standard and Bulk).
      {"INTELLIGENT_TIERING",
       0.023,
       0,
       false,
       0,
       0,
       {{"Expedited", 0.03, 10.0, 0.05, 0.083},
        {"Standard", 0, 0, 5, 12},
        {"Bulk", 0, 0, 12, 48}}},
      {"STANDARD_IA", 0.0125, 30, false, 0.01, 0, {}},
      {"ONEZONE_IA", 0.01, 30, false, 0.01, 0, {}},
      {"GLACIER_IR", 0.004, 90, false, 0.03, 0, {}},
      {"GLACIER",
       0.0036,
       90,
       true,
       0,
       40,
       {{"Expedited", 0.03, 10.0, 0.05, 0.083},
        {"Standard", 0.01, 0.05, 4, 5},
        {"Bulk", 0, 0, 8, 12}}},
      {"DEEP_ARCHIVE",
       0.00099,
       180,
       true,
       0,
       40,
       {{"Standard", 0.02, 0.10, 12, 12}, {"Bulk", 0.0025, 0.025, 48, 48}}},
  };
  return table;
}

}  // namespace

const std::vector<StorageClassInfo>& StorageClasses() { return Table(); }

const StorageClassInfo* FindStorageClass(std::string_view name) {
  if (name.empty()) name = "STANDARD";
  for (const StorageClassInfo& c : Table())
    if (c.name == name) return &c;
  return nullptr;
}

bool IsArchiveClass(std::string_view name) {
  const StorageClassInfo* c = FindStorageClass(name);
  return c && c->archive;
}

Result<std::string> ParseTierOption(std::string_view tier) {
  std::string lower;
  for (char ch : tier)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "expedited") return std::string("Expedited");
  if (lower == "standard") return std::string("Standard");
  if (lower == "bulk") return std::string("Bulk");
  return MakeError(ErrorCode::kUsage, "--cold-tier " + std::string(tier) +
                                          ": use Expedited, Standard or Bulk");
}

Result<RetrievalTier> FindTier(std::string_view storage_class,
                               std::string_view tier) {
  const StorageClassInfo* c = FindStorageClass(storage_class);
  std::string names;
  if (c) {
    for (const RetrievalTier& t : c->tiers) {
      if (t.name == tier) return t;
      names += (names.empty() ? "" : ", ") + std::string(t.name);
    }
  }
  return MakeError(
      ErrorCode::kInvalidArgument,
      std::string(storage_class.empty() ? "STANDARD" : storage_class) +
          " has no retrieval tier '" + std::string(tier) + "'" +
          (names.empty() ? " (its objects are read directly)"
                         : " (it has " + names + ")"));
}

double RestoreCost(const StorageClassInfo& cls, const RetrievalTier& tier,
                   std::uint64_t objects, std::uint64_t bytes, int days) {
  const double gb = static_cast<double>(bytes) / kGiB;
  const double copy =
      cls.name == "INTELLIGENT_TIERING"
          ? 0
          : gb * FindStorageClass("STANDARD")->usd_per_gb_month * days / 30.0;
  return gb * tier.usd_per_gb +
         static_cast<double>(objects) / 1000.0 * tier.usd_per_1000_requests +
         copy;
}

double EarlyDeletionCharge(const StorageClassInfo& cls, std::uint64_t bytes,
                           double age_days) {
  if (age_days >= cls.min_days) return 0;
  const double gb = static_cast<double>(bytes) / kGiB;
  return gb * cls.usd_per_gb_month * (cls.min_days - age_days) / 30.0;
}

double MonthlyStorageCost(const StorageClassInfo& cls, std::uint64_t objects,
                          std::uint64_t bytes) {
  const double gb = static_cast<double>(bytes) / kGiB;
  double cost = gb * cls.usd_per_gb_month;
  if (cls.overhead_kb > 0) {
    // 32 KB per object at the class's rate, 8 KB at STANDARD's.
    const double obj = static_cast<double>(objects);
    cost += obj * 32.0 / (1024 * 1024) * cls.usd_per_gb_month +
            obj * 8.0 / (1024 * 1024) *
                FindStorageClass("STANDARD")->usd_per_gb_month;
  }
  return cost;
}

std::vector<TierEstimate> EstimateTiers(
    const std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>&
        to_request,
    int days, std::optional<double> usd_per_gb) {
  std::vector<TierEstimate> out;
  if (to_request.empty()) return out;
  for (std::string_view tier : {"Expedited", "Standard", "Bulk"}) {
    TierEstimate e;
    e.tier = std::string(tier);
    bool offered = true;
    for (const auto& [cls, n] : to_request) {
      const StorageClassInfo* info = FindStorageClass(cls);
      auto t = FindTier(cls, tier);
      if (!info || !t) {
        offered = false;
        break;
      }
      RetrievalTier priced = *t;
      if (usd_per_gb) priced.usd_per_gb = *usd_per_gb;
      e.usd += RestoreCost(*info, priced, n.first, n.second, days);
      e.hours_typical = std::max(e.hours_typical, t->hours_typical);
      e.hours_max = std::max(e.hours_max, t->hours_max);
    }
    if (offered) out.push_back(e);
  }
  return out;
}

}  // namespace efs2s3::storage
