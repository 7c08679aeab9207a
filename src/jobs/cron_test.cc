#include "jobs/cron.h"

#include <gtest/gtest.h>

namespace efs2s3::jobs {
namespace {

std::time_t Utc(const char* s) { return ParseUtc(s); }
std::string NextUtc(const char* expr, const char* after, const char* tz) {
  auto s = Schedule::Parse(expr);
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  if (!s) return "";
  return FormatUtc(s->Next(Utc(after), tz));
}

TEST(ScheduleTest, DailyAtThreeUtc) {
  // Given 03:00 daily in UTC, then the next run after 02:59 is 03:00 the same
  // day and after 03:00 it is the next day.
  EXPECT_EQ(NextUtc("0 3 * * *", "2024-05-01T02:59:00Z", "UTC"),
            "2024-05-01T03:00:00Z");
  EXPECT_EQ(NextUtc("0 3 * * *", "2024-05-01T03:00:00Z", "UTC"),
            "2024-05-02T03:00:00Z");
}

TEST(ScheduleTest, MacrosExpand) {
  EXPECT_EQ(NextUtc("@daily", "2024-05-01T10:00:00Z", "UTC"),
            "2024-05-02T00:00:00Z");
  EXPECT_EQ(NextUtc("@hourly", "2024-05-01T10:00:00Z", "UTC"),
            "2024-05-01T11:00:00Z");
  EXPECT_EQ(NextUtc("@weekly", "2024-05-01T10:00:00Z", "UTC"),  // a Wednesday
            "2024-05-05T00:00:00Z");
  EXPECT_EQ(NextUtc("@monthly", "2024-05-01T10:00:00Z", "UTC"),
            "2024-06-01T00:00:00Z");
  EXPECT_EQ(NextUtc("@yearly", "2024-05-01T10:00:00Z", "UTC"),
            "2025-01-01T00:00:00Z");
}

TEST(ScheduleTest, StepsListsRangesAndNames) {
  EXPECT_EQ(NextUtc("*/15 * * * *", "2024-05-01T10:07:00Z", "UTC"),
            "2024-05-01T10:15:00Z");
  EXPECT_EQ(NextUtc("0 9-17/4 * * MON-FRI", "2024-05-04T10:00:00Z", "UTC"),
            "2024-05-06T09:00:00Z");  // Saturday -> Monday 09:00
  EXPECT_EQ(NextUtc("30 2 * JAN,jul *", "2024-05-04T10:00:00Z", "UTC"),
            "2024-07-01T02:30:00Z");
  EXPECT_EQ(NextUtc("0 0 * * 7", "2024-05-01T10:00:00Z", "UTC"),
            "2024-05-05T00:00:00Z");  // 7 is Sunday
}

TEST(ScheduleTest, DayOfMonthOrDayOfWeek) {
  // Given both day fields restricted, then either matches (cron's rule).
  EXPECT_EQ(NextUtc("0 0 13 * FRI", "2024-05-01T00:00:00Z", "UTC"),
            "2024-05-03T00:00:00Z");  // Friday 3rd comes before the 13th
}

TEST(ScheduleTest, LeapDay) {
  EXPECT_EQ(NextUtc("0 0 29 2 *", "2024-03-01T00:00:00Z", "UTC"),
            "2028-02-29T00:00:00Z");
}

TEST(ScheduleTest, TimeZone) {
  // 03:00 in Berlin (CEST, UTC+2) is 01:00 UTC.
  EXPECT_EQ(NextUtc("0 3 * * *", "2024-05-01T00:00:00Z", "Europe/Berlin"),
            "2024-05-01T01:00:00Z");
}

TEST(ScheduleTest, SpringForwardGapRunsAtEndOfGap) {
  // Given 02:30 daily in New York, when 02:00-03:00 is skipped (2024-03-10),
  // then the run happens at 03:00 EDT (07:00 UTC), once.
  EXPECT_EQ(NextUtc("30 2 * * *", "2024-03-09T12:00:00Z", "America/New_York"),
            "2024-03-10T07:00:00Z");
  EXPECT_EQ(NextUtc("30 2 * * *", "2024-03-10T07:00:00Z", "America/New_York"),
            "2024-03-11T06:30:00Z");
}

TEST(ScheduleTest, FallBackRepeatedHourRunsOnce) {
  // Given 01:30 daily in New York, when 01:00-02:00 repeats (2024-11-03), then
  // it runs at the first 01:30 (EDT, 05:30 UTC) and not at the second.
  EXPECT_EQ(NextUtc("30 1 * * *", "2024-11-02T12:00:00Z", "America/New_York"),
            "2024-11-03T05:30:00Z");
  EXPECT_EQ(NextUtc("30 1 * * *", "2024-11-03T05:30:00Z", "America/New_York"),
            "2024-11-04T06:30:00Z");
}

TEST(ScheduleTest, HourlyAcrossFallBackKeepsBothHours) {
  // Given minute 0 every hour, then 01:00 EDT and 02:00 EST are an hour apart
  // (the repeated 01:00 EST is skipped, as "once").
  EXPECT_EQ(NextUtc("0 * * * *", "2024-11-03T05:00:00Z", "America/New_York"),
            "2024-11-03T07:00:00Z");
}

TEST(ScheduleTest, EveryInterval) {
  auto s = Schedule::Parse("@every 90s");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->is_interval());
  EXPECT_EQ(s->Next(1000, ""), 1090);
}

TEST(ScheduleTest, ErrorsNameTheField) {
  auto bad = [](const char* e) {
    auto s = Schedule::Parse(e);
    return s ? std::string("accepted") : s.error().message;
  };
  EXPECT_NE(bad("61 * * * *").find("minute field: 61 out of range 0-59"),
            std::string::npos);
  EXPECT_NE(bad("0 24 * * *").find("hour field"), std::string::npos);
  EXPECT_NE(bad("0 0 * * *  *").find("expected 5 fields"), std::string::npos);
  EXPECT_NE(bad("0 0 * FOO *").find("month field"), std::string::npos);
  EXPECT_NE(bad("0 0 5-1 * *").find("backwards"), std::string::npos);
  EXPECT_NE(bad("*/0 * * * *").find("bad step"), std::string::npos);
  EXPECT_NE(bad("@sometimes").find("unknown schedule"), std::string::npos);
  EXPECT_NE(bad("@every 5x").find("unknown unit"), std::string::npos);
  // Schedules that would never fire.
  EXPECT_NE(bad("0 0 31 2 *").find("never fires"), std::string::npos);
  EXPECT_NE(bad("0 0 30,31 2 *").find("never fires"), std::string::npos);
  EXPECT_NE(bad("0 0 31 4,6,9,11 *").find("never fires"), std::string::npos);
  // ... and ones that do: Feb 29 in leap years, the weekday rule, a mix.
  EXPECT_EQ(bad("0 0 29 2 *"), "accepted");
  EXPECT_EQ(bad("0 0 31 2 MON"), "accepted");
  EXPECT_EQ(bad("0 0 31 2,3 *"), "accepted");
}

TEST(IntervalTest, ParseAndFormat) {
  EXPECT_EQ(ParseInterval("1h30m")->count(), 5400);
  EXPECT_EQ(ParseInterval("7d")->count(), 7 * 86400);
  EXPECT_EQ(ParseInterval("2w")->count(), 14 * 86400);
  EXPECT_FALSE(ParseInterval(""));
  EXPECT_FALSE(ParseInterval("0s"));
  EXPECT_FALSE(ParseInterval("10"));
  EXPECT_EQ(FormatInterval(std::chrono::seconds(93784)), "1d2h3m4s");
}

TEST(TimeZoneTest, Validates) {
  EXPECT_TRUE(ValidateTimeZone(""));
  EXPECT_TRUE(ValidateTimeZone("UTC"));
  EXPECT_TRUE(ValidateTimeZone("Europe/Berlin"));
  EXPECT_FALSE(ValidateTimeZone("Mars/Olympus"));
  EXPECT_FALSE(ValidateTimeZone("../etc/passwd"));
}

}  // namespace
}  // namespace efs2s3::jobs
