// Repository's snapshots: save, load, remove, list and find.
#include <algorithm>

#include "repo/repository.h"
#include "repo/snapshots.h"

namespace efs2s3::repo {

using storage::ObjectType;

Result<Id> Repository::SaveSnapshot(const model::Snapshot& snapshot) {
  return SaveObject(ObjectType::kSnapshot,
                    AsBytes(model::EncodeSnapshot(snapshot)));
}

Result<model::Snapshot> Repository::LoadSnapshot(const Id& id) {
  ASSIGN_OR_RETURN(Bytes plain, LoadObject(ObjectType::kSnapshot, id.Hex()));
  auto s = model::DecodeSnapshot(AsString(plain));
  if (!s) return s.error().Wrap("snapshots/" + id.Hex());
  return s;
}

Result<void> Repository::RemoveSnapshot(const Id& id) {
  return backend_->Remove({ObjectType::kSnapshot, id.Hex()});
}

Result<std::vector<std::pair<Id, model::Snapshot>>> Repository::ListSnapshots(
    std::vector<UnreadableSnapshot>* unreadable) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(backend_->List(
      ObjectType::kSnapshot, [&](const storage::ObjectInfo& i) -> Result<void> {
        names.push_back(i.name);
        return Ok();
      }));
  std::vector<std::pair<Id, model::Snapshot>> out;
  for (const auto& n : names) {
    auto id = Id::FromHex(n);
    if (!id) continue;
    auto s = LoadSnapshot(*id);
    if (!s) {
      // Only stable damage is set aside: LoadObject reads again when a check
      // fails, so kCorruption means two reads gave the same bad bytes.
      if (!unreadable || s.error().code != ErrorCode::kCorruption)
        return s.error();
      std::string reason = s.error().message;
      std::string prefix = "snapshots/" + n + ": ";
      while (reason.rfind(prefix, 0) == 0) reason.erase(0, prefix.size());
      unreadable->push_back({*id, std::move(reason)});
      continue;
    }
    out.emplace_back(*id, std::move(*s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.time_ns != b.second.time_ns
               ? a.second.time_ns < b.second.time_ns
               : a.first < b.first;
  });
  return out;
}

Result<std::pair<Id, model::Snapshot>> Repository::FindSnapshot(
    const std::string& spec, const std::string& host,
    const std::vector<std::string>& paths,
    std::vector<UnreadableSnapshot>* skipped) {
  if (!skipped) {
    ASSIGN_OR_RETURN(auto all, ListSnapshots());
    return FindSnapshotIn(all, spec, host, paths);
  }
  std::vector<UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(auto all, ListSnapshots(&unreadable));
  return FindSnapshotIn(all, unreadable, spec, host, paths, skipped);
}

}  // namespace efs2s3::repo
