#include "jobs/metrics.h"

#include <fmt/format.h>

#include <set>

namespace efs2s3::jobs {

Result<MetricDimensions> ParseMetricDimensions(const std::string& text) {
  MetricDimensions out;
  std::set<std::string> names = {"Job"};
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == 0 || eq == std::string::npos || eq + 1 == item.size())
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("EFS2S3_METRICS_DIMENSIONS: '{}' is not "
                                   "NAME=VALUE",
                                   item));
    std::string name = item.substr(0, eq);
    if (!names.insert(name).second)
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("EFS2S3_METRICS_DIMENSIONS: dimension '{}' given twice "
                      "(Job is the job's name)",
                      name));
    out.emplace_back(std::move(name), item.substr(eq + 1));
  }
  // CloudWatch takes at most 30 dimensions per metric.
  if (out.size() + 1 > 30)
    return MakeError(ErrorCode::kInvalidArgument,
                     "EFS2S3_METRICS_DIMENSIONS: more than 29 dimensions");
  return out;
}

std::optional<nlohmann::ordered_json> EmfRecord(const JobReport& report,
                                                const MetricDimensions& extra,
                                                std::time_t now) {
  const StepReport* backup = nullptr;
  for (const StepReport& s : report.steps)
    if (s.name == "backup") backup = &s;
  if (!backup || backup->status == StepStatus::kSkipped) return std::nullopt;
  const bool saved = backup->status == StepStatus::kOk ||
                     backup->status == StepStatus::kWarning;
  nlohmann::ordered_json names = nlohmann::ordered_json::array({"Job"});
  for (const auto& [name, value] : extra) names.push_back(name);
  nlohmann::ordered_json r;
  r["_aws"] = {
      {"Timestamp", static_cast<int64_t>(now) * 1000},
      {"CloudWatchMetrics",
       {{{"Namespace", kMetricsNamespace},
         {"Dimensions", nlohmann::ordered_json::array({names})},
         {"Metrics", {{{"Name", "BackupSucceeded"}, {"Unit", "Count"}}}}}}}};
  r["Job"] = report.job;
  for (const auto& [name, value] : extra) r[name] = value;
  r["BackupSucceeded"] = saved ? 1 : 0;
  return r;
}

}  // namespace efs2s3::jobs
