// stats: what snapshots hold and what the repository stores, in restic's four
// modes (docs/MAINTENANCE.md, "Statistics"):
//   restore-size       every entry of every snapshot, as a restore writes it
//                      (a hard-link group's size once per snapshot)
//   files-by-contents  files with distinct content (the same blob list), once
//   raw-data           the distinct blobs (trees and data) the snapshots use:
//                      uncompressed and stored (compressed, encrypted) bytes
//   blobs-per-file     files with distinct content, each with the bytes of its
//                      distinct blobs
// restore-size and raw-data are always computed (the deduplication ratio is
// one over the other); the two by-content modes only when asked, since they
// hold a key per distinct file in memory. Used blobs are collected in an
// on-disk set (id_set.h), as prune does.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "repo/repository.h"

namespace efs2s3::maintenance {

enum class StatsMode {
  kRestoreSize,
  kFilesByContents,
  kRawData,
  kBlobsPerFile
};

struct StorageClassUse {
  std::string storage_class;  // "" for a backend without classes
  std::uint64_t objects = 0, bytes = 0;
};

struct RepoStats {
  std::uint64_t snapshots = 0;
  // restore-size: entries of all snapshots (files, directories, other).
  std::uint64_t entries = 0, files = 0, dirs = 0, other = 0;
  std::uint64_t restore_size = 0;
  // files-by-contents and blobs-per-file (0 in the other modes).
  std::uint64_t unique_files = 0, unique_files_size = 0,
                unique_files_blob_size = 0;
  // raw-data: distinct blobs used, by type; their plaintext and stored sizes.
  std::uint64_t blobs = 0, tree_blobs = 0, data_blobs = 0;
  std::uint64_t uncompressed_size = 0, stored_size = 0;
  std::uint64_t missing_blobs = 0;  // used but not in the index
  // Every object of the repository (locks aside), by storage class as the
  // backend lists it, sorted by class.
  std::vector<StorageClassUse> storage_classes;
  std::uint64_t stored_objects = 0, stored_bytes = 0;
};

Result<RepoStats> ComputeStats(repo::Repository& repo,
                               const std::vector<Id>& roots, StatsMode mode,
                               const std::atomic<bool>* cancel);

}  // namespace efs2s3::maintenance
