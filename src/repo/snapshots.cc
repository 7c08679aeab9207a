#include "repo/snapshots.h"

#include <algorithm>
#include <optional>

namespace efs2s3::repo {

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
  std::optional<std::pair<Id, model::Snapshot>> found;
  for (const auto& s : all) {
    if (s.first.Hex().rfind(spec, 0) == 0) {
      if (found)
        return MakeError(ErrorCode::kInvalidArgument,
                         "snapshot ID prefix '" + spec + "' is ambiguous");
      found = s;
    }
  }
  if (!found || spec.empty())
    return MakeError(ErrorCode::kNotFound, "snapshot '" + spec + "' not found");
  return *found;
}

}  // namespace efs2s3::repo
