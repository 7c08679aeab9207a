#include "aws/s3_xml.h"

#include <fmt/format.h>

#include <array>
#include <pugixml.hpp>
#include <utility>

namespace efs2s3::aws {
namespace {

constexpr std::array<std::pair<std::string_view, S3Code>, 21> kCodes = {{
    {"NoSuchKey", S3Code::kNoSuchKey},
    {"NoSuchUpload", S3Code::kNoSuchUpload},
    {"NoSuchBucket", S3Code::kNoSuchBucket},
    {"BucketAlreadyOwnedByYou", S3Code::kBucketAlreadyOwnedByYou},
    {"SignatureDoesNotMatch", S3Code::kSignatureDoesNotMatch},
    {"InvalidAccessKeyId", S3Code::kInvalidAccessKeyId},
    {"InvalidObjectState", S3Code::kInvalidObjectState},
    {"RequestTimeTooSkewed", S3Code::kRequestTimeTooSkewed},
    {"ExpiredToken", S3Code::kExpiredToken},
    {"InvalidToken", S3Code::kInvalidToken},
    {"TokenRefreshRequired", S3Code::kTokenRefreshRequired},
    {"RequestTimeout", S3Code::kRequestTimeout},
    {"OperationAborted", S3Code::kOperationAborted},
    {"ConditionalRequestConflict", S3Code::kConditionalRequestConflict},
    {"SlowDown", S3Code::kSlowDown},
    {"BadDigest", S3Code::kBadDigest},
    {"XAmzContentSHA256Mismatch", S3Code::kXAmzContentSHA256Mismatch},
    {"InternalError", S3Code::kInternalError},
    {"InvalidLocationConstraint", S3Code::kInvalidLocationConstraint},
    {"ObjectLockConfigurationNotFoundError",
     S3Code::kObjectLockConfigurationNotFound},
    {"InvalidRequest", S3Code::kInvalidRequest},
}};

Error Corrupt(const std::string& what) {
  return MakeError(ErrorCode::kCorruption, what);
}

// Parses `body` and returns its root element named `root`, or kCorruption.
Result<pugi::xml_node> Root(pugi::xml_document& doc, ByteSpan body,
                            const char* root) {
  if (!doc.load_buffer(body.data(), body.size()))
    return Corrupt(std::string("unreadable ") + root + " answer");
  pugi::xml_node n = doc.child(root);
  if (!n) return Corrupt(std::string("answer without ") + root);
  return n;
}

S3ErrorBody ErrorOf(pugi::xml_node e) {
  S3ErrorBody b;
  b.code_text = e.child_value("Code");
  b.code = ParseS3Code(b.code_text);
  b.message = e.child_value("Message");
  return b;
}

bool IsTrue(pugi::xml_node parent, const char* name) {
  return std::string_view(parent.child_value(name)) == "true";
}

}  // namespace

S3Code ParseS3Code(std::string_view text) {
  if (text.empty()) return S3Code::kNone;
  for (const auto& [name, code] : kCodes)
    if (name == text) return code;
  return S3Code::kOther;
}

std::optional<S3ErrorBody> ParseS3ErrorBody(ByteSpan body) {
  if (body.empty()) return std::nullopt;
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) return std::nullopt;
  pugi::xml_node e = doc.child("Error");
  if (!e) return std::nullopt;
  return ErrorOf(e);
}

Result<ListObjectsPage> ParseListObjectsV2(ByteSpan body) {
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node root, Root(doc, body, "ListBucketResult"));
  const bool encoded =
      std::string_view(root.child_value("EncodingType")) == "url";
  ListObjectsPage page;
  for (pugi::xml_node c : root.children("Contents")) {
    std::string key = c.child_value("Key");
    std::string_view size_text = c.child_value("Size");
    std::optional<std::uint64_t> size = ParseUint(size_text);
    if (!size)
      return Corrupt("ListObjectsV2 answer: bad Size '" +
                     std::string(size_text.substr(0, 40)) + "'");
    page.objects.push_back({encoded ? UrlDecode(key) : std::move(key), *size,
                            StripQuotes(c.child_value("ETag")),
                            c.child_value("LastModified")});
  }
  page.truncated = IsTrue(root, "IsTruncated");
  page.next_token = root.child_value("NextContinuationToken");
  return page;
}

Result<ListUploadsPage> ParseListMultipartUploads(ByteSpan body) {
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node root,
                   Root(doc, body, "ListMultipartUploadsResult"));
  ListUploadsPage page;
  for (pugi::xml_node u : root.children("Upload"))
    page.uploads.push_back({u.child_value("Key"), u.child_value("UploadId"),
                            u.child_value("Initiated")});
  page.truncated = IsTrue(root, "IsTruncated");
  page.next_key_marker = root.child_value("NextKeyMarker");
  page.next_upload_id_marker = root.child_value("NextUploadIdMarker");
  return page;
}

Result<std::string> ParseInitiateMultipartUpload(ByteSpan body) {
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node root,
                   Root(doc, body, "InitiateMultipartUploadResult"));
  std::string id = root.child_value("UploadId");
  if (id.empty()) return Corrupt("no UploadId in the answer");
  return id;
}

Result<CompleteResult> ParseCompleteMultipartUpload(ByteSpan body) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size()))
    return Corrupt("unreadable CompleteMultipartUploadResult answer");
  CompleteResult r;
  if (pugi::xml_node e = doc.child("Error")) {
    r.error = ErrorOf(e);
    return r;
  }
  pugi::xml_node root = doc.child("CompleteMultipartUploadResult");
  if (!root) return Corrupt("answer without CompleteMultipartUploadResult");
  r.etag = StripQuotes(root.child_value("ETag"));
  return r;
}

Result<std::vector<DeleteFailure>> ParseDeleteResult(ByteSpan body) {
  std::vector<DeleteFailure> failures;
  if (body.empty()) return failures;
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node root, Root(doc, body, "DeleteResult"));
  for (pugi::xml_node e : root.children("Error"))
    failures.push_back({e.child_value("Key"), ErrorOf(e)});
  return failures;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 &&
        hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string StripQuotes(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"')
    s = s.substr(1, s.size() - 2);
  return s;
}

Result<bool> ParseObjectLockEnabled(ByteSpan body) {
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node root,
                   Root(doc, body, "ObjectLockConfiguration"));
  return std::string_view(root.child_value("ObjectLockEnabled")) == "Enabled";
}

std::string RetentionBody(std::string_view mode, std::string_view until) {
  return fmt::format(
      "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Mode>{}</Mode><RetainUntilDate>{}</RetainUntilDate></Retention>",
      mode, until);
}

}  // namespace efs2s3::aws
