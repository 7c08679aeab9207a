#include "policy/forget_policy.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <ctime>
#include <limits>
#include <map>
#include <set>
#include <utility>

namespace efs2s3::policy {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
constexpr std::int64_t kSecondsPerHour = 3600;
constexpr std::int64_t kSecondsPerDay = 24 * kSecondsPerHour;
constexpr std::int64_t kSecondsPerMonth = 30 * kSecondsPerDay;
constexpr std::int64_t kSecondsPerYear = 365 * kSecondsPerDay;
constexpr std::int64_t kMaxDurationSeconds = 10'000 * kSecondsPerYear;

// A keep_tags entry split into tag names; empty names dropped.
std::vector<std::string> SplitTags(std::string_view entry) {
  std::vector<std::string> tags;
  while (true) {
    const std::size_t comma = entry.find(',');
    std::string_view name = entry.substr(0, comma);
    if (!name.empty()) tags.emplace_back(name);
    if (comma == std::string_view::npos) break;
    entry.remove_prefix(comma + 1);
  }
  return tags;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += ',';
    out += part;
  }
  return out;
}

std::vector<std::string> SortedUnique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Floor division, so that times before 1970 fall into the right second.
std::time_t UnixSeconds(std::int64_t unix_ns) {
  std::int64_t s = unix_ns / kNanosPerSecond;
  if (unix_ns % kNanosPerSecond < 0) --s;
  return static_cast<std::time_t>(s);
}

std::string FormatUtc(std::int64_t unix_ns) {
  const std::time_t t = UnixSeconds(unix_ns);
  std::tm tm{};
  char buf[64];
  if (gmtime_r(&t, &tm) == nullptr ||
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(t) + "s";
  }
  return buf;
}

enum class Rule { kLast, kHourly, kDaily, kWeekly, kMonthly, kYearly };
constexpr std::size_t kRuleCount = 6;

struct RuleSpec {
  Rule rule;
  const char* reason;
  const char*
      bucket_format;  // strftime format naming the bucket; null for kLast
};

constexpr std::array<RuleSpec, kRuleCount> kRules = {{
    {Rule::kLast, "last snapshot", nullptr},
    {Rule::kHourly, "hourly snapshot", "%Y-%m-%dT%H"},
    {Rule::kDaily, "daily snapshot", "%Y-%m-%d"},
    {Rule::kWeekly, "weekly snapshot", "%G-W%V"},
    {Rule::kMonthly, "monthly snapshot", "%Y-%m"},
    {Rule::kYearly, "yearly snapshot", "%Y"},
}};

int Budget(const ForgetPolicy& policy, Rule rule) {
  switch (rule) {
    case Rule::kLast:
      return policy.last;
    case Rule::kHourly:
      return policy.hourly;
    case Rule::kDaily:
      return policy.daily;
    case Rule::kWeekly:
      return policy.weekly;
    case Rule::kMonthly:
      return policy.monthly;
    case Rule::kYearly:
      return policy.yearly;
  }
  return 0;
}

// The broken-down calendar time of a snapshot in the chosen zone. Returns false
// if the time cannot be represented (a corrupt timestamp); such a snapshot then
// forms a bucket of its own for every rule.
bool BreakDown(std::int64_t unix_ns, TimeZoneMode zone, std::tm& tm) {
  const std::time_t t = UnixSeconds(unix_ns);
  if (zone == TimeZoneMode::kUtc) return gmtime_r(&t, &tm) != nullptr;
  return localtime_r(&t, &tm) != nullptr;
}

std::string BucketName(const RuleSpec& spec, bool have_tm, const std::tm& tm,
                       const SnapshotRef& s) {
  char buf[64];
  if (!have_tm ||
      std::strftime(buf, sizeof buf, spec.bucket_format, &tm) == 0) {
    // An unrepresentable time: a bucket of its own (no strftime output starts
    // with a space, so this cannot collide with a calendar bucket).
    return " " + s.id + " " + std::to_string(s.time_unix_ns);
  }
  return buf;
}

// Newest first; equal times ordered by id so the result does not depend on
// input order.
bool NewerFirst(const SnapshotRef* a, const SnapshotRef* b) {
  if (a->time_unix_ns != b->time_unix_ns) {
    return a->time_unix_ns > b->time_unix_ns;
  }
  return a->id < b->id;
}

GroupKey KeyOf(const SnapshotRef& s, GroupBy group_by) {
  GroupKey key;
  if (HasGroupBy(group_by, GroupBy::kHost)) key.host = s.host;
  if (HasGroupBy(group_by, GroupBy::kPaths)) key.paths = SortedUnique(s.paths);
  if (HasGroupBy(group_by, GroupBy::kTags)) key.tags = SortedUnique(s.tags);
  return key;
}

struct TagRule {
  std::vector<std::string> tags;  // all required
  std::string reason;
};

std::vector<TagRule> TagRules(const ForgetPolicy& policy) {
  std::vector<TagRule> rules;
  for (const std::string& entry : policy.keep_tags) {
    std::vector<std::string> tags = SplitTags(entry);
    if (tags.empty()) continue;
    std::string reason = "tag " + Join(tags);
    rules.push_back(TagRule{std::move(tags), std::move(reason)});
  }
  return rules;
}

bool HasAllTags(const SnapshotRef& s, const std::vector<std::string>& tags) {
  return std::all_of(tags.begin(), tags.end(), [&](const std::string& tag) {
    return std::find(s.tags.begin(), s.tags.end(), tag) != s.tags.end();
  });
}

bool WithinSet(const ForgetPolicy& policy) {
  return policy.within.has_value() && policy.within->count() > 0;
}

// True if `time_ns` lies strictly less than `within` before `newest_ns`.
bool IsWithin(std::int64_t time_ns, std::int64_t newest_ns,
              std::chrono::seconds within) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  const std::int64_t within_s = within.count();
  // The window reaches beyond the representable range: everything is inside.
  if (within_s > kMax / kNanosPerSecond) return true;
  const std::int64_t within_ns = within_s * kNanosPerSecond;
  if (newest_ns < kMin + within_ns) return true;
  return time_ns > newest_ns - within_ns;
}

ForgetGroup ApplyToGroup(GroupKey key, std::vector<const SnapshotRef*> group,
                         const ForgetPolicy& policy,
                         const std::vector<TagRule>& tag_rules,
                         TimeZoneMode time_zone) {
  std::sort(group.begin(), group.end(), NewerFirst);

  std::array<int, kRuleCount> budget{};
  std::array<std::set<std::string>, kRuleCount> seen;
  for (std::size_t r = 0; r < kRuleCount; ++r) {
    budget[r] = Budget(policy, kRules[r].rule);
  }
  const bool use_within = WithinSet(policy);
  const std::string within_reason =
      use_within ? "within " + FormatDuration(*policy.within) : "";
  const std::int64_t newest_ns =
      group.empty() ? 0 : group.front()->time_unix_ns;

  ForgetGroup out;
  out.key = std::move(key);
  for (const SnapshotRef* s : group) {
    std::vector<std::string> reasons;
    std::tm tm{};
    const bool have_tm = BreakDown(s->time_unix_ns, time_zone, tm);
    for (std::size_t r = 0; r < kRuleCount; ++r) {
      if (budget[r] == 0) continue;  // unused or used up
      // Every snapshot is a "last" bucket of its own; for the other rules, a
      // newer snapshot may already represent the bucket.
      if (kRules[r].rule != Rule::kLast &&
          !seen[r].insert(BucketName(kRules[r], have_tm, tm, *s)).second) {
        continue;
      }
      reasons.emplace_back(kRules[r].reason);
      if (budget[r] > 0) --budget[r];  // negative budgets are unlimited
    }
    if (use_within && IsWithin(s->time_unix_ns, newest_ns, *policy.within)) {
      reasons.push_back(within_reason);
    }
    for (const TagRule& rule : tag_rules) {
      if (HasAllTags(*s, rule.tags)) reasons.push_back(rule.reason);
    }
    if (reasons.empty()) {
      out.remove.push_back(*s);
    } else {
      out.keep.push_back(KeptSnapshot{*s, std::move(reasons)});
    }
  }
  return out;
}

}  // namespace

bool ForgetPolicy::Empty() const {
  if (last != 0 || hourly != 0 || daily != 0 || weekly != 0 || monthly != 0 ||
      yearly != 0) {
    return false;
  }
  if (WithinSet(*this)) return false;
  return std::all_of(keep_tags.begin(), keep_tags.end(),
                     [](const std::string& e) { return SplitTags(e).empty(); });
}

Result<GroupBy> ParseGroupBy(std::string_view text) {
  GroupBy out = GroupBy::kNone;
  if (text.empty()) return out;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view word = text.substr(0, comma);
    if (word == "host" || word == "hosts") {
      out = out | GroupBy::kHost;
    } else if (word == "paths" || word == "path") {
      out = out | GroupBy::kPaths;
    } else if (word == "tags" || word == "tag") {
      out = out | GroupBy::kTags;
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "group-by: unknown field \"" + std::string(word) +
                           "\" (want host, paths or tags)");
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string FormatGroupBy(GroupBy group_by) {
  std::vector<std::string> parts;
  if (HasGroupBy(group_by, GroupBy::kHost)) parts.emplace_back("host");
  if (HasGroupBy(group_by, GroupBy::kPaths)) parts.emplace_back("paths");
  if (HasGroupBy(group_by, GroupBy::kTags)) parts.emplace_back("tags");
  return Join(parts);
}

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  const std::string quoted = "duration \"" + std::string(text) + "\"";
  if (text.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "duration: empty");
  }
  std::int64_t total = 0;
  std::string units_seen;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    const std::size_t digits_start = i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxDurationSeconds) {
        return MakeError(ErrorCode::kInvalidArgument, quoted + ": too long");
      }
    }
    if (i == digits_start) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          quoted + ": expected a number at position " + std::to_string(i));
    }
    if (i == text.size()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       quoted + ": number without unit (want y, m, d or h)");
    }
    const char unit = text[i++];
    std::int64_t unit_seconds = 0;
    switch (unit) {
      case 'y':
        unit_seconds = kSecondsPerYear;
        break;
      case 'm':
        unit_seconds = kSecondsPerMonth;
        break;
      case 'd':
        unit_seconds = kSecondsPerDay;
        break;
      case 'h':
        unit_seconds = kSecondsPerHour;
        break;
      default:
        return MakeError(ErrorCode::kInvalidArgument,
                         quoted + ": unknown unit '" + std::string(1, unit) +
                             "' (want y, m, d or h)");
    }
    if (units_seen.find(unit) != std::string::npos) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          quoted + ": unit '" + std::string(1, unit) + "' given twice");
    }
    units_seen += unit;
    if (n > kMaxDurationSeconds / unit_seconds) {
      return MakeError(ErrorCode::kInvalidArgument, quoted + ": too long");
    }
    total += n * unit_seconds;
    if (total > kMaxDurationSeconds) {
      return MakeError(ErrorCode::kInvalidArgument, quoted + ": too long");
    }
  }
  if (total == 0) {
    return MakeError(ErrorCode::kInvalidArgument, quoted + ": zero duration");
  }
  return std::chrono::seconds(total);
}

std::string FormatDuration(std::chrono::seconds duration) {
  std::int64_t s = duration.count();
  std::string out;
  if (s < 0) {
    out += '-';
    // -(s) may overflow for the minimum; such durations do not occur in
    // practice.
    s = (s == std::numeric_limits<std::int64_t>::min())
            ? std::numeric_limits<std::int64_t>::max()
            : -s;
  }
  const std::int64_t days = s / kSecondsPerDay;
  const std::int64_t hours = (s % kSecondsPerDay) / kSecondsPerHour;
  const std::int64_t rest = s % kSecondsPerHour;
  if (days != 0) out += std::to_string(days) + "d";
  if (hours != 0) out += std::to_string(hours) + "h";
  if (rest != 0 || (days == 0 && hours == 0)) out += std::to_string(rest) + "s";
  return out;
}

ForgetResult ApplyForgetPolicy(const std::vector<SnapshotRef>& snapshots,
                               const ForgetPolicy& policy, GroupBy group_by,
                               TimeZoneMode time_zone,
                               std::chrono::system_clock::time_point now) {
  // localtime_r need not re-read TZ; tzset() makes a changed TZ take effect.
  if (time_zone == TimeZoneMode::kLocal) tzset();

  ForgetResult result;
  result.policy_empty = policy.Empty();

  const std::int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          now.time_since_epoch())
          .count();
  std::map<GroupKey, std::vector<const SnapshotRef*>> groups;
  for (const SnapshotRef& s : snapshots) {
    groups[KeyOf(s, group_by)].push_back(&s);
    if (s.time_unix_ns > now_ns) {
      result.warnings.push_back(
          "snapshot " + s.id + " is dated " + FormatUtc(s.time_unix_ns) +
          ", after the current time " + FormatUtc(now_ns));
    }
  }

  const std::vector<TagRule> tag_rules = TagRules(policy);
  for (auto& [key, members] : groups) {
    if (result.policy_empty) {
      // Nothing is removed; every snapshot is listed as kept so that callers
      // can still show the groups.
      ForgetGroup group;
      group.key = key;
      std::sort(members.begin(), members.end(), NewerFirst);
      for (const SnapshotRef* s : members) {
        group.keep.push_back(KeptSnapshot{*s, {"empty policy"}});
      }
      result.groups.push_back(std::move(group));
      continue;
    }
    result.groups.push_back(
        ApplyToGroup(key, std::move(members), policy, tag_rules, time_zone));
  }
  return result;
}

std::vector<std::string> SupersededPartials(
    const std::vector<SnapshotRef>& snapshots) {
  auto partial = [](const SnapshotRef& s) {
    return std::find(s.tags.begin(), s.tags.end(), "partial") != s.tags.end();
  };
  auto same_source = [](const SnapshotRef& a, const SnapshotRef& b) {
    std::vector<std::string> pa = a.paths, pb = b.paths;
    std::sort(pa.begin(), pa.end());
    std::sort(pb.begin(), pb.end());
    return a.host == b.host && pa == pb;
  };
  std::vector<std::string> out;
  for (const auto& p : snapshots) {
    if (!partial(p)) continue;
    for (const auto& c : snapshots)
      if (!partial(c) && c.time_unix_ns > p.time_unix_ns && same_source(p, c)) {
        out.push_back(p.id);
        break;
      }
  }
  return out;
}

}  // namespace efs2s3::policy
