#include "archiver/parent.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace efs2s3::archiver {

std::string HostOrThis(const std::string& host) {
  if (!host.empty()) return host;
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string NormalizeBackupPath(const std::string& path) {
  std::error_code ec;
  std::string a =
      std::filesystem::absolute(path, ec).lexically_normal().string();
  while (a.size() > 1 && a.back() == '/') a.pop_back();
  return a;
}

bool IsPartial(const model::Snapshot& snapshot) {
  return std::find(snapshot.tags.begin(), snapshot.tags.end(), "partial") !=
         snapshot.tags.end();
}

Result<ParentChoice> SelectParent(const repo::SnapshotList& given,
                                  const std::string& host,
                                  const std::vector<std::string>& paths,
                                  const std::string& explicit_parent) {
  repo::SnapshotList all;
  for (const auto& s : given)
    if (!explicit_parent.empty() || !model::IsShardSnapshot(s.second))
      all.push_back(s);
  ParentChoice choice;
  auto parent = explicit_parent.empty()
                    ? repo::FindSnapshotIn(all, "latest", host, paths)
                    : repo::FindSnapshotIn(all, explicit_parent);
  if (!parent) {
    if (!explicit_parent.empty()) return parent.error();
    return choice;  // no earlier backup of these paths: everything is new
  }
  choice.parent = std::move(*parent);
  if (!IsPartial(choice.parent->second)) return choice;
  // Resuming: what the partial snapshot does not hold is compared with the
  // last complete snapshot of the same host and paths.
  const model::Snapshot& p = choice.parent->second;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const model::Snapshot& c = it->second;
    if (IsPartial(c) || c.hostname != p.hostname || c.paths != p.paths)
      continue;
    choice.fallback = *it;
    break;
  }
  return choice;
}

}  // namespace efs2s3::archiver
