#include "jobs/identity.h"

#include <fmt/format.h>

namespace efs2s3::jobs {

std::string DefaultEfsMountPoint(const std::string& file_system_id) {
  return "/mnt/efs/" + file_system_id;
}

std::vector<std::string> BackupPaths(const Job& job) {
  if (!job.efs) return job.paths;
  const EfsSource& e = *job.efs;
  return {e.mount_point.empty() ? DefaultEfsMountPoint(e.file_system_id)
                                : e.mount_point};
}

std::string SnapshotHost(const Job& job) {
  if (!job.host.empty()) return job.host;
  if (job.efs) return job.efs->file_system_id;
  return "";
}

namespace {

// Whether a pattern matched against whole paths could match `root` or a
// path below it.
bool CanMatchUnder(const std::string& pattern, std::string root) {
  const std::string literal = pattern.substr(0, pattern.find_first_of("*?[\\"));
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  const std::string dir = root == "/" ? root : root + "/";
  return dir.compare(0, literal.size(), literal) == 0 ||
         literal.compare(0, dir.size(), dir) == 0;
}

}  // namespace

std::vector<std::string> ExcludeWarnings(
    const Job& job, const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const std::string& p : job.excludes) {
    if (p.find('/') == std::string::npos) continue;  // matches names anywhere
    bool can = false;
    for (const std::string& root : paths) can = can || CanMatchUnder(p, root);
    if (!can)
      out.push_back(fmt::format(
          "job {}: exclude '{}' can never match: the backup reads {} (a "
          "pattern with '/' is matched against the whole path)",
          job.name, p, fmt::join(paths, ", ")));
  }
  return out;
}

}  // namespace efs2s3::jobs
