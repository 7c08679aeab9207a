// Metrics of a job run, in two forms with the same values:
//  - CloudWatch Embedded Metric Format (EMF) records, one JSON object per line
//    on stdout, which CloudWatch Logs turns into metrics when the line arrives
//    as one log event (the awslogs driver of an ECS task ships each line as
//    one). `generate aws` alarms on BackupSucceeded when no backup succeeded
//    for a while, and its dashboard shows the others.
//  - a Prometheus text file (the job's metrics_file) for node_exporter's
//    textfile collector.
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

// What a metric is, in both forms.
struct MetricInfo {
  const char* name;        // CloudWatch metric name: "BytesRead"
  const char* unit;        // CloudWatch unit: "Bytes", "Count", "Seconds"
  const char* prometheus;  // Prometheus name: "efs2s3_backup_read_bytes"
  const char* help;
};
// Every metric a run can have, in the order they are emitted.
const std::vector<MetricInfo>& AllMetrics();

struct MetricValue {
  const MetricInfo* info;
  double value;
};

// The metrics of a run whose backup step ran (the report has a "backup" step
// that was not skipped); empty when the run had no backup (--only
// maintenance, a dry run). BackupSucceeded (1 when the backup ended ok or
// with a warning: a snapshot saved, some files unreadable; else 0) and
// BackupDuration always; BytesRead, BytesAdded, FilesNew, FilesChanged,
// FilesUnchanged, Errors and Requests when the backup printed its summary;
// SnapshotAge (seconds from the start of the last backup that saved a
// snapshot to the end of this run) when the state directory knows one.
std::vector<MetricValue> RunMetrics(const JobReport& report);

using MetricDimensions = std::vector<std::pair<std::string, std::string>>;

// EFS2S3_METRICS_DIMENSIONS: "Name=value,Name=value" (e.g.
// "Stack=efs2s3-nightly"), added to the Job dimension. kInvalidArgument for
// a malformed list, a name used twice or "Job".
Result<MetricDimensions> ParseMetricDimensions(const std::string& text);

// The EMF record of RunMetrics, with dimensions Job and `extra`; nullopt
// when the run had no backup.
std::optional<nlohmann::ordered_json> EmfRecord(const JobReport& report,
                                                const MetricDimensions& extra,
                                                std::time_t now);

// The Prometheus text exposition of RunMetrics, labelled efs2s3_job="NAME"
// (not "job": that label is the scrape job's), plus
// efs2s3_last_run_timestamp_seconds and, when known,
// efs2s3_last_snapshot_timestamp_seconds; nullopt when the run had no
// backup.
std::optional<std::string> PrometheusText(const JobReport& report);

}  // namespace efs2s3::jobs
