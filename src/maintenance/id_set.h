// Sets of IDs too large to hold in RAM (docs/FORMAT.md, "Prune" and "Check").
//
// A set of 100 M used blob IDs is 3.2 GB in a hash set. IdSetBuilder instead
// collects IDs in a bounded buffer, spills it sorted and deduplicated to a
// temporary file whenever it is full, and finally merges the spilled runs k-way
// into one sorted file. IdSet mmap()s that file and answers Contains() by
// binary search, so resident memory is what the page cache decides. The files
// are unlinked as soon as they are no longer needed (the final one right after
// it is mapped).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "base/id.h"
#include "base/result.h"

namespace efs2s3::maintenance {

class IdSet {
 public:
  ~IdSet();
  IdSet(const IdSet&) = delete;
  IdSet& operator=(const IdSet&) = delete;

  bool Contains(const Id& id) const;
  size_t size() const { return count_; }
  Id At(size_t i) const;

 private:
  friend class IdSetBuilder;
  IdSet() = default;
  const std::uint8_t* base_ = nullptr;
  size_t count_ = 0;
  size_t map_len_ = 0;
  std::vector<Id> owned_;  // small sets stay in memory
};

// Not thread-safe.
class IdSetBuilder {
 public:
  // `temp_dir`: where spill files go ("" = $TMPDIR or /tmp). `buffer_ids`: IDs
  // held in memory before a spill (32 bytes each).
  explicit IdSetBuilder(std::string temp_dir = "",
                        size_t buffer_ids = size_t{1} << 22);
  ~IdSetBuilder();  // removes spill files
  IdSetBuilder(const IdSetBuilder&) = delete;
  IdSetBuilder& operator=(const IdSetBuilder&) = delete;

  Result<void> Add(const Id& id);
  // Sorts, deduplicates and returns the set. The builder is empty afterwards.
  Result<std::unique_ptr<IdSet>> Finish();
  size_t spilled_runs() const { return runs_.size(); }

 private:
  Result<void> Spill();
  std::string temp_dir_;
  size_t buffer_ids_;
  std::vector<Id> buffer_;
  std::vector<std::string> runs_;
};

// A fresh private directory for temporary files below $TMPDIR (or /tmp).
Result<std::string> MakeTempDir(const std::string& parent = "");

}  // namespace efs2s3::maintenance
