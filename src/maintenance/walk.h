// Helpers shared by prune, check and repair: walking snapshot trees,
// authenticating blobs, and reading pack headers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "base/id.h"
#include "base/result.h"
#include "maintenance/id_set.h"
#include "repo/repository.h"

namespace efs2s3::maintenance {

struct WalkStats {
  std::uint64_t trees = 0;      // distinct trees loaded
  std::uint64_t data_refs = 0;  // data blob references seen in those trees
};

// Adds every tree blob reachable from `roots` and every data blob those trees
// name to `used`. Each distinct tree is loaded once: the set of visited tree
// IDs is kept in memory (trees are few compared to data blobs: one per
// directory state). A tree that cannot be loaded or decoded is an error naming
// it.
Result<void> CollectUsedBlobs(repo::Repository& repo,
                              const std::vector<Id>& roots, IdSetBuilder& used,
                              const std::atomic<bool>* cancel,
                              WalkStats* stats);

// Authenticates one sealed blob as stored in a pack: decrypts, decompresses and
// compares the content with its ID. kCorruption ("damaged: ...", without the
// blob ID: callers add it) otherwise.
Result<void> VerifySealedBlob(repo::Repository& repo,
                              const repo::PackEntry& entry, ByteSpan sealed);

// Reads and parses the header of a pack of `size` bytes with ranged reads of
// its tail (one request for most packs, two for packs with very many blobs).
Result<std::vector<repo::PackEntry>> ReadPackHeader(repo::Repository& repo,
                                                    const Id& pack,
                                                    std::uint64_t size);

// All packs in the backend: name -> size.
Result<std::unordered_map<Id, std::uint64_t, IdHash>> ListPacks(
    repo::Repository& repo);

// Names of all index files present in the backend.
Result<std::vector<std::string>> ListIndexFiles(repo::Repository& repo);

inline Result<void> CheckCancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load())
    return MakeError(ErrorCode::kCancelled, "interrupted");
  return Ok();
}

}  // namespace efs2s3::maintenance
