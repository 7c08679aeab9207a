#include "base/source.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/io.h"

namespace efs2s3 {

Result<void> SpanSource::ReadAt(std::uint64_t offset,
                                std::span<std::uint8_t> out) const {
  if (offset > data_.size() || out.size() > data_.size() - offset)
    return MakeError(ErrorCode::kInvalidArgument, "read past the end");
  if (!out.empty()) std::memcpy(out.data(), data_.data() + offset, out.size());
  return Ok();
}

Result<void> FileSource::ReadAt(std::uint64_t offset,
                                std::span<std::uint8_t> out) const {
  if (offset > size_ || out.size() > size_ - offset)
    return MakeError(ErrorCode::kInvalidArgument,
                     what_ + ": read past the end");
  return PreadExact(fd_, out, offset_ + offset, what_);
}

SliceSource::SliceSource(const Source& base, std::uint64_t offset,
                         std::uint64_t length)
    : base_(base), offset_(offset), length_(length) {
  if (const ByteSpan* m = base.Memory())
    memory_ =
        m->subspan(static_cast<size_t>(offset), static_cast<size_t>(length));
}

Result<void> ForEachPiece(const Source& src, size_t block,
                          const std::function<void(ByteSpan)>& fn) {
  if (const ByteSpan* m = src.Memory()) {
    fn(*m);
    return Ok();
  }
  Bytes buf(static_cast<size_t>(
      std::min<std::uint64_t>(block, std::max<std::uint64_t>(src.size(), 1))));
  for (std::uint64_t off = 0; off < src.size();) {
    size_t n = static_cast<size_t>(
        std::min<std::uint64_t>(buf.size(), src.size() - off));
    RETURN_IF_ERROR(src.ReadAt(off, std::span(buf.data(), n)));
    fn(ByteSpan(buf.data(), n));
    off += n;
  }
  return Ok();
}

Result<Bytes> ReadAll(const Source& src) {
  if (const ByteSpan* m = src.Memory()) return Bytes(m->begin(), m->end());
  Bytes out(static_cast<size_t>(src.size()));
  RETURN_IF_ERROR(src.ReadAt(0, out));
  return out;
}

}  // namespace efs2s3
