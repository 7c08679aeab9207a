#include "policy/forget_policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace efs2s3::policy {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const std::string kTestDataDir =
    std::string(EFS2S3_SOURCE_DIR) + "/tests/testdata/forget";

// Sets TZ for the lifetime of the object and restores the previous value.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTimeZone() {
    if (old_) {
      setenv("TZ", old_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  ScopedTimeZone(const ScopedTimeZone&) = delete;
  ScopedTimeZone& operator=(const ScopedTimeZone&) = delete;

 private:
  std::optional<std::string> old_;
};

// "2024-03-05T14:00:00Z" -> Unix nanoseconds. Aborts the test on bad input.
std::int64_t ParseUtc(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char z = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d%c", &y, &mo, &d, &h, &mi, &s,
                  &z) != 7 ||
      z != 'Z') {
    ADD_FAILURE() << "bad time " << text;
    return 0;
  }
  const std::chrono::sys_days day =
      std::chrono::year{y} / std::chrono::month{static_cast<unsigned>(mo)} /
      std::chrono::day{static_cast<unsigned>(d)};
  const auto t = day + hours{h} + std::chrono::minutes{mi} + seconds{s};
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}

std::string FormatUtc(std::int64_t unix_ns) {
  std::time_t t = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  if (s == "-" || s.empty()) return out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) out.push_back(part);
  return out;
}

std::string JoinComma(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

std::chrono::system_clock::time_point At(const std::string& utc) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(ParseUtc(utc))));
}

SnapshotRef Snap(std::string id, const std::string& utc, std::string host = "h",
                 std::vector<std::string> paths = {"/p"},
                 std::vector<std::string> tags = {}) {
  return SnapshotRef{std::move(id), ParseUtc(utc), std::move(host),
                     std::move(paths), std::move(tags)};
}

// Kept ids of a single-group result, newest first.
std::vector<std::string> KeptIds(const ForgetResult& r) {
  std::vector<std::string> ids;
  for (const ForgetGroup& g : r.groups) {
    for (const KeptSnapshot& k : g.keep) ids.push_back(k.snapshot.id);
  }
  return ids;
}

std::vector<std::string> RemovedIds(const ForgetResult& r) {
  std::vector<std::string> ids;
  for (const ForgetGroup& g : r.groups) {
    for (const SnapshotRef& s : g.remove) ids.push_back(s.id);
  }
  return ids;
}

const std::vector<std::string>* ReasonsOf(const ForgetResult& r,
                                          const std::string& id) {
  for (const ForgetGroup& g : r.groups) {
    for (const KeptSnapshot& k : g.keep) {
      if (k.snapshot.id == id) return &k.reasons;
    }
  }
  return nullptr;
}

const auto kNow = At("2030-01-01T00:00:00Z");

// Every test runs with TZ=UTC unless it says otherwise.
class ForgetPolicyTest : public ::testing::Test {
 protected:
  ScopedTimeZone tz_{"UTC"};
};

using Strings = std::vector<std::string>;

// ---------------------------------------------------------------------------
// Parsing

TEST_F(ForgetPolicyTest, ParseDurationAcceptsResticUnitsInAnyOrder) {
  // Given y = 365d, m = 30d, d = 24h.
  EXPECT_EQ(*ParseDuration("1y2m3d4h"), hours(24 * (365 + 60 + 3) + 4));
  EXPECT_EQ(*ParseDuration("4h3d2m1y"), hours(24 * (365 + 60 + 3) + 4));
  EXPECT_EQ(*ParseDuration("30d"), hours(24 * 30));
  EXPECT_EQ(*ParseDuration("1m"), hours(24 * 30));
  EXPECT_EQ(*ParseDuration("36h"), hours(36));
  EXPECT_EQ(*ParseDuration("0d5h"), hours(5));
  EXPECT_EQ(*ParseDuration("10000y"), hours(24 * 365 * 10000));
}

TEST_F(ForgetPolicyTest, ParseDurationRejectsMalformedInput) {
  for (const char* bad : {"", "d", "5", "5x", "1d1d", "0d", "0y0h", "-1d",
                          "+1d", " 1d", "1d ", "1D", "1M", "1s", "1w", "1.5d",
                          "10001y", "99999999999999999999d", "1y-2d"}) {
    Result<seconds> r = ParseDuration(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

TEST_F(ForgetPolicyTest, FormatDurationUsesDaysAndHours) {
  EXPECT_EQ(FormatDuration(hours(24 * 30)), "30d");
  EXPECT_EQ(FormatDuration(hours(36)), "1d12h");
  EXPECT_EQ(FormatDuration(hours(5)), "5h");
  EXPECT_EQ(FormatDuration(*ParseDuration("1y")), "365d");
  EXPECT_EQ(FormatDuration(seconds(90)), "90s");
  EXPECT_EQ(FormatDuration(seconds(86400 + 61)), "1d61s");
  EXPECT_EQ(FormatDuration(seconds(0)), "0s");
}

TEST_F(ForgetPolicyTest, ParseGroupByAcceptsFieldListsAndEmpty) {
  EXPECT_EQ(*ParseGroupBy("host,paths,tags"),
            GroupBy::kHost | GroupBy::kPaths | GroupBy::kTags);
  EXPECT_EQ(*ParseGroupBy(""), GroupBy::kNone);
  EXPECT_EQ(*ParseGroupBy("host"), GroupBy::kHost);
  EXPECT_EQ(*ParseGroupBy("tags,host"), GroupBy::kHost | GroupBy::kTags);
  EXPECT_EQ(*ParseGroupBy("path,tag"), GroupBy::kPaths | GroupBy::kTags);
  EXPECT_EQ(*ParseGroupBy("host,host"), GroupBy::kHost);
  for (const char* bad : {"host,", ",host", "host, paths", "time", "Host"}) {
    EXPECT_FALSE(ParseGroupBy(bad).has_value()) << bad;
  }
  EXPECT_EQ(FormatGroupBy(GroupBy::kTags | GroupBy::kHost), "host,tags");
  EXPECT_EQ(FormatGroupBy(kDefaultGroupBy), "host,paths");
  EXPECT_EQ(FormatGroupBy(GroupBy::kNone), "");
}

// ---------------------------------------------------------------------------
// Semantics on small hand-made lists

TEST_F(ForgetPolicyTest, EmptyPolicyRemovesNothingAndSaysSo) {
  // Given no rule at all (a zero keep-within and empty tag entries count as
  // none),
  ForgetPolicy policy;
  policy.within = seconds(0);
  policy.keep_tags = {"", ","};
  ASSERT_TRUE(policy.Empty());
  std::vector<SnapshotRef> snaps = {Snap("a", "2024-01-01T00:00:00Z"),
                                    Snap("b", "2024-01-02T00:00:00Z")};
  ForgetResult r = ApplyForgetPolicy(snaps, policy, kDefaultGroupBy,
                                     TimeZoneMode::kUtc, kNow);
  // Then everything is kept and the result says why.
  EXPECT_TRUE(r.policy_empty);
  EXPECT_EQ(KeptIds(r), (Strings{"b", "a"}));
  EXPECT_TRUE(RemovedIds(r).empty());
  EXPECT_EQ(*ReasonsOf(r, "a"), Strings{"empty policy"});

  ForgetPolicy one;
  one.yearly = 1;
  EXPECT_FALSE(one.Empty());
  EXPECT_FALSE(
      ApplyForgetPolicy(snaps, one, kDefaultGroupBy, TimeZoneMode::kUtc, kNow)
          .policy_empty);
}

TEST_F(ForgetPolicyTest, BucketKeepsItsNewestSnapshot) {
  // Given three snapshots on one day,
  std::vector<SnapshotRef> snaps = {Snap("morning", "2024-05-01T06:00:00Z"),
                                    Snap("evening", "2024-05-01T21:00:00Z"),
                                    Snap("noon", "2024-05-01T12:00:00Z")};
  ForgetPolicy policy;
  policy.daily = 5;
  ForgetResult r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                     TimeZoneMode::kUtc, kNow);
  // Then the day keeps only its newest.
  EXPECT_EQ(KeptIds(r), Strings{"evening"});
  EXPECT_EQ(RemovedIds(r), (Strings{"noon", "morning"}));
  EXPECT_EQ(*ReasonsOf(r, "evening"), Strings{"daily snapshot"});
}

TEST_F(ForgetPolicyTest, CountsOnlyBucketsThatHoldASnapshot) {
  // Given snapshots on days 1, 2, 10 and 20 (empty days in between),
  std::vector<SnapshotRef> snaps = {
      Snap("d01", "2024-05-01T02:00:00Z"), Snap("d02", "2024-05-02T02:00:00Z"),
      Snap("d10", "2024-05-10T02:00:00Z"), Snap("d20", "2024-05-20T02:00:00Z")};
  ForgetPolicy policy;
  policy.daily = 3;
  ForgetResult r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                     TimeZoneMode::kUtc, kNow);
  // Then keep-daily 3 keeps the three newest days that have one.
  EXPECT_EQ(KeptIds(r), (Strings{"d20", "d10", "d02"}));
  EXPECT_EQ(RemovedIds(r), Strings{"d01"});
}

TEST_F(ForgetPolicyTest, NegativeCountKeepsEveryBucket) {
  std::vector<SnapshotRef> snaps = {
      Snap("a", "2024-05-01T02:00:00Z"), Snap("b", "2024-05-01T03:00:00Z"),
      Snap("c", "2024-03-10T02:00:00Z"), Snap("d", "2019-01-10T02:00:00Z")};
  ForgetPolicy policy;
  policy.monthly = -1;
  ForgetResult r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                     TimeZoneMode::kUtc, kNow);
  EXPECT_EQ(KeptIds(r), (Strings{"b", "c", "d"}));
  EXPECT_EQ(RemovedIds(r), Strings{"a"});
}

TEST_F(ForgetPolicyTest, RulesCombineAsUnionWithEveryReason) {
  // Given snapshots on three days of two ISO weeks,
  std::vector<SnapshotRef> snaps = {
      Snap("mon", "2024-05-06T02:00:00Z"),  // Monday, week 19
      Snap("sun", "2024-05-05T02:00:00Z"),  // Sunday, week 18
      Snap("sat", "2024-05-04T02:00:00Z", "h", {"/p"}, {"keep"}),
      Snap("fri", "2024-05-03T02:00:00Z")};
  ForgetPolicy policy;
  policy.last = 1;
  policy.daily = 2;
  policy.weekly = 2;
  policy.keep_tags = {"keep"};
  ForgetResult r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                     TimeZoneMode::kUtc, kNow);
  // Then each snapshot lists every rule that keeps it.
  EXPECT_EQ(*ReasonsOf(r, "mon"),
            (Strings{"last snapshot", "daily snapshot", "weekly snapshot"}));
  EXPECT_EQ(*ReasonsOf(r, "sun"),
            (Strings{"daily snapshot", "weekly snapshot"}));
  EXPECT_EQ(*ReasonsOf(r, "sat"), Strings{"tag keep"});
  EXPECT_EQ(RemovedIds(r), Strings{"fri"});
}

TEST_F(ForgetPolicyTest, IsoWeekSpansTheNewYear) {
  // Given 2020-12-31 (Thu) and 2021-01-03 (Sun), both in ISO week 2020-W53, and
  // 2021-01-04 (Mon), in 2021-W01,
  std::vector<SnapshotRef> snaps = {Snap("thu", "2020-12-31T12:00:00Z"),
                                    Snap("sun", "2021-01-03T12:00:00Z"),
                                    Snap("mon", "2021-01-04T12:00:00Z")};
  ForgetPolicy policy;
  policy.weekly = -1;
  ForgetResult r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                     TimeZoneMode::kUtc, kNow);
  // Then Thursday shares Sunday's week while the yearly rule would split them.
  EXPECT_EQ(KeptIds(r), (Strings{"mon", "sun"}));
  policy = ForgetPolicy{};
  policy.yearly = -1;
  r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone, TimeZoneMode::kUtc,
                        kNow);
  EXPECT_EQ(KeptIds(r), (Strings{"mon", "thu"}));
}

TEST_F(ForgetPolicyTest, WithinIsRelativeToNewestOfGroupAndExclusive) {
  // Given a group whose newest snapshot is years before `now`,
  std::vector<SnapshotRef> snaps = {
      Snap("new", "2020-03-10T00:00:00Z"), Snap("in", "2020-03-08T00:00:01Z"),
      Snap("edge", "2020-03-08T00:00:00Z"),  // exactly 2d older
      Snap("old", "2020-03-01T00:00:00Z"),
      Snap("other", "2019-01-01T00:00:00Z", "h2")};
  ForgetPolicy policy;
  policy.within = *ParseDuration("2d");
  ForgetResult r = ApplyForgetPolicy(snaps, policy, GroupBy::kHost,
                                     TimeZoneMode::kUtc, kNow);
  // Then the window ends at each group's newest snapshot, and the edge is
  // outside.
  EXPECT_EQ(KeptIds(r), (Strings{"new", "in", "other"}));
  EXPECT_EQ(RemovedIds(r), (Strings{"edge", "old"}));
  EXPECT_EQ(*ReasonsOf(r, "in"), Strings{"within 2d"});
  EXPECT_TRUE(r.warnings.empty());
}

TEST_F(ForgetPolicyTest, HugeWithinKeepsEverything) {
  std::vector<SnapshotRef> snaps = {Snap("a", "2020-03-10T00:00:00Z"),
                                    Snap("b", "1950-01-01T00:00:00Z")};
  snaps.push_back(SnapshotRef{
      "c", std::numeric_limits<std::int64_t>::min() + 1, "h", {"/p"}, {}});
  ForgetPolicy policy;
  policy.within = *ParseDuration("10000y");
  ForgetResult r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                     TimeZoneMode::kUtc, kNow);
  EXPECT_EQ(KeptIds(r), (Strings{"a", "b", "c"}));
}

TEST_F(ForgetPolicyTest, KeepTagEntriesAreAndListsCombinedWithOr) {
  std::vector<SnapshotRef> snaps = {
      Snap("both", "2024-01-05T00:00:00Z", "h", {"/p"}, {"db", "prod"}),
      Snap("prod", "2024-01-04T00:00:00Z", "h", {"/p"}, {"prod"}),
      Snap("manual", "2024-01-03T00:00:00Z", "h", {"/p"}, {"manual"}),
      Snap("none", "2024-01-02T00:00:00Z")};
  ForgetPolicy policy;
  policy.keep_tags = {"prod,db", "manual", ""};
  ForgetResult r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                     TimeZoneMode::kUtc, kNow);
  EXPECT_EQ(KeptIds(r), (Strings{"both", "manual"}));
  EXPECT_EQ(*ReasonsOf(r, "both"), Strings{"tag prod,db"});
  EXPECT_EQ(*ReasonsOf(r, "manual"), Strings{"tag manual"});
}

TEST_F(ForgetPolicyTest, GroupsByHostAndSortedPaths) {
  // Given the same path set spelled in two orders and a second host,
  std::vector<SnapshotRef> snaps = {
      Snap("a1", "2024-01-01T00:00:00Z", "a", {"/x", "/y"}),
      Snap("a2", "2024-01-02T00:00:00Z", "a", {"/y", "/x"}),
      Snap("a3", "2024-01-03T00:00:00Z", "a", {"/x"}),
      Snap("b1", "2024-01-04T00:00:00Z", "b", {"/x", "/y"}, {"t"})};
  ForgetPolicy policy;
  policy.last = 1;
  ForgetResult r = ApplyForgetPolicy(snaps, policy, kDefaultGroupBy,
                                     TimeZoneMode::kUtc, kNow);
  // Then there are three groups, ordered by key, each keeping its newest.
  ASSERT_EQ(r.groups.size(), 3u);
  EXPECT_EQ(r.groups[0].key, (GroupKey{"a", {"/x"}, {}}));
  EXPECT_EQ(r.groups[1].key, (GroupKey{"a", {"/x", "/y"}, {}}));
  EXPECT_EQ(r.groups[2].key, (GroupKey{"b", {"/x", "/y"}, {}}));
  EXPECT_EQ(KeptIds(r), (Strings{"a3", "a2", "b1"}));
  EXPECT_EQ(RemovedIds(r), Strings{"a1"});

  r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone, TimeZoneMode::kUtc,
                        kNow);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].key, GroupKey{});
  EXPECT_EQ(KeptIds(r), Strings{"b1"});

  r = ApplyForgetPolicy(snaps, policy, GroupBy::kTags, TimeZoneMode::kUtc,
                        kNow);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[1].key, (GroupKey{"", {}, {"t"}}));
}

TEST_F(ForgetPolicyTest, EqualTimesAreOrderedByIdNotInputOrder) {
  std::vector<SnapshotRef> snaps = {Snap("b", "2024-01-01T00:00:00Z"),
                                    Snap("a", "2024-01-01T00:00:00Z")};
  ForgetPolicy policy;
  policy.last = 1;
  for (int round = 0; round < 2; ++round) {
    ForgetResult r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                       TimeZoneMode::kUtc, kNow);
    EXPECT_EQ(KeptIds(r), Strings{"a"});
    std::swap(snaps[0], snaps[1]);
  }
}

TEST_F(ForgetPolicyTest, TimesBeforeTheEpochRoundDown) {
  // Given one nanosecond before 1970 and the epoch itself,
  std::vector<SnapshotRef> snaps = {SnapshotRef{"before", -1, "h", {}, {}},
                                    SnapshotRef{"epoch", 0, "h", {}, {}}};
  ForgetPolicy policy;
  policy.daily = -1;
  ForgetResult r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                     TimeZoneMode::kUtc, kNow);
  // Then they fall on different days.
  EXPECT_EQ(KeptIds(r), (Strings{"epoch", "before"}));
}

TEST_F(ForgetPolicyTest, WarnsAboutSnapshotsFromTheFuture) {
  std::vector<SnapshotRef> snaps = {Snap("late", "2031-01-01T00:00:00Z"),
                                    Snap("ok", "2024-01-01T00:00:00Z")};
  ForgetPolicy policy;
  policy.last = 1;
  ForgetResult r = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                     TimeZoneMode::kUtc, kNow);
  // Then the result is unchanged (the future snapshot is the newest) but
  // flagged.
  EXPECT_EQ(KeptIds(r), Strings{"late"});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("late"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find("2031-01-01T00:00:00Z"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Time zones

TEST_F(ForgetPolicyTest, LocalTimeZoneMovesDayBuckets) {
  // Given three snapshots; 03:00Z on 5 March is still 4 March in New York
  // (EST),
  std::vector<SnapshotRef> snaps = {Snap("mar4-20z", "2024-03-04T20:00:00Z"),
                                    Snap("mar5-03z", "2024-03-05T03:00:00Z"),
                                    Snap("mar5-20z", "2024-03-05T20:00:00Z")};
  ForgetPolicy policy;
  policy.daily = -1;
  // Then in UTC the two 5 March snapshots share a day,
  ForgetResult utc = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                       TimeZoneMode::kLocal, kNow);
  EXPECT_EQ(KeptIds(utc), (Strings{"mar5-20z", "mar4-20z"}));
  // and in New York the two local 4 March snapshots do.
  ScopedTimeZone ny("America/New_York");
  ForgetResult local = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                         TimeZoneMode::kLocal, kNow);
  EXPECT_EQ(KeptIds(local), (Strings{"mar5-20z", "mar5-03z"}));
  EXPECT_EQ(RemovedIds(local), Strings{"mar4-20z"});
  // TimeZoneMode::kUtc ignores TZ.
  ForgetResult forced = ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                          TimeZoneMode::kUtc, kNow);
  EXPECT_EQ(KeptIds(forced), KeptIds(utc));
}

TEST_F(ForgetPolicyTest, RepeatedLocalHourAtDstEndIsOneBucket) {
  // Given 01:30 EDT and 01:30 EST on 3 November 2024 (the clock goes back at
  // 02:00),
  ScopedTimeZone ny("America/New_York");
  std::vector<SnapshotRef> snaps = {Snap("edt", "2024-11-03T05:30:00Z"),
                                    Snap("est", "2024-11-03T06:30:00Z")};
  ForgetPolicy policy;
  policy.hourly = -1;
  // Then the wall-clock hour 01 is one bucket locally, two hours in UTC.
  EXPECT_EQ(KeptIds(ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                      TimeZoneMode::kLocal, kNow)),
            Strings{"est"});
  EXPECT_EQ(KeptIds(ApplyForgetPolicy(snaps, policy, GroupBy::kNone,
                                      TimeZoneMode::kUtc, kNow)),
            (Strings{"est", "edt"}));
}

// ---------------------------------------------------------------------------
// Golden files: tests/testdata/forget/<name>.txt, checked independently by
// check_golden.py. Set UPDATE_GOLDEN=1 to rewrite them after a deliberate
// change.

std::vector<SnapshotRef> LoadSnapshots() {
  std::ifstream in(kTestDataDir + "/snapshots.txt");
  EXPECT_TRUE(in.good()) << "cannot open snapshots.txt in " << kTestDataDir;
  std::vector<SnapshotRef> out;
  std::string id, time, host, paths, tags;
  while (in >> id >> time >> host >> paths >> tags) {
    out.push_back(SnapshotRef{id, ParseUtc(time), host, SplitComma(paths),
                              SplitComma(tags)});
  }
  return out;
}

struct GoldenCase {
  std::string name;
  ForgetPolicy policy;
  GroupBy group_by;
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

// The policy as `forget` flags, for the golden file header.
std::string PolicyFlags(const ForgetPolicy& p) {
  std::string out;
  auto add = [&](const char* flag, int n) {
    if (n != 0) out += std::string(" --keep-") + flag + " " + std::to_string(n);
  };
  add("last", p.last);
  add("hourly", p.hourly);
  add("daily", p.daily);
  add("weekly", p.weekly);
  add("monthly", p.monthly);
  add("yearly", p.yearly);
  if (p.within) out += " --keep-within " + FormatDuration(*p.within);
  for (const std::string& t : p.keep_tags) out += " --keep-tag " + t;
  return out.empty() ? "(none)" : out.substr(1);
}

std::string RenderGolden(const GoldenCase& c, const ForgetResult& r) {
  std::size_t kept = 0, removed = 0;
  for (const ForgetGroup& g : r.groups) {
    kept += g.keep.size();
    removed += g.remove.size();
  }
  std::ostringstream out;
  out << "# ApplyForgetPolicy on snapshots.txt, written by forget_policy_test\n"
      << "# (UPDATE_GOLDEN=1) and verified by check_golden.py.\n"
      << "# policy: " << PolicyFlags(c.policy) << "\n"
      << "# group-by: " << FormatGroupBy(c.group_by) << "\n"
      << "# time zone: UTC\n"
      << "# policy empty: " << (r.policy_empty ? "yes" : "no") << "\n"
      << "# kept " << kept << ", removed " << removed << "\n";
  for (const ForgetGroup& g : r.groups) {
    out << "\ngroup";
    if (HasGroupBy(c.group_by, GroupBy::kHost)) out << " host=" << g.key.host;
    if (HasGroupBy(c.group_by, GroupBy::kPaths)) {
      out << " paths=" << JoinComma(g.key.paths);
    }
    if (HasGroupBy(c.group_by, GroupBy::kTags)) {
      out << " tags=" << JoinComma(g.key.tags);
    }
    if (c.group_by == GroupBy::kNone) out << " (all)";
    out << "\n";
    // Merge the two newest-first lists into one timeline, newest first.
    std::size_t k = 0, d = 0;
    while (k < g.keep.size() || d < g.remove.size()) {
      const bool take_keep =
          d == g.remove.size() ||
          (k < g.keep.size() &&
           (g.keep[k].snapshot.time_unix_ns > g.remove[d].time_unix_ns ||
            (g.keep[k].snapshot.time_unix_ns == g.remove[d].time_unix_ns &&
             g.keep[k].snapshot.id < g.remove[d].id)));
      const SnapshotRef& s = take_keep ? g.keep[k].snapshot : g.remove[d];
      out << (take_keep ? "keep   " : "remove ") << FormatUtc(s.time_unix_ns)
          << " " << s.id << " " << s.host << " " << JoinComma(s.paths) << " "
          << (s.tags.empty() ? "-" : JoinComma(s.tags));
      if (take_keep) {
        std::string reasons;
        for (const std::string& reason : g.keep[k].reasons) {
          reasons += (reasons.empty() ? "" : ", ") + reason;
        }
        out << " | " << reasons;
        ++k;
      } else {
        ++d;
      }
      out << "\n";
    }
  }
  return out.str();
}

std::vector<GoldenCase> GoldenCases() {
  std::vector<GoldenCase> cases;
  auto add = [&](std::string name, GroupBy group_by, auto configure) {
    ForgetPolicy p;
    configure(p);
    cases.push_back(GoldenCase{std::move(name), p, group_by});
  };
  const GroupBy kAll = GroupBy::kNone;
  add("last", kAll, [](ForgetPolicy& p) { p.last = 10; });
  add("hourly", kAll, [](ForgetPolicy& p) { p.hourly = 40; });
  add("daily", kAll, [](ForgetPolicy& p) { p.daily = 30; });
  add("weekly", kAll, [](ForgetPolicy& p) { p.weekly = 20; });
  add("monthly", kAll, [](ForgetPolicy& p) { p.monthly = 60; });
  add("monthly_unlimited", kAll, [](ForgetPolicy& p) { p.monthly = -1; });
  add("yearly", kAll, [](ForgetPolicy& p) { p.yearly = 10; });
  add("schedule", kDefaultGroupBy, [](ForgetPolicy& p) {
    p.daily = 7;
    p.weekly = 5;
    p.monthly = 12;
  });
  add("combined", kDefaultGroupBy, [](ForgetPolicy& p) {
    p.last = 3;
    p.hourly = 12;
    p.daily = 7;
    p.weekly = 4;
    p.monthly = 6;
    p.yearly = 3;
  });
  add("within", kDefaultGroupBy,
      [](ForgetPolicy& p) { p.within = *ParseDuration("30d"); });
  add("within_monthly", kAll, [](ForgetPolicy& p) {
    p.within = *ParseDuration("2d12h");
    p.monthly = 3;
  });
  add("tags", kDefaultGroupBy, [](ForgetPolicy& p) {
    p.last = 2;
    p.keep_tags = {"manual"};
  });
  add("tags_and", kDefaultGroupBy, [](ForgetPolicy& p) {
    p.keep_tags = {"prod,manual", "db"};
  });
  add("group_host", GroupBy::kHost, [](ForgetPolicy& p) {
    p.daily = 3;
    p.weekly = 2;
  });
  add("group_tags", GroupBy::kTags, [](ForgetPolicy& p) { p.last = 1; });
  add("group_host_paths_tags",
      GroupBy::kHost | GroupBy::kPaths | GroupBy::kTags, [](ForgetPolicy& p) {
        p.last = 1;
        p.yearly = 2;
      });
  add("empty", kDefaultGroupBy, [](ForgetPolicy&) {});
  return cases;
}

class ForgetGoldenTest : public ::testing::TestWithParam<GoldenCase> {
 protected:
  ScopedTimeZone tz_{"UTC"};
};

TEST_P(ForgetGoldenTest, MatchesGoldenFile) {
  // Given the fixed snapshot list, in the local zone with TZ=UTC,
  const GoldenCase& c = GetParam();
  const std::vector<SnapshotRef> snaps = LoadSnapshots();
  ASSERT_GT(snaps.size(), 500u);
  ForgetResult r = ApplyForgetPolicy(snaps, c.policy, c.group_by,
                                     TimeZoneMode::kLocal, kNow);
  // (kUtc must agree while TZ=UTC)
  EXPECT_EQ(RenderGolden(c, ApplyForgetPolicy(snaps, c.policy, c.group_by,
                                              TimeZoneMode::kUtc, kNow)),
            RenderGolden(c, r));
  const std::string actual = RenderGolden(c, r);
  const std::string path = kTestDataDir + "/" + c.name + ".txt";
  if (std::getenv("UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
    GTEST_SKIP() << "rewrote " << c.name << ".txt";
  }
  // Then the result is the one in the golden file.
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << "missing golden file " << path
                         << "; run with UPDATE_GOLDEN=1";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(expected.str(), actual)
      << "golden file " << c.name
      << ".txt differs; if the change is intended, run with UPDATE_GOLDEN=1 "
         "and check_golden.py";
}

INSTANTIATE_TEST_SUITE_P(
    Policies, ForgetGoldenTest, ::testing::ValuesIn(GoldenCases()),
    [](const ::testing::TestParamInfo<GoldenCase>& param_info) {
      return param_info.param.name;
    });

}  // namespace
}  // namespace efs2s3::policy

namespace efs2s3::policy {
namespace {

TEST(SupersededPartialsTest,
     OnlyPartialsWithALaterCompleteSnapshotOfTheirSource) {
  // Given partial snapshots of two sources, one followed by a complete
  // snapshot of the same host and paths (in another order), one not, and one
  // followed only by a complete snapshot of another host, then only the first
  // is superseded.
  std::vector<SnapshotRef> s = {
      {"p1", 100, "h", {"/b", "/a"}, {"partial"}},
      {"c1", 200, "h", {"/a", "/b"}, {}},
      {"p2", 300, "h", {"/a", "/b"}, {"partial", "nightly"}},
      {"p3", 100, "h2", {"/x"}, {"partial"}},
      {"c2", 400, "h3", {"/x"}, {}},
      {"c0", 50, "h", {"/a", "/b"}, {}},
  };
  EXPECT_EQ(SupersededPartials(s), std::vector<std::string>{"p1"});
  EXPECT_TRUE(SupersededPartials({}).empty());
}

}  // namespace
}  // namespace efs2s3::policy
