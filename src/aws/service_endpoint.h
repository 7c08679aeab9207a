// The AWS services other than S3 that jobs call (SNS Publish, EFS
// DescribeMountTargets): endpoints resolved as the AWS SDKs do, and requests
// signed with SigV4 (generic path rules).
#pragma once

#include <string>

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/sigv4.h"
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

// One call of a service.
struct ServiceCall {
  std::string method;  // "GET", "POST"
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  HeaderList headers;  // besides Host, X-Amz-Date and the token
  ByteSpan body;
  std::string service;  // signing name: "sns", "elasticfilesystem"
  std::string region;
  std::string what;  // for messages
};

// The request for `call` at `ep`, signed now with `creds`.
HttpRequest SignServiceCall(const ServiceEndpoint& ep, const ServiceCall& call,
                            const Credentials& creds);

}  // namespace efs2s3::aws
