#include "jobs/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

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
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].ns, "efs2s3");
    EXPECT_EQ(got[0].name, "BackupSucceeded");
    EXPECT_EQ(got[0].unit, "Count");
    EXPECT_EQ(got[0].value, value);
    EXPECT_EQ(got[0].timestamp_ms, 1700000000000);
    EXPECT_EQ(got[0].dimensions,
              (std::map<std::string, std::string>{
                  {"Job", "nightly"}, {"Stack", "efs2s3-nightly"}}));
  }
}

TEST(MetricsTest, NoRecordWithoutABackup) {
  EXPECT_FALSE(EmfRecord(Report(StepStatus::kSkipped), {}, 1));
  JobReport none;
  none.job = "nightly";
  EXPECT_FALSE(EmfRecord(none, {}, 1));
  auto rec = EmfRecord(Report(StepStatus::kOk), {}, 1);
  ASSERT_TRUE(rec);
  auto got = ExtractEmf(rec->dump());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].dimensions,
            (std::map<std::string, std::string>{{"Job", "nightly"}}));
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
