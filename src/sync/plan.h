// Planning a sync: a pure function from the source and destination listings
// to the copies and deletions that make the destination equal the source.
//
// Both sides are lists of Entry, whichever side is local: the local tree as
// walked, the bucket as listed (attributes from the manifest, a HEAD or, for
// objects without attributes, Last-Modified as an inexact mtime).
//
// An entry is copied when it is missing, differs in kind or size, or:
//   default       the mtimes differ (both exact), or the source is newer by
//                 whole seconds (either inexact, as aws s3 sync decides), or
//                 mode/owner differ (both known);
//   --size-only   never (size and kind decide);
//   --checksum    the MD5s differ; when one side's MD5 is unknown the copy
//                 becomes a check (the executor hashes and copies on
//                 mismatch); when neither is known, the default rule.
// With delete_extra, destination entries that the source lacks are deleted,
// except where a walk could not look: an entry at or below a path in `keep`
// (a subtree not read completely, or one that vanished) is never deleted, and
// with `withhold_deletes` (the walk had errors and the user did not pass
// --ignore-errors, rsync's rule) no entry is. What is not deleted is listed in
// Plan::withheld.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "sync/names.h"

namespace efs2s3::sync {

struct Entry {
  // Raw relative path ("dir/file"); a directory marker ends in '/'.
  std::string rel;
  Kind kind = Kind::kFile;
  std::uint64_t size = 0;
  Time mtime;
  // false: mtime is an object's Last-Modified, not the file's own time.
  bool exact = true;
  std::optional<Time> atime;
  std::optional<std::uint32_t> mode, uid, gid;
  std::string md5;  // hex MD5 of the content, "" when unknown
};

enum class CompareMode { kDefault, kSizeOnly, kChecksum };

struct PlanOptions {
  CompareMode compare = CompareMode::kDefault;
  bool delete_extra = false;
  // Compare uid/gid (a download compares them only when it can chown).
  bool compare_owner = true;
  // Paths ("" = everything) whose destination entries are never deleted.
  std::vector<std::string> keep;
  bool withhold_deletes = false;
};

struct Action {
  enum class Type { kCopy, kCheck, kDelete };
  Type type = Type::kCopy;
  size_t index = 0;  // into the source (copy, check) or destination (delete)
  std::string why;   // "new", "size", "mtime", "metadata", "kind", "md5"...
  std::string md5;   // kCheck: the known MD5 to compare with
};

struct Plan {
  std::vector<Action> copies;   // kCopy and kCheck, in source order
  std::vector<Action> deletes;  // in destination order
  // Deletions not made (see PlanOptions::keep): why names the unread path, or
  // "walk errors" for withhold_deletes.
  std::vector<Action> withheld;
  std::uint64_t unchanged = 0;
  std::uint64_t copy_bytes = 0;
};

Plan MakePlan(const std::vector<Entry>& src, const std::vector<Entry>& dst,
              const PlanOptions& opts);

// The path in `paths` that is rel or one of its parent directories ("" covers
// everything), or nullptr. A directory marker "a/b/" is below "a/b".
const std::string* CoveringPath(const std::set<std::string>& paths,
                                std::string_view rel);

// --exclude / --include patterns (fnmatch globs) on relative paths: a pattern
// without '/' matches any path component; one with '/' matches the whole
// relative path from the start (a leading '/' is allowed and ignored; '*'
// crosses '/'). A path is excluded when it or a parent matches an exclude;
// with includes, a file is taken only when it or a parent matches one.
class Filter {
 public:
  Filter() = default;
  Filter(std::vector<std::string> excludes, std::vector<std::string> includes);
  bool Excluded(std::string_view rel) const;  // also for directories
  bool Included(std::string_view rel) const;  // files: !Excluded && include
  bool empty() const { return excludes_.empty() && includes_.empty(); }

 private:
  static bool Matches(const std::vector<std::string>& patterns,
                      std::string_view rel);
  std::vector<std::string> excludes_, includes_;
};

}  // namespace efs2s3::sync
