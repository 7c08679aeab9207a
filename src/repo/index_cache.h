// The local index cache: each index file of the repository decrypted as a
// "run" (repo/index.h) in <cache>/index/, and a manifest naming the runs and
// the index files each covers (docs/FORMAT.md, "Local cache and memory
// model"). Runs are mmap()ed, never loaded into a hash map.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "repo/index.h"

namespace efs2s3::repo {

struct CachedIndex {
  std::vector<std::unique_ptr<IndexRun>> runs;
  std::vector<std::string> names;  // the index files the runs cover
  // Left out (only with skip_unreadable), with the reason.
  std::vector<std::pair<std::string, Error>> unreadable;
};

// Loads and authenticates index file `name`, returning its plaintext.
using IndexFetcher = std::function<Result<Bytes>(const std::string& name)>;

// Brings the cache in `cache_dir` up to date with the index files `present`
// in the repository: keeps the cached runs that cover only present files,
// fetches the files no run covers, drops runs holding superseded files
// (fetching their other files again), merges the runs when there are too
// many, and publishes the manifest. kNotFound if an index file vanished
// meanwhile (a prune or repair superseded it: list again). With
// `skip_unreadable`, index files that cannot be read or parsed (other than
// transient or vanished ones) are left out and listed in `unreadable`.
Result<CachedIndex> SyncIndexCache(const std::string& cache_dir,
                                   const std::set<std::string>& present,
                                   const IndexFetcher& fetch,
                                   bool skip_unreadable);

}  // namespace efs2s3::repo
