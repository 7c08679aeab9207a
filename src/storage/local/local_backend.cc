#include "storage/local/local_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <optional>

#include "base/file_util.h"
#include "base/io.h"

namespace efs2s3::storage {
namespace {

// A Source that takes what is read of it from a rate limiter.
class LimitedSource final : public Source {
 public:
  LimitedSource(const Source& data, RateLimiter& limit)
      : data_(data), limit_(limit) {}
  std::uint64_t size() const override { return data_.size(); }
  Result<void> ReadAt(std::uint64_t offset,
                      std::span<std::uint8_t> out) const override {
    limit_.Take(out.size());
    return data_.ReadAt(offset, out);
  }

 private:
  const Source& data_;
  RateLimiter& limit_;
};

class LocalBackend : public Backend {
 public:
  LocalBackend(std::string root, TransferLimits limits)
      : root_(std::move(root)), limits_(std::move(limits)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }

  std::string Location() const override { return root_; }

  Result<void> Create() override {
    struct stat st {};
    if (::stat(Path({ObjectType::kConfig, "config"}).c_str(), &st) == 0)
      return MakeError(ErrorCode::kAlreadyExists,
                       root_ + ": a repository already exists here");
    RETURN_IF_ERROR(MakeDirs(root_));
    for (ObjectType t :
         {ObjectType::kKey, ObjectType::kIndex, ObjectType::kSnapshot,
          ObjectType::kLock, ObjectType::kPack}) {
      RETURN_IF_ERROR(MakeDirs(root_ + "/" + ObjectTypeDir(t)));
    }
    for (int i = 0; i < 256; ++i) {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string sub = {kHex[i >> 4], kHex[i & 15]};
      RETURN_IF_ERROR(MakeDirs(root_ + "/data/" + sub));
    }
    return Ok();
  }

  Result<void> Save(const Handle& h, ByteSpan data,
                    const SaveOptions& opts) override {
    return SaveFrom(h, SpanSource(data), opts);
  }

  Result<void> SaveFrom(const Handle& h, const Source& given,
                        const SaveOptions& opts) override {
    std::optional<LimitedSource> limited;
    if (limits_.upload) limited.emplace(given, *limits_.upload);
    const Source& data = limited ? *limited : given;
    std::string path = Path(h);
    Result<void> r = WriteFileAtomic(path, data, opts.create_only);
    if (!r && r.error().code == ErrorCode::kNotFound) {
      // The type directory is missing (e.g. an old pack prefix): create and
      // retry.
      RETURN_IF_ERROR(MakeDirs(path.substr(0, path.find_last_of('/'))));
      r = WriteFileAtomic(path, data, opts.create_only);
    }
    if (!r && r.error().code == ErrorCode::kAlreadyExists)
      return MakeError(ErrorCode::kAlreadyExists,
                       ObjectKey(h) + ": already exists");
    return r;
  }

  Result<Bytes> Load(const Handle& h, std::uint64_t offset,
                     std::uint64_t length) override {
    std::string path = Path(h);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(ObjectKey(h), errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return PosixError(ObjectKey(h), err);
    }
    std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    if (offset > size || (length > 0 && offset + length > size)) {
      ::close(fd);
      return MakeError(ErrorCode::kCorruption,
                       ObjectKey(h) + ": object is " + std::to_string(size) +
                           " bytes, shorter than the requested range");
    }
    if (length == 0) length = size - offset;
    if (limits_.download) limits_.download->Take(length);
    Bytes out(length);
    auto read = PreadExact(fd, out, offset, ObjectKey(h));
    ::close(fd);
    if (!read) return read.error();
    return out;
  }

  Result<ObjectInfo> Stat(const Handle& h) override {
    struct stat st {};
    if (::stat(Path(h).c_str(), &st) != 0)
      return PosixError(ObjectKey(h), errno);
    return ObjectInfo{h.name, static_cast<std::uint64_t>(st.st_size)};
  }

  Result<void> Remove(const Handle& h) override {
    if (::unlink(Path(h).c_str()) != 0) return PosixError(ObjectKey(h), errno);
    return Ok();
  }

  Result<void> List(
      ObjectType type,
      const std::function<Result<void>(const ObjectInfo&)>& fn) override {
    if (type == ObjectType::kConfig) {
      auto st = Stat({type, "config"});
      if (!st)
        return st.error().code == ErrorCode::kNotFound
                   ? Ok()
                   : Result<void>(st.error());
      return fn(*st);
    }
    std::string dir = root_ + "/" + ObjectTypeDir(type);
    if (type != ObjectType::kPack) return ListDir(dir, fn);
    DIR* d = ::opendir(dir.c_str());
    if (!d)
      return errno == ENOENT ? Ok() : Result<void>(PosixError(dir, errno));
    std::vector<std::string> subs;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      // The two-hex-digit subdirectories; not "..", whose files (the config)
      // are no packs.
      if (n.size() == 2 && std::isxdigit(static_cast<unsigned char>(n[0])) &&
          std::isxdigit(static_cast<unsigned char>(n[1])))
        subs.push_back(n);
    }
    ::closedir(d);
    for (const auto& s : subs) RETURN_IF_ERROR(ListDir(dir + "/" + s, fn));
    return Ok();
  }

 private:
  std::string Path(const Handle& h) const { return root_ + "/" + ObjectKey(h); }

  static Result<void> ListDir(
      const std::string& dir,
      const std::function<Result<void>(const ObjectInfo&)>& fn) {
    DIR* d = ::opendir(dir.c_str());
    if (!d)
      return errno == ENOENT ? Ok() : Result<void>(PosixError(dir, errno));
    std::vector<ObjectInfo> items;
    int dfd = ::dirfd(d);
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.empty() || n[0] == '.' || n.find(".tmp-") != std::string::npos)
        continue;
      struct stat st {};
      if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (!S_ISREG(st.st_mode)) continue;
      items.push_back({n, static_cast<std::uint64_t>(st.st_size),
                       static_cast<std::int64_t>(st.st_mtime)});
    }
    ::closedir(d);
    for (const auto& it : items) RETURN_IF_ERROR(fn(it));
    return Ok();
  }

  std::string root_;
  TransferLimits limits_;
};

}  // namespace

std::unique_ptr<Backend> NewLocalBackend(const std::string& root,
                                         TransferLimits limits) {
  return std::make_unique<LocalBackend>(root, std::move(limits));
}

}  // namespace efs2s3::storage
