#include "base/file_util.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/io.h"

namespace efs2s3 {

Result<Bytes> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError(path, errno);
  Bytes out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0)
    out.reserve(static_cast<size_t>(st.st_size));
  std::uint8_t buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return PosixError(path, err);
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

static Result<void> WriteAll(int fd, ByteSpan data, const std::string& name) {
  return WriteFull(fd, data, name);
}

static void SyncDir(const std::string& path) {
  std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos
                                       ? 0
                                       : path.find_last_of('/'));
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

Result<void> WriteFileAtomic(const std::string& path, ByteSpan data,
                             bool create_only, bool sync, unsigned mode) {
  return WriteFileAtomic(path, SpanSource(data), create_only, sync, mode);
}

Result<void> WriteFileAtomic(const std::string& path, const Source& data,
                             bool create_only, bool sync, unsigned mode) {
  std::string tmp = path + ".tmp-" + HexEncode(RandomBytes(8));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return PosixError(tmp, errno);
  Result<void> r = Ok();
  Result<void> read = ForEachPiece(data, 1 << 20, [&](ByteSpan piece) {
    if (r) r = WriteAll(fd, piece, tmp);
  });
  if (r && !read) r = read.error();
  if (r && sync && ::fsync(fd) != 0) r = PosixError(tmp, errno);
  if (::close(fd) != 0 && r) r = PosixError(tmp, errno);
  if (r) {
    if (create_only) {
      if (::link(tmp.c_str(), path.c_str()) != 0) r = PosixError(path, errno);
      ::unlink(tmp.c_str());
    } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
      r = PosixError(path, errno);
    }
  }
  if (!r) {
    ::unlink(tmp.c_str());
    return r;
  }
  if (sync) SyncDir(path);
  return Ok();
}

Result<int> OpenTempFile(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
    return PosixError(dir, errno);
  std::string path = dir + "/.tmp-" + HexEncode(RandomBytes(8));
  fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return PosixError(path, errno);
  ::unlink(path.c_str());
  return fd;
}

Result<void> MakeDirs(const std::string& path, unsigned mode) {
  if (path.empty()) return Ok();
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = path.find('/', pos + 1);
    cur = path.substr(0, next);
    pos = next;
    if (cur.empty() || cur == "/") continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return PosixError(cur, errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return PosixError(path, errno);
  if (!S_ISDIR(st.st_mode))
    return MakeError(ErrorCode::kIo, path + ": not a directory");
  return Ok();
}

Bytes RandomBytes(size_t n) {
  Bytes out(n);
  EFS2S3_CHECK(RAND_bytes(out.data(), static_cast<int>(n)) == 1);
  return out;
}

}  // namespace efs2s3
