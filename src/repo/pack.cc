#include "repo/pack.h"

#include <cstring>

namespace efs2s3::repo {

static constexpr char kMagic[4] = {'E', 'P', 'K', '1'};
static constexpr size_t kEntrySize = 1 + 1 + 4 + 4 + 32;

void PackWriter::Add(const PackEntry& entry, Bytes sealed_blob) {
  PackEntry e = entry;
  e.offset = static_cast<std::uint32_t>(data_.size());
  e.length = static_cast<std::uint32_t>(sealed_blob.size());
  data_.insert(data_.end(), sealed_blob.begin(), sealed_blob.end());
  entries_.push_back(e);
}

std::pair<Bytes, std::vector<PackEntry>> PackWriter::Finish(
    const crypto::Key& key) {
  Bytes header(kMagic, kMagic + 4);
  for (const PackEntry& e : entries_) {
    header.push_back(static_cast<std::uint8_t>(e.type));
    header.push_back(e.compressed ? kBlobCompressed : 0);
    PutU32(header, e.length);
    PutU32(header, e.raw_length);
    header.insert(header.end(), e.id.bytes.begin(), e.id.bytes.end());
  }
  Bytes sealed = crypto::Seal(key, header);
  Bytes out = std::move(data_);
  out.insert(out.end(), sealed.begin(), sealed.end());
  PutU32(out, static_cast<std::uint32_t>(sealed.size()));
  std::vector<PackEntry> entries = std::move(entries_);
  data_.clear();
  entries_.clear();
  return {std::move(out), std::move(entries)};
}

Result<std::vector<PackEntry>> ParsePackHeader(const crypto::Key& key,
                                               ByteSpan tail,
                                               std::uint64_t pack_size,
                                               size_t* needed) {
  if (tail.size() < 4 || pack_size < 4)
    return MakeError(ErrorCode::kCorruption, "pack too short");
  std::uint32_t hlen = GetU32(tail.data() + tail.size() - 4);
  if (hlen + 4ULL > pack_size || hlen < crypto::kSealOverhead + 4)
    return MakeError(ErrorCode::kCorruption, "pack header length out of range");
  if (tail.size() < hlen + 4ULL) {
    *needed = hlen + 4;
    return MakeError(ErrorCode::kNotFound, "need more of the pack tail");
  }
  auto header = crypto::Open(key, tail.subspan(tail.size() - 4 - hlen, hlen));
  if (!header)
    return MakeError(ErrorCode::kCorruption,
                     "pack header authentication failed");
  const Bytes& h = *header;
  if (h.size() < 4 || std::memcmp(h.data(), kMagic, 4) != 0 ||
      (h.size() - 4) % kEntrySize)
    return MakeError(ErrorCode::kCorruption, "pack header malformed");
  std::vector<PackEntry> entries;
  std::uint64_t offset = 0;
  for (size_t p = 4; p < h.size(); p += kEntrySize) {
    PackEntry e;
    if (h[p] > 1)
      return MakeError(ErrorCode::kCorruption,
                       "pack header: unknown blob type");
    e.type = static_cast<BlobType>(h[p]);
    e.compressed = (h[p + 1] & kBlobCompressed) != 0;
    e.length = GetU32(&h[p + 2]);
    e.raw_length = GetU32(&h[p + 6]);
    e.id = Id::FromSpan(ByteSpan(&h[p + 10], 32));
    e.offset = static_cast<std::uint32_t>(offset);
    offset += e.length;
    entries.push_back(e);
  }
  if (offset + hlen + 4 != pack_size)
    return MakeError(ErrorCode::kCorruption,
                     "pack header does not match the pack size");
  return entries;
}

}  // namespace efs2s3::repo
