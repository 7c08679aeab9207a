#include "jobs/config_writer.h"

#include <gtest/gtest.h>

namespace efs2s3::jobs {
namespace {

// Characters TOML must escape or that end a value or a key when unquoted.
const std::string kHostile =
    "q\"uote 'single' back\\slash\nnew\tline\r# not a comment = not a key "
    "[x] {y} ${Sub} \x01\x1f\x7f gr\xc3\xbc\xc3\x9f "
    "\xe2\x82\xac \xf0\x9f\x93\xa6";

Job EveryField() {
  Job j;
  j.name = "every.field";
  j.repository = "s3://bucket/" + kHostile;
  j.password_file = "/etc/" + kHostile;
  j.efs =
      EfsSource{"fs-0123456789abcdef0", "/" + kHostile,     "eu-" + kHostile,
                "/mnt/" + kHostile,     "fsap-" + kHostile, kHostile};
  j.excludes = {kHostile, "*.tmp", "#", "="};
  j.exclude_files = {"/" + kHostile};
  j.tags = {kHostile, "nightly"};
  j.host = kHostile;
  j.one_file_system = true;
  j.compression = "max";
  j.workers = 17;
  j.schedule_text = "*/15 1-5 * * MON-FRI";
  j.schedule = *Schedule::Parse(j.schedule_text);
  j.timezone = "UTC";
  j.retention = {1, 2, 3, 4, 5, 6, "30d", {kHostile, "keep"}, "host,paths"};
  // read_data_subset and max_unused are validated at load: valid values.
  j.prune = {true, std::chrono::hours(7 * 24), {0, 6}, "", "5%", 0, "",
             "",   std::chrono::seconds(0),    false};
  j.check = {false, std::chrono::seconds(90061), {3},  "3/7", "", 0, "",
             "",    std::chrono::seconds(0),     false};
  // Every 2 days, and within 4 days of a Monday or a Thursday: 6 < 30 days.
  j.lock_extend = {true, std::chrono::hours(48),  {1, 4}, "", "", 30, "",
                   "",   std::chrono::seconds(0), false};
  j.drill = {true,
             std::chrono::hours(24),
             {},
             "",
             "",
             0,
             "2.5%",
             "/var/tmp/" + kHostile,
             std::chrono::minutes(30),
             true};
  j.pre_hooks = {kHostile, "echo pre"};
  j.post_hooks = {"echo '" + kHostile + "'"};
  j.hook_timeout = std::chrono::minutes(90);
  j.report_webhook = "https://hooks.example.com/" + kHostile;
  j.report_file = "/var/log/" + kHostile;
  j.report_html = "/var/www/" + kHostile + ".html";
  j.report_sns_topic = "arn:aws:sns:eu-west-1:123456789012:efs2s3-reports";
  j.report_sns_problems_only = true;
  // Environment variable names cannot hold '='; anything else goes.
  j.env = {
      {"AWS_PROFILE", kHostile}, {"k \"q\" \\ #\n\xc3\xbc", "v"}, {"a.b", "#"}};
  j.s3_options = {{"--s3-endpoint", "http://127.0.0.1:9000/" + kHostile},
                  {"--s3-region", kHostile},
                  {"--s3-sse", "aws:kms"},
                  {"--s3-sse-kms-key-id", kHostile},
                  {"--s3-storage-class-data", "STANDARD_IA"},
                  {"--s3-storage-class-meta", "STANDARD"},
                  {"--s3-connections", "64"},
                  {"--s3-path-style", ""}};
  return j;
}

Job Minimal() {
  Job j;
  j.name = "minimal";
  j.repository = "/backup/" + kHostile;
  j.password_command = kHostile;
  j.paths = {"/data", "/" + kHostile};
  return j;
}

TEST(ConfigWriterTest, RoundTripsEveryFieldAndHostileStrings) {
  Config c;
  c.path = "/etc/efs2s3/efs2s3.toml";
  c.state_dir = "/var/lib/" + kHostile;
  c.jobs = {EveryField(), Minimal()};  // sorted by name, as the parser sorts
  auto text = WriteConfigToml(c);
  ASSERT_TRUE(text) << text.error().message;
  auto back = ParseConfig(*text, c.path);
  ASSERT_TRUE(back) << back.error().message << "\n" << *text;
  EXPECT_EQ(back->path, c.path);
  EXPECT_EQ(back->state_dir, c.state_dir);
  ASSERT_EQ(back->jobs.size(), c.jobs.size()) << *text;
  for (size_t i = 0; i < c.jobs.size(); ++i) {
    Job got = back->jobs[i];
    got.line = 0;
    EXPECT_TRUE(got == c.jobs[i]) << c.jobs[i].name << "\n" << *text;
  }
  // Writing what was read gives the same text.
  Config again = *back;
  for (Job& j : again.jobs) j.line = 0;
  EXPECT_EQ(*WriteConfigToml(again), *text);
}

TEST(ConfigWriterTest, QuotesKeysAndEscapesStrings) {
  EXPECT_EQ(TomlString("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  Config c;
  c.state_dir = "/s";
  c.jobs = {Minimal()};
  c.jobs[0].name = "a.b";
  auto text = WriteConfigToml(c);
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("\n[jobs.\"a.b\"]\n"), std::string::npos) << *text;
}

TEST(ConfigWriterTest, VerbatimValuesAndUnknownOptions) {
  Config c;
  c.jobs = {Minimal()};
  c.jobs[0].prune.enabled = true;
  auto text = WriteConfigToml(c, {{"prune.weekdays", "[\"${Day}\"]"},
                                  {"retention.keep_daily", "${Keep}"}});
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("[jobs.minimal.prune]\nweekdays = [\"${Day}\"]\n"),
            std::string::npos)
      << *text;
  // A verbatim key makes its table.
  EXPECT_NE(text->find("[jobs.minimal.retention]\nkeep_daily = ${Keep}\n"),
            std::string::npos);
  c.jobs[0].s3_options = {{"--s3-unknown", "x"}};
  EXPECT_FALSE(WriteConfigToml(c));
}

}  // namespace
}  // namespace efs2s3::jobs
