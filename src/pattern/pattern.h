// Exclude / include / find patterns on absolute paths (backup, restore, find):
// shell globs (fnmatch). A pattern without '/' matches the last component of a
// path at any depth ("*.tmp", "node_modules"); one with '/' matches the whole
// path ("/home/*/cache"). sync's Filter (sync/plan.h) works on relative paths
// and has rules of its own.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace efs2s3::pattern {

// True if `path` (or its last component, for a pattern without '/') matches.
bool Matches(const std::string& pattern, const std::string& path);

// True if any of `patterns` matches `path`; empty patterns match nothing.
bool IsExcluded(const std::vector<std::string>& patterns,
                const std::string& path);

// The patterns in a file, one per line; blank lines and lines starting with
// '#' are skipped, a trailing CR is dropped.
Result<std::vector<std::string>> ReadPatternFile(const std::string& path);

}  // namespace efs2s3::pattern
