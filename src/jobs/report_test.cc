#include "jobs/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "jobs/cron.h"

namespace efs2s3::jobs {
namespace {

TEST(ReportTest, WorstExitCode) {
  EXPECT_EQ(WorseExitCode(0, 3), 3);
  EXPECT_EQ(WorseExitCode(3, 0), 3);
  EXPECT_EQ(WorseExitCode(3, 1), 1);
  EXPECT_EQ(WorseExitCode(11, 3), 11);
  EXPECT_EQ(WorseExitCode(1, 130), 130);
  EXPECT_EQ(WorseExitCode(130, 12), 130);
}

TEST(ReportTest, JsonRoundTrip) {
  // Given a report with a failed step, then its JSON names each step, its
  // duration, figures and errors, and reads back the same.
  JobReport r;
  r.job = "nightly";
  r.repository = "/r";
  r.started = ParseUtc("2024-05-01T03:00:00Z");
  r.finished = r.started + 42;
  StepReport b;
  b.name = "backup";
  b.exit_code = 3;
  b.status = StepStatus::kWarning;
  b.duration_seconds = 40.5;
  b.figures = {{"files_new", 10}};
  b.errors = {"/d/x: permission denied"};
  r.Add(b);
  StepReport p;
  p.name = "prune";
  p.status = StepStatus::kSkipped;
  p.reason = "not due";
  r.Add(p);
  r.exit_code = 3;
  nlohmann::json j = r.ToJson();
  EXPECT_EQ(j["status"], "warning");
  EXPECT_EQ(j["started"], "2024-05-01T03:00:00Z");
  EXPECT_EQ(j["duration_seconds"], 42.0);
  EXPECT_EQ(j["steps"][0]["name"], "backup");
  EXPECT_EQ(j["steps"][0]["figures"]["files_new"], 10);
  EXPECT_EQ(j["steps"][0]["errors"][0], "/d/x: permission denied");
  EXPECT_EQ(j["steps"][1]["status"], "skipped");
  EXPECT_EQ(j["steps"][1]["reason"], "not due");
  auto back = JobReport::FromJson(j);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ToJson(), j);
}

TEST(ReportTest, StateDirAndLock) {
  std::string root =
      testing::TempDir() + "/jobs-state-" + std::to_string(::getpid());
  StateDir dir(root, "j");
  EXPECT_FALSE(dir.LastReport());
  JobReport r;
  r.job = "j";
  r.started = 1714532400;
  ASSERT_TRUE(dir.SaveReport(r));
  EXPECT_EQ(dir.LastReport()->job, "j");
  JobState s;
  s.last_prune = 1714532400;
  ASSERT_TRUE(dir.SaveState(s));
  EXPECT_EQ(dir.LoadState().last_prune, 1714532400);
  // The lock is per job and repository; a second holder is refused.
  auto a = JobLock::Acquire(dir, "j", "/repo");
  ASSERT_TRUE(a);
  // flock locks belong to the open file description: a second open in the same
  // process conflicts, as another process would.
  auto b = JobLock::Acquire(dir, "j", "/repo");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::kLocked);
  EXPECT_NE(b.error().message.find("already running"), std::string::npos);
  EXPECT_TRUE(JobLock::Acquire(dir, "j", "/other-repo"));
  a->reset();
  EXPECT_TRUE(JobLock::Acquire(dir, "j", "/repo"));
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace efs2s3::jobs
