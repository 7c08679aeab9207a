// The XML answers of S3, decoded by pure functions (bytes in, a value or an
// error out), so that each is tested on its own and under seeded mutation.
//
// Every decoder takes the bytes as the server sent them. A document that is
// not well-formed XML, lacks its root element or carries a malformed number is
// kCorruption; what the caller makes of that (retry, kIo) is the client's
// business. No decoder throws, and each allocates in proportion to its input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace efs2s3::aws {

// The S3 error codes efs2s3 acts on. A code not listed is kOther (its text is
// kept in S3ErrorBody::code_text); kNone means the answer named none (a HEAD
// answer has no body, a proxy sends HTML).
enum class S3Code {
  kNone,
  kOther,
  kNoSuchKey,
  kNoSuchUpload,
  kNoSuchBucket,
  kBucketAlreadyOwnedByYou,
  kSignatureDoesNotMatch,
  kInvalidAccessKeyId,
  kInvalidObjectState,
  kRequestTimeTooSkewed,
  kExpiredToken,
  kInvalidToken,
  kTokenRefreshRequired,
  kRequestTimeout,
  kOperationAborted,
  kConditionalRequestConflict,
  kSlowDown,
  kBadDigest,
  kXAmzContentSHA256Mismatch,
  kInternalError,
  kInvalidLocationConstraint,
  kObjectLockConfigurationNotFound,
  kInvalidRequest,
  kRestoreAlreadyInProgress,
};

// <ObjectLockConfiguration><ObjectLockEnabled>Enabled</...>: whether Object
// Lock is enabled (GetObjectLockConfiguration).
Result<bool> ParseObjectLockEnabled(ByteSpan body);
// The body of RestoreObject: a restored copy kept `days` days (0: none, for
// INTELLIGENT_TIERING archive tiers, which move back instead), fetched at
// `tier` ("Expedited", "Standard", "Bulk").
std::string RestoreRequestBody(int days, std::string_view tier);
// The body of PutObjectRetention.
std::string RetentionBody(std::string_view mode, std::string_view until);

// The S3Code of a <Code> text ("" -> kNone, unknown -> kOther).
S3Code ParseS3Code(std::string_view text);

// An <Error> document: the root of an error answer, or the body of a 200
// answer to CompleteMultipartUpload or CopyObject that failed after all.
struct S3ErrorBody {
  S3Code code = S3Code::kNone;
  std::string code_text;  // <Code> as sent
  std::string message;    // <Message>
};
// The <Error> of a document, nullopt if there is none (or the bytes are not
// XML). Never fails: an error answer without a readable body is still an
// error, classified by its HTTP status.
std::optional<S3ErrorBody> ParseS3ErrorBody(ByteSpan body);

struct ListedObject {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;           // without quotes
  std::string last_modified;  // ISO 8601 ("2024-01-02T03:04:05.000Z")
  std::string storage_class;  // "" when not sent (STANDARD)
};

// One page of ListObjectsV2. Keys are decoded when the answer says
// <EncodingType>url</EncodingType> (servers that ignore encoding-type=url send
// them as they are).
struct ListObjectsPage {
  std::vector<ListedObject> objects;
  bool truncated = false;
  std::string next_token;  // NextContinuationToken
};
Result<ListObjectsPage> ParseListObjectsV2(ByteSpan body);

// One entry of ListObjectVersions: a version of an object, or a delete
// marker (a version without data that makes the key look deleted).
struct ObjectVersion {
  std::string key;
  // "null" for an object written while the bucket's versioning was off or
  // suspended (it is read with versionId=null like any other).
  std::string version_id;
  bool delete_marker = false;
  bool is_latest = false;
  std::string last_modified;          // ISO 8601, as sent
  std::int64_t last_modified_ns = 0;  // the same in Unix nanoseconds
  std::uint64_t size = 0;             // 0 for a delete marker
  std::string etag;                   // without quotes; "" for a delete marker
  std::string storage_class;          // "" when not sent (delete markers)
};

// One page of ListObjectVersions: <Version> and <DeleteMarker> entries in the
// order of the answer (by key, and per key newest first). Keys are decoded as
// in ParseListObjectsV2. An entry without a key or version ID, or with an
// unreadable LastModified or Size, is kCorruption.
struct ListVersionsPage {
  std::vector<ObjectVersion> versions;
  bool truncated = false;
  std::string next_key_marker, next_version_id_marker;
};
Result<ListVersionsPage> ParseListObjectVersions(ByteSpan body);

// An ISO 8601 time in UTC as S3 sends it ("2024-01-02T03:04:05Z",
// "2024-01-02T03:04:05.123Z", or with an offset "+01:00"), in Unix
// nanoseconds; fractions of a second are kept to the nanosecond. Anything else
// (a missing field, a month 13, trailing text) is kCorruption.
Result<std::int64_t> ParseS3Time(std::string_view text);

struct MultipartUpload {
  std::string key;
  std::string upload_id;
  std::string initiated;  // ISO 8601
};

// One page of ListMultipartUploads.
struct ListUploadsPage {
  std::vector<MultipartUpload> uploads;
  bool truncated = false;
  std::string next_key_marker, next_upload_id_marker;
};
Result<ListUploadsPage> ParseListMultipartUploads(ByteSpan body);

// The UploadId of an InitiateMultipartUploadResult (kCorruption when empty).
Result<std::string> ParseInitiateMultipartUpload(ByteSpan body);

// The answer to CompleteMultipartUpload: the object's ETag (without quotes),
// or the <Error> that S3 may send with status 200.
struct CompleteResult {
  std::string etag;
  std::optional<S3ErrorBody> error;
};
Result<CompleteResult> ParseCompleteMultipartUpload(ByteSpan body);

// The keys DeleteObjects could not delete (quiet mode lists only those).
struct DeleteFailure {
  std::string key;
  S3ErrorBody error;
};
// An empty body is a DeleteResult without failures.
Result<std::vector<DeleteFailure>> ParseDeleteResult(ByteSpan body);

// Decodes the %XX escapes (and '+') of a key in a listing with
// encoding-type=url.
std::string UrlDecode(std::string_view s);

// `s` without one pair of surrounding double quotes (ETags).
std::string StripQuotes(std::string s);

}  // namespace efs2s3::aws
