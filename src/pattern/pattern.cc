#include "pattern/pattern.h"

#include <fnmatch.h>

#include "base/bytes.h"
#include "base/file_util.h"

namespace efs2s3::pattern {

bool Matches(const std::string& pattern, const std::string& path) {
  if (pattern.empty()) return false;
  if (pattern.find('/') != std::string::npos)
    return ::fnmatch(pattern.c_str(), path.c_str(), 0) == 0;
  std::string base = path.substr(path.find_last_of('/') + 1);
  return ::fnmatch(pattern.c_str(), base.c_str(), 0) == 0;
}

bool IsExcluded(const std::vector<std::string>& patterns,
                const std::string& path) {
  for (const std::string& p : patterns)
    if (Matches(p, path)) return true;
  return false;
}

Result<std::vector<std::string>> ReadPatternFile(const std::string& path) {
  ASSIGN_OR_RETURN(Bytes data, ReadFile(path));
  std::vector<std::string> out;
  std::string line;
  auto take = [&] {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] != '#') out.push_back(line);
    line.clear();
  };
  for (char c : AsString(data)) {
    if (c == '\n')
      take();
    else
      line.push_back(c);
  }
  take();
  return out;
}

}  // namespace efs2s3::pattern
