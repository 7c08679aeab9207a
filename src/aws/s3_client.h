// A minimal S3 REST client: the calls a backup repository and sync need,
// signed with SigV4, retried with backoff, and with S3 error answers mapped to
// efs2s3 error codes by their status and parsed <Code> (s3_errors.h). The XML
// answers are decoded by s3_xml.h; multipart uploads of whole objects are
// multipart.h's.
//
// Retry policy (Execute): a request is retried, re-sent whole with the same
// Content-MD5 and payload hash, on transport errors
// (connect/reset/timeout/truncated body) and the answers IsRetryable()
// names, with exponential backoff and full jitter. Once a request has given
// up after all its attempts, later requests make one attempt each until one
// gets an answer (a command that failed does not spend its budget again on
// its clean-up). An expired session token
// makes it fetch credentials again and retry. No other 4xx is ever retried.
// Every message names the object ("s3:bucket/key: ...") and never contains
// credentials.
//
// Thread-safe: one client serves all threads of a process.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/s3_xml.h"
#include "base/bytes.h"
#include "base/result.h"
#include "base/source.h"

namespace efs2s3::aws {

struct RetryPolicy {
  int max_attempts = 8;
  std::chrono::milliseconds base_delay{200};
  std::chrono::milliseconds max_delay{20000};
  // How to wait between attempts; tests replace it.
  std::function<void(std::chrono::milliseconds)> sleep;
};

struct S3Config {
  // "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:7480" (may carry a
  // path).
  std::string endpoint;
  std::string region = "us-east-1";
  // Path-style (https://host/bucket/key) instead of virtual-host
  // (https://bucket.host/key).
  bool path_style = false;
  HttpOptions http;
  RetryPolicy retry;
  // max-keys of ListObjectsV2 (S3 caps it at 1000); smaller in tests of
  // pagination.
  int list_page_size = 1000;
};

struct PutOptions {
  bool create_only = false;    // If-None-Match: *
  std::string storage_class;   // "" = the bucket default
  std::string sse;             // "", "AES256", "aws:kms"
  std::string sse_kms_key_id;  // with aws:kms
  // User metadata, sent as x-amz-meta-NAME headers (names in lower case).
  std::vector<std::pair<std::string, std::string>> metadata;
  // The SHA-256 of the data in hex, if known: it is signed as the payload hash
  // and the data is not read to hash it. No Content-MD5 is sent then: the
  // server checks the body against the signed hash. The object keeps it as
  // user metadata "sha256".
  std::string payload_sha256;
  // S3 Object Lock: "GOVERNANCE" or "COMPLIANCE" and the retain-until date
  // (ISO 8601, FormatRetainUntil). A PUT that carries them also carries an
  // integrity header (Content-MD5, or x-amz-checksum-sha256 with
  // payload_sha256), as AWS requires.
  std::string lock_mode;
  std::string lock_retain_until;
};

// S3 Object Lock modes and dates.
inline constexpr std::string_view kLockGovernance = "GOVERNANCE";
inline constexpr std::string_view kLockCompliance = "COMPLIANCE";
// "2026-12-03T10:00:00.000Z" for a time in seconds since the epoch.
std::string FormatRetainUntil(std::int64_t unix_seconds);

struct ObjectMeta {
  std::uint64_t size = 0;
  std::string etag;           // without quotes
  std::string storage_class;  // "" when the server does not say (STANDARD)
  std::string last_modified;  // HTTP date, as the server sent it
  // User metadata (x-amz-meta-NAME), names in lower case without the prefix.
  std::map<std::string, std::string> metadata;
  // Object Lock retention ("" and 0 without one) and the version ID ("" on an
  // unversioned bucket).
  std::string lock_mode;
  std::int64_t lock_retain_until = 0;  // seconds since the epoch
  std::string version_id;
  // Archive storage classes (docs/S3.md, "Cold storage"): x-amz-restore
  // ('ongoing-request="true"', or '"false", expiry-date="..."' once a
  // restored copy can be read; "" when never restored) and
  // x-amz-archive-status (INTELLIGENT_TIERING: "ARCHIVE_ACCESS",
  // "DEEP_ARCHIVE_ACCESS"; "" otherwise).
  std::string restore;
  std::string archive_status;
};

// The state of an archived object's restore, from x-amz-restore.
struct RestoreState {
  bool requested = false;   // a restore was asked for (the header is there)
  bool ongoing = false;     // ... and is not done
  std::int64_t expiry = 0;  // when the restored copy goes (seconds), or 0
};
RestoreState ParseRestoreHeader(std::string_view header);
// "Wed, 03 Dec 2026 07:04:21 GMT" (Last-Modified, expiry-date) in seconds
// since the epoch, 0 if unreadable.
std::int64_t HttpDateSeconds(std::string_view text);

// Requests sent by a client (every attempt counts: S3 bills them all).
struct RequestCounts {
  std::uint64_t get = 0;   // GET of an object
  std::uint64_t head = 0;  // HEAD
  std::uint64_t put = 0;   // PUT of an object or a part, CopyObject
  std::uint64_t post = 0;  // multipart create/complete, DeleteObjects
  std::uint64_t list =
      0;  // ListObjectsV2, ListObjectVersions, ListMultipartUploads
  std::uint64_t delete_ = 0;  // DELETE (free on S3)
};

// "s3:bucket/key" as used in messages.
std::string S3Name(const std::string& bucket, const std::string& key);

class S3Client {
 public:
  S3Client(S3Config config, std::unique_ptr<CredentialsProvider> credentials);
  ~S3Client();

  // Returns the ETag the server gave the object (without quotes).
  Result<std::string> PutObject(const std::string& bucket,
                                const std::string& key, const Source& data,
                                const PutOptions& opts);
  Result<std::string> PutObject(const std::string& bucket,
                                const std::string& key, ByteSpan data,
                                const PutOptions& opts) {
    return PutObject(bucket, key, SpanSource(data), opts);
  }
  // Whole object when offset == 0 and length == 0; otherwise exactly `length`
  // bytes (or to the end when length == 0) or kCorruption when the object is
  // shorter. A non-empty `version_id` reads that version (versionId=, "null"
  // included) instead of the current one.
  Result<Bytes> GetObject(const std::string& bucket, const std::string& key,
                          std::uint64_t offset = 0, std::uint64_t length = 0,
                          const std::string& version_id = {});
  // The same, with the object's metadata from the answer's headers (size is
  // the whole object's).
  struct Fetched {
    Bytes data;
    ObjectMeta meta;
  };
  Result<Fetched> GetObjectWithMeta(const std::string& bucket,
                                    const std::string& key,
                                    std::uint64_t offset = 0,
                                    std::uint64_t length = 0,
                                    const std::string& version_id = {});
  Result<ObjectMeta> HeadObject(const std::string& bucket,
                                const std::string& key,
                                const std::string& version_id = {});
  // S3 semantics: deleting a missing key succeeds.
  Result<void> DeleteObject(const std::string& bucket, const std::string& key);
  // DeleteObjects in batches of 1000 keys; fails if any key could not be
  // deleted.
  Result<void> DeleteObjects(const std::string& bucket,
                             const std::vector<std::string>& keys);
  // Server-side copy (x-amz-copy-source) of an object of up to 5 GiB, with
  // its metadata; opts chooses the storage class and encryption of the copy.
  Result<void> CopyObject(const std::string& src_bucket,
                          const std::string& src_key, const std::string& bucket,
                          const std::string& key, const PutOptions& opts);
  // ListObjectsV2 over all pages (encoding-type=url, so keys with any
  // character survive the XML). Stops at and returns the first error of fn.
  Result<void> ListObjects(
      const std::string& bucket, const std::string& prefix,
      const std::function<Result<void>(const ListedObject&)>& fn);

  // ListObjectVersions over all pages (key-marker and version-id-marker,
  // encoding-type=url): every version and delete marker under `prefix`, by
  // key and per key newest first, as the server lists them. Stops at and
  // returns the first error of fn.
  Result<void> ListObjectVersions(
      const std::string& bucket, const std::string& prefix,
      const std::function<Result<void>(const ObjectVersion&)>& fn);

  Result<void> ListMultipartUploads(
      const std::string& bucket, const std::string& prefix,
      const std::function<Result<void>(const MultipartUpload&)>& fn);
  // Starts a multipart upload; returns its upload id.
  Result<std::string> CreateMultipartUpload(const std::string& bucket,
                                            const std::string& key,
                                            const PutOptions& opts);
  Result<void> AbortMultipartUpload(const std::string& bucket,
                                    const std::string& key,
                                    const std::string& upload_id);
  // One part (numbered from 1) of an upload; returns its ETag. check_etag
  // compares the ETag with the MD5 of data (not with SSE-KMS).
  Result<std::string> UploadPart(const std::string& bucket,
                                 const std::string& key,
                                 const std::string& upload_id, int part,
                                 const Source& data, bool check_etag);
  Result<std::string> UploadPart(const std::string& bucket,
                                 const std::string& key,
                                 const std::string& upload_id, int part,
                                 ByteSpan data, bool check_etag) {
    return UploadPart(bucket, key, upload_id, part, SpanSource(data),
                      check_etag);
  }
  // Completes an upload from the ETags of parts 1..N; returns the object's
  // ETag.
  Result<std::string> CompleteMultipartUpload(
      const std::string& bucket, const std::string& key,
      const std::string& upload_id, const std::vector<std::string>& etags,
      bool create_only);

  // kNoRepository when the bucket does not exist, kPermission when it is not
  // ours.
  Result<void> HeadBucket(const std::string& bucket);
  // Creates the bucket in the configured region (a LocationConstraint outside
  // us-east-1); a server with a custom endpoint that does not know the region
  // (InvalidLocationConstraint) is asked again without one. A bucket of ours
  // that exists already is a success.
  // With object_lock, the bucket is created with Object Lock enabled (and so
  // versioned); a bucket of ours that exists already must have it.
  Result<void> CreateBucket(const std::string& bucket,
                            bool object_lock = false);

  // S3 Object Lock (s3_object_lock.cc). Whether the bucket has Object Lock
  // enabled (GetObjectLockConfiguration; false when it has none).
  Result<bool> BucketObjectLockEnabled(const std::string& bucket);
  // PutObjectRetention of the current version (or `version_id`): mode and
  // retain-until date. COMPLIANCE retention can only be extended; S3 refuses
  // a shorter date.
  Result<void> PutObjectRetention(const std::string& bucket,
                                  const std::string& key, std::string_view mode,
                                  std::int64_t retain_until_seconds,
                                  const std::string& version_id = "");
  // DeleteObject of one version: removes it for good (no delete marker).
  // kPermission while its retention lasts.
  Result<void> DeleteObjectVersion(const std::string& bucket,
                                   const std::string& key,
                                   const std::string& version_id);

  // RestoreObject (s3_restore.cc): asks S3 to make a readable copy of an
  // object in GLACIER or DEEP_ARCHIVE for `days` days at `tier`, or (days 0)
  // to move an INTELLIGENT_TIERING object back from an archive tier. A
  // restore already in progress, or done, is a success: asking again never
  // costs a second retrieval.
  Result<void> RestoreObject(const std::string& bucket, const std::string& key,
                             int days, std::string_view tier);

  // The URL of an object (tests, messages).
  std::string ObjectUrl(const std::string& bucket,
                        const std::string& key) const;
  const S3Config& config() const { return config_; }
  HttpClient& http() { return http_; }
  // Requests sent so far by this client.
  RequestCounts request_counts() const;

  // One signed request as Execute() sends it.
  struct Call {
    Call() = default;
    // A call of `method` on bucket/key, named so in messages.
    Call(std::string m, const std::string& b, const std::string& k)
        : method(std::move(m)), bucket(b), key(k), what(S3Name(b, k)) {}
    std::string method;
    std::string bucket;
    std::string key;
    std::vector<std::pair<std::string, std::string>> query;
    HeaderList headers;
    ByteSpan body;
    // A body read on demand instead of `body` (uploads of packs and files).
    const Source* source = nullptr;
    bool content_md5 = false;
    // The body's SHA-256 in hex when the caller knows it; Execute then does not
    // read the body to hash it (and sends no Content-MD5).
    std::string payload_sha256;
    // Set by Execute when content_md5: the MD5 of the body, in hex.
    std::string md5_hex;
    std::string what;  // for messages: "s3:bucket/key"
    // Checks a 2xx answer; a kTransient error makes the call retry.
    std::function<Result<void>(const HttpResponse&)> validate;
    // Set by Execute: attempts made, and whether an earlier attempt may have
    // reached the server (transport error or 5xx).
    int attempts = 0;
    bool ambiguous = false;
    // At most this many attempts when positive (never more than the client's
    // retry policy allows): what is left of a budget a caller shares among
    // several Executes of one call.
    int max_attempts = 0;
    // Set by Execute when the last answer was an S3 error: its HTTP status and
    // the <Code> of its body (kNone without one, as for HEAD).
    long error_status = 0;
    S3Code error_code = S3Code::kNone;
  };
  Result<HttpResponse> Execute(Call& call);

 private:
  struct Target {
    std::string url;
    std::string host;  // Host header
    std::string path;  // decoded path for signing
  };
  Target MakeTarget(const std::string& bucket, const std::string& key,
                    const std::string& query) const;
  void Count(const Call& call);
  // The payload hash of a call's body and, if it wants one, its Content-MD5.
  Result<void> HashBody(Call& call, std::string& payload_hash,
                        std::string& md5_base64) const;
  // One attempt of a call, signed now with `creds`.
  HttpRequest SignedRequest(const Call& call, const Target& target,
                            const std::string& payload_hash,
                            const std::string& md5_base64,
                            const Credentials& creds) const;

  // After a create-only PUT (`call`, of `data`) was answered 412 (`conflict`):
  // the ETag when the stored object is ours, kAlreadyExists when another
  // object holds the name (seen twice, a backoff apart); the PUT is sent again
  // while no object is there, within the call's retry budget.
  Result<std::string> SettleCreateOnly(Call& call, const Source& data,
                                       Error conflict);
  // An error if `resp` cannot be S3's (an HTML page, an error answer that is
  // no S3 <Error> document): the endpoint is not an S3 server. Not retried.
  std::optional<Error> NotS3(const HttpResponse& resp, const Call& call) const;
  // The endpoint as used ("http://127.0.0.1:7480"), for messages.
  std::string Endpoint() const;

  S3Config config_;
  std::unique_ptr<CredentialsProvider> credentials_;
  HttpClient http_;
  std::string scheme_;     // "https"
  std::string authority_;  // "host:port"
  std::string base_path_;  // "" or "/prefix" of the endpoint URL
  bool ip_host_ = false;
  std::atomic<std::uint64_t> counts_[6] = {};
  // Set when a request gave up after all its attempts, cleared by any answer.
  std::atomic<bool> endpoint_down_{false};
};

// The body of CreateBucket in `region`: its LocationConstraint, or "" in
// us-east-1 (which takes none).
std::string CreateBucketBody(const std::string& region);

// A Call::validate that decodes a 2xx answer into `out` with `parse`; an
// answer that does not decode is kTransient (retried like a truncated body).
template <class T>
std::function<Result<void>(const HttpResponse&)> DecodeOrRetry(
    Result<T>& out, Result<T> (*parse)(ByteSpan), const std::string& what) {
  return [&out, parse, what](const HttpResponse& r) -> Result<void> {
    out = parse(r.body);
    if (!out)
      return MakeError(ErrorCode::kTransient,
                       what + ": " + out.error().message);
    return Ok();
  };
}

// Adds the headers of `opts` (storage class, encryption, user metadata) to h.
void AddPutHeaders(HeaderList& h, const PutOptions& opts);

}  // namespace efs2s3::aws
