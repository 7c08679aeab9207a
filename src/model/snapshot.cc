#include "model/snapshot.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>

namespace efs2s3::model {

using json = nlohmann::json;

nlohmann::json SummaryToJson(const SnapshotSummary& m) {
  return {{"files_new", m.files_new},
          {"files_changed", m.files_changed},
          {"files_unchanged", m.files_unchanged},
          {"dirs_new", m.dirs_new},
          {"dirs_changed", m.dirs_changed},
          {"dirs_unchanged", m.dirs_unchanged},
          {"other_nodes", m.other_nodes},
          {"errors", m.errors},
          {"changed_while_read", m.changed_while_read},
          {"incomplete", m.incomplete},
          {"bytes_read", m.bytes_read},
          {"bytes_total", m.bytes_total},
          {"bytes_added", m.bytes_added},
          {"bytes_stored", m.bytes_stored},
          {"blobs_added", m.blobs_added},
          {"duration_seconds", m.duration_seconds}};
}

std::string EncodeSnapshot(const Snapshot& s) {
  json j = json::object();
  j["version"] = 1;
  j["time"] = FormatTime(s.time_ns);
  j["time_ns"] = s.time_ns;
  j["hostname"] = s.hostname;
  j["username"] = s.username;
  j["paths"] = s.paths;
  j["tags"] = s.tags;
  j["excludes"] = s.excludes;
  j["tree"] = s.tree.Hex();
  if (s.parent) j["parent"] = s.parent->Hex();
  if (s.original) j["original"] = s.original->Hex();
  j["program_version"] = s.program_version;
  j["summary"] = SummaryToJson(s.summary);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Snapshot> DecodeSnapshot(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return MakeError(ErrorCode::kCorruption, "snapshot is not a JSON object");
  Snapshot s;
  try {
    if (j.value("version", 0) != 1)
      return MakeError(ErrorCode::kUnsupported, "unknown snapshot version");
    s.time_ns = j.at("time_ns").get<std::int64_t>();
    s.hostname = j.value("hostname", "");
    s.username = j.value("username", "");
    s.paths = j.value("paths", std::vector<std::string>{});
    s.tags = j.value("tags", std::vector<std::string>{});
    s.excludes = j.value("excludes", std::vector<std::string>{});
    auto tree = Id::FromHex(j.at("tree").get<std::string>());
    if (!tree)
      return MakeError(ErrorCode::kCorruption, "snapshot has a bad tree ID");
    s.tree = *tree;
    if (j.contains("parent"))
      s.parent = Id::FromHex(j["parent"].get<std::string>());
    if (j.contains("original"))
      s.original = Id::FromHex(j["original"].get<std::string>());
    s.program_version = j.value("program_version", "");
    if (j.contains("summary")) {
      const json& m = j["summary"];
      SnapshotSummary& o = s.summary;
      o.files_new = m.value("files_new", 0ULL);
      o.files_changed = m.value("files_changed", 0ULL);
      o.files_unchanged = m.value("files_unchanged", 0ULL);
      o.dirs_new = m.value("dirs_new", 0ULL);
      o.dirs_changed = m.value("dirs_changed", 0ULL);
      o.dirs_unchanged = m.value("dirs_unchanged", 0ULL);
      o.other_nodes = m.value("other_nodes", 0ULL);
      o.errors = m.value("errors", 0ULL);
      o.changed_while_read = m.value("changed_while_read", 0ULL);
      o.incomplete = m.value("incomplete", 0ULL);
      o.bytes_read = m.value("bytes_read", 0ULL);
      o.bytes_total = m.value("bytes_total", 0ULL);
      o.bytes_added = m.value("bytes_added", 0ULL);
      o.bytes_stored = m.value("bytes_stored", 0ULL);
      o.blobs_added = m.value("blobs_added", 0ULL);
      o.duration_seconds = m.value("duration_seconds", 0.0);
    }
  } catch (const json::exception& e) {
    return MakeError(ErrorCode::kCorruption,
                     std::string("snapshot: ") + e.what());
  }
  return s;
}

std::string FormatTime(std::int64_t unix_ns, bool local) {
  std::int64_t sec = unix_ns / 1000000000;
  std::int64_t nsec = unix_ns % 1000000000;
  if (nsec < 0) {
    nsec += 1000000000;
    --sec;
  }
  time_t t = static_cast<time_t>(sec);
  struct tm tm {};
  if (local) {
    localtime_r(&t, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
  }
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, nsec);
}

Result<std::int64_t> ParseTime(std::string_view text) {
  std::string s(text);
  struct tm tm {};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  bool local = false;
  if (!rest) {
    rest = strptime(s.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
    local = true;
  }
  if (!rest)
    return MakeError(ErrorCode::kInvalidArgument,
                     "cannot parse time '" + s + "'");
  std::int64_t nsec = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 9) {
        nsec = nsec * 10 + (*rest - '0');
        ++digits;
      }
      ++rest;
    }
    while (digits++ < 9) nsec *= 10;
  }
  std::int64_t offset = 0;
  if (*rest == 'Z') {
    ++rest;
    local = false;
  } else if (*rest == '+' || *rest == '-') {
    int sign = *rest == '-' ? -1 : 1;
    // Exactly "+HH:MM": sscanf took "+1:2" too, and the 6 bytes skipped
    // below then ran past the end of the text (found by the property test
    // under ASan).
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (!digit(rest[1]) || !digit(rest[2]) || rest[3] != ':' ||
        !digit(rest[4]) || !digit(rest[5]))
      return MakeError(ErrorCode::kInvalidArgument,
                       "bad time zone offset in '" + s + "'");
    int hh = (rest[1] - '0') * 10 + (rest[2] - '0');
    int mm = (rest[4] - '0') * 10 + (rest[5] - '0');
    offset = sign * (hh * 3600 + mm * 60);
    rest += 6;
    local = false;
  } else if (!local) {
    local = true;
  }
  if (*rest != '\0')
    return MakeError(ErrorCode::kInvalidArgument,
                     "trailing text in time '" + s + "'");
  time_t t;
  if (local) {
    tm.tm_isdst = -1;
    t = mktime(&tm);
  } else {
    t = timegm(&tm) - offset;
  }
  // Nanoseconds since 1970 in 64 bits reach the years 1677 to 2262.
  if (t > std::numeric_limits<std::int64_t>::max() / 1000000000 - 1 ||
      t < std::numeric_limits<std::int64_t>::min() / 1000000000 + 1)
    return MakeError(ErrorCode::kInvalidArgument,
                     "time out of range in '" + s + "'");
  return static_cast<std::int64_t>(t) * 1000000000 + nsec;
}

bool IsShardSnapshot(const Snapshot& snapshot) {
  return std::any_of(
      snapshot.tags.begin(), snapshot.tags.end(),
      [](const std::string& t) { return t.rfind("shard:", 0) == 0; });
}

}  // namespace efs2s3::model
