// AWS Signature Version 4 (header-based) request signing.
//
// Sign() builds the canonical request, the string to sign and the Authorization
// header for one request. The caller passes every header it will send and wants
// signed (at least Host and X-Amz-Date; for S3 also X-Amz-Content-Sha256);
// headers are canonicalised here (lower-cased names, trimmed values, repeated
// names joined with commas). Paths and query parameters are passed decoded and
// encoded here, once, with the S3 rules: paths are not normalised and '/' is
// kept. The generic AWS rules (dot-segment removal, slash collapsing) are
// available for the official test suite.
//
// Everything here is pure and thread-safe. The secret never leaves Sign().
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/source.h"

namespace efs2s3::aws {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(ByteSpan data);
// Raw HMAC-SHA256.
Bytes HmacSha256(ByteSpan key, ByteSpan data);
// Base64 MD5, the value of a Content-MD5 header.
std::string ContentMd5(ByteSpan data);
// Lower-case hex MD5 (an S3 ETag of a single-part object, without quotes).
std::string Md5Hex(ByteSpan data);

// An MD5 computed piece by piece (a large file's, as it is read).
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void Update(ByteSpan data);
  // Lower-case hex of everything passed to Update; call once.
  std::string Hex();

 private:
  struct Ctx;
  Ctx* ctx_;
};

// SHA-256 and (if `md5`) MD5 of a body, in one pass over it.
struct BodyDigests {
  Bytes sha256, md5;  // raw; md5 empty unless asked for
};
Result<BodyDigests> DigestBody(const Source& body, bool md5);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z
// 0-9 - _ .
// ~) are kept, everything else becomes %XX (upper-case hex). '/' is kept when
// `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash);

struct SigningRequest {
  std::string method;  // "GET", "PUT", ...
  std::string path;  // decoded, starting with '/', e.g. "/bucket/data/3f/3f0a"
  std::vector<std::pair<std::string, std::string>>
      query;                 // decoded name/value pairs
  HeaderList headers;        // as sent
  std::string payload_hash;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigningKeyMaterial {
  std::string access_key_id;
  std::string secret_access_key;
};

struct SigningScope {
  std::string region;    // "us-east-1"
  std::string service;   // "s3"
  std::string amz_date;  // "20150830T123600Z", the X-Amz-Date header value
};

struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-date"
  std::string signature;       // hex
  std::string authorization;   // value of the Authorization header
};

// Canonical query string: names and values encoded, pairs sorted by name then
// value. Also usable as the query part of the URL that is sent.
std::string CanonicalQuery(
    const std::vector<std::pair<std::string, std::string>>& query);

// Canonical URI of a decoded path. `normalize` applies the generic (non-S3)
// rules.
std::string CanonicalUri(std::string_view path, bool normalize);

// Signs a request. `normalize_path` = false is the S3 behaviour.
Signature Sign(const SigningRequest& req, const SigningKeyMaterial& key,
               const SigningScope& scope, bool normalize_path = false);

// Signs a request made now: adds Host, X-Amz-Date and, with temporary
// credentials (`session_token` set), X-Amz-Security-Token to its headers and
// returns them with the Authorization header: the headers to send.
HeaderList SignNow(SigningRequest req, const std::string& host,
                   const SigningKeyMaterial& key,
                   const std::string& session_token, const std::string& region,
                   const std::string& service, bool normalize_path);

// "20150830T123600Z" for a Unix time.
std::string AmzDate(long long unix_seconds);

}  // namespace efs2s3::aws
