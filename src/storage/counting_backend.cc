#include "storage/counting_backend.h"

namespace efs2s3::storage {

namespace {

class CountingBackend : public Backend {
 public:
  CountingBackend(std::unique_ptr<Backend> inner,
                  std::atomic<std::uint64_t>* count)
      : inner_(std::move(inner)), count_(count) {}

  std::string Location() const override { return inner_->Location(); }
  Result<void> Create() override { return inner_->Create(); }
  Result<void> Save(const Handle& h, ByteSpan data,
                    const SaveOptions& opts) override {
    Count();
    return inner_->Save(h, data, opts);
  }
  Result<void> SaveFrom(const Handle& h, const Source& data,
                        const SaveOptions& opts) override {
    Count();
    return inner_->SaveFrom(h, data, opts);
  }
  Result<Bytes> Load(const Handle& h, std::uint64_t offset,
                     std::uint64_t length) override {
    Count();
    return inner_->Load(h, offset, length);
  }
  Result<ObjectInfo> Stat(const Handle& h) override {
    Count();
    return inner_->Stat(h);
  }
  Result<void> Remove(const Handle& h) override {
    Count();
    return inner_->Remove(h);
  }
  Result<void> List(
      ObjectType type,
      const std::function<Result<void>(const ObjectInfo&)>& fn) override {
    Count();
    return inner_->List(type, fn);
  }
  Result<bool> CanLock() override { return inner_->CanLock(); }
  Result<void> SetLockPolicy(const LockPolicy& policy) override {
    return inner_->SetLockPolicy(policy);
  }
  Result<Retention> GetRetention(const Handle& h) override {
    Count();
    return inner_->GetRetention(h);
  }
  Result<void> ExtendRetention(const Handle& h, std::int64_t until) override {
    Count();
    return inner_->ExtendRetention(h, until);
  }
  bool HasArchiveClasses() const override {
    return inner_->HasArchiveClasses();
  }
  Result<ArchiveStatus> GetArchiveStatus(const Handle& h) override {
    Count();
    return inner_->GetArchiveStatus(h);
  }
  Result<void> RequestRestore(const Handle& h, int days,
                              const std::string& tier) override {
    Count();
    return inner_->RequestRestore(h, days, tier);
  }
  int Concurrency() const override { return inner_->Concurrency(); }

 private:
  void Count() { count_->fetch_add(1, std::memory_order_relaxed); }

  std::unique_ptr<Backend> inner_;
  std::atomic<std::uint64_t>* count_;
};

}  // namespace

std::unique_ptr<Backend> NewCountingBackend(std::unique_ptr<Backend> inner,
                                            std::atomic<std::uint64_t>* count) {
  return std::make_unique<CountingBackend>(std::move(inner), count);
}

}  // namespace efs2s3::storage
