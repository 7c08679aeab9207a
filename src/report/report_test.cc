#include "report/report.h"

#include <gtest/gtest.h>

namespace efs2s3::report {
namespace {

using nlohmann::json;

model::Snapshot Snap(std::int64_t day, const std::string& host,
                     std::uint64_t added, std::vector<std::string> tags = {}) {
  model::Snapshot s;
  s.time_ns = (1700000000 + day * 86400) * 1000000000LL;
  s.hostname = host;
  s.paths = {"/data"};
  s.tags = std::move(tags);
  s.summary.bytes_added = added;
  s.summary.bytes_stored = added / 2;
  s.summary.bytes_total = 1000;
  s.summary.files_new = 3;
  s.summary.files_changed = 1;
  s.summary.duration_seconds = 2.5;
  return s;
}

ReportInput Input() {
  ReportInput in;
  in.repository = "s3://b/<repo>";
  in.object_store = true;
  in.now = 1700000000 + 10 * 86400;
  for (int d = 0; d < 6; ++d)
    in.snapshots.push_back({std::string(64, 'a' + d), Snap(d, "h1", 100)});
  in.snapshots.push_back({std::string(64, 'z'), Snap(3, "h2", 50)});
  in.packs = {{1u << 30, 1700000000, ""},
              {1u << 30, 1700000000 + 86400, "STANDARD_IA"},
              {1u << 30, 1700000000 + 2 * 86400, "STANDARD_IA"}};
  return in;
}

TEST(ReportTest, TimelineGroupsByHostAndPaths) {
  json r = BuildReport(Input());
  ASSERT_EQ(r["timeline"].size(), 2u);
  EXPECT_EQ(r["timeline"][0]["host"], "h1");
  EXPECT_EQ(r["timeline"][0]["snapshots"].size(), 6u);
  EXPECT_EQ(r["timeline"][1]["snapshots"].size(), 1u);
  EXPECT_EQ(r["snapshots"], 7);
}

TEST(ReportTest, SinceLimitsTheTimelineNotTheTotals) {
  ReportInput in = Input();
  in.since = 1700000000 + 4 * 86400;
  json r = BuildReport(in);
  EXPECT_EQ(r["snapshots"], 2);
  EXPECT_EQ(r["growth"]["per_snapshot"].size(), 2u);
  // Cumulative from the first snapshot: 6 * 100 + 50 bytes added, half stored.
  EXPECT_EQ(r["growth"]["per_snapshot"][1]["bytes_stored_cumulative"], 325);
  EXPECT_EQ(r["growth"]["bytes_added"], 650);
}

TEST(ReportTest, GrowthPerClassRatiosAndCost) {
  json r = BuildReport(Input());
  const json& g = r["growth"];
  EXPECT_EQ(g["stored_bytes"], 3ULL << 30);
  EXPECT_EQ(g["stored_bytes_by_class"]["STANDARD"], 1ULL << 30);
  EXPECT_EQ(g["stored_bytes_by_class"]["STANDARD_IA"], 2ULL << 30);
  ASSERT_EQ(g["per_day"].size(), 3u);
  EXPECT_EQ(g["per_day"][2]["bytes_by_class"]["STANDARD_IA"], 2ULL << 30);
  EXPECT_DOUBLE_EQ(g["dedup_ratio"].get<double>(), 7000.0 / 650);
  EXPECT_DOUBLE_EQ(g["compression_ratio"].get<double>(), 650.0 / 325);
  EXPECT_NEAR(g["monthly_cost_usd"].get<double>(), 0.023 + 2 * 0.0125, 1e-9);
  ReportInput local = Input();
  local.object_store = false;
  EXPECT_TRUE(BuildReport(local)["growth"]["monthly_cost_usd"].is_null());
}

TEST(ReportTest, RetentionSaysWhichRuleKeepsWhat) {
  ReportInput in = Input();
  policy::ForgetPolicy p;
  p.last = 2;
  in.policy = p;
  in.policy_source = "options";
  json r = BuildReport(in)["retention"];
  // h1: two kept, four removed; h2: its one snapshot kept.
  EXPECT_EQ(r["keep"], 3);
  EXPECT_EQ(r["remove"], 4);
  for (const json& s : r["snapshots"]) {
    if (s["action"] == "keep") {
      EXPECT_EQ(s["reasons"][0], "last snapshot");
    }
  }
}

TEST(ReportTest, RetentionLeavesShardSnapshotsToTheMergeAsForgetDoes) {
  // Two newer shard snapshots of h1 would take the two "last" slots if the
  // policy counted them; forget skips them, so the preview does too.
  ReportInput in = Input();
  for (int i = 0; i < 2; ++i) {
    model::Snapshot s = Snap(10, "h1", 100);
    s.tags = {"shard:run-1:" + std::to_string(i) + "/2"};
    in.snapshots.push_back({std::string(63, 's') + char('0' + i), s});
  }
  policy::ForgetPolicy p;
  p.last = 2;
  in.policy = p;
  json r = BuildReport(in)["retention"];
  EXPECT_EQ(r["keep"], 5);  // 2 + h2's 1 + the 2 shards
  EXPECT_EQ(r["remove"], 4);
  int shards = 0;
  for (const json& s : r["snapshots"]) {
    if (s["id"].get<std::string>().rfind("sss", 0) != 0) continue;
    ++shards;
    EXPECT_EQ(s["action"], "keep");
    EXPECT_EQ(s["reasons"][0], "shard of a sharded run: the merge replaces it");
  }
  EXPECT_EQ(shards, 2);
}

TEST(ReportTest, LastCheckAndDrillFromJobRuns) {
  ReportInput in = Input();
  in.job_runs.push_back({{"job", "n"},
                         {"started", "2023-11-20T00:00:00Z"},
                         {"status", "failed"},
                         {"steps",
                          {{{"name", "check"}, {"status", "ok"}},
                           {{"name", "drill"},
                            {"status", "failed"},
                            {"exit_code", 1},
                            {"errors", {"mismatch: /a: not restored"}}}}}});
  in.job_runs.push_back({{"job", "n"},
                         {"started", "2023-11-19T00:00:00Z"},
                         {"status", "ok"},
                         {"steps", {{{"name", "drill"}, {"status", "ok"}}}}});
  json r = BuildReport(in);
  ASSERT_EQ(r["job_runs"].size(), 2u);
  EXPECT_EQ(r["job_runs"][0]["started"], "2023-11-20T00:00:00Z");
  EXPECT_EQ(r["last_drill"]["status"], "failed");
  EXPECT_EQ(r["last_check"]["status"], "ok");
}

TEST(ReportTest, HtmlHasAPointPerSnapshotAndEscapesNames) {
  std::string html = RenderHtml(BuildReport(Input()));
  EXPECT_NE(html.find("data-chart=\"bytes-added\" data-points=\"7\""),
            std::string::npos);
  EXPECT_NE(html.find("data-chart=\"storage-classes\" data-points=\"5\""),
            std::string::npos);
  EXPECT_NE(html.find("s3://b/&lt;repo&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<repo>"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(ReportTest, EscapeHtml) {
  EXPECT_EQ(EscapeHtml("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
}

}  // namespace
}  // namespace efs2s3::report
