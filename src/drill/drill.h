// drill: a restore drill. Restores a random sample of a snapshot's files with
// the restorer (restorer/restorer.h) into a scratch directory and checks each
// against the snapshot and, where it can, against the source:
//
//   walk the snapshot's trees: every regular file is a candidate, filed under
//     its stratum (size class / age class / pack class, see Stratum)
//     files with data in cold storage are left out unless allow_cold
//   sample: a seeded reservoir per stratum, then one file from each stratum in
//     turn until the sample is full, so that big and small files, old and new
//     data and every pack class are represented however lopsided the tree
//   each sampled file, until the deadline:
//     RunRestore(subpath = the file) into <target>/efs2s3-drill-XXXXXX/<i>
//     size == the node's; the restored bytes, cut at the lengths of the
//       node's blobs, hash to the node's content IDs
//     when the source file exists and is unchanged since the snapshot (same
//       size, mtime and ctime): the same bytes as the source
//   remove the scratch directory
//
// A file that cannot be restored (a damaged or missing pack), or whose bytes
// differ, is a mismatch; the drill itself fails only when it cannot run.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "model/node.h"
#include "model/snapshot.h"
#include "repo/interfaces.h"

namespace efs2s3::drill {

// What is known of a pack from the storage listing.
struct PackInfo {
  std::string storage_class;  // "" = STANDARD (or a backend without classes)
};

// Whether objects of a storage class need a restore request before they can
// be read (S3 Glacier Flexible Retrieval and Deep Archive).
bool IsColdStorageClass(const std::string& storage_class);

struct DrillOptions {
  // How many files: a count, or (when percent > 0) a percentage of the
  // candidates, at least one.
  std::uint64_t sample_files = 0;
  double sample_percent = 0;
  std::string target;  // the scratch directory is made below it
  // 0 = no limit: no file is started after the drill has run this long.
  std::chrono::milliseconds max_duration{0};
  std::uint64_t seed = 0;
  // Include files with data in cold storage (restoring them may start a
  // retrieval, with its cost and delay).
  bool allow_cold = false;
  // Packs by ID; a pack not in the map counts as STANDARD.
  std::unordered_map<Id, PackInfo, IdHash> packs;
  // Compare with the source file when it is there and unchanged.
  bool compare_source = true;
  int workers = 4;  // the restorer's, per file
  const std::atomic<bool>* cancel = nullptr;
};

struct Mismatch {
  std::string path;  // in the snapshot
  std::string what;  // one line
};

struct DrillResult {
  std::uint64_t candidates = 0;    // regular files in the snapshot (not cold)
  std::uint64_t skipped_cold = 0;  // files left out: data in cold storage
  std::uint64_t sampled = 0;       // files chosen
  std::uint64_t checked = 0;       // files restored and compared
  std::uint64_t bytes = 0;         // bytes restored
  std::uint64_t source_compared = 0;  // also compared with the source
  // Source changed since the snapshot, or the node is flagged (stored while
  // changing, or incomplete): not compared.
  std::uint64_t source_changed = 0;
  std::uint64_t source_missing = 0;  // source not there (not mounted)
  bool time_limit_reached = false;   // files left unchecked at the deadline
  double seconds = 0;
  // Files sampled per stratum ("small/new/STANDARD": 3).
  std::map<std::string, std::uint64_t> strata;
  std::vector<Mismatch> mismatches;
};

// A file's stratum: "<size>/<age>/<pack class>" with size "empty", "small"
// (< 64 KiB), "medium" (< 16 MiB) or "large"; age of its mtime at the
// snapshot time "day" (< 1 day), "month" (< 31 days), "year" (< 366 days) or
// "older"; pack class the storage class of its first blob's pack ("STANDARD"
// when not known, "none" when empty).
std::string Stratum(std::uint64_t size, std::int64_t age_seconds,
                    const std::string& pack_class);

// The seeded stratified sample. Add every candidate, then Take.
template <typename T>
class StratifiedSample {
 public:
  StratifiedSample(std::uint64_t capacity, std::uint64_t seed)
      : capacity_(capacity), rng_(seed) {}
  // Keeps at most `capacity` items per stratum, each candidate of a stratum
  // with the same chance (reservoir sampling).
  void Add(const std::string& stratum, T item) {
    Reservoir& r = strata_[stratum];
    ++r.seen;
    if (r.items.size() < capacity_) {
      r.items.push_back(std::move(item));
      return;
    }
    std::uniform_int_distribution<std::uint64_t> pick(0, r.seen - 1);
    std::uint64_t j = pick(rng_);
    if (j < capacity_) r.items[j] = std::move(item);
  }
  // Up to `n` items: one from each stratum in turn (strata in name order,
  // items in a random order), with the stratum of each.
  std::vector<std::pair<std::string, T>> Take(std::uint64_t n) {
    std::vector<std::pair<std::string, T>> out;
    for (auto& [name, r] : strata_)
      std::shuffle(r.items.begin(), r.items.end(), rng_);
    for (size_t round = 0; out.size() < n; ++round) {
      bool any = false;
      for (auto& [name, r] : strata_) {
        if (round >= r.items.size() || out.size() >= n) continue;
        out.emplace_back(name, std::move(r.items[round]));
        any = true;
      }
      if (!any) break;
    }
    return out;
  }

 private:
  struct Reservoir {
    std::uint64_t seen = 0;
    std::vector<T> items;
  };
  std::uint64_t capacity_;
  std::mt19937_64 rng_;
  std::map<std::string, Reservoir> strata_;
};

// Runs the drill on `snapshot`, reading through `repo` only.
Result<DrillResult> RunDrill(repo::BlobLoader& repo,
                             const model::Snapshot& snapshot,
                             const DrillOptions& options);

}  // namespace efs2s3::drill
