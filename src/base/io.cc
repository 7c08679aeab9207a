#include "base/io.h"

#include <unistd.h>

#include <cerrno>

namespace efs2s3 {

Result<size_t> PreadFull(int fd, std::span<std::uint8_t> out,
                         std::uint64_t offset, const std::string& what) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                        static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(what, errno);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<void> PreadExact(int fd, std::span<std::uint8_t> out,
                        std::uint64_t offset, const std::string& what) {
  ASSIGN_OR_RETURN(size_t n, PreadFull(fd, out, offset, what));
  if (n != out.size())
    return MakeError(ErrorCode::kIo, what + ": shorter than expected");
  return Ok();
}

Result<void> PwriteFull(int fd, ByteSpan data, std::uint64_t offset,
                        const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                         static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(what, errno);
    done += static_cast<size_t>(n);
  }
  return Ok();
}

Result<void> WriteFull(int fd, ByteSpan data, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(what, errno);
    done += static_cast<size_t>(n);
  }
  return Ok();
}

}  // namespace efs2s3
