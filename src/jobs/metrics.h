// Metrics of a job run for CloudWatch: Embedded Metric Format (EMF) records,
// one JSON object per line on stdout, which CloudWatch Logs turns into
// metrics when the line arrives as one log event (the awslogs driver of an
// ECS task ships each line as one). `generate aws` alarms on BackupSucceeded
// when no backup succeeded for a while.
#pragma once

#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "jobs/report.h"

namespace efs2s3::jobs {

// The namespace of every metric the job emits.
inline constexpr const char* kMetricsNamespace = "efs2s3";

using MetricDimensions = std::vector<std::pair<std::string, std::string>>;

// EFS2S3_METRICS_DIMENSIONS: "Name=value,Name=value" (e.g.
// "Stack=efs2s3-nightly"), added to the Job dimension. kInvalidArgument for
// a malformed list, a name used twice or "Job".
Result<MetricDimensions> ParseMetricDimensions(const std::string& text);

// The EMF record of a run whose backup step ran (the report has a "backup"
// step that was not skipped): BackupSucceeded 1 when it ended ok or with a
// warning (a snapshot saved, some files unreadable), else 0, with dimensions
// Job and `extra`. nullopt when the run had no backup (--only maintenance, a
// dry run).
std::optional<nlohmann::ordered_json> EmfRecord(const JobReport& report,
                                                const MetricDimensions& extra,
                                                std::time_t now);

}  // namespace efs2s3::jobs
