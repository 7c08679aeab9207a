// The read-only view of an S3 repository at a point in time
// (NewS3PointInTimeBackend in s3_backend.h; docs/S3.md, "Point-in-time
// recovery").
#include <time.h>

#include <mutex>
#include <unordered_map>
#include <vector>

#include "aws/s3_versions.h"
#include "storage/s3/s3_backend.h"

namespace efs2s3::storage::s3 {

using aws::ObjectVersion;
using aws::S3Name;
using aws::SelectVersionAt;

namespace {

// "2026-12-01T12:00:00.5Z" (fractions only when there are some).
std::string FormatUtc(std::int64_t unix_ns) {
  std::int64_t secs = unix_ns / 1000000000;
  std::int64_t nanos = unix_ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  const time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[40];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (nanos != 0) {
    std::string frac = std::to_string(1000000000 + nanos).substr(1);
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out + "Z";
}

class S3PointInTimeBackend : public Backend {
 public:
  S3PointInTimeBackend(std::shared_ptr<S3Client> client, S3Location where,
                       S3Options opts, std::int64_t at_ns)
      : client_(std::move(client)),
        where_(std::move(where)),
        opts_(std::move(opts)),
        at_ns_(at_ns) {}

  std::string Location() const override { return LocationName(where_); }

  Result<void> Create() override { return ReadOnly("create a repository"); }
  Result<void> Save(const Handle& h, ByteSpan, const SaveOptions&) override {
    return ReadOnly("write " + ObjectKey(h));
  }
  Result<void> SaveFrom(const Handle& h, const Source&,
                        const SaveOptions&) override {
    return ReadOnly("write " + ObjectKey(h));
  }
  Result<void> Remove(const Handle& h) override {
    return ReadOnly("remove " + ObjectKey(h));
  }

  Result<Bytes> Load(const Handle& h, std::uint64_t offset,
                     std::uint64_t length) override {
    ASSIGN_OR_RETURN(Selected v, Resolve(h));
    return client_->GetObject(where_.bucket, Key(h), offset, length,
                              v.version_id);
  }

  Result<ObjectInfo> Stat(const Handle& h) override {
    ASSIGN_OR_RETURN(Selected v, Resolve(h));
    ASSIGN_OR_RETURN(aws::ObjectMeta m,
                     client_->HeadObject(where_.bucket, Key(h), v.version_id));
    return ObjectInfo{h.name, m.size, v.mtime};
  }

  // Object Lock. The policy of a locked repository is accepted (the view
  // writes nothing it could apply to); retention is that of the version read;
  // extending it is a write.
  Result<bool> CanLock() override {
    return client_->BucketObjectLockEnabled(where_.bucket);
  }
  Result<void> SetLockPolicy(const LockPolicy&) override { return Ok(); }
  Result<Retention> GetRetention(const Handle& h) override {
    ASSIGN_OR_RETURN(Selected v, Resolve(h));
    ASSIGN_OR_RETURN(aws::ObjectMeta m,
                     client_->HeadObject(where_.bucket, Key(h), v.version_id));
    return Retention{m.lock_mode, m.lock_retain_until, v.version_id};
  }
  Result<void> ExtendRetention(const Handle& h, std::int64_t) override {
    return ReadOnly("extend the retention of " + ObjectKey(h));
  }

  Result<void> List(
      ObjectType type,
      const std::function<Result<void>(const ObjectInfo&)>& fn) override {
    if (type == ObjectType::kConfig) {
      auto v = Resolve({type, "config"});
      if (!v)
        return v.error().code == ErrorCode::kNotFound ? Ok()
                                                      : Result<void>(v.error());
      return fn(ObjectInfo{"config", v->size, v->mtime});
    }
    std::string dir = Root() + ObjectTypeDir(type) + "/";
    return ForEachKeyAt(
        dir,
        [&](const std::string& key, const ObjectVersion* at) -> Result<void> {
          if (!at) return Ok();  // not there at the time
          std::optional<std::string> name =
              ObjectNameIn(type, std::string_view(key).substr(dir.size()));
          if (!name) return Ok();
          return fn(ObjectInfo{*name, at->size, Seconds(*at)});
        });
  }

  int Concurrency() const override { return std::max(1, opts_.connections); }

 private:
  // The version of a key current at the time; an empty version_id when the
  // key did not exist then.
  struct Selected {
    std::string version_id;
    std::uint64_t size = 0;
    std::int64_t mtime = 0;  // seconds since the epoch
  };

  static std::int64_t Seconds(const ObjectVersion& v) {
    return v.last_modified_ns / 1000000000;
  }

  Error ReadOnly(const std::string& what) const {
    return MakeError(ErrorCode::kPermission,
                     Location() +
                         ": the repository is opened read-only at a point in "
                         "time (" +
                         FormatUtc(at_ns_) + "): cannot " + what);
  }

  // Lists every version and delete marker under `prefix` and calls fn once
  // per key, with the entry current at the time (nullptr when the key did not
  // exist then), remembering it for Resolve. A key's entries are contiguous in
  // the listing (sorted by key, then newest first), also across pages.
  Result<void> ForEachKeyAt(
      const std::string& prefix,
      const std::function<Result<void>(const std::string&,
                                       const ObjectVersion*)>& fn) {
    std::vector<ObjectVersion> group;
    auto flush = [&]() -> Result<void> {
      if (group.empty()) return Ok();
      const ObjectVersion* current = SelectVersionAt(group, at_ns_);
      const std::string key = group.front().key;
      Remember(key, current);
      auto r = fn(key, current);
      group.clear();
      return r;
    };
    auto listed = client_->ListObjectVersions(
        where_.bucket, prefix, [&](const ObjectVersion& entry) -> Result<void> {
          if (!group.empty() && group.front().key != entry.key)
            RETURN_IF_ERROR(flush());
          group.push_back(entry);
          return Ok();
        });
    if (!listed) return listed.error();
    return flush();
  }

  void Remember(const std::string& key, const ObjectVersion* current) {
    std::lock_guard lock(mu_);
    selected_[key] = current ? Selected{current->version_id, current->size,
                                        Seconds(*current)}
                             : Selected{};
  }

  // The version of h's key at the time, from a listing made earlier (List) or
  // a listing of the key's versions now; kNotFound when it did not exist.
  Result<Selected> Resolve(const Handle& h) {
    const std::string key = Key(h);
    std::optional<Selected> found = Lookup(key);
    if (!found) {
      RETURN_IF_ERROR(ForEachKeyAt(
          key, [](const std::string&, const ObjectVersion*) { return Ok(); }));
      found = Lookup(key);
      if (!found) {
        Remember(key, nullptr);  // no version at all
        found = Selected{};
      }
    }
    if (found->version_id.empty())
      return MakeError(ErrorCode::kNotFound,
                       S3Name(where_.bucket, key) + ": not found at " +
                           FormatUtc(at_ns_) + " (no version then)");
    return *found;
  }

  std::optional<Selected> Lookup(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = selected_.find(key);
    if (it == selected_.end()) return std::nullopt;
    return it->second;
  }

  std::string Root() const { return KeyPrefix(where_); }
  std::string Key(const Handle& h) const {
    return KeyPrefix(where_) + ObjectKey(h);
  }

  std::shared_ptr<S3Client> client_;
  S3Location where_;
  S3Options opts_;
  const std::int64_t at_ns_;
  std::mutex mu_;
  std::unordered_map<std::string, Selected> selected_;  // guarded by mu_
};

}  // namespace

std::unique_ptr<Backend> NewS3PointInTimeBackendWithClient(
    std::shared_ptr<S3Client> client, const S3Location& where,
    const S3Options& opts, std::int64_t at_ns) {
  return std::make_unique<S3PointInTimeBackend>(std::move(client), where, opts,
                                                at_ns);
}

Result<std::unique_ptr<Backend>> NewS3PointInTimeBackend(
    const S3Location& where, const S3Options& opts, std::int64_t at_ns,
    const Getenv& env) {
  ASSIGN_OR_RETURN(std::shared_ptr<S3Client> client, NewS3Client(opts, env));
  return NewS3PointInTimeBackendWithClient(std::move(client), where, opts,
                                           at_ns);
}

}  // namespace efs2s3::storage::s3
