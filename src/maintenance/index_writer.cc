#include "maintenance/index_writer.h"

namespace efs2s3::maintenance {

Result<void> IndexWriter::AddPack(const Id& pack,
                                  const std::vector<repo::PackEntry>& entries) {
  builder_.AddPack(pack, entries);
  ++packs_;
  if (builder_.blob_count() >= max_) return Write({});
  return Ok();
}

Result<void> IndexWriter::Finish(const std::vector<std::string>& supersedes) {
  if (builder_.pack_count() == 0 && supersedes.empty()) return Ok();
  return Write(supersedes);
}

Result<void> IndexWriter::Write(const std::vector<std::string>& supersedes) {
  for (const std::string& s : supersedes) {
    auto id = Id::FromHex(s);
    if (id) builder_.Supersede(*id);
  }
  Bytes plain = builder_.Finish();
  builder_ = repo::IndexBuilder();
  ASSIGN_OR_RETURN(Id name,
                   repo_.SaveObject(storage::ObjectType::kIndex, plain));
  written_.push_back(name.Hex());
  return Ok();
}

}  // namespace efs2s3::maintenance
