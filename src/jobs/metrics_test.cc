#include "jobs/metrics.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>
#include <sstream>

namespace efs2s3::jobs {
namespace {

// One metric datum as CloudWatch extracts it from an EMF log event.
struct Datum {
  std::string ns, name, unit;
  std::map<std::string, std::string> dimensions;
  double value = 0;
  int64_t timestamp_ms = 0;
};

// Extracts the metrics of one log event the way CloudWatch Logs does
// (Embedded Metric Format specification): the event is one JSON object;
// _aws.Timestamp in milliseconds; each CloudWatchMetrics directive names a
// namespace, dimension sets (at most 30 names, each a root member holding a
// string) and metrics (each a root member holding a number). Anything else
// fails the test, as CloudWatch would drop the record.
std::vector<Datum> ExtractEmf(const std::string& event) {
  std::vector<Datum> out;
  EXPECT_EQ(event.find('\n'), std::string::npos) << "one line per event";
  auto j = nlohmann::json::parse(event, nullptr, false);
  EXPECT_TRUE(j.is_object()) << event;
  if (!j.is_object() || !j.contains("_aws")) {
    ADD_FAILURE() << "no _aws member";
    return out;
  }
  const auto& aws = j["_aws"];
  EXPECT_TRUE(aws["Timestamp"].is_number_integer());
  const auto& directives = aws["CloudWatchMetrics"];
  EXPECT_TRUE(directives.is_array() && !directives.empty());
  static const std::set<std::string> kUnits = {
      "Seconds",      "Microseconds", "Milliseconds", "Bytes",   "Kilobytes",
      "Megabytes",    "Gigabytes",    "Terabytes",    "Bits",    "Kilobits",
      "Megabits",     "Gigabits",     "Terabits",     "Percent", "Count",
      "Bytes/Second", "Count/Second", "None"};
  for (const auto& d : directives) {
    const std::string ns = d["Namespace"].get<std::string>();
    EXPECT_FALSE(ns.empty());
    EXPECT_LE(ns.size(), 255u);
    EXPECT_TRUE(d["Dimensions"].is_array());
    for (const auto& set : d["Dimensions"]) {
      EXPECT_LE(set.size(), 30u);
      std::map<std::string, std::string> dims;
      for (const auto& name : set) {
        const std::string n = name.get<std::string>();
        EXPECT_TRUE(j.contains(n) && j[n].is_string())
            << "dimension " << n << " is not a string member";
        if (j.contains(n) && j[n].is_string()) dims[n] = j[n];
      }
      EXPECT_LE(d["Metrics"].size(), 100u);
      for (const auto& m : d["Metrics"]) {
        Datum x;
        x.ns = ns;
        x.name = m["Name"].get<std::string>();
        x.unit = m.value("Unit", "None");
        EXPECT_TRUE(kUnits.count(x.unit)) << x.unit;
        EXPECT_TRUE(j.contains(x.name) && j[x.name].is_number())
            << "metric " << x.name << " is not a number member";
        if (j.contains(x.name) && j[x.name].is_number())
          x.value = j[x.name].get<double>();
        x.dimensions = dims;
        x.timestamp_ms = aws["Timestamp"].get<int64_t>();
        out.push_back(x);
      }
    }
  }
  return out;
}

JobReport Report(StepStatus backup) {
  JobReport r;
  r.job = "nightly";
  StepReport s;
  s.name = "backup";
  s.status = backup;
  r.Add(s);
  s.name = "prune";
  s.status = StepStatus::kSkipped;
  r.Add(s);
  return r;
}

// The data of `name`, which must be there once.
const Datum* Find(const std::vector<Datum>& data, const std::string& name) {
  const Datum* found = nullptr;
  for (const Datum& d : data) {
    if (d.name != name) continue;
    EXPECT_EQ(found, nullptr) << name << " twice";
    found = &d;
  }
  return found;
}

TEST(MetricsTest, BackupSucceededAsCloudWatchReadsIt) {
  auto dims = ParseMetricDimensions("Stack=efs2s3-nightly");
  ASSERT_TRUE(dims) << dims.error().message;
  for (auto [status, value] :
       {std::pair{StepStatus::kOk, 1.0}, std::pair{StepStatus::kWarning, 1.0},
        std::pair{StepStatus::kFailed, 0.0},
        std::pair{StepStatus::kInterrupted, 0.0}}) {
    auto rec = EmfRecord(Report(status), *dims, 1700000000);
    ASSERT_TRUE(rec);
    std::vector<Datum> got = ExtractEmf(rec->dump());
    const Datum* ok = Find(got, "BackupSucceeded");
    ASSERT_NE(ok, nullptr);
    EXPECT_EQ(ok->ns, "efs2s3");
    EXPECT_EQ(ok->unit, "Count");
    EXPECT_EQ(ok->value, value);
    EXPECT_EQ(ok->timestamp_ms, 1700000000000);
    EXPECT_EQ(ok->dimensions,
              (std::map<std::string, std::string>{
                  {"Job", "nightly"}, {"Stack", "efs2s3-nightly"}}));
  }
}

// A run whose backup printed its summary (the figures as the runner keeps
// them: errors counted).
JobReport FullReport() {
  JobReport r = Report(StepStatus::kWarning);
  StepReport& b = r.steps[0];
  b.duration_seconds = 12.5;
  b.figures = {{"files_new", 3},       {"files_changed", 2},
               {"files_unchanged", 7}, {"bytes_read", 4096},
               {"bytes_added", 1000},  {"errors", 1},
               {"requests", 42},       {"snapshot_id", "ab"}};
  r.finished = 1700000100;
  r.last_backup = 1700000000;
  return r;
}

TEST(MetricsTest, EveryFigureAsCloudWatchReadsIt) {
  auto rec = EmfRecord(FullReport(), {}, 1700000100);
  ASSERT_TRUE(rec);
  std::vector<Datum> got = ExtractEmf(rec->dump());
  const std::map<std::string, std::pair<std::string, double>> want = {
      {"BackupSucceeded", {"Count", 1}}, {"BackupDuration", {"Seconds", 12.5}},
      {"BytesRead", {"Bytes", 4096}},    {"BytesAdded", {"Bytes", 1000}},
      {"FilesNew", {"Count", 3}},        {"FilesChanged", {"Count", 2}},
      {"FilesUnchanged", {"Count", 7}},  {"Errors", {"Count", 1}},
      {"Requests", {"Count", 42}},       {"SnapshotAge", {"Seconds", 100}}};
  EXPECT_EQ(got.size(), want.size());
  for (const auto& [name, unit_value] : want) {
    const Datum* d = Find(got, name);
    ASSERT_NE(d, nullptr) << name;
    EXPECT_EQ(d->unit, unit_value.first) << name;
    EXPECT_EQ(d->value, unit_value.second) << name;
    EXPECT_EQ(d->dimensions,
              (std::map<std::string, std::string>{{"Job", "nightly"}}));
  }
  // Every metric a run can have was in this one, so all are checked.
  EXPECT_EQ(AllMetrics().size(), want.size());
}

TEST(MetricsTest, FailedBackupHasNoFiguresItDidNotReport) {
  JobReport r = Report(StepStatus::kFailed);
  r.finished = 1700000100;
  auto rec = EmfRecord(r, {}, 1700000100);
  ASSERT_TRUE(rec);
  std::vector<Datum> got = ExtractEmf(rec->dump());
  std::set<std::string> names;
  for (const Datum& d : got) names.insert(d.name);
  EXPECT_EQ(names,
            (std::set<std::string>{"BackupSucceeded", "BackupDuration"}));
}

TEST(MetricsTest, NoRecordWithoutABackup) {
  EXPECT_FALSE(EmfRecord(Report(StepStatus::kSkipped), {}, 1));
  EXPECT_FALSE(PrometheusText(Report(StepStatus::kSkipped)));
  JobReport none;
  none.job = "nightly";
  EXPECT_FALSE(EmfRecord(none, {}, 1));
  EXPECT_FALSE(PrometheusText(none));
}

// Parses a Prometheus text exposition as node_exporter's textfile collector
// does (text format 0.0.4): HELP and TYPE lines before each metric's samples,
// a sample "NAME{LABELS} VALUE". Returns sample -> value.
std::map<std::string, double> ParsePrometheus(const std::string& text) {
  std::map<std::string, double> out;
  std::set<std::string> typed;
  std::istringstream in(text);
  std::string line;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      EXPECT_EQ(type, "gauge") << line;
      EXPECT_TRUE(typed.insert(name).second) << name << " typed twice";
      continue;
    }
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (brace == std::string::npos || space == std::string::npos) {
      ADD_FAILURE() << "not a sample: " << line;
      continue;
    }
    const std::string name = line.substr(0, brace);
    EXPECT_TRUE(typed.count(name)) << name << " without TYPE";
    for (char c : name)
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_')
          << name;
    size_t used = 0;
    const std::string value = line.substr(space + 1);
    double v = std::stod(value, &used);
    EXPECT_EQ(used, value.size()) << line;
    out[line.substr(0, space)] = v;
  }
  return out;
}

TEST(MetricsTest, PrometheusTextHasTheSameValues) {
  JobReport r = FullReport();
  r.job = "night\"ly";
  auto text = PrometheusText(r);
  ASSERT_TRUE(text);
  std::map<std::string, double> got = ParsePrometheus(*text);
  const std::string l = "{efs2s3_job=\"night\\\"ly\"}";
  const std::map<std::string, double> want = {
      {"efs2s3_backup_succeeded" + l, 1},
      {"efs2s3_backup_duration_seconds" + l, 12.5},
      {"efs2s3_backup_read_bytes" + l, 4096},
      {"efs2s3_backup_added_bytes" + l, 1000},
      {"efs2s3_backup_files_new" + l, 3},
      {"efs2s3_backup_files_changed" + l, 2},
      {"efs2s3_backup_files_unchanged" + l, 7},
      {"efs2s3_backup_errors" + l, 1},
      {"efs2s3_backup_requests" + l, 42},
      {"efs2s3_snapshot_age_seconds" + l, 100},
      {"efs2s3_last_run_timestamp_seconds" + l, 1700000100},
      {"efs2s3_last_snapshot_timestamp_seconds" + l, 1700000000}};
  EXPECT_EQ(got, want);
}

TEST(MetricsTest, ParseMetricDimensions) {
  auto d = ParseMetricDimensions("Stack=a,Env=prod,");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, (MetricDimensions{{"Stack", "a"}, {"Env", "prod"}}));
  EXPECT_TRUE(ParseMetricDimensions("")->empty());
  EXPECT_FALSE(ParseMetricDimensions("Stack"));
  EXPECT_FALSE(ParseMetricDimensions("=x"));
  EXPECT_FALSE(ParseMetricDimensions("Stack="));
  EXPECT_FALSE(ParseMetricDimensions("Job=x"));
  EXPECT_FALSE(ParseMetricDimensions("A=1,A=2"));
}

}  // namespace
}  // namespace efs2s3::jobs
