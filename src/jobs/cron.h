// Job schedules: cron expressions and fixed intervals, and their next run time.
//
// Accepted forms:
//   - five cron fields "MIN HOUR DOM MON DOW" with `*`, numbers, ranges `a-b`,
//     steps `*/n` and `a-b/n`, lists `a,b,c`; month and weekday names (JAN,
//     MON); weekday 7 is Sunday, like 0. When both DOM and DOW are restricted,
//     a day matches if either matches (the classic cron rule);
//   - @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly;
//   - "@every DURATION" (e.g. "@every 6h", "@every 90s"): a fixed interval from
//     the previous run, for hosts that stay up (the daemon) and for tests.
//
// Times are wall-clock times in a time zone (an IANA name such as
// "Europe/Berlin"; "" is the process zone, TZ). Daylight saving time:
//   - a time that does not exist (the hour skipped in spring) runs at the end
//   of
//     the gap (02:30 on a 02:00->03:00 day runs at 03:00);
//   - a time that exists twice (the hour repeated in autumn) runs once, at its
//     first occurrence.
//
// Pure functions apart from reading the zone database; time zone conversions
// set TZ for their duration, so they must not run concurrently with other code
// that reads TZ (the daemon is single-threaded).
#pragma once

#include <bitset>
#include <chrono>
#include <ctime>
#include <string>
#include <string_view>

#include "base/result.h"

namespace efs2s3::jobs {

// Parses an interval: one or more <number><unit> terms with units s, m
// (minutes), h, d, w: "90s", "30m", "1h30m", "7d". kInvalidArgument on an
// empty or zero interval or an unknown unit.
Result<std::chrono::seconds> ParseInterval(std::string_view text);
// "1d2h", "30m", "0s".
std::string FormatInterval(std::chrono::seconds s);

// kInvalidArgument unless `zone` is "" or a zone of the system database
// (/usr/share/zoneinfo) or "UTC".
Result<void> ValidateTimeZone(const std::string& zone);

class Schedule {
 public:
  // kInvalidArgument with the offending field named ("hour field: 24 out of
  // range 0-23").
  static Result<Schedule> Parse(std::string_view expr);

  // The first run time strictly after `after`, in `zone`. An @every schedule
  // returns after + interval. Returns nullopt-like epoch 0 if no time within
  // five years matches (e.g. "0 0 30 2 *").
  std::time_t Next(std::time_t after, const std::string& zone) const;

  bool is_interval() const { return interval_.count() > 0; }
  std::chrono::seconds interval() const { return interval_; }
  const std::string& expression() const { return expr_; }

  // Field sets, for the generators (systemd OnCalendar, EventBridge cron).
  const std::bitset<60>& minutes() const { return minutes_; }
  const std::bitset<24>& hours() const { return hours_; }
  const std::bitset<32>& days_of_month() const { return dom_; }  // 1..31
  const std::bitset<13>& months() const { return months_; }      // 1..12
  const std::bitset<7>& days_of_week() const { return dow_; }    // 0=Sun
  bool dom_restricted() const { return dom_restricted_; }
  bool dow_restricted() const { return dow_restricted_; }
  // The five cron fields after macro expansion ("0 0 * * *" for @daily).
  const std::string& cron_fields() const { return fields_; }

  bool operator==(const Schedule&) const = default;

 private:
  bool DayMatches(int mday, int mon, int wday) const;

  std::string expr_;
  std::string fields_;
  std::chrono::seconds interval_{0};
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> dom_;
  std::bitset<13> months_;
  std::bitset<7> dow_;
  bool dom_restricted_ = false, dow_restricted_ = false;
};

// The offset of `zone` from UTC at `t`, in seconds (east positive).
long UtcOffset(std::time_t t, const std::string& zone);

// The weekday (0 = Sunday) of `t` in `zone`.
int LocalWeekday(std::time_t t, const std::string& zone);

// Formats a Unix time as ISO 8601 in UTC ("2024-05-01T03:00:00Z").
std::string FormatUtc(std::time_t t);
// Parses FormatUtc's output; nullopt-like -1 on failure.
std::time_t ParseUtc(const std::string& s);

}  // namespace efs2s3::jobs
