// Property tests of the job module's decoders: the TOML job configuration
// (written back by WriteConfigToml, read again the same), cron schedules,
// intervals, SNS topic ARNs, and the JSON reports and state the daemon keeps.
// Every flip, truncation, seeded mutation and random input decodes to a value
// or an error, never to a crash, an escaped exception or an unbounded
// allocation (base/testing/mutate.h, base/testing/alloc_limit.cc).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/testing/mutate.h"
#include "jobs/config.h"
#include "jobs/config_writer.h"
#include "jobs/cron.h"
#include "jobs/report.h"
#include "jobs/sns.h"

namespace efs2s3::jobs {
namespace {

const char kConfig[] = R"(state_dir = "state"

[jobs.nightly]
repository = "s3://bucket/efs"
password_file = "pw"
source = { efs = "fs-12345678", path = "/", region = "eu-west-1" }
exclude = ["*.tmp", "/mnt/efs/scratch/*"]
tags = ["nightly"]
schedule = "0 3 * * *"
timezone = "UTC"

[jobs.nightly.retention]
keep_daily = 7
keep_within = "30d"

[jobs.nightly.prune]
every = "7d"
max_unused = "5%"

[jobs.nightly.check]
every = "1d"
read_data_subset = "1/5"

[jobs.nightly.hooks]
pre = "echo pre"
post = ["echo a", "echo b"]

[jobs.nightly.env]
AWS_PROFILE = "backup"

[jobs.local]
repository = "/backup/repo"
source = { paths = ["/data", "/home"] }
schedule = "@every 90m"
)";

const char kPath[] = "/etc/efs2s3/efs2s3.toml";

TEST(DecodePropertyTest, ConfigsRoundTripThroughTheWriter) {
  auto c = ParseConfig(kConfig, kPath);
  ASSERT_TRUE(c) << c.error().message;
  auto toml = WriteConfigToml(*c);
  ASSERT_TRUE(toml) << toml.error().message;
  auto back = ParseConfig(*toml, kPath);
  ASSERT_TRUE(back) << back.error().message << "\n" << *toml;
  EXPECT_EQ(WriteConfigToml(*back).value(), *toml);
}

TEST(DecodePropertyTest, AnyTextIsAConfigOrAnError) {
  // Regression: a table header that starts with a character no key starts
  // with aborted in toml++'s assertions (debug and sanitizer builds).
  // Regression: a character beyond ASCII in a key reached
  // __builtin_unreachable in toml++ 3.3 (UBSan); it is refused before.
  for (const char* bad : {"[*obs.nightly]\n", "[*]", "a.*=1", "\xc2\xa1 = 1",
                          "[jobs.n\xc3\xbc]\n", "a = 1 \xe3\x80\x81"}) {
    auto r = ParseConfig(bad, kPath);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  // In strings and comments such characters are TOML's and stay accepted.
  auto u = ParseConfig(
      "# gr\xc3\xbc\xc3\x9f\n[jobs.n]\nrepository = '/r\xe2\x82\xac'\n"
      "source = { paths = [\"\"\"/d\\\"\xc2\xa1\"\"\"] }\n"
      "[jobs.n.env]\n\"K\xc3\xbc\" = \"v\" # \xc2\xa1\n",
      kPath);
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->jobs.at(0).repository, "/r\xe2\x82\xac");
  auto c = ParseConfig(kConfig, kPath);
  ASSERT_TRUE(c);
  testing::ForEachTextVariant(
      {kConfig, WriteConfigToml(*c).value()}, 701, [](const std::string& text) {
        auto r = ParseConfig(text, kPath);
        if (!r) {
          EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument)
              << r.error().message;
          return;
        }
        // What the reader accepts, the writer writes and the reader reads
        // again (the generators deploy that text).
        auto toml = WriteConfigToml(*r);
        if (!toml) return;
        EXPECT_TRUE(ParseConfig(*toml, kPath)) << *toml;
      });
}

TEST(DecodePropertyTest, SchedulesAndIntervalsParseOrFail) {
  testing::ForEachTextVariant(
      {"0 3 * * *", "*/15 1-5 * * MON-FRI", "0 0 1,15 JAN-JUN 0", "@daily",
       "@every 1h30m"},
      702, [](const std::string& text) {
        auto s = Schedule::Parse(text);
        if (!s) {
          EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
          return;
        }
        if (!s->is_interval()) {
          EXPECT_EQ(Schedule::Parse(s->cron_fields()).value().cron_fields(),
                    s->cron_fields());
        }
      });
  testing::ForEachTextVariant(
      {"90s", "1h30m", "7d", "2w1d"}, 703, [](const std::string& text) {
        auto i = ParseInterval(text);
        if (!i) return;
        EXPECT_GT(i->count(), 0);
        EXPECT_EQ(ParseInterval(FormatInterval(*i)).value(), *i);
      });
  testing::ForEachTextVariant({"2024-05-01T03:00:00Z"}, 704,
                              [](const std::string& text) {
                                std::time_t t = ParseUtc(text);
                                if (t != -1) {
                                  EXPECT_EQ(ParseUtc(FormatUtc(t)), t);
                                }
                              });
}

TEST(DecodePropertyTest, SnsTopicArnsParseOrFail) {
  testing::ForEachTextVariant(
      {"arn:aws:sns:eu-west-1:123456789012:efs2s3-reports",
       "arn:aws-cn:sns:cn-north-1:123456789012:t.fifo"},
      705, [](const std::string& text) {
        auto t = ParseSnsTopicArn(text);
        if (!t) return;
        EXPECT_EQ("arn:" + t->partition + ":sns:" + t->region + ":" +
                      t->account + ":" + t->name,
                  text);
      });
}

TEST(DecodePropertyTest, AnyReportOrStateDocumentIsReadOrRefused) {
  // Regression: fields of the wrong JSON type ("job": 1, a step that is not
  // an object) threw out of FromJson; a damaged state file took the daemon
  // down.
  JobReport report;
  report.job = "nightly";
  report.repository = "s3://b/r";
  report.host = "h";
  report.started = 1700000000;
  report.finished = 1700000100;
  report.exit_code = 3;
  StepReport step;
  step.name = "backup";
  step.status = StepStatus::kWarning;
  step.exit_code = 3;
  step.errors = {"x: permission denied"};
  step.figures = {{"files_new", 3}};
  report.Add(step);
  JobState state;
  state.last_run = 1700000000;
  state.last_exit_code = 0;
  std::string valid_report = report.ToJson().dump();
  auto back = JobReport::FromJson(report.ToJson());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ToJson(), report.ToJson());
  testing::ForEachTextVariant(
      {valid_report, state.ToJson().dump(),
       R"({"job":1,"exit_code":"x","steps":[1,{"name":2}]})",
       R"({"last_run":"x","last_exit_code":"y"})"},
      706, [](const std::string& text) {
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded()) return;
        auto r = JobReport::FromJson(j);
        if (r) {
          EXPECT_TRUE(JobReport::FromJson(r->ToJson()));
        } else {
          EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
        }
        (void)JobState::FromJson(j);
      });
}

}  // namespace
}  // namespace efs2s3::jobs
