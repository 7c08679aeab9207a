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

const std::vector<MetricInfo>& AllMetrics() {
  static const std::vector<MetricInfo> kAll = {
      {"BackupSucceeded", "Count", "efs2s3_backup_succeeded",
       "1 when the backup saved a snapshot (exit 0 or 3), else 0"},
      {"BackupDuration", "Seconds", "efs2s3_backup_duration_seconds",
       "How long the backup step took"},
      {"BytesRead", "Bytes", "efs2s3_backup_read_bytes",
       "Bytes read from the source (new and changed files)"},
      {"BytesAdded", "Bytes", "efs2s3_backup_added_bytes",
       "Bytes of new data added to the repository (before compression)"},
      {"FilesNew", "Count", "efs2s3_backup_files_new",
       "Files new since the parent"},
      {"FilesChanged", "Count", "efs2s3_backup_files_changed",
       "Files changed since the parent"},
      {"FilesUnchanged", "Count", "efs2s3_backup_files_unchanged",
       "Files unchanged since the parent (not read)"},
      {"Errors", "Count", "efs2s3_backup_errors",
       "Files or directories the backup could not read"},
      {"Requests", "Count", "efs2s3_backup_requests",
       "Requests made of the repository's storage"},
      {"SnapshotAge", "Seconds", "efs2s3_snapshot_age_seconds",
       "Age of the newest snapshot the job saved, at the end of the run"},
  };
  return kAll;
}

namespace {

const MetricInfo* Info(std::string_view name) {
  for (const MetricInfo& m : AllMetrics())
    if (name == m.name) return &m;
  return nullptr;
}

const StepReport* BackupStep(const JobReport& report) {
  const StepReport* backup = nullptr;
  for (const StepReport& s : report.steps)
    if (s.name == "backup") backup = &s;
  if (!backup || backup->status == StepStatus::kSkipped) return nullptr;
  return backup;
}

// The number a summary figure holds, if it is one.
std::optional<double> Figure(const nlohmann::json& figures, const char* key) {
  auto it = figures.find(key);
  if (it == figures.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// A Prometheus label value: backslash, double quote and newline escaped.
std::string LabelValue(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::vector<MetricValue> RunMetrics(const JobReport& report) {
  std::vector<MetricValue> out;
  const StepReport* backup = BackupStep(report);
  if (!backup) return out;
  const bool saved = backup->status == StepStatus::kOk ||
                     backup->status == StepStatus::kWarning;
  out.push_back({Info("BackupSucceeded"), saved ? 1.0 : 0.0});
  out.push_back({Info("BackupDuration"), backup->duration_seconds});
  static const std::pair<const char*, const char*> kFigures[] = {
      {"BytesRead", "bytes_read"},
      {"BytesAdded", "bytes_added"},
      {"FilesNew", "files_new"},
      {"FilesChanged", "files_changed"},
      {"FilesUnchanged", "files_unchanged"},
      {"Errors", "errors"},
      {"Requests", "requests"}};
  for (const auto& [name, key] : kFigures)
    if (auto v = Figure(backup->figures, key)) out.push_back({Info(name), *v});
  if (report.last_backup > 0 && report.finished >= report.last_backup)
    out.push_back({Info("SnapshotAge"),
                   static_cast<double>(report.finished - report.last_backup)});
  return out;
}

std::optional<nlohmann::ordered_json> EmfRecord(const JobReport& report,
                                                const MetricDimensions& extra,
                                                std::time_t now) {
  const std::vector<MetricValue> values = RunMetrics(report);
  if (values.empty()) return std::nullopt;
  nlohmann::ordered_json names = nlohmann::ordered_json::array({"Job"});
  for (const auto& [name, value] : extra) names.push_back(name);
  nlohmann::ordered_json metrics = nlohmann::ordered_json::array();
  for (const MetricValue& v : values)
    metrics.push_back({{"Name", v.info->name}, {"Unit", v.info->unit}});
  nlohmann::ordered_json r;
  r["_aws"] = {{"Timestamp", static_cast<int64_t>(now) * 1000},
               {"CloudWatchMetrics",
                {{{"Namespace", kMetricsNamespace},
                  {"Dimensions", nlohmann::ordered_json::array({names})},
                  {"Metrics", metrics}}}}};
  r["Job"] = report.job;
  for (const auto& [name, value] : extra) r[name] = value;
  for (const MetricValue& v : values) {
    // Counts stay integers in the record.
    if (v.value == static_cast<double>(static_cast<int64_t>(v.value)))
      r[v.info->name] = static_cast<int64_t>(v.value);
    else
      r[v.info->name] = v.value;
  }
  return r;
}

std::optional<std::string> PrometheusText(const JobReport& report) {
  std::vector<MetricValue> values = RunMetrics(report);
  if (values.empty()) return std::nullopt;
  static const MetricInfo kLastRun = {
      "", "", "efs2s3_last_run_timestamp_seconds",
      "When the last run that included the backup ended (Unix time)"};
  static const MetricInfo kLastSnapshot = {
      "", "", "efs2s3_last_snapshot_timestamp_seconds",
      "When the last backup that saved a snapshot started (Unix time)"};
  values.push_back({&kLastRun, static_cast<double>(report.finished)});
  if (report.last_backup > 0)
    values.push_back({&kLastSnapshot, static_cast<double>(report.last_backup)});
  const std::string label =
      fmt::format("{{efs2s3_job=\"{}\"}}", LabelValue(report.job));
  std::string out;
  for (const MetricValue& v : values)
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0}{2} {3}\n",
                       v.info->prometheus, v.info->help, label, v.value);
  return out;
}

}  // namespace efs2s3::jobs
