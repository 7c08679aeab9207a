#include "storage/mem/mem_backend.h"

#include <map>
#include <mutex>

namespace efs2s3::storage {
namespace {

class MemBackend : public Backend {
 public:
  std::string Location() const override { return "mem:"; }
  Result<void> Create() override { return Ok(); }

  Result<void> Save(const Handle& h, ByteSpan data,
                    const SaveOptions& opts) override {
    std::lock_guard lock(mu_);
    std::string key = ObjectKey(h);
    if (opts.create_only && objects_.count(key))
      return MakeError(ErrorCode::kAlreadyExists, key + ": already exists");
    objects_[key] = Bytes(data.begin(), data.end());
    return Ok();
  }

  Result<Bytes> Load(const Handle& h, std::uint64_t offset,
                     std::uint64_t length) override {
    std::lock_guard lock(mu_);
    std::string key = ObjectKey(h);
    auto it = objects_.find(key);
    if (it == objects_.end())
      return MakeError(ErrorCode::kNotFound, key + ": not found");
    const Bytes& b = it->second;
    if (offset > b.size() || (length > 0 && offset + length > b.size()))
      return MakeError(ErrorCode::kCorruption,
                       key + ": shorter than the requested range");
    if (length == 0) length = b.size() - offset;
    return Bytes(b.begin() + static_cast<long>(offset),
                 b.begin() + static_cast<long>(offset + length));
  }

  Result<ObjectInfo> Stat(const Handle& h) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(ObjectKey(h));
    if (it == objects_.end())
      return MakeError(ErrorCode::kNotFound, ObjectKey(h) + ": not found");
    return ObjectInfo{h.name, it->second.size()};
  }

  Result<void> Remove(const Handle& h) override {
    std::lock_guard lock(mu_);
    if (!objects_.erase(ObjectKey(h)))
      return MakeError(ErrorCode::kNotFound, ObjectKey(h) + ": not found");
    return Ok();
  }

  Result<void> List(
      ObjectType type,
      const std::function<Result<void>(const ObjectInfo&)>& fn) override {
    std::vector<ObjectInfo> items;
    {
      std::lock_guard lock(mu_);
      for (const auto& [key, value] : objects_) {
        Handle probe{type, key.substr(key.find_last_of('/') + 1)};
        if (ObjectKey(probe) == key)
          items.push_back({probe.name, value.size()});
      }
    }
    for (const auto& it : items) RETURN_IF_ERROR(fn(it));
    return Ok();
  }

 private:
  std::mutex mu_;
  std::map<std::string, Bytes> objects_;
};

}  // namespace

std::unique_ptr<Backend> NewMemBackend() {
  return std::make_unique<MemBackend>();
}

}  // namespace efs2s3::storage
