#include "repo/maintenance_access.h"

#include <algorithm>

namespace efs2s3::repo {

using storage::ObjectType;

Result<void> MaintenanceAccess::List(
    ObjectType type,
    const std::function<Result<void>(const storage::ObjectInfo&)>& fn) {
  return repo_.backend_->List(type, fn);
}

Result<std::vector<std::string>> MaintenanceAccess::ListNames(ObjectType type) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(List(type, [&](const storage::ObjectInfo& i) -> Result<void> {
    names.push_back(i.name);
    return Ok();
  }));
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::unordered_map<Id, std::uint64_t, IdHash>>
MaintenanceAccess::ListPacks() {
  std::unordered_map<Id, std::uint64_t, IdHash> packs;
  RETURN_IF_ERROR(List(ObjectType::kPack,
                       [&](const storage::ObjectInfo& i) -> Result<void> {
                         if (auto id = Id::FromHex(i.name)) packs[*id] = i.size;
                         return Ok();
                       }));
  return packs;
}

Result<void> MaintenanceAccess::Remove(ObjectType type,
                                       const std::string& name) {
  return repo_.backend_->Remove({type, name});
}

Result<storage::Retention> MaintenanceAccess::GetRetention(
    ObjectType type, const std::string& name) {
  return repo_.backend_->GetRetention({type, name});
}

Result<void> MaintenanceAccess::ExtendRetention(ObjectType type,
                                                const std::string& name,
                                                std::int64_t until) {
  return repo_.backend_->ExtendRetention({type, name}, until);
}

int MaintenanceAccess::Concurrency() const {
  return repo_.backend_->Concurrency();
}

const std::string& MaintenanceAccess::CacheDir() const {
  return repo_.cache_dir_;
}

Result<Bytes> MaintenanceAccess::LoadStored(ObjectType type,
                                            const std::string& name) {
  return repo_.backend_->Load({type, name});
}

Result<Bytes> MaintenanceAccess::LoadPack(const Id& pack, bool* intact) {
  Bytes damaged;
  auto data = repo_.LoadWholePack(pack, intact ? &damaged : nullptr);
  if (intact) *intact = data.has_value();
  if (!data && intact && data.error().code == ErrorCode::kCorruption)
    return damaged;
  return data;
}

Result<std::vector<PackEntry>> MaintenanceAccess::ParsePackHeader(
    ByteSpan pack) const {
  size_t needed = 0;
  return repo::ParsePackHeader(repo_.key_.encrypt, pack, pack.size(), &needed);
}

Result<std::vector<PackEntry>> MaintenanceAccess::FindPackHeader(
    ByteSpan pack) const {
  constexpr std::uint64_t kBudget = 256 << 20;  // bytes authenticated
  return repo::FindPackHeader(repo_.key_.encrypt, pack, kBudget);
}

Result<std::vector<PackEntry>> MaintenanceAccess::ReadPackHeader(
    const Id& pack, std::uint64_t size) {
  return repo_.ReadPackHeader(pack.Hex(), size);
}

Result<std::unique_ptr<FinishedPack>> MaintenanceAccess::SavePack(
    PackWriter& writer) {
  ASSIGN_OR_RETURN(auto pack, writer.Finish(repo_.key_.encrypt));
  bool tree_pack =
      !pack->entries.empty() && pack->entries[0].type == BlobType::kTree;
  RETURN_IF_ERROR(repo_.backend_->SaveFrom(
      {ObjectType::kPack, pack->name.Hex()}, *pack, {.metadata = tree_pack}));
  return pack;
}

Result<void> MaintenanceAccess::VerifySealedBlob(const PackEntry& entry,
                                                 ByteSpan sealed) const {
  Repository::BlobFault fault{};
  auto data = repo_.OpenSealedBlob(entry, sealed, &fault);
  if (data) return Ok();
  switch (fault) {
    case Repository::BlobFault::kAuthentication:
      return MakeError(ErrorCode::kCorruption,
                       "damaged: authentication failed");
    case Repository::BlobFault::kDecompression:
      return MakeError(ErrorCode::kCorruption, "damaged: does not decompress");
    case Repository::BlobFault::kContent:
      break;
  }
  return MakeError(ErrorCode::kCorruption,
                   "damaged: content does not match its ID");
}

}  // namespace efs2s3::repo
