// report: the repository's history as one JSON document and one
// self-contained HTML page (report --json, report --html): the timeline of
// snapshots per host and paths, the repository's growth (bytes stored per
// storage class over time, dedup and compression ratios, an estimated
// monthly cost), retention (what a policy keeps today, by which rule, and
// what the next forget would remove), and the last check and drill results
// and job runs from a job's state directory.
//
// Pure functions: the command gathers the inputs (snapshots, the pack
// listing, job reports), BuildReport computes the document and RenderHtml
// draws it (inline CSS and hand-written SVG, no script, nothing fetched), so
// both are tested on data in memory.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "model/snapshot.h"
#include "policy/forget_policy.h"

namespace efs2s3::report {

struct PackInfo {
  std::uint64_t size = 0;
  std::int64_t mtime = 0;     // seconds since the epoch, 0 = not known
  std::string storage_class;  // "" = STANDARD
};

struct ReportInput {
  std::string repository;
  bool object_store = false;  // S3: a monthly cost is estimated
  std::int64_t now = 0;       // seconds since the epoch
  std::int64_t since = 0;     // only snapshots and runs from then (0 = all)
  std::vector<std::pair<std::string, model::Snapshot>> snapshots;  // by ID
  std::vector<PackInfo> packs;
  // The retention policy (a job's or the --keep-* options), if any, and
  // where it comes from ("job nightly", "options").
  std::optional<policy::ForgetPolicy> policy;
  policy::GroupBy group_by = policy::GroupBy::kHost | policy::GroupBy::kPaths;
  std::string policy_source;
  // Job run reports (jobs::JobReport::ToJson), any order.
  std::vector<nlohmann::json> job_runs;
};

// USD per GiB-month of S3 storage classes (us-east-1 list prices, an
// estimate); nullopt for a class not in the table.
std::optional<double> PricePerGiBMonth(const std::string& storage_class);

// The report as a JSON document ("message_type": "report"); docs/REPORT.md
// describes its fields.
nlohmann::json BuildReport(const ReportInput& in);

// One self-contained HTML page of the document BuildReport made: every chart
// an inline <svg class="chart" data-chart="NAME"> with one
// <circle class="point"> per data point, and the same data as tables.
std::string RenderHtml(const nlohmann::json& report);

// Text for HTML (& < > " ').
inline std::string EscapeHtml(std::string_view text) {
  return EscapeMarkup(text);
}

}  // namespace efs2s3::report
