// Endpoints of the AWS services other than S3 that jobs call (SNS Publish,
// EFS DescribeMountTargets), resolved as the AWS SDKs do.
#pragma once

#include <string>

#include "aws/credentials.h"
#include "base/result.h"

namespace efs2s3::aws {

// The value of an environment variable, "" if unset.
std::string GetEnv(const Getenv& env, const std::string& name);

struct ServiceEndpoint {
  std::string base;       // "https://host[:port]", no trailing slash
  std::string authority;  // "host[:port]", the Host header
};

// AWS_ENDPOINT_URL_<SERVICE> (e.g. "SNS"), else AWS_ENDPOINT_URL, else
// `default_url`. kInvalidArgument unless it is scheme://host[:port] (trailing
// slashes are dropped).
Result<ServiceEndpoint> ResolveServiceEndpoint(const Getenv& env,
                                               const std::string& service,
                                               const std::string& default_url);

}  // namespace efs2s3::aws
