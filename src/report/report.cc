#include "report/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>

#include "storage/storage_class.h"

namespace efs2s3::report {

namespace {

using nlohmann::json;
constexpr double kGiB = 1024.0 * 1024 * 1024;

std::string ClassName(const std::string& c) {
  return c.empty() ? "STANDARD" : c;
}

std::string Day(std::int64_t unix_seconds) {
  std::time_t t = unix_seconds;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string GroupName(const model::Snapshot& s) {
  return fmt::format("{} {}", s.hostname, fmt::join(s.paths, ","));
}

bool IsPartial(const model::Snapshot& s) {
  return std::find(s.tags.begin(), s.tags.end(), "partial") != s.tags.end();
}

json Ratio(double num, double den) {
  if (den <= 0) return nullptr;
  return num / den;
}

// Seconds since the epoch of a job report's time field, 0 if absent.
std::int64_t ReportTime(const json& run, const char* key) {
  auto it = run.find(key);
  if (it == run.end() || !it->is_string()) return 0;
  auto t = model::ParseTime(it->get<std::string>());
  return t ? *t / 1000000000 : 0;
}

json Timeline(
    const std::vector<const std::pair<std::string, model::Snapshot>*>& snaps) {
  std::map<std::string, json> groups;
  for (const auto* p : snaps) {
    const model::Snapshot& s = p->second;
    json& g = groups[GroupName(s)];
    if (g.is_null())
      g = {{"host", s.hostname},
           {"paths", s.paths},
           {"snapshots", json::array()}};
    const model::SnapshotSummary& m = s.summary;
    g["snapshots"].push_back({{"id", p->first},
                              {"time", model::FormatTime(s.time_ns)},
                              {"tags", s.tags},
                              {"partial", IsPartial(s)},
                              {"files_new", m.files_new},
                              {"files_changed", m.files_changed},
                              {"files_unchanged", m.files_unchanged},
                              {"bytes_total", m.bytes_total},
                              {"bytes_added", m.bytes_added},
                              {"bytes_stored", m.bytes_stored},
                              {"duration_seconds", m.duration_seconds},
                              {"errors", m.errors}});
  }
  json out = json::array();
  for (auto& [name, g] : groups) out.push_back(std::move(g));
  return out;
}

json Growth(
    const ReportInput& in,
    const std::vector<const std::pair<std::string, model::Snapshot>*>& all) {
  // Per snapshot: what the backups stored, cumulated.
  json per_snapshot = json::array();
  std::uint64_t stored = 0, total = 0, added = 0;
  for (const auto* p : all) {
    const model::SnapshotSummary& m = p->second.summary;
    stored += m.bytes_stored;
    total += m.bytes_total;
    added += m.bytes_added;
    if (p->second.time_ns / 1000000000 < in.since) continue;
    per_snapshot.push_back({{"id", p->first},
                            {"time", model::FormatTime(p->second.time_ns)},
                            {"bytes_stored_cumulative", stored}});
  }
  // Per day of the packs' writes: bytes per storage class, cumulated.
  std::map<std::string, std::map<std::string, std::uint64_t>> by_day;
  std::map<std::string, std::uint64_t> by_class;
  std::uint64_t pack_bytes = 0;
  for (const PackInfo& p : in.packs) {
    by_day[p.mtime ? Day(p.mtime) : "unknown"][ClassName(p.storage_class)] +=
        p.size;
    by_class[ClassName(p.storage_class)] += p.size;
    pack_bytes += p.size;
  }
  json per_day = json::array();
  std::map<std::string, std::uint64_t> running;
  const std::string since_day = in.since ? Day(in.since) : "";
  for (const auto& [day, classes] : by_day) {
    for (const auto& [c, b] : classes) running[c] += b;
    if (day < since_day) continue;
    per_day.push_back({{"date", day}, {"bytes_by_class", running}});
  }
  json cost = nullptr;
  json cost_by_class = json::object();
  if (in.object_store) {
    double sum = 0;
    for (const auto& [c, b] : by_class) {
      auto price = PricePerGiBMonth(c);
      if (!price) {
        cost_by_class[c] = nullptr;
        continue;
      }
      double usd = static_cast<double>(b) / kGiB * *price;
      cost_by_class[c] = usd;
      sum += usd;
    }
    cost = sum;
  }
  return {{"stored_bytes", pack_bytes},
          {"stored_bytes_by_class", by_class},
          {"packs", in.packs.size()},
          {"logical_bytes", total},
          {"bytes_added", added},
          {"bytes_stored_by_backups", stored},
          // Bytes the snapshots hold per byte their backups added (dedup),
          // and per byte stored for those (compression and encryption).
          {"dedup_ratio",
           Ratio(static_cast<double>(total), static_cast<double>(added))},
          {"compression_ratio",
           Ratio(static_cast<double>(added), static_cast<double>(stored))},
          {"monthly_cost_usd", cost},
          {"monthly_cost_usd_by_class", cost_by_class},
          {"per_snapshot", per_snapshot},
          {"per_day", per_day}};
}

json Retention(const ReportInput& in) {
  json out = {{"policy_source", in.policy_source},
              {"snapshots", json::array()},
              {"keep", 0},
              {"remove", 0}};
  if (!in.policy) {
    out["policy"] = nullptr;
    return out;
  }
  const policy::ForgetPolicy& p = *in.policy;
  out["policy"] = {
      {"keep_last", p.last},
      {"keep_hourly", p.hourly},
      {"keep_daily", p.daily},
      {"keep_weekly", p.weekly},
      {"keep_monthly", p.monthly},
      {"keep_yearly", p.yearly},
      {"keep_within", p.within ? policy::FormatDuration(*p.within) : ""},
      {"keep_tags", p.keep_tags},
      {"group_by", policy::FormatGroupBy(in.group_by)}};
  std::vector<policy::SnapshotRef> refs, shards;
  for (const auto& [id, s] : in.snapshots)
    (model::IsShardSnapshot(s) ? shards : refs)
        .push_back({id, s.time_ns, s.hostname, s.paths, s.tags});
  json& list = out["snapshots"];
  int keep = 0, remove = 0;
  auto add = [&](const policy::SnapshotRef& r, bool kept,
                 const std::vector<std::string>& reasons) {
    list.push_back({{"id", r.id},
                    {"time", model::FormatTime(r.time_unix_ns)},
                    {"host", r.host},
                    {"paths", r.paths},
                    {"action", kept ? "keep" : "remove"},
                    {"reasons", reasons}});
    ++(kept ? keep : remove);
  };
  // As forget does: a worker's share of a sharded run is left to the merge
  // (`forget ID` removes one of a run given up).
  for (const auto& r : shards)
    add(r, true, {"shard of a sharded run: the merge replaces it"});
  std::vector<std::string> superseded = policy::SupersededPartials(refs);
  for (const auto& r : refs)
    if (std::find(superseded.begin(), superseded.end(), r.id) !=
        superseded.end())
      add(r, false, {"partial snapshot superseded by a complete one"});
  std::erase_if(refs, [&](const policy::SnapshotRef& r) {
    return std::find(superseded.begin(), superseded.end(), r.id) !=
           superseded.end();
  });
  auto result = policy::ApplyForgetPolicy(
      refs, p, in.group_by, policy::TimeZoneMode::kUtc,
      std::chrono::system_clock::from_time_t(in.now));
  for (const auto& g : result.groups) {
    for (const auto& k : g.keep) add(k.snapshot, true, k.reasons);
    for (const auto& r : g.remove) add(r, false, {});
  }
  out["keep"] = keep;
  out["remove"] = remove;
  return out;
}

// Job runs (newest first), and the last check and drill steps that ran.
json Jobs(const ReportInput& in) {
  std::vector<const json*> runs;
  for (const json& r : in.job_runs)
    if (r.is_object() && ReportTime(r, "started") >= in.since)
      runs.push_back(&r);
  std::sort(runs.begin(), runs.end(), [](const json* a, const json* b) {
    return ReportTime(*a, "started") > ReportTime(*b, "started");
  });
  json list = json::array();
  json last_check = nullptr, last_drill = nullptr;
  for (const json* r : runs) {
    json steps = json::array();
    if (auto it = r->find("steps"); it != r->end() && it->is_array()) {
      for (const json& s : *it) {
        if (!s.is_object()) continue;
        std::string name = s.value("name", "");
        std::string status = s.value("status", "");
        steps.push_back({{"name", name}, {"status", status}});
        if (status == "skipped") continue;
        json figures = s.value("figures", json::object());
        json result = {{"job", r->value("job", "")},
                       {"time", r->value("started", "")},
                       {"status", status},
                       {"exit_code", s.value("exit_code", 0)},
                       {"figures", figures},
                       {"errors", s.value("errors", json::array())}};
        if (name == "check" && last_check.is_null()) last_check = result;
        if (name == "drill" && last_drill.is_null()) last_drill = result;
      }
    }
    list.push_back({{"job", r->value("job", "")},
                    {"started", r->value("started", "")},
                    {"finished", r->value("finished", "")},
                    {"status", r->value("status", "")},
                    {"exit_code", r->value("exit_code", 0)},
                    {"snapshot_id", r->value("snapshot_id", "")},
                    {"steps", steps}});
  }
  return {
      {"runs", list}, {"last_check", last_check}, {"last_drill", last_drill}};
}

}  // namespace

std::optional<double> PricePerGiBMonth(const std::string& storage_class) {
  // The one price table (storage/storage_class.h).
  const storage::StorageClassInfo* c =
      storage::FindStorageClass(ClassName(storage_class));
  if (!c) return std::nullopt;
  return c->usd_per_gb_month;
}

json BuildReport(const ReportInput& in) {
  std::vector<const std::pair<std::string, model::Snapshot>*> all, shown;
  for (const auto& p : in.snapshots) all.push_back(&p);
  std::sort(all.begin(), all.end(), [](const auto* a, const auto* b) {
    return a->second.time_ns != b->second.time_ns
               ? a->second.time_ns < b->second.time_ns
               : a->first < b->first;
  });
  for (const auto* p : all)
    if (p->second.time_ns / 1000000000 >= in.since) shown.push_back(p);
  json jobs = Jobs(in);
  return {{"message_type", "report"},
          {"generated", model::FormatTime(in.now * 1000000000)},
          {"repository", in.repository},
          {"since", in.since ? json(model::FormatTime(in.since * 1000000000))
                             : json(nullptr)},
          {"snapshots", shown.size()},
          {"timeline", Timeline(shown)},
          {"growth", Growth(in, all)},
          {"retention", Retention(in)},
          {"last_check", jobs["last_check"]},
          {"last_drill", jobs["last_drill"]},
          {"job_runs", jobs["runs"]}};
}

}  // namespace efs2s3::report
