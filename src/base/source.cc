#include "base/source.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

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
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                        static_cast<off_t>(offset_ + offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(what_, errno);
    if (n == 0)
      return MakeError(ErrorCode::kIo, what_ + ": shorter than expected");
    done += static_cast<size_t>(n);
  }
  return Ok();
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
