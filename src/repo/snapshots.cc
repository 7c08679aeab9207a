#include "repo/snapshots.h"

#include <algorithm>
#include <string>
#include <vector>

namespace efs2s3::repo {

namespace {
// "snapshot ID prefix 'ab' is ambiguous: 3 snapshots match: ab12cd34 (TIME
// HOST PATHS), …": each candidate with enough digits to tell it from the
// others, its time, host and paths, on one line.
std::string AmbiguousPrefix(
    const std::string& spec,
    const std::vector<const std::pair<Id, model::Snapshot>*>& found) {
  constexpr size_t kShown = 10;
  size_t width = 8;
  for (size_t i = 0; i < found.size(); ++i)
    for (size_t k = i + 1; k < found.size(); ++k) {
      std::string a = found[i]->first.Hex(), b = found[k]->first.Hex();
      size_t common = 0;
      while (common < a.size() && a[common] == b[common]) ++common;
      width = std::max(width, common + 1);
    }
  std::string out = "snapshot ID prefix '" + spec +
                    "' is ambiguous: " + std::to_string(found.size()) +
                    " snapshots match:";
  for (size_t i = 0; i < found.size() && i < kShown; ++i) {
    const auto& [id, s] = *found[i];
    std::string paths;
    for (const auto& p : s.paths) paths += " " + p;
    out += (i ? "; " : " ") + id.Hex().substr(0, width) + " (" +
           model::FormatTime(s.time_ns) + " " + s.hostname + paths + ")";
  }
  if (found.size() > kShown)
    out += "; and " + std::to_string(found.size() - kShown) + " more";
  return out;
}
}  // namespace

Result<std::pair<Id, model::Snapshot>> FindSnapshotIn(
    const SnapshotList& all, const std::string& spec, const std::string& host,
    const std::vector<std::string>& paths) {
  if (spec == "latest") {
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (!host.empty() && it->second.hostname != host) continue;
      if (!paths.empty()) {
        auto a = it->second.paths, b = paths;
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        if (a != b) continue;
      }
      return *it;
    }
    return MakeError(ErrorCode::kNotFound,
                     "no snapshot matches 'latest'" +
                         (host.empty() ? "" : " for host " + host));
  }
  std::vector<const std::pair<Id, model::Snapshot>*> found;
  if (!spec.empty())
    for (const auto& s : all)
      if (s.first.Hex().rfind(spec, 0) == 0) found.push_back(&s);
  if (found.empty())
    return MakeError(ErrorCode::kNotFound, "snapshot '" + spec + "' not found");
  if (found.size() > 1)
    return MakeError(ErrorCode::kInvalidArgument, AmbiguousPrefix(spec, found));
  return *found[0];
}

Result<std::pair<Id, model::Snapshot>> FindSnapshotIn(
    const SnapshotList& all, const std::vector<UnreadableSnapshot>& unreadable,
    const std::string& spec, const std::string& host,
    const std::vector<std::string>& paths,
    std::vector<UnreadableSnapshot>* skipped) {
  if (spec == "latest") {
    // Any unreadable snapshot could be newer than the answer, or the only one
    // that matches: it is skipped, and the caller says so.
    if (skipped)
      skipped->insert(skipped->end(), unreadable.begin(), unreadable.end());
    return FindSnapshotIn(all, spec, host, paths);
  }
  std::vector<const UnreadableSnapshot*> damaged;
  if (!spec.empty())
    for (const auto& u : unreadable)
      if (u.id.Hex().rfind(spec, 0) == 0) damaged.push_back(&u);
  if (damaged.empty()) return FindSnapshotIn(all, spec, host, paths);
  auto readable = FindSnapshotIn(all, spec, host, paths);
  if (!readable && readable.error().code == ErrorCode::kNotFound &&
      damaged.size() == 1)
    return MakeError(ErrorCode::kCorruption,
                     "snapshots/" + damaged[0]->id.Hex() +
                         ": unreadable: " + damaged[0]->reason);
  std::string out;
  if (readable)
    out = "snapshot ID prefix '" + spec + "' is ambiguous: it matches " +
          readable->first.Hex() + ", and unreadable";
  else if (readable.error().code == ErrorCode::kInvalidArgument)
    out = readable.error().message + "; and unreadable";
  else
    out = "snapshot ID prefix '" + spec + "' is ambiguous: unreadable";
  for (size_t i = 0; i < damaged.size(); ++i)
    out += (i ? ", " : " ") + damaged[i]->id.Hex();
  return MakeError(ErrorCode::kInvalidArgument, out);
}

}  // namespace efs2s3::repo
