#include "storage/s3/s3_backend.h"

#include <time.h>

#include <algorithm>
#include <ctime>

#include "aws/multipart.h"
#include "storage/storage_class.h"

namespace efs2s3::storage::s3 {

using aws::ListedObject;
using aws::NewDefaultCredentialsChain;
using aws::ParseIsoTime;
using aws::PutOptions;
using aws::ResolveRegion;
using aws::S3Name;

namespace {

// S3 leaves the class out of a HEAD answer for STANDARD objects (and some
// servers out of listings).
std::string StorageClassOf(const std::string& listed) {
  return listed.empty() ? "STANDARD" : listed;
}

bool ValidStorageClass(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || c == '_' || std::isdigit(c);
  });
}

bool ValidBucket(const std::string& b) {
  if (b.size() < 3 || b.size() > 63) return false;
  return std::all_of(b.begin(), b.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t ListedTime(const std::string& iso) {
  auto t = aws::ParseIsoTime(iso);
  if (!t) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch())
      .count();
}

class S3Backend : public Backend, public S3Maintenance {
 public:
  S3Backend(std::shared_ptr<S3Client> client, S3Location where, S3Options opts)
      : client_(std::move(client)),
        where_(std::move(where)),
        opts_(std::move(opts)) {}

  std::string Location() const override { return LocationName(where_); }

  Result<void> Create() override {
    const bool lock = !policy_.mode.empty();
    auto head = client_->HeadBucket(where_.bucket);
    if (!head && head.error().code == ErrorCode::kNoRepository) {
      RETURN_IF_ERROR(client_->CreateBucket(where_.bucket, lock));
    } else if (!head) {
      return head.error();
    } else if (lock) {
      ASSIGN_OR_RETURN(bool can, CanLock());
      if (!can)
        return MakeError(
            ErrorCode::kUsage,
            "s3:" + where_.bucket +
                ": the bucket has no Object Lock, which can only be enabled "
                "when a bucket is created; use a new bucket (efs2s3 creates "
                "it with Object Lock) or one created with "
                "--object-lock-enabled-for-bucket");
    }
    auto st = Stat({ObjectType::kConfig, "config"});
    if (st)
      return MakeError(ErrorCode::kAlreadyExists,
                       Location() + ": a repository already exists here");
    if (st.error().code != ErrorCode::kNotFound) return st.error();
    return Ok();
  }

  Result<void> Save(const Handle& h, ByteSpan data,
                    const SaveOptions& opts) override {
    return SaveFrom(h, SpanSource(data), opts);
  }

  Result<void> SaveFrom(const Handle& h, const Source& data,
                        const SaveOptions& opts) override {
    PutOptions put;
    put.create_only = opts.create_only;
    put.storage_class = h.type == ObjectType::kPack && !opts.metadata
                            ? opts_.storage_class_data
                            : opts_.storage_class_meta;
    put.sse = opts_.sse;
    put.sse_kms_key_id = opts_.sse_kms_key_id;
    if (!policy_.mode.empty() && h.type != ObjectType::kLock) {
      // Locks are removed when released; everything else is kept locked.
      put.lock_mode = policy_.mode;
      put.lock_retain_until = aws::FormatRetainUntil(Now() + policy_.seconds);
    }
    std::string key = Key(h);
    if (data.size() >= opts_.multipart_threshold && data.size() > (5u << 20)) {
      if (opts.create_only) {
        // radosgw ignores If-None-Match on CompleteMultipartUpload: check
        // first.
        auto st = client_->HeadObject(where_.bucket, key);
        if (st)
          return MakeError(ErrorCode::kAlreadyExists,
                           S3Name(where_.bucket, key) + ": already exists");
        if (st.error().code != ErrorCode::kNotFound) return st.error();
      }
      RETURN_IF_ERROR(aws::UploadMultipart(
          *client_, where_.bucket, key, data, put,
          {opts_.multipart_part_size, std::max(1, opts_.multipart_parallel)}));
      return Ok();
    }
    put.payload_sha256 = opts.sha256_hex;
    RETURN_IF_ERROR(client_->PutObject(where_.bucket, key, data, put));
    return Ok();
  }

  Result<Bytes> Load(const Handle& h, std::uint64_t offset,
                     std::uint64_t length) override {
    auto r = client_->GetObject(where_.bucket, Key(h), offset, length);
    if (!r && h.type == ObjectType::kConfig)
      return ExplainMissingConfig(r.error());
    return r;
  }

  Result<ObjectInfo> Stat(const Handle& h) override {
    auto m = client_->HeadObject(where_.bucket, Key(h));
    if (!m && h.type == ObjectType::kConfig)
      return ExplainMissingConfig(m.error());
    if (!m) return m.error();
    return ObjectInfo{h.name, m->size, aws::HttpDateSeconds(m->last_modified),
                      StorageClassOf(m->storage_class)};
  }

  Result<void> Remove(const Handle& h) override {
    std::string key = Key(h);
    ASSIGN_OR_RETURN(aws::ObjectMeta m,
                     client_->HeadObject(where_.bucket, key));
    if (!policy_.mode.empty() && !m.version_id.empty() &&
        m.lock_retain_until <= Now()) {
      // Nothing holds this version any more: delete it for good instead of
      // leaving it behind a delete marker.
      auto r = client_->DeleteObjectVersion(where_.bucket, key, m.version_id);
      if (r || r.error().code != ErrorCode::kPermission) return r;
      // No right to delete versions (or a clock ahead of the server's): hide
      // it; a lifecycle rule removes it (docs/S3.md).
    }
    return client_->DeleteObject(where_.bucket, key);
  }

  bool HasArchiveClasses() const override { return true; }

  Result<ArchiveStatus> GetArchiveStatus(const Handle& h) override {
    ASSIGN_OR_RETURN(aws::ObjectMeta m,
                     client_->HeadObject(where_.bucket, Key(h)));
    ArchiveStatus st;
    st.storage_class = m.storage_class;
    st.size = m.size;
    st.archived = IsArchiveClass(m.storage_class) || !m.archive_status.empty();
    aws::RestoreState r = aws::ParseRestoreHeader(m.restore);
    st.restore_ongoing = r.requested && r.ongoing;
    // An INTELLIGENT_TIERING object restored from an archive tier moves back
    // to a readable tier (no x-amz-archive-status then, no expiry).
    st.restored_until =
        r.requested && !r.ongoing ? std::max<std::int64_t>(r.expiry, 1) : 0;
    return st;
  }

  Result<void> RequestRestore(const Handle& h, int days,
                              const std::string& tier) override {
    // INTELLIGENT_TIERING archive tiers take no Days: the object moves back.
    ASSIGN_OR_RETURN(ArchiveStatus st, GetArchiveStatus(h));
    const bool tiering = st.storage_class == "INTELLIGENT_TIERING";
    return client_->RestoreObject(where_.bucket, Key(h), tiering ? 0 : days,
                                  tier);
  }

  Result<bool> CanLock() override {
    return client_->BucketObjectLockEnabled(where_.bucket);
  }

  Result<void> SetLockPolicy(const LockPolicy& policy) override {
    if (!policy.mode.empty() && policy.mode != aws::kLockGovernance &&
        policy.mode != aws::kLockCompliance)
      return MakeError(ErrorCode::kInvalidArgument,
                       "unknown Object Lock mode " + policy.mode);
    policy_ = policy;
    return Ok();
  }

  Result<Retention> GetRetention(const Handle& h) override {
    ASSIGN_OR_RETURN(aws::ObjectMeta m,
                     client_->HeadObject(where_.bucket, Key(h)));
    return Retention{m.lock_mode, m.lock_retain_until, m.version_id};
  }

  Result<void> ExtendRetention(const Handle& h, std::int64_t until) override {
    std::string mode =
        policy_.mode.empty() ? std::string(aws::kLockGovernance) : policy_.mode;
    return client_->PutObjectRetention(where_.bucket, Key(h), mode, until);
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
    std::string dir = Root() + ObjectTypeDir(type) + "/";
    return client_->ListObjects(
        where_.bucket, dir, [&](const ListedObject& o) -> Result<void> {
          std::optional<std::string> name =
              ObjectNameIn(type, std::string_view(o.key).substr(dir.size()));
          if (!name) return Ok();
          return fn(ObjectInfo{*name, o.size, ListedTime(o.last_modified),
                               StorageClassOf(o.storage_class)});
        });
  }

  int Concurrency() const override { return std::max(1, opts_.connections); }

  Result<std::vector<MultipartUpload>> ListIncompleteUploads() override {
    std::vector<MultipartUpload> out;
    RETURN_IF_ERROR(client_->ListMultipartUploads(
        where_.bucket, Root(), [&](const MultipartUpload& u) -> Result<void> {
          out.push_back(u);
          return Ok();
        }));
    return out;
  }

  Result<int> AbortIncompleteUploads(
      std::chrono::system_clock::time_point before) override {
    ASSIGN_OR_RETURN(std::vector<MultipartUpload> uploads,
                     ListIncompleteUploads());
    int n = 0;
    for (const auto& u : uploads) {
      auto t = ParseIsoTime(u.initiated);
      if (t && *t >= before) continue;
      RETURN_IF_ERROR(
          client_->AbortMultipartUpload(where_.bucket, u.key, u.upload_id));
      ++n;
    }
    return n;
  }

 private:
  // A HEAD of a key in a missing bucket is a bare 404: when the config is
  // missing, say whether the whole bucket is.
  Error ExplainMissingConfig(const Error& e) {
    if (e.code != ErrorCode::kNotFound) return e;
    auto bucket = client_->HeadBucket(where_.bucket);
    if (!bucket && bucket.error().code == ErrorCode::kNoRepository)
      return MakeError(ErrorCode::kNoRepository,
                       S3Name(where_.bucket, "") +
                           ": the bucket does not exist (init creates it)");
    return e;
  }

  std::string Root() const { return KeyPrefix(where_); }
  std::string Key(const Handle& h) const {
    return KeyPrefix(where_) + ObjectKey(h);
  }

  std::shared_ptr<S3Client> client_;
  LockPolicy policy_;
  S3Location where_;
  S3Options opts_;
};

}  // namespace

Result<S3Config> ResolveS3Config(const S3Options& opts, const Getenv& env) {
  S3Config c;
  c.region = opts.region;
  if (c.region.empty()) c.region = ResolveRegion(env);
  if (c.region.empty()) c.region = "us-east-1";
  c.endpoint = opts.endpoint;
  for (const char* var : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"})
    if (c.endpoint.empty()) c.endpoint = env(var).value_or("");
  if (!c.endpoint.empty()) {
    if (c.endpoint.find("://") == std::string::npos)
      c.endpoint = "https://" + c.endpoint;
    if (c.endpoint.rfind("http://", 0) != 0 &&
        c.endpoint.rfind("https://", 0) != 0)
      return MakeError(ErrorCode::kInvalidArgument,
                       "S3 endpoint " + c.endpoint +
                           ": only http:// and https:// are supported");
  }
  c.path_style = opts.path_style;
  c.http.max_in_flight = std::max(1, opts.connections);
  c.http.connect_timeout =
      std::chrono::seconds(std::max(1, opts.connect_timeout_s));
  c.http.stall_timeout =
      std::chrono::seconds(std::max(1, opts.stall_timeout_s));
  c.http.total_timeout =
      std::chrono::seconds(std::max(0, opts.request_timeout_s));
  c.retry.max_attempts = std::max(1, opts.max_attempts);
  c.http.limits = opts.limits;
  if (!opts.sse.empty() && opts.sse != "AES256" && opts.sse != "aws:kms")
    return MakeError(ErrorCode::kInvalidArgument,
                     "--s3-sse " + opts.sse + ": use AES256 or aws:kms");
  if (!opts.sse_kms_key_id.empty() && opts.sse != "aws:kms")
    return MakeError(ErrorCode::kInvalidArgument,
                     "--s3-sse-kms-key-id needs --s3-sse aws:kms");
  if (!ValidStorageClass(opts.storage_class_data) ||
      !ValidStorageClass(opts.storage_class_meta))
    return MakeError(ErrorCode::kInvalidArgument,
                     "S3 storage classes are upper-case names such as STANDARD "
                     "or GLACIER_IR");
  if (IsArchiveClass(opts.storage_class_meta))
    return MakeError(ErrorCode::kInvalidArgument,
                     "--s3-storage-class-meta " + opts.storage_class_meta +
                         ": metadata must stay readable without a restore; "
                         "use an archive class for data "
                         "(--s3-storage-class-data) only");
  return c;
}

Result<S3Location> ParseS3Location(const std::string& location) {
  std::string rest;
  if (location.rfind("s3://", 0) == 0)
    rest = location.substr(5);
  else if (location.rfind("s3:", 0) == 0)
    rest = location.substr(3);
  else
    return MakeError(ErrorCode::kInvalidArgument,
                     location + ": not an s3: location");
  if (rest.empty() || rest.front() == '/')
    return MakeError(ErrorCode::kInvalidArgument,
                     location + ": names no bucket (s3://BUCKET/PREFIX)");
  S3Location loc;
  size_t slash = rest.find('/');
  loc.bucket = rest.substr(0, slash);
  if (slash != std::string::npos) loc.prefix = rest.substr(slash + 1);
  while (!loc.prefix.empty() && loc.prefix.back() == '/') loc.prefix.pop_back();
  while (!loc.prefix.empty() && loc.prefix.front() == '/')
    loc.prefix.erase(0, 1);
  if (!ValidBucket(loc.bucket))
    return MakeError(
        ErrorCode::kInvalidArgument,
        location + ": \"" + loc.bucket +
            "\" is not a valid bucket name (3-63 characters: a-z 0-9 . -)");
  return loc;
}

std::string KeyPrefix(const S3Location& where) {
  return where.prefix.empty() ? "" : where.prefix + "/";
}

std::string LocationName(const S3Location& where) {
  return "s3:" + where.bucket +
         (where.prefix.empty() ? "" : "/" + where.prefix);
}

std::optional<std::string> ObjectNameIn(ObjectType type, std::string_view rel) {
  size_t slash = rel.find('/');
  if (type == ObjectType::kPack) {
    // data/<2 hex>/<name>
    if (slash != 2 || rel.find('/', 3) != std::string_view::npos)
      return std::nullopt;
    rel = rel.substr(3);
  } else if (slash != std::string_view::npos) {
    return std::nullopt;
  }
  if (rel.empty()) return std::nullopt;
  return std::string(rel);
}

Result<std::shared_ptr<S3Client>> NewS3Client(const S3Options& opts,
                                              const Getenv& env) {
  ASSIGN_OR_RETURN(S3Config config, ResolveS3Config(opts, env));
  return std::make_shared<S3Client>(std::move(config),
                                    NewDefaultCredentialsChain(env));
}

Result<std::unique_ptr<Backend>> NewS3Backend(const S3Location& where,
                                              const S3Options& opts,
                                              const Getenv& env) {
  ASSIGN_OR_RETURN(std::shared_ptr<S3Client> client, NewS3Client(opts, env));
  return NewS3BackendWithClient(std::move(client), where, opts);
}

std::unique_ptr<Backend> NewS3BackendWithClient(
    std::shared_ptr<S3Client> client, const S3Location& where,
    const S3Options& opts) {
  return std::make_unique<S3Backend>(std::move(client), where, opts);
}

S3Maintenance* AsS3Maintenance(Backend& backend) {
  return dynamic_cast<S3Maintenance*>(&backend);
}

}  // namespace efs2s3::storage::s3
