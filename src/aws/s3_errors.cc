#include "aws/s3_errors.h"

namespace efs2s3::aws {
namespace {

// The text and code of a 403 answer.
std::pair<ErrorCode, const char*> Forbidden(S3Code code) {
  switch (code) {
    case S3Code::kSignatureDoesNotMatch:
      return {ErrorCode::kPermission,
              "access denied: the request signature does not match; is the "
              "secret access key right?"};
    case S3Code::kInvalidAccessKeyId:
      return {ErrorCode::kPermission,
              "access denied: the access key id is not known"};
    case S3Code::kInvalidObjectState:
      return {ErrorCode::kIo,
              "the object is in an archive storage class (GLACIER, "
              "DEEP_ARCHIVE) and must be restored before it can be read"};
    case S3Code::kRequestTimeTooSkewed:
      return {ErrorCode::kPermission,
              "access denied: this machine's clock is wrong"};
    default:
      return {ErrorCode::kPermission, "access denied"};
  }
}

// The error code and text of an answer, by status first, then by code.
std::pair<ErrorCode, const char*> Classify(long status, S3Code code) {
  switch (status) {
    case 403:
      return Forbidden(code);
    case 404:
      if (code == S3Code::kNoSuchBucket)
        return {ErrorCode::kNoRepository, "the bucket does not exist"};
      return {ErrorCode::kNotFound, "not found"};
    case 412:
      return {ErrorCode::kAlreadyExists, "already exists"};
    case 416:
      return {ErrorCode::kCorruption,
              "the requested range is beyond the object's end"};
    case 501:
      return {ErrorCode::kUnsupported, "the server does not implement this"};
    default:
      break;
  }
  if (IsExpiredToken(code))
    return {ErrorCode::kPermission, "the session token has expired"};
  if (IsRetryable(status, code))
    return {ErrorCode::kTransient, "the server is unavailable"};
  if (status == 400 && (code == S3Code::kBadDigest ||
                        code == S3Code::kXAmzContentSHA256Mismatch))
    return {ErrorCode::kIo,
            "the server received different bytes than were sent"};
  return {ErrorCode::kIo, "request failed"};
}

}  // namespace

bool IsRetryable(long status, S3Code code) {
  if (status == 429) return true;
  if (status >= 500) return status != 501;
  if (status == 400 || status == 409)
    return code == S3Code::kRequestTimeout ||
           code == S3Code::kOperationAborted ||
           code == S3Code::kConditionalRequestConflict ||
           code == S3Code::kSlowDown;
  return false;
}

bool IsExpiredToken(S3Code code) {
  return code == S3Code::kExpiredToken || code == S3Code::kInvalidToken ||
         code == S3Code::kTokenRefreshRequired;
}

Error S3Error(long status, const S3ErrorBody& body, const std::string& method,
              const std::string& what) {
  std::string detail = "HTTP " + std::to_string(status) +
                       (body.code_text.empty() ? "" : " " + body.code_text);
  if (!body.message.empty()) detail += ": " + body.message;
  // One line, whatever the server wrote.
  for (char& c : detail)
    if (c == '\n' || c == '\r') c = ' ';
  auto [code, text] = Classify(status, body.code);
  return MakeError(code,
                   what + ": " + text + " (" + method + ", " + detail + ")");
}

}  // namespace efs2s3::aws
