#include "storage/backend.h"

namespace efs2s3::storage {

const char* ObjectTypeDir(ObjectType type) {
  switch (type) {
    case ObjectType::kConfig:
      return "";
    case ObjectType::kKey:
      return "keys";
    case ObjectType::kPack:
      return "data";
    case ObjectType::kIndex:
      return "index";
    case ObjectType::kSnapshot:
      return "snapshots";
    case ObjectType::kLock:
      return "locks";
    case ObjectType::kRun:
      return "runs";
  }
  return "";
}

std::string ObjectKey(const Handle& h) {
  if (h.type == ObjectType::kConfig) return "config";
  std::string dir = ObjectTypeDir(h.type);
  if (h.type == ObjectType::kPack)
    return dir + "/" + h.name.substr(0, 2) + "/" + h.name;
  return dir + "/" + h.name;
}

Result<void> Backend::SaveFrom(const Handle& h, const Source& data,
                               const SaveOptions& opts) {
  if (const ByteSpan* m = data.Memory()) return Save(h, *m, opts);
  ASSIGN_OR_RETURN(Bytes bytes, ReadAll(data));
  return Save(h, bytes, opts);
}

Result<void> Backend::SetLockPolicy(const LockPolicy& policy) {
  if (policy.mode.empty()) return Ok();
  return MakeError(ErrorCode::kUnsupported,
                   Location() +
                       ": this repository cannot hold locked objects "
                       "(Object Lock is a feature of S3 buckets)");
}

Result<Retention> Backend::GetRetention(const Handle& h) {
  return MakeError(ErrorCode::kUnsupported,
                   Location() + "/" + ObjectKey(h) + ": no Object Lock here");
}

Result<void> Backend::ExtendRetention(const Handle& h, std::int64_t) {
  return MakeError(ErrorCode::kUnsupported,
                   Location() + "/" + ObjectKey(h) + ": no Object Lock here");
}

Result<ArchiveStatus> Backend::GetArchiveStatus(const Handle& h) {
  ASSIGN_OR_RETURN(ObjectInfo info, Stat(h));
  ArchiveStatus st;
  st.storage_class = info.storage_class;
  st.size = info.size;
  return st;
}

Result<void> Backend::RequestRestore(const Handle& h, int, const std::string&) {
  return MakeError(
      ErrorCode::kUnsupported,
      Location() + "/" + ObjectKey(h) + ": no archive storage classes here");
}

}  // namespace efs2s3::storage
