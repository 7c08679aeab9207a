#include "jobs/cron.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <vector>

namespace efs2s3::jobs {

namespace {

Error Invalid(std::string msg) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(msg));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Sets TZ for the life of the object (and restores it).
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const std::string& zone) {
    if (zone.empty()) {
      tzset();
      return;
    }
    if (const char* old = std::getenv("TZ")) old_ = old;
    setenv("TZ", zone.c_str(), 1);
    tzset();
    active_ = true;
  }
  ~ScopedTimeZone() {
    if (!active_) return;
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
  bool active_ = false;
  std::optional<std::string> old_;
};

long Offset(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm.tm_gmtoff;
}

// The local wall-clock time of instant t, expressed as if it were UTC.
std::time_t LocalAsUtc(std::time_t t) { return t + Offset(t); }

// The instant whose local time is `local` (a wall-clock time expressed as if it
// were UTC): the first one if it occurs twice, the end of the gap if it does
// not occur.
std::time_t ResolveLocal(std::time_t local) {
  long off_a = Offset(local - 86400), off_b = Offset(local + 86400);
  std::time_t best = 0;
  bool found = false;
  for (long off : {off_a, off_b}) {
    std::time_t t = local - off;
    if (LocalAsUtc(t) == local && (!found || t < best)) {
      best = t;
      found = true;
    }
  }
  if (found) return best;
  // A gap: local time is monotonic across it, so search for the first instant
  // whose local time is at or after the wanted one.
  std::time_t lo = local - std::max(off_a, off_b);
  std::time_t hi = local - std::min(off_a, off_b);
  if (lo >= hi) return local - off_a;
  while (lo < hi) {
    std::time_t mid = lo + (hi - lo) / 2;
    if (LocalAsUtc(mid) >= local) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

const char* const kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec"};
const char* const kDayNames[] = {"sun", "mon", "tue", "wed",
                                 "thu", "fri", "sat"};

struct FieldSpec {
  const char* name;
  int min, max;
  const char* const* names;  // nullptr or names for min..
  int name_count;
};

Result<int> ParseValue(std::string_view s, const FieldSpec& f) {
  if (s.empty()) return Invalid(fmt::format("{} field: empty value", f.name));
  if (f.names) {
    std::string l = Lower(s);
    for (int i = 0; i < f.name_count; ++i)
      if (l == f.names[i]) return f.min + i;
  }
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return Invalid(fmt::format("{} field: '{}' is not a number", f.name, s));
    v = v * 10 + (c - '0');
    if (v > 1000) break;
  }
  int max = f.max;
  if (f.names == kDayNames) max = 7;  // 7 = Sunday
  if (v < f.min || v > max)
    return Invalid(
        fmt::format("{} field: {} out of range {}-{}", f.name, v, f.min, max));
  return v;
}

// Parses one field into a set of values.
Result<std::vector<bool>> ParseField(std::string_view field,
                                     const FieldSpec& f) {
  std::vector<bool> set(static_cast<size_t>(f.max + 2), false);
  size_t pos = 0;
  while (pos <= field.size()) {
    size_t comma = field.find(',', pos);
    std::string_view item = field.substr(pos, comma == std::string_view::npos
                                                  ? std::string_view::npos
                                                  : comma - pos);
    pos = comma == std::string_view::npos ? field.size() + 1 : comma + 1;
    if (item.empty())
      return Invalid(fmt::format("{} field: empty list element", f.name));
    int step = 1;
    size_t slash = item.find('/');
    std::string_view range = item.substr(0, slash);
    if (slash != std::string_view::npos) {
      std::string_view st = item.substr(slash + 1);
      if (st.empty() ||
          !std::all_of(st.begin(), st.end(),
                       [](char c) { return std::isdigit(c) != 0; }) ||
          st.size() > 4 || std::stoi(std::string(st)) == 0)
        return Invalid(fmt::format("{} field: bad step '{}'", f.name, st));
      step = std::stoi(std::string(st));
    }
    int lo, hi;
    if (range == "*") {
      lo = f.min;
      hi = f.max;
    } else {
      size_t dash = range.find('-');
      ASSIGN_OR_RETURN(lo, ParseValue(range.substr(0, dash), f));
      if (dash != std::string_view::npos) {
        ASSIGN_OR_RETURN(hi, ParseValue(range.substr(dash + 1), f));
        if (hi < lo)
          return Invalid(
              fmt::format("{} field: range '{}' is backwards", f.name, range));
      } else {
        hi = slash == std::string_view::npos ? lo : f.max;
      }
    }
    for (int v = lo; v <= hi; v += step) set[static_cast<size_t>(v)] = true;
  }
  return set;
}

template <size_t N>
std::bitset<N> ToBits(const std::vector<bool>& v) {
  std::bitset<N> b;
  for (size_t i = 0; i < N && i < v.size(); ++i) b[i] = v[i];
  return b;
}

}  // namespace

Result<std::chrono::seconds> ParseInterval(std::string_view text) {
  if (text.empty()) return Invalid("empty interval");
  long long total = 0;
  size_t i = 0;
  while (i < text.size()) {
    long long n = 0;
    size_t start = i;
    while (i < text.size() &&
           std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > 100000000)
        return Invalid(fmt::format("interval '{}' too large", text));
      ++i;
    }
    if (i == start || i == text.size())
      return Invalid(fmt::format(
          "interval '{}': expected <number><unit> terms, units s, m, h, d, w",
          text));
    long long unit = 0;
    switch (text[i]) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      case 'w':
        unit = 7 * 86400;
        break;
      default:
        return Invalid(fmt::format(
            "interval '{}': unknown unit '{}' (s, m, h, d, w)", text, text[i]));
    }
    total += n * unit;
    ++i;
  }
  if (total <= 0) return Invalid(fmt::format("interval '{}' is zero", text));
  return std::chrono::seconds(total);
}

std::string FormatInterval(std::chrono::seconds s) {
  long long v = s.count();
  if (v == 0) return "0s";
  std::string out;
  const std::pair<long long, char> units[] = {
      {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (auto [len, c] : units) {
    if (v >= len) {
      out += std::to_string(v / len) + c;
      v %= len;
    }
  }
  return out;
}

Result<void> ValidateTimeZone(const std::string& zone) {
  if (zone.empty() || zone == "UTC") return Ok();
  if (zone.find("..") != std::string::npos || zone.front() == '/')
    return Invalid(fmt::format("unknown time zone '{}'", zone));
  struct stat st {};
  std::string path = "/usr/share/zoneinfo/" + zone;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return Invalid(fmt::format(
        "unknown time zone '{}' (not in /usr/share/zoneinfo)", zone));
  return Ok();
}

// Whether some month of `months` has some day of `days` (February counted
// with 29). A day of the month that none of the months has ("0 0 31 2 *")
// would never fire; with the weekday restricted too, a day matches when
// either does (DayMatches), so such a schedule still fires.
static bool AnyDayExists(const std::bitset<13>& months,
                         const std::bitset<32>& days) {
  static const int kDays[13] = {0,  31, 29, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};
  for (int mon = 1; mon <= 12; ++mon)
    for (int day = 1; day <= kDays[mon]; ++day)
      if (months[static_cast<size_t>(mon)] && days[static_cast<size_t>(day)])
        return true;
  return false;
}

Result<Schedule> Schedule::Parse(std::string_view expr) {
  Schedule s;
  s.expr_ = std::string(expr);
  std::string e = std::string(expr);
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.back())))
    e.pop_back();
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.front())))
    e.erase(0, 1);
  if (e.rfind("@every", 0) == 0) {
    std::string rest = e.substr(6);
    while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
    ASSIGN_OR_RETURN(s.interval_, ParseInterval(rest));
    return s;
  }
  if (!e.empty() && e.front() == '@') {
    std::string m = Lower(e);
    if (m == "@yearly" || m == "@annually")
      e = "0 0 1 1 *";
    else if (m == "@monthly")
      e = "0 0 1 * *";
    else if (m == "@weekly")
      e = "0 0 * * 0";
    else if (m == "@daily" || m == "@midnight")
      e = "0 0 * * *";
    else if (m == "@hourly")
      e = "0 * * * *";
    else
      return Invalid(fmt::format(
          "unknown schedule '{}' (@yearly, @monthly, @weekly, @daily, @hourly, "
          "@every DURATION)",
          expr));
  }
  std::istringstream in(e);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() != 5)
    return Invalid(fmt::format(
        "schedule '{}': expected 5 fields (minute hour day-of-month month "
        "day-of-week), got {}",
        expr, fields.size()));
  static const FieldSpec kSpecs[] = {
      {"minute", 0, 59, nullptr, 0},       {"hour", 0, 23, nullptr, 0},
      {"day-of-month", 1, 31, nullptr, 0}, {"month", 1, 12, kMonthNames, 12},
      {"day-of-week", 0, 6, kDayNames, 7},
  };
  std::vector<bool> sets[5];
  for (int i = 0; i < 5; ++i) {
    auto r = ParseField(fields[static_cast<size_t>(i)], kSpecs[i]);
    if (!r)
      return Invalid(fmt::format("schedule '{}': {}", expr, r.error().message));
    sets[i] = std::move(*r);
  }
  if (sets[4].size() > 7 && sets[4][7]) sets[4][0] = true;
  s.minutes_ = ToBits<60>(sets[0]);
  s.hours_ = ToBits<24>(sets[1]);
  s.dom_ = ToBits<32>(sets[2]);
  s.months_ = ToBits<13>(sets[3]);
  s.dow_ = ToBits<7>(sets[4]);
  s.dom_restricted_ = fields[2][0] != '*';
  s.dow_restricted_ = fields[4][0] != '*';
  s.fields_ = fmt::format("{} {} {} {} {}", fields[0], fields[1], fields[2],
                          fields[3], fields[4]);
  if (!s.dow_restricted_ && !AnyDayExists(s.months_, s.dom_))
    return Invalid(fmt::format(
        "schedule '{}': never fires (no month in the month field has a day "
        "in the day-of-month field)",
        expr));
  return s;
}

bool Schedule::DayMatches(int mday, int mon, int wday) const {
  if (!months_[static_cast<size_t>(mon)]) return false;
  bool d = dom_[static_cast<size_t>(mday)], w = dow_[static_cast<size_t>(wday)];
  if (dom_restricted_ && dow_restricted_) return d || w;
  return d && w;
}

std::time_t Schedule::Next(std::time_t after, const std::string& zone) const {
  if (is_interval()) return after + interval_.count();
  ScopedTimeZone tz(zone);
  std::tm start{};
  localtime_r(&after, &start);
  // Walk local calendar days; civil date arithmetic is done in UTC.
  std::tm day0{};
  day0.tm_year = start.tm_year;
  day0.tm_mon = start.tm_mon;
  day0.tm_mday = start.tm_mday;
  std::time_t base = timegm(&day0);
  for (int d = 0; d < 366 * 5 + 2; ++d) {
    std::time_t day_start = base + static_cast<std::time_t>(d) * 86400;
    std::tm day{};
    gmtime_r(&day_start, &day);
    if (!DayMatches(day.tm_mday, day.tm_mon + 1, day.tm_wday)) continue;
    for (int h = 0; h < 24; ++h) {
      if (!hours_[static_cast<size_t>(h)]) continue;
      for (int m = 0; m < 60; ++m) {
        if (!minutes_[static_cast<size_t>(m)]) continue;
        std::time_t local = day_start + h * 3600 + m * 60;
        // Local times more than a day before `after` cannot be after it.
        if (local + 86400 < after) continue;
        std::time_t t = ResolveLocal(local);
        if (t > after) return t;
      }
    }
  }
  return 0;
}

long UtcOffset(std::time_t t, const std::string& zone) {
  ScopedTimeZone tz(zone);
  return Offset(t);
}

int LocalWeekday(std::time_t t, const std::string& zone) {
  ScopedTimeZone tz(zone);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm.tm_wday;
}

std::string FormatUtc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::time_t ParseUtc(const std::string& s) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end != '\0') return -1;
  return timegm(&tm);
}

}  // namespace efs2s3::jobs
