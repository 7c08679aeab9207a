#include "maintenance/walk.h"

#include <unordered_set>

#include "codec/compress.h"

namespace efs2s3::maintenance {

using storage::ObjectType;

Result<void> CollectUsedBlobs(repo::Repository& repo,
                              const std::vector<Id>& roots, IdSetBuilder& used,
                              const std::atomic<bool>* cancel,
                              WalkStats* stats) {
  std::unordered_set<Id, IdHash> visited;
  std::vector<Id> stack;
  for (const Id& root : roots) {
    if (visited.insert(root).second) stack.push_back(root);
  }
  while (!stack.empty()) {
    RETURN_IF_ERROR(CheckCancel(cancel));
    Id id = stack.back();
    stack.pop_back();
    RETURN_IF_ERROR(used.Add(id));
    ASSIGN_OR_RETURN(model::Tree tree, repo.LoadTree(id));
    if (stats) ++stats->trees;
    for (const model::Node& n : tree.nodes) {
      for (const Id& blob : n.content) {
        RETURN_IF_ERROR(used.Add(blob));
        if (stats) ++stats->data_refs;
      }
      if (n.subtree && visited.insert(*n.subtree).second)
        stack.push_back(*n.subtree);
    }
  }
  return Ok();
}

Result<void> VerifySealedBlob(repo::Repository& repo,
                              const repo::PackEntry& entry, ByteSpan sealed) {
  auto plain = crypto::Open(repo.key().encrypt, sealed);
  if (!plain)
    return MakeError(ErrorCode::kCorruption, "damaged: authentication failed");
  Bytes data;
  if (entry.compressed) {
    auto d = codec::Decompress(*plain, entry.raw_length);
    if (!d)
      return MakeError(ErrorCode::kCorruption, "damaged: does not decompress");
    data = std::move(*d);
  } else {
    data = std::move(*plain);
  }
  if (data.size() != entry.raw_length || repo.BlobId(data) != entry.id)
    return MakeError(ErrorCode::kCorruption,
                     "damaged: content does not match its ID");
  return Ok();
}

Result<std::vector<repo::PackEntry>> ReadPackHeader(repo::Repository& repo,
                                                    const Id& pack,
                                                    std::uint64_t size) {
  // Most headers (42 bytes per blob) fit in the first guess.
  std::uint64_t want = std::min<std::uint64_t>(size, 16 * 1024);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (want == 0) break;
    ASSIGN_OR_RETURN(Bytes tail,
                     repo.backend().Load({ObjectType::kPack, pack.Hex()},
                                         size - want, want));
    size_t needed = 0;
    auto entries =
        repo::ParsePackHeader(repo.key().encrypt, tail, size, &needed);
    if (entries) return entries;
    if (entries.error().code != ErrorCode::kNotFound || needed <= want)
      return entries.error().Wrap("pack " + pack.Hex());
    want = needed;
  }
  return MakeError(ErrorCode::kCorruption,
                   "pack " + pack.Hex() + ": header unreadable");
}

Result<std::unordered_map<Id, std::uint64_t, IdHash>> ListPacks(
    repo::Repository& repo) {
  std::unordered_map<Id, std::uint64_t, IdHash> packs;
  RETURN_IF_ERROR(repo.backend().List(
      ObjectType::kPack, [&](const storage::ObjectInfo& i) -> Result<void> {
        if (auto id = Id::FromHex(i.name)) packs[*id] = i.size;
        return Ok();
      }));
  return packs;
}

Result<std::vector<std::string>> ListIndexFiles(repo::Repository& repo) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(repo.backend().List(
      ObjectType::kIndex, [&](const storage::ObjectInfo& i) -> Result<void> {
        names.push_back(i.name);
        return Ok();
      }));
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace efs2s3::maintenance
