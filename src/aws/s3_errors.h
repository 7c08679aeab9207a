// S3 error answers as efs2s3 errors: classified by their HTTP status and the
// parsed <Code> of their body (s3_xml.h), never by the text of a message.
//
// Retried (IsRetryable): HTTP 5xx except 501, 429, and 400/409 with
// RequestTimeout, OperationAborted, ConditionalRequestConflict or SlowDown.
// Mapping (S3Error): 404 NoSuchBucket -> kNoRepository, other 404 ->
// kNotFound, 403 -> kPermission (InvalidObjectState, an archived object,
// kIo), 412 -> kAlreadyExists, 416 -> kCorruption, 501 -> kUnsupported, an
// expired session token -> kPermission, retryable answers -> kTransient,
// anything else -> kIo. Every message is one line naming the object
// ("s3:bucket/key: ... (GET, HTTP 404 NoSuchKey: ...)").
#pragma once

#include <string>

#include "aws/s3_xml.h"
#include "base/result.h"

namespace efs2s3::aws {

// Whether an answer with this status and code should be sent again.
bool IsRetryable(long status, S3Code code);
// Whether the code says the session token must be fetched again.
bool IsExpiredToken(S3Code code);

// The error for a non-2xx answer (status) with its parsed body.
Error S3Error(long status, const S3ErrorBody& body, const std::string& method,
              const std::string& what);

}  // namespace efs2s3::aws
