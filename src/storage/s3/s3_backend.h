// A repository in an S3 bucket (Amazon S3 or a compatible server such as
// radosgw).
//
// Object keys are "<prefix>/<ObjectKey(h)>" (backend.h). Save uses a single PUT
// with Content-MD5 and a signed payload hash, or a parallel multipart upload
// from S3Options::multipart_threshold on; create-only saves send If-None-Match:
// * and map 412 to kAlreadyExists. Storage class and server-side encryption
// come from S3Options: data packs get storage_class_data, everything else
// storage_class_meta. Retries live in the S3 client (s3_client.h), per request.
//
// Remove checks existence first (S3 deletes missing keys silently, the Backend
// contract wants kNotFound). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "storage/backend.h"
#include "storage/options.h"

namespace efs2s3::storage::s3 {

using aws::Getenv;
using aws::MultipartUpload;
using aws::ProcessEnv;
using aws::S3Client;
using aws::S3Config;

// Client settings from options and the environment: endpoint (options,
// AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else Amazon S3 of the region), region
// (options, AWS_REGION, AWS_DEFAULT_REGION, config file, else us-east-1).
// kInvalidArgument for malformed values.
Result<S3Config> ResolveS3Config(const S3Options& opts, const Getenv& env);

// Parses "s3://bucket[/prefix]" or "s3:bucket[/prefix]".
struct S3Location {
  std::string bucket;
  std::string prefix;  // no leading or trailing '/'
};
Result<S3Location> ParseS3Location(const std::string& location);

// "prefix/" ("" without a prefix): what every key of the repository starts
// with.
std::string KeyPrefix(const S3Location& where);
// "s3:bucket/prefix", as a Backend's Location().
std::string LocationName(const S3Location& where);

// The name of the object of `type` whose key, relative to the type's
// directory, is `rel` ("3f/3fa2..." of a pack -> "3fa2..."); nullopt for a key
// that is no such object (a deeper or shallower path).
std::optional<std::string> ObjectNameIn(ObjectType type, std::string_view rel);

// A client with the settings of ResolveS3Config and the default credentials
// chain.
Result<std::shared_ptr<S3Client>> NewS3Client(const S3Options& opts,
                                              const Getenv& env);

// Opens a bucket/prefix with the default credentials chain.
Result<std::unique_ptr<Backend>> NewS3Backend(const S3Location& where,
                                              const S3Options& opts,
                                              const Getenv& env = ProcessEnv());
// Same with a given client (tests, custom credentials).
std::unique_ptr<Backend> NewS3BackendWithClient(
    std::shared_ptr<S3Client> client, const S3Location& where,
    const S3Options& opts);

// A read-only view of the repository at bucket/prefix as it was at `at_ns`
// (Unix nanoseconds), read from the bucket's object versions
// (docs/S3.md, "Point-in-time recovery"). List lists the versions and delete
// markers under a type's directory (ListObjectVersions) and yields each key's
// version current at the time (aws::SelectVersionAt), with that version's
// size; Load and Stat read that version (versionId=), found by a listing of
// the key's versions unless a List found it before. Later versions and delete
// markers are ignored. Every write (Create, Save, SaveFrom, Remove) fails at
// once with kPermission, saying the repository is opened read-only at a point
// in time, and so does ExtendRetention; SetLockPolicy accepts the policy of a
// locked repository (nothing is written to apply it to) and GetRetention gives
// the retention of the version read. Thread-safe.
Result<std::unique_ptr<Backend>> NewS3PointInTimeBackend(
    const S3Location& where, const S3Options& opts, std::int64_t at_ns,
    const Getenv& env = ProcessEnv());
std::unique_ptr<Backend> NewS3PointInTimeBackendWithClient(
    std::shared_ptr<S3Client> client, const S3Location& where,
    const S3Options& opts, std::int64_t at_ns);

// Maintenance only an S3 backend offers: multipart uploads left behind by
// crashed runs.
class S3Maintenance {
 public:
  virtual ~S3Maintenance() = default;
  // Incomplete multipart uploads under the repository prefix.
  virtual Result<std::vector<MultipartUpload>> ListIncompleteUploads() = 0;
  // Aborts those started before `before`; returns how many were aborted.
  virtual Result<int> AbortIncompleteUploads(
      std::chrono::system_clock::time_point before) = 0;
};

// The maintenance interface of an S3 backend, nullptr for other backends.
S3Maintenance* AsS3Maintenance(Backend& backend);

}  // namespace efs2s3::storage::s3
