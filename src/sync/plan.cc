#include "sync/plan.h"

#include <fnmatch.h>

#include <map>

namespace efs2s3::sync {
namespace {

// Why src must be copied over dst, or "" when it need not be.
std::string Difference(const Entry& s, const Entry& d, const PlanOptions& o,
                       std::string* check_md5) {
  if (s.kind != d.kind) return "kind";
  if (s.size != d.size) return "size";
  if (o.compare == CompareMode::kSizeOnly) return "";
  if (o.compare == CompareMode::kChecksum && s.kind == Kind::kFile) {
    if (!s.md5.empty() && !d.md5.empty()) return s.md5 == d.md5 ? "" : "md5";
    if (!s.md5.empty() || !d.md5.empty()) {
      *check_md5 = s.md5.empty() ? d.md5 : s.md5;
      return "check";
    }
  }
  if (s.exact && d.exact) {
    if (s.kind != Kind::kDir && s.mtime != d.mtime) return "mtime";
  } else if (s.mtime.sec > d.mtime.sec) {
    return "newer";
  }
  if (s.kind != Kind::kSymlink && s.mode && d.mode && *s.mode != *d.mode)
    return "mode";
  if (o.compare_owner && ((s.uid && d.uid && *s.uid != *d.uid) ||
                          (s.gid && d.gid && *s.gid != *d.gid)))
    return "owner";
  return "";
}

}  // namespace

Plan MakePlan(const std::vector<Entry>& src, const std::vector<Entry>& dst,
              const PlanOptions& opts) {
  Plan plan;
  std::map<std::string_view, size_t> by_rel;
  for (size_t i = 0; i < dst.size(); ++i) by_rel.emplace(dst[i].rel, i);
  std::vector<bool> seen(dst.size());
  for (size_t i = 0; i < src.size(); ++i) {
    const Entry& s = src[i];
    auto it = by_rel.find(s.rel);
    std::string why, md5;
    if (it == by_rel.end()) {
      why = "new";
    } else {
      seen[it->second] = true;
      why = Difference(s, dst[it->second], opts, &md5);
    }
    if (why.empty()) {
      ++plan.unchanged;
      continue;
    }
    Action a;
    a.type = why == "check" ? Action::Type::kCheck : Action::Type::kCopy;
    a.index = i;
    a.why = why;
    a.md5 = md5;
    plan.copies.push_back(std::move(a));
    plan.copy_bytes += s.size;
  }
  if (!opts.delete_extra) return plan;
  std::set<std::string> keep(opts.keep.begin(), opts.keep.end());
  for (size_t i = 0; i < dst.size(); ++i) {
    if (seen[i]) continue;
    if (const std::string* p = CoveringPath(keep, dst[i].rel))
      plan.withheld.push_back(
          {Action::Type::kDelete, i,
           "not read completely: " + (p->empty() ? std::string(".") : *p), ""});
    else if (opts.withhold_deletes)
      plan.withheld.push_back({Action::Type::kDelete, i, "walk errors", ""});
    else
      plan.deletes.push_back({Action::Type::kDelete, i, "extra", ""});
  }
  return plan;
}

const std::string* CoveringPath(const std::set<std::string>& paths,
                                std::string_view rel) {
  if (paths.empty()) return nullptr;
  if (auto it = paths.find(""); it != paths.end()) return &*it;
  // rel itself, then each parent: "a/b/c", "a/b", "a" ("a/b/" -> "a/b", "a").
  std::string_view cur = rel;
  while (!cur.empty() && cur.back() == '/') cur.remove_suffix(1);
  while (!cur.empty()) {
    if (auto it = paths.find(std::string(cur)); it != paths.end()) return &*it;
    size_t slash = cur.rfind('/');
    if (slash == std::string_view::npos) break;
    cur = cur.substr(0, slash);
  }
  return nullptr;
}

Filter::Filter(std::vector<std::string> excludes,
               std::vector<std::string> includes)
    : excludes_(std::move(excludes)), includes_(std::move(includes)) {
  for (auto* v : {&excludes_, &includes_})
    for (std::string& p : *v)
      while (p.size() > 1 && p.front() == '/') p.erase(p.begin());
}

bool Filter::Matches(const std::vector<std::string>& patterns,
                     std::string_view rel) {
  while (!rel.empty() && rel.back() == '/') rel.remove_suffix(1);
  std::string path(rel);
  // The path and each of its parents.
  for (;;) {
    std::string base = path.substr(path.find_last_of('/') + 1);
    for (const std::string& p : patterns) {
      if (p.empty()) continue;
      const std::string& subject =
          p.find('/') == std::string::npos ? base : path;
      if (::fnmatch(p.c_str(), subject.c_str(), 0) == 0) return true;
    }
    size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return false;
    path.resize(slash);
  }
}

bool Filter::Excluded(std::string_view rel) const {
  return Matches(excludes_, rel);
}

bool Filter::Included(std::string_view rel) const {
  if (Excluded(rel)) return false;
  return includes_.empty() || Matches(includes_, rel);
}

}  // namespace efs2s3::sync
