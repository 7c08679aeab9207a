// Retention policy for `forget`: which snapshots to keep and which to remove.
//
// ApplyForgetPolicy is a pure function of its arguments (plus the process time
// zone when TimeZoneMode::kLocal is used). It reads and writes no repository;
// `forget` plans with it, prints or executes the plan. docs/FORGET.md describes
// the semantics for users; the golden tests in tests/testdata/forget/ pin them
// down.
//
// Algorithm, per group of snapshots (see GroupBy):
//
//   sort the group newest first (ties: smaller id first)
//   for each snapshot s, newest to oldest:
//     for each count rule r in (last, hourly, daily, weekly, monthly, yearly):
//       b = bucket of s for r        // last: s itself; others: hour/day/ISO
//       week/... if b was not seen before by r:
//         mark b seen
//         if r still has budget: keep s ("<r> snapshot"), spend one
//     if within is set and s.time > newest.time - within: keep s ("within <d>")
//     for each keep_tags entry that s carries: keep s ("tag <entry>")
//   everything not kept is removed
//
// Hence a bucket keeps its newest snapshot; an N counts buckets that contain a
// snapshot (empty hours, days, ... are not counted); rules combine as a union.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace efs2s3::policy {

// What the policy needs to know of a snapshot.
struct SnapshotRef {
  std::string id;
  std::int64_t time_unix_ns = 0;  // when the backup started
  std::string host;
  std::vector<std::string> paths;
  std::vector<std::string> tags;
};

// The user's retention rules. Counts: 0 = rule unused, N > 0 = keep the newest
// snapshot of each of the N newest buckets that hold a snapshot, negative =
// unlimited (every bucket that holds a snapshot).
struct ForgetPolicy {
  int last = 0;
  int hourly = 0;
  int daily = 0;
  int weekly = 0;  // ISO 8601 weeks (Monday to Sunday, %G-%V)
  int monthly = 0;
  int yearly = 0;
  // Keep every snapshot taken less than `within` before the newest snapshot of
  // its group (strictly: a snapshot exactly `within` older is not kept). A
  // value <= 0 is treated as unset.
  std::optional<std::chrono::seconds> within;
  // Each entry is a tag or a comma-separated list of tags ("prod,db"); a
  // snapshot carrying all tags of at least one entry is kept. Empty entries are
  // ignored.
  std::vector<std::string> keep_tags;

  // True if no rule is set: applying it keeps everything.
  bool Empty() const;
};

// How snapshots are grouped before the policy is applied to each group
// separately. A bit set; GroupBy::kNone puts all snapshots into one group.
enum class GroupBy : unsigned {
  kNone = 0,
  kHost = 1u << 0,
  kPaths = 1u << 1,
  kTags = 1u << 2,
};

constexpr GroupBy operator|(GroupBy a, GroupBy b) {
  return static_cast<GroupBy>(static_cast<unsigned>(a) |
                              static_cast<unsigned>(b));
}
constexpr GroupBy operator&(GroupBy a, GroupBy b) {
  return static_cast<GroupBy>(static_cast<unsigned>(a) &
                              static_cast<unsigned>(b));
}
constexpr bool HasGroupBy(GroupBy set, GroupBy bit) {
  return (set & bit) != GroupBy::kNone;
}

// The default of `forget --group-by`.
inline constexpr GroupBy kDefaultGroupBy = GroupBy::kHost | GroupBy::kPaths;

// Parses a comma-separated list of "host", "paths", "tags" (the forms "hosts",
// "path" and "tag" are accepted too; repetitions are harmless). "" is
// GroupBy::kNone. Returns kInvalidArgument for any other word, empty element or
// whitespace.
Result<GroupBy> ParseGroupBy(std::string_view text);

// The canonical spelling, "host,paths,tags" order; "" for kNone.
std::string FormatGroupBy(GroupBy group_by);

// Parses a restic-style duration: one or more <digits><unit> terms, unit one of
// y (year = 365 days), m (month = 30 days), d (day = 24 hours), h (hour), each
// unit at most once, in any order: "1y2m3d4h", "30d", "36h". Months and years
// are fixed lengths, not calendar arithmetic, because the result is an exact
// duration. Returns kInvalidArgument for an empty string, unknown unit, missing
// number or unit, repeated unit, a total of zero, or a value beyond 10,000
// years.
Result<std::chrono::seconds> ParseDuration(std::string_view text);

// Renders a duration for humans and keep reasons, in days and hours only, so
// that it is unambiguous: 30d -> "30d", 36h -> "1d12h", 1y -> "365d". Residual
// minutes and seconds appear as "<n>s"; zero is "0s".
std::string FormatDuration(std::chrono::seconds duration);

// Which calendar the hour/day/week/month/year buckets follow.
enum class TimeZoneMode {
  kLocal,  // the process time zone (TZ environment variable), via localtime_r
  kUtc,    // UTC, via gmtime_r
};

// The fields a group was formed by; fields not in the GroupBy set stay empty.
// paths and tags are sorted and deduplicated.
struct GroupKey {
  std::string host;
  std::vector<std::string> paths;
  std::vector<std::string> tags;

  auto operator<=>(const GroupKey&) const = default;
  bool operator==(const GroupKey&) const = default;
};

struct KeptSnapshot {
  SnapshotRef snapshot;
  // Why it is kept, in rule order: "last snapshot", "hourly snapshot",
  // "daily snapshot", "weekly snapshot", "monthly snapshot", "yearly snapshot",
  // "within <FormatDuration>", "tag <entry>"; "empty policy" if the policy is
  // empty.
  std::vector<std::string> reasons;
};

struct ForgetGroup {
  GroupKey key;
  std::vector<KeptSnapshot> keep;   // newest first
  std::vector<SnapshotRef> remove;  // newest first
};

struct ForgetResult {
  // The policy was empty: every snapshot is kept and the caller should say so
  // ("no policy given: nothing removed") rather than report a plan.
  bool policy_empty = false;
  std::vector<ForgetGroup> groups;  // ordered by key
  // Human-readable remarks that do not change the result, e.g. snapshots dated
  // after `now` (a host with a wrong clock): such a snapshot counts as the
  // newest of its group, anchors keep-within and takes a "last" slot.
  std::vector<std::string> warnings;
};

// Applies `policy` to each group of `snapshots` (see the file comment).
// `now` is used only for warnings; keep-within is relative to the newest
// snapshot of each group, as in restic, so that a host that stops backing up
// does not see its snapshots expire one by one. With TimeZoneMode::kLocal,
// reads the TZ environment (calls tzset()); this is not thread-safe against
// concurrent setenv(). Otherwise thread-safe.
ForgetResult ApplyForgetPolicy(const std::vector<SnapshotRef>& snapshots,
                               const ForgetPolicy& policy, GroupBy group_by,
                               TimeZoneMode time_zone,
                               std::chrono::system_clock::time_point now);

// Partial snapshots (tag "partial": a checkpoint, or an interrupted run) for
// which a later complete snapshot of the same host and paths exists: the run
// that completed would have removed them, but could not (backup credentials
// without delete rights). forget removes them whatever the policy. IDs in
// input order.
std::vector<std::string> SupersededPartials(
    const std::vector<SnapshotRef>& snapshots);

}  // namespace efs2s3::policy
