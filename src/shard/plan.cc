#include "shard/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/bytes.h"
#include "crypto/crypto.h"

namespace efs2s3::shard {

std::vector<std::string> Components(std::string_view abs_path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < abs_path.size()) {
    size_t j = abs_path.find('/', i);
    if (j == std::string_view::npos) j = abs_path.size();
    if (j > i) out.emplace_back(abs_path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

int ComparePaths(const std::vector<std::string>& a,
                 const std::vector<std::string>& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i)
    if (int c = a[i].compare(b[i])) return c < 0 ? -1 : 1;
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

namespace {
// The index of the first cut after `p` in walk order.
size_t FirstCutAfter(const std::vector<std::string>& cuts,
                     const std::vector<std::string>& p) {
  size_t lo = 0, hi = cuts.size();
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ComparePaths(Components(cuts[mid]), p) <= 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

bool IsProperPrefix(const std::vector<std::string>& p,
                    const std::vector<std::string>& of) {
  return p.size() < of.size() && std::equal(p.begin(), p.end(), of.begin());
}

std::string JoinComponents(const std::vector<std::string>& c) {
  if (c.empty()) return "/";
  std::string out;
  for (const auto& s : c) out += "/" + s;
  return out;
}
}  // namespace

int Plan::Owner(std::string_view abs_path) const {
  return static_cast<int>(FirstCutAfter(cuts, Components(abs_path)));
}

bool Plan::Split(std::string_view abs_path) const {
  const auto p = Components(abs_path);
  const size_t i = FirstCutAfter(cuts, p);
  return i < cuts.size() && IsProperPrefix(p, Components(cuts[i]));
}

std::string Plan::Identity() const {
  return HexEncode(crypto::Sha256(AsBytes(EncodePlan(*this)))).substr(0, 16);
}

std::string EncodePlan(const Plan& plan) {
  nlohmann::json j;
  j["version"] = 1;
  j["run"] = plan.run_id;
  j["shards"] = plan.shards;
  auto hexes = [](const std::vector<std::string>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& s : v) a.push_back(HexEncode(AsBytes(s)));
    return a;
  };
  j["paths"] = hexes(plan.paths);
  j["cuts"] = hexes(plan.cuts);
  return j.dump();
}

Result<Plan> DecodePlan(std::string_view json_text) {
  auto bad = [](const std::string& what) {
    return MakeError(ErrorCode::kCorruption, "shard plan: " + what);
  };
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  Plan plan;
  try {
    if (j.at("version").get<int>() != 1) return bad("unknown version");
    plan.run_id = j.at("run").get<std::string>();
    plan.shards = j.at("shards").get<int>();
    for (const char* key : {"paths", "cuts"}) {
      auto& out = std::string_view(key) == "paths" ? plan.paths : plan.cuts;
      for (const auto& h : j.at(key)) {
        auto b = HexDecode(h.get<std::string>());
        if (!b || b->empty() || (*b)[0] != '/') return bad("bad path");
        out.emplace_back(AsString(*b));
      }
    }
  } catch (const nlohmann::json::exception&) {
    return bad("missing or mistyped field");
  }
  if (plan.shards < 1 || plan.shards > 1024 ||
      plan.cuts.size() >= static_cast<size_t>(plan.shards))
    return bad("bad shard count");
  for (size_t i = 1; i < plan.cuts.size(); ++i)
    if (ComparePaths(Components(plan.cuts[i - 1]), Components(plan.cuts[i])) >
        0)
      return bad("cuts out of order");
  return plan;
}

namespace {
struct Unit {
  std::vector<std::string> path;
  std::uint64_t weight = 0;
};

void Linearize(const WeightTree& node, std::vector<std::string>& path,
               std::uint64_t share, std::vector<Unit>& units) {
  if (!node.dir || node.children.empty() || node.weight <= share) {
    units.push_back({path, node.weight});
    return;
  }
  std::uint64_t below = 0;
  for (const auto& c : node.children) below += c.weight;
  units.push_back({path, node.weight > below ? node.weight - below : 0});
  for (const auto& c : node.children) {
    path.push_back(c.name);
    Linearize(c, path, share, units);
    path.pop_back();
  }
}
}  // namespace

Plan MakePlan(const WeightTree& root, int shards) {
  Plan plan;
  plan.shards = shards;
  if (shards < 2) return plan;
  const std::uint64_t total = std::max<std::uint64_t>(root.weight, 1);
  std::vector<Unit> units;
  std::vector<std::string> path;
  Linearize(root, path, total / static_cast<std::uint64_t>(shards), units);
  // before[j]: the weight of units[0..j).
  std::vector<std::uint64_t> before(units.size() + 1, 0);
  for (size_t j = 0; j < units.size(); ++j)
    before[j + 1] = before[j] + units[j].weight;
  size_t prev = 1;  // shard 0 always owns "/"
  for (int k = 1; k < shards; ++k) {
    // k * total / shards, without overflow.
    const std::uint64_t n = static_cast<std::uint64_t>(shards);
    const std::uint64_t target =
        before.back() / n * static_cast<std::uint64_t>(k) +
        before.back() % n * static_cast<std::uint64_t>(k) / n;
    size_t j = prev;
    while (before[j] < target) ++j;  // before.back() is the total
    if (j > prev && target - before[j - 1] < before[j] - target) --j;
    if (j >= units.size()) break;  // the rest own nothing
    plan.cuts.push_back(JoinComponents(units[j].path));
    prev = j;
  }
  return plan;
}

Result<ShardSpec> ParseShardSpec(std::string_view text) {
  auto usage = [&](const std::string& why) {
    return MakeError(ErrorCode::kUsage,
                     fmt::format("--shard {}: {}", text, why));
  };
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return usage("expected I/N");
  auto number = [](std::string_view s, int* out) {
    if (s.empty() || s.size() > 6) return false;
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
  };
  ShardSpec spec;
  if (!number(text.substr(slash + 1), &spec.count) || spec.count < 1 ||
      spec.count > 1024)
    return usage("N must be a number from 1 to 1024");
  std::string_view i = text.substr(0, slash);
  std::string from;
  if (i == "auto") {
    for (const char* var :
         {"JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"})
      if (const char* v = std::getenv(var); v && *v) {
        from = var;
        i = v;
        break;
      }
    if (from.empty())
      return usage(
          "auto needs $JOB_COMPLETION_INDEX or $AWS_BATCH_JOB_ARRAY_INDEX");
  }
  if (!number(i, &spec.index) || spec.index >= spec.count)
    return usage(fmt::format("I{} must be a number from 0 to {}",
                             from.empty() ? "" : " (from $" + from + ")",
                             spec.count - 1));
  return spec;
}

Result<void> ValidateRunId(std::string_view run_id) {
  const bool ok = !run_id.empty() && run_id.size() <= 128 &&
                  std::all_of(run_id.begin(), run_id.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                           c == '-';
                  });
  if (ok) return Ok();
  return MakeError(ErrorCode::kUsage,
                   fmt::format("run ID '{}': must be 1 to 128 of A-Z a-z 0-9 "
                               ". _ -",
                               run_id));
}

std::string ShardTag(const std::string& run_id, int index, int count) {
  return fmt::format("shard:{}:{}/{}", run_id, index, count);
}
std::string PlanTag(const Plan& plan) {
  return "shard-plan:" + plan.Identity();
}
std::string RunTag(const std::string& run_id) { return "run:" + run_id; }

}  // namespace efs2s3::shard
