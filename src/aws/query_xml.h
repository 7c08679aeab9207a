// The XML answers of AWS's query protocol (SNS Publish, STS
// AssumeRoleWithWebIdentity), decoded by pure
// functions as s3_xml.h decodes S3's: a value, or kCorruption for bytes that
// are not the answer expected; never a throw, a crash or an allocation out of
// proportion to the input.
#pragma once

#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace efs2s3::aws {

// The <Error> of an <ErrorResponse> (wherever it is nested).
struct QueryError {
  std::string code;     // "NotFound", "Throttling", "AuthorizationError", ...
  std::string message;  // <Message>
};
// nullopt when the bytes are not XML or hold no <Error>.
std::optional<QueryError> ParseQueryError(ByteSpan body);

// The <MessageId> of a PublishResponse (kCorruption when there is none).
Result<std::string> ParseSnsPublish(ByteSpan body);

// The <Credentials> of an AssumeRoleWithWebIdentityResult, as sent.
struct StsCredentials {
  std::string access_key_id, secret_access_key, session_token;
  std::string expiration;  // ISO 8601
};
// kCorruption without an access key id and secret.
Result<StsCredentials> ParseAssumeRoleWithWebIdentity(ByteSpan body);

}  // namespace efs2s3::aws
