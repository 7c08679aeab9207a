// Writes index files for many packs with bounded memory (docs/FORMAT.md,
// "Prune").
//
// Packs are added one by one; whenever the pending batch holds `max_entries`
// blobs it is written as an index file that supersedes nothing. Finish() writes
// the last batch together with the list of index files it supersedes. Because
// only that last file retires the old index, a crash before it leaves the old
// index in force (the earlier files merely duplicate entries, which readers
// tolerate), and a crash after it leaves a complete new index.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace efs2s3::maintenance {

// Not thread-safe.
class IndexWriter {
 public:
  IndexWriter(repo::Repository& repo, size_t max_entries)
      : repo_(repo), max_(max_entries) {}

  Result<void> AddPack(const Id& pack,
                       const std::vector<repo::PackEntry>& entries);
  // Writes the pending packs (if any) and `supersedes`: a file is written if
  // either is non-empty.
  Result<void> Finish(const std::vector<std::string>& supersedes);
  // Names of the index files written so far.
  const std::vector<std::string>& written() const { return written_; }
  size_t packs() const { return packs_; }

 private:
  Result<void> Write(const std::vector<std::string>& supersedes);
  repo::Repository& repo_;
  size_t max_;
  repo::IndexBuilder builder_;
  std::vector<std::string> written_;
  size_t packs_ = 0;
};

}  // namespace efs2s3::maintenance
