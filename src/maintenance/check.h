// check: verify a repository's structure and, optionally, its data
// (docs/MAINTENANCE.md, "Check").
//
//   1. index files: every one present is readable (else error); superseded ones
//   still
//      present are hints (prune removes them);
//   2. index -> packs: every entry points into an existing pack, within its
//   size; packs
//      no index names are hints (leftovers of an interrupted backup or prune);
//   3. with read_data: the selected packs are downloaded whole, their header is
//   parsed
//      and compared with the index, and every blob is authenticated;
//   4. snapshots -> trees -> blobs: every snapshot loads, every tree loads and
//   decodes
//      (each distinct tree once), every referenced blob is indexed, in an
//      existing pack and not found damaged by step 3;
//   5. for each missing or damaged blob, the snapshot paths that use it.
// Memory: the pack table and the set of visited tree IDs are in RAM (one entry
// per pack and per distinct directory state); blob IDs never are: blobs are
// checked by lookups in the mmap()ed index as the trees are walked.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "repo/repository.h"

namespace efs2s3::maintenance {

// Which packs --read-data-subset selects.
struct DataSubset {
  enum class Kind { kAll, kSlice, kPercent };
  Kind kind = Kind::kAll;
  std::uint32_t n = 0,
                m = 0;  // kSlice: packs whose ID (first 4 bytes) mod m == n-1
  double percent = 0;   // kPercent: a random share of the packs
};

// "n/m" (1 <= n <= m) or "P%" (0 < P <= 100). kInvalidArgument otherwise.
Result<DataSubset> ParseDataSubset(std::string_view text);
// Deterministic part of the slice rule.
bool InSlice(const Id& pack, std::uint32_t n, std::uint32_t m);

struct CheckOptions {
  bool read_data = false;
  DataSubset subset;       // with read_data
  std::uint64_t seed = 0;  // for kPercent; 0 = random
  size_t max_paths = 100;  // snapshot paths listed per problem
  // With read_data, archived packs (GLACIER, DEEP_ARCHIVE) without a readable
  // copy are never read (a GET would fail); they are counted and reported as
  // one `cold_unread` problem with the cost of reading them. With a tier
  // ("Expedited", "Standard", "Bulk"), their restore is requested too, kept
  // cold_days days, so that a later check can read them.
  std::string cold_tier;
  int cold_days = 7;
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const std::string&)> progress;
};

struct SnapshotPath {
  std::string snapshot;  // full ID
  std::string path;      // inside the snapshot, "/" for the root
};

struct CheckProblem {
  // unreadable_index, missing_pack, pack_too_short, damaged_pack, damaged_blob,
  // index_mismatch, missing_blob, bad_tree, unreadable_snapshot,
  // short_retention (Object Lock: a live object not locked long enough); hints:
  // unindexed_pack, superseded_index.
  std::string kind;
  std::string id;  // the object: blob, pack, index file or snapshot ID
  std::string message;
  std::vector<SnapshotPath> paths;
  std::uint64_t more_paths = 0;  // not listed beyond max_paths
};

struct CheckReport {
  std::vector<CheckProblem> errors;
  std::vector<CheckProblem> hints;
  std::uint64_t snapshots = 0, trees = 0, data_refs = 0;
  std::uint64_t index_files = 0, packs = 0, indexed_blobs = 0;
  std::uint64_t packs_read = 0, blobs_read = 0, bytes_read = 0;
  // Of blobs_read, those that failed authentication (the others passed).
  std::uint64_t blobs_failed = 0;
  // Archived packs read_data left unread, and restores it requested.
  std::uint64_t cold_unread_packs = 0, cold_unread_bytes = 0;
  std::uint64_t cold_requested = 0;
  bool ok() const { return errors.empty(); }
};

// Problems are returned in the report; an Error only for failures that stop the
// check itself (backend unreachable, cancelled).
Result<CheckReport> RunCheck(repo::Repository& repo,
                             const CheckOptions& options);

}  // namespace efs2s3::maintenance
