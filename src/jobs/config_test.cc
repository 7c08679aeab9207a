#include "jobs/config.h"

#include <gtest/gtest.h>

namespace efs2s3::jobs {
namespace {

const char kGood[] = R"(state_dir = "state"

[jobs.nightly]
repository = "s3://bucket/efs"
password_file = "pw"
source = { efs = "fs-12345678", path = "/", region = "eu-west-1" }
exclude = ["*.tmp", "/mnt/efs/scratch/*"]
tags = ["nightly"]
host = "efs-main"
schedule = "0 3 * * *"
timezone = "Europe/Berlin"

[jobs.nightly.retention]
keep_daily = 7
keep_weekly = 5
keep_within = "30d"

[jobs.nightly.prune]
every = "7d"
max_unused = "5%"

[jobs.nightly.check]
every = "1d"
read_data_subset = "5%"

[jobs.nightly.drill]
every = "7d"
sample = "5%"
max_duration = "30m"
target = "drills"

[jobs.nightly.hooks]
pre = "echo pre"
post = ["echo a", "echo b"]

[jobs.nightly.report]
webhook = "https://hooks.example.com/x"
file = "/var/log/efs2s3.jsonl"

[jobs.nightly.env]
AWS_PROFILE = "backup"

[jobs.nightly.s3]
endpoint = "http://127.0.0.1:9000"
path_style = true

[jobs.local]
repository = "/backup/repo"
source = { paths = ["/data", "/home"] }
)";

// The error message of parsing `text`, or "" if it parses.
std::string ErrorOf(const std::string& text) {
  auto c = ParseConfig(text, "/etc/efs2s3/efs2s3.toml");
  return c ? "" : c.error().message;
}

TEST(ConfigTest, ParsesAFullJob) {
  auto c = ParseConfig(kGood, "/etc/efs2s3/efs2s3.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->state_dir, "/etc/efs2s3/state");  // relative to the file
  ASSERT_EQ(c->jobs.size(), 2u);
  const Job* j = c->Find("nightly");
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->repository, "s3://bucket/efs");
  EXPECT_EQ(j->password_file, "/etc/efs2s3/pw");
  ASSERT_TRUE(j->efs);
  EXPECT_EQ(j->efs->file_system_id, "fs-12345678");
  EXPECT_EQ(j->efs->region, "eu-west-1");
  EXPECT_EQ(j->excludes.size(), 2u);
  ASSERT_TRUE(j->schedule);
  EXPECT_EQ(j->retention.keep_daily, 7);
  EXPECT_EQ(j->retention.keep_within, "30d");
  EXPECT_TRUE(j->prune.enabled);
  EXPECT_EQ(j->prune.every.count(), 7 * 86400);
  EXPECT_EQ(j->check.read_data_subset, "5%");
  EXPECT_TRUE(j->drill.enabled);
  EXPECT_EQ(j->drill.sample, "5%");
  EXPECT_EQ(j->drill.max_duration.count(), 30 * 60);
  EXPECT_EQ(j->drill.target, "/etc/efs2s3/drills");  // relative to the file
  EXPECT_FALSE(j->drill.allow_cold);
  EXPECT_EQ(j->pre_hooks.size(), 1u);
  EXPECT_EQ(j->post_hooks.size(), 2u);
  EXPECT_EQ(j->env.at("AWS_PROFILE"), "backup");
  ASSERT_EQ(j->s3_options.size(), 2u);
  EXPECT_EQ(j->s3_options[0].first, "--s3-endpoint");
  EXPECT_EQ(j->s3_options[1].first, "--s3-path-style");
  const Job* l = c->Find("local");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->paths.size(), 2u);
  EXPECT_FALSE(l->schedule);
}

TEST(ConfigTest, SyntaxErrorNamesFileAndLine) {
  std::string e = ErrorOf("[jobs.a]\nrepository = \"/r\"\nsource = {\n");
  EXPECT_EQ(e.rfind("/etc/efs2s3/efs2s3.toml:3:", 0), 0u) << e;
}

TEST(ConfigTest, BadScheduleNamesLineAndKey) {
  std::string e = ErrorOf(
      "[jobs.a]\nrepository = \"/r\"\nsource = { paths = [\"/d\"] }\n"
      "schedule = \"0 25 * * *\"\n");
  EXPECT_EQ(e.rfind("/etc/efs2s3/efs2s3.toml:4:", 0), 0u) << e;
  EXPECT_NE(e.find("jobs.a.schedule: "), std::string::npos) << e;
  EXPECT_NE(e.find("hour field: 25 out of range 0-23"), std::string::npos) << e;
}

TEST(ConfigTest, UnknownKeyIsAnError) {
  std::string e = ErrorOf(
      "[jobs.a]\nrepository = \"/r\"\nsource = { paths = [\"/d\"] }\n"
      "[jobs.a.retention]\nkeep_dialy = 7\n");
  EXPECT_NE(e.find(":5:1: jobs.a.retention.keep_dialy: unknown key"),
            std::string::npos)
      << e;
}

TEST(ConfigTest, WrongTypeNamesTheKey) {
  std::string e = ErrorOf(
      "[jobs.a]\nrepository = \"/r\"\nsource = { paths = [\"/d\"] }\n"
      "[jobs.a.retention]\nkeep_daily = \"seven\"\n");
  EXPECT_NE(e.find(":5:14: jobs.a.retention.keep_daily: expected an integer"),
            std::string::npos)
      << e;
}

TEST(ConfigTest, ValidationErrors) {
  const std::string head = "[jobs.a]\nrepository = \"/r\"\n";
  EXPECT_NE(ErrorOf(head).find("jobs.a.source: missing"), std::string::npos);
  EXPECT_NE(ErrorOf("[jobs.a]\nsource = { paths = [\"/d\"] }\n")
                .find("jobs.a.repository: missing"),
            std::string::npos);
  EXPECT_NE(ErrorOf(head + "source = { efs = \"fs-xyz\" }\n")
                .find("jobs.a.source.efs: 'fs-xyz' is not an EFS"),
            std::string::npos);
  EXPECT_NE(ErrorOf(head + "source = { paths = [\"rel\"] }\n")
                .find("must be an absolute path"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(head + "source = { paths = [\"/d\"], efs = \"fs-12345678\" }\n")
          .find("exactly one of paths or efs"),
      std::string::npos);
  EXPECT_NE(
      ErrorOf(head + "source = { paths = [\"/d\"] }\ntimezone = \"Mars/X\"\n")
          .find(":4:12: jobs.a.timezone: unknown time zone"),
      std::string::npos);
  EXPECT_NE(
      ErrorOf(head + "source = { paths = [\"/d\"] }\n[jobs.a.retention]\n")
          .find("no keep_* rule"),
      std::string::npos);
  EXPECT_NE(
      ErrorOf(
          head +
          "source = { paths = [\"/d\"] }\n[jobs.a.prune]\nevery = \"soon\"\n")
          .find("jobs.a.prune.every: interval 'soon'"),
      std::string::npos);
  EXPECT_NE(ErrorOf(head + "source = { paths = [\"/d\"] "
                           "}\n[jobs.a.report]\nwebhook = \"ftp://x\"\n")
                .find("jobs.a.report.webhook: must be an http"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(head + "source = { paths = [\"/d\"] }\ncompression = \"zip\"\n")
          .find(":4:15: jobs.a.compression: 'zip' is not a compression mode "
                "(auto, off, fastest, default or max)"),
      std::string::npos);
  EXPECT_NE(ErrorOf("state_dir = \"/s\"\n").find("jobs: no job defined"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[jobs.\"a b\"]\n").find("job names may use"),
            std::string::npos);
}

// The error of a job "a" with `extra` (a table with its key) appended.
std::string JobError(const std::string& extra) {
  return ErrorOf(
      "[jobs.a]\nrepository = \"/r\"\nsource = { paths = [\"/d\"] }\n" + extra);
}

TEST(ConfigTest, MaintenanceValuesAreCheckedAtLoad) {
  // Given values the check and prune steps would reject after every backup,
  // then each is an error at load naming the file, line, job and key.
  for (const char* bad : {"0/0", "200%", "5/3", "0/3", "0%", "-5%", "x", "1/",
                          "/3", "5", "1/3%", ""}) {
    std::string e = JobError(
        std::string("[jobs.a.check]\nread_data_subset = \"") + bad + "\"\n");
    EXPECT_EQ(e.rfind("/etc/efs2s3/efs2s3.toml:5:", 0), 0u) << bad << ": " << e;
    EXPECT_NE(e.find("jobs.a.check.read_data_subset: "), std::string::npos)
        << bad << ": " << e;
  }
  for (const char* bad : {"-5%", "200%", "100.5", "x%", "%", "five"}) {
    std::string e =
        JobError(std::string("[jobs.a.prune]\nmax_unused = \"") + bad + "\"\n");
    EXPECT_EQ(e.rfind("/etc/efs2s3/efs2s3.toml:5:", 0), 0u) << bad << ": " << e;
    EXPECT_NE(e.find("jobs.a.prune.max_unused: '"), std::string::npos)
        << bad << ": " << e;
  }
  for (const char* bad : {"0", "0%", "101%", "-1", "1.5", "x", "5 %", ""}) {
    std::string e =
        JobError(std::string("[jobs.a.drill]\nsample = \"") + bad + "\"\n");
    EXPECT_NE(e.find("jobs.a.drill.sample: "), std::string::npos)
        << bad << ": " << e;
  }
  for (const char* good : {"1", "20", "0.5%", "100%"})
    EXPECT_EQ(
        JobError(std::string("[jobs.a.drill]\nsample = \"") + good + "\"\n"),
        "")
        << good;
  for (const char* good : {"1/3", "3/3", "100%", "0.5%", "2%"})
    EXPECT_EQ(JobError(std::string("[jobs.a.check]\nread_data_subset = \"") +
                       good + "\"\n"),
              "")
        << good;
  for (const char* good : {"0%", "5%", "5", "100%", "2.5%"})
    EXPECT_EQ(JobError(std::string("[jobs.a.prune]\nmax_unused = \"") + good +
                       "\"\n"),
              "")
        << good;
}

TEST(ConfigTest, LockExtendMustRunMoreOftenThanTheLockPeriod) {
  // Given the repository's lock period in the lock_extend table, then an
  // interval (with the wait for an allowed weekday) that is not shorter is an
  // error at load naming the key; shorter ones load.
  std::string e =
      JobError("[jobs.a.lock_extend]\nevery = \"30d\"\nlock_days = 30\n");
  EXPECT_NE(e.find(":5:9: jobs.a.lock_extend.every: lock extend would run only "
                   "every 30d"),
            std::string::npos)
      << e;
  // One weekday: up to 7 days more.
  e = JobError(
      "[jobs.a.lock_extend]\nevery = \"1d\"\nweekdays = [\"sun\"]\n"
      "lock_days = 8\n");
  EXPECT_NE(e.find("every 8d"), std::string::npos) << e;
  EXPECT_NE(JobError("[jobs.a.lock_extend]\nlock_days = 0\n")
                .find("jobs.a.lock_extend.lock_days: 0 out of range"),
            std::string::npos);
  EXPECT_NE(JobError("[jobs.a.lock_extend]\nmax_unused = \"5%\"\n")
                .find("jobs.a.lock_extend.max_unused: unknown key"),
            std::string::npos);
  EXPECT_EQ(JobError("[jobs.a.lock_extend]\nevery = \"1d\"\nweekdays = "
                     "[\"mon\", \"thu\"]\nlock_days = 6\n"),
            "");
  auto c = ParseConfig(
      "[jobs.a]\nrepository = \"/r\"\nsource = { paths = [\"/d\"] "
      "}\n[jobs.a.lock_extend]\nevery = \"1d\"\n",
      "/etc/efs2s3/efs2s3.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->jobs[0].lock_extend.enabled);
  EXPECT_EQ(c->jobs[0].lock_extend.every, std::chrono::hours(24));
  EXPECT_EQ(c->jobs[0].lock_extend.lock_days, 0);
  EXPECT_FALSE(c->jobs[0].prune.enabled);
}

TEST(ConfigTest, S3OptionsAndRepositorySchemesAreCheckedAtLoad) {
  // Given [s3] values and repository locations the commands would refuse at
  // run time, then each is an error at load naming the key.
  EXPECT_NE(JobError("[jobs.a.s3]\nsse = \"AES-256\"\n")
                .find(":5:7: jobs.a.s3.sse: 'AES-256': use AES256 or aws:kms"),
            std::string::npos);
  EXPECT_NE(JobError("[jobs.a.s3]\nsse_kms_key_id = \"k\"\n")
                .find("jobs.a.s3.sse_kms_key_id: needs sse"),
            std::string::npos);
  EXPECT_EQ(
      JobError("[jobs.a.s3]\nsse = \"aws:kms\"\nsse_kms_key_id = \"k\"\n"), "");
  EXPECT_NE(JobError("[jobs.a.s3]\nendpoint = \"127.0.0.1:9000\"\n")
                .find("jobs.a.s3.endpoint: '127.0.0.1:9000': must be an http"),
            std::string::npos);
  for (const char* bad : {"https://s3.amazonaws.com/b", "s3:///prefix", "s3://",
                          "ftp://host/x"}) {
    std::string e = ErrorOf(std::string("[jobs.a]\nrepository = \"") + bad +
                            "\"\nsource = { paths = [\"/d\"] }\n");
    EXPECT_NE(e.find(":2:14: jobs.a.repository: '"), std::string::npos)
        << bad << ": " << e;
  }
  auto c = ParseConfig(
      "[jobs.a]\nrepository = \"file:///srv/repo\"\nsource = { paths = "
      "[\"/d\"] }\n",
      "/etc/efs2s3/efs2s3.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->jobs[0].repository, "file:///srv/repo");
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto c = LoadConfig("/nonexistent/efs2s3.toml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace efs2s3::jobs
