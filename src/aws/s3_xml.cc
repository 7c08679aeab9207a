#include "aws/s3_xml.h"

#include <fmt/format.h>

#include <array>
#include <pugixml.hpp>
#include <utility>

namespace efs2s3::aws {
namespace {

constexpr std::array<std::pair<std::string_view, S3Code>, 22> kCodes = {{
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
    {"RestoreAlreadyInProgress", S3Code::kRestoreAlreadyInProgress},
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

// The <Size> of a listed object, in the answer to `call`.
Result<std::uint64_t> SizeOf(pugi::xml_node entry, const char* call) {
  std::string_view text = entry.child_value("Size");
  std::optional<std::uint64_t> size = ParseUint(text);
  if (!size)
    return Corrupt(std::string(call) + " answer: bad Size '" +
                   std::string(text.substr(0, 40)) + "'");
  return *size;
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
    ASSIGN_OR_RETURN(std::uint64_t size, SizeOf(c, "ListObjectsV2"));
    page.objects.push_back({encoded ? UrlDecode(key) : std::move(key), size,
                            StripQuotes(c.child_value("ETag")),
                            c.child_value("LastModified"),
                            c.child_value("StorageClass")});
  }
  page.truncated = IsTrue(root, "IsTruncated");
  page.next_token = root.child_value("NextContinuationToken");
  return page;
}

Result<ListVersionsPage> ParseListObjectVersions(ByteSpan body) {
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node root, Root(doc, body, "ListVersionsResult"));
  const bool encoded =
      std::string_view(root.child_value("EncodingType")) == "url";
  ListVersionsPage page;
  // Versions and delete markers interleave in the listing's order, which
  // breaks ties between equal times (s3_versions.h): keep it.
  for (pugi::xml_node v : root.children()) {
    const std::string_view name = v.name();
    if (name != "Version" && name != "DeleteMarker") continue;
    ObjectVersion o;
    o.delete_marker = name == "DeleteMarker";
    o.key = v.child_value("Key");
    if (encoded) o.key = UrlDecode(o.key);
    o.version_id = v.child_value("VersionId");
    if (o.key.empty() || o.version_id.empty())
      return Corrupt(
          "ListObjectVersions answer: an entry without Key or "
          "VersionId");
    o.is_latest = IsTrue(v, "IsLatest");
    o.last_modified = v.child_value("LastModified");
    auto t = ParseS3Time(o.last_modified);
    if (!t)
      return Corrupt("ListObjectVersions answer: " + o.key + ": " +
                     t.error().message);
    o.last_modified_ns = *t;
    if (!o.delete_marker) {
      ASSIGN_OR_RETURN(o.size, SizeOf(v, "ListObjectVersions"));
      o.etag = StripQuotes(v.child_value("ETag"));
      o.storage_class = v.child_value("StorageClass");
    }
    page.versions.push_back(std::move(o));
  }
  page.truncated = IsTrue(root, "IsTruncated");
  page.next_key_marker = root.child_value("NextKeyMarker");
  if (encoded) page.next_key_marker = UrlDecode(page.next_key_marker);
  page.next_version_id_marker = root.child_value("NextVersionIdMarker");
  return page;
}

Result<std::int64_t> ParseS3Time(std::string_view text) {
  const std::string shown(text.substr(0, 40));
  auto bad = [&] { return Corrupt("bad time '" + shown + "'"); };
  size_t pos = 0;
  // `digits` decimal digits at pos, or -1.
  auto number = [&](size_t digits) -> long {
    if (pos + digits > text.size()) return -1;
    long v = 0;
    for (size_t i = 0; i < digits; ++i) {
      char c = text[pos + i];
      if (c < '0' || c > '9') return -1;
      v = v * 10 + (c - '0');
    }
    pos += digits;
    return v;
  };
  auto expect = [&](char c) {
    if (pos >= text.size() || text[pos] != c) return false;
    ++pos;
    return true;
  };
  const long year = number(4);
  if (year < 0 || !expect('-')) return bad();
  const long month = number(2);
  if (month < 1 || month > 12 || !expect('-')) return bad();
  const long day = number(2);
  if (day < 1 || day > 31 || !expect('T')) return bad();
  const long hour = number(2);
  if (hour < 0 || hour > 23 || !expect(':')) return bad();
  const long minute = number(2);
  if (minute < 0 || minute > 59 || !expect(':')) return bad();
  const long second = number(2);
  if (second < 0 || second > 60) return bad();
  std::int64_t nanos = 0;
  if (expect('.')) {
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return bad();
    for (; digits < 9; ++digits) nanos *= 10;
  }
  long offset = 0;
  if (!expect('Z')) {
    if (pos >= text.size() || (text[pos] != '+' && text[pos] != '-'))
      return bad();
    const long sign = text[pos++] == '-' ? -1 : 1;
    const long oh = number(2);
    if (oh < 0 || oh > 23 || !expect(':')) return bad();
    const long om = number(2);
    if (om < 0 || om > 59) return bad();
    offset = sign * (oh * 3600 + om * 60);
  }
  if (pos != text.size()) return bad();
  // Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
  // days_from_civil).
  const long y = year - (month <= 2);
  const long era = y / 400;
  const long yoe = y - era * 400;
  const long doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = era * 146097 + doe - 719468;
  const std::int64_t secs =
      days * 86400 + hour * 3600 + minute * 60 + second - offset;
  // Nanoseconds in 64 bits reach the years 1677 to 2262; a year 0001 or 9999
  // overflowed (found by the property test under UBSan).
  if (secs > 9000000000 || secs < -9000000000) return bad();
  return secs * 1000000000 + nanos;
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
