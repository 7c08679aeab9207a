#include "repo/pack.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/file_util.h"
#include "base/io.h"

namespace efs2s3::repo {

static constexpr char kMagic[4] = {'E', 'P', 'K', '1'};
static constexpr size_t kEntrySize = 1 + 1 + 4 + 4 + 32;

FinishedPack::~FinishedPack() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> FinishedPack::ReadAt(std::uint64_t offset,
                                  std::span<std::uint8_t> out) const {
  if (fd_ < 0) return SpanSource(span_).ReadAt(offset, out);
  return FileSource(fd_, 0, size_, "pack " + name.Hex() + " (spooled)")
      .ReadAt(offset, out);
}

PackWriter PackWriter::Spooled(const std::string& dir) {
  PackWriter w;
  w.spool_dir_ = dir;
  if (auto fd = OpenTempFile(dir)) w.fd_ = *fd;
  return w;
}

PackWriter PackWriter::InMemory(size_t reserve) {
  PackWriter w;
  w.data_.reserve(reserve);
  w.counted_ = true;
  return w;
}

PackWriter::PackWriter(PackWriter&& other) noexcept {
  *this = std::move(other);
}

PackWriter& PackWriter::operator=(PackWriter&& other) noexcept {
  if (this == &other) return *this;
  if (fd_ >= 0) ::close(fd_);
  data_ = std::move(other.data_);
  fd_ = std::exchange(other.fd_, -1);
  spool_dir_ = std::move(other.spool_dir_);
  counted_ = std::exchange(other.counted_, false);
  size_ = std::exchange(other.size_, 0);
  sha_ = std::exchange(other.sha_, std::make_unique<crypto::Sha256Stream>());
  entries_ = std::move(other.entries_);
  other.data_.clear();
  other.entries_.clear();
  return *this;
}

PackWriter::~PackWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> PackWriter::Append(ByteSpan data) {
  sha_->Update(data);
  if (fd_ < 0) {
    data_.insert(data_.end(), data.begin(), data.end());
  } else {
    RETURN_IF_ERROR(
        PwriteFull(fd_, data, size_, "temporary pack file in " + spool_dir_));
  }
  size_ += data.size();
  return Ok();
}

Result<void> PackWriter::Add(const PackEntry& entry, ByteSpan sealed_blob) {
  PackEntry e = entry;
  e.offset = static_cast<std::uint32_t>(size_);
  e.length = static_cast<std::uint32_t>(sealed_blob.size());
  RETURN_IF_ERROR(Append(sealed_blob));
  entries_.push_back(e);
  return Ok();
}

Result<std::unique_ptr<FinishedPack>> PackWriter::Finish(
    const crypto::Key& key) {
  Bytes header(kMagic, kMagic + 4);
  for (const PackEntry& e : entries_) {
    header.push_back(static_cast<std::uint8_t>(e.type));
    header.push_back(e.compressed ? kBlobCompressed : 0);
    PutU32(header, e.length);
    PutU32(header, e.raw_length);
    header.insert(header.end(), e.id.bytes.begin(), e.id.bytes.end());
  }
  Bytes tail = crypto::Seal(key, header);
  PutU32(tail, static_cast<std::uint32_t>(tail.size()));
  RETURN_IF_ERROR(Append(tail));
  auto pack = std::make_unique<FinishedPack>();
  pack->name = Id::FromSpan(sha_->Finish());
  pack->entries = std::move(entries_);
  pack->size_ = size_;
  pack->fd_ = std::exchange(fd_, -1);
  pack->memory_ = std::move(data_);
  pack->span_ = pack->memory_;
  data_ = Bytes();
  entries_.clear();
  counted_ = false;
  size_ = 0;
  sha_ = std::make_unique<crypto::Sha256Stream>();
  return pack;
}

namespace {

// The entries of an opened header; blob offsets from 0. kCorruption if
// malformed; *end is where the last blob ends (where the header starts).
Result<std::vector<PackEntry>> DecodeHeader(const Bytes& h,
                                            std::uint64_t* end) {
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
  *end = offset;
  return entries;
}

}  // namespace

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
  std::uint64_t end = 0;
  ASSIGN_OR_RETURN(auto entries, DecodeHeader(*header, &end));
  if (end + hlen + 4 != pack_size)
    return MakeError(ErrorCode::kCorruption,
                     "pack header does not match the pack size");
  return entries;
}

Result<std::vector<PackEntry>> FindPackHeader(const crypto::Key& key,
                                              ByteSpan pack,
                                              std::uint64_t budget) {
  // The sealed header ends where its 4-byte length field starts. That field
  // may be damaged (end = size - 4, length unknown) or cut off by k bytes
  // (end = size - 4 + k; the surviving low bytes of the length constrain it).
  // The cuts that leave low bytes of the length are tried first: they allow
  // one header length in 256 or fewer. Each cut has its own budget.
  const std::uint64_t size = pack.size();
  for (int cut : {1, 2, 3, 4, 0}) {
    if (size + cut < 4) continue;
    std::uint64_t end = size + cut - 4;
    int known = cut == 0 ? 0 : 4 - cut;  // low bytes of the length left
    std::uint32_t low = 0, mask = 0;
    for (int b = 0; b < known; ++b) {
      low |= std::uint32_t{pack[end + b]} << (8 * b);
      mask |= 0xffu << (8 * b);
    }
    std::uint64_t spent = 0;
    for (std::uint64_t n = 0;; ++n) {
      std::uint64_t hlen = crypto::kSealOverhead + 4 + n * kEntrySize;
      if (hlen > end || spent > budget) break;
      if ((hlen & mask) != low) continue;
      spent += hlen;
      auto header = crypto::Open(key, pack.subspan(end - hlen, hlen));
      if (!header) continue;
      std::uint64_t blobs_end = 0;
      auto entries = DecodeHeader(*header, &blobs_end);
      if (entries && blobs_end == end - hlen) return entries;
    }
  }
  return MakeError(ErrorCode::kCorruption, "pack header not found");
}

}  // namespace efs2s3::repo
