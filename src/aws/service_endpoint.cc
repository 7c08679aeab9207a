#include "aws/service_endpoint.h"

#include <chrono>

namespace efs2s3::aws {

std::string GetEnv(const Getenv& env, const std::string& name) {
  auto v = env(name);
  return v ? *v : "";
}

Result<ServiceEndpoint> ResolveServiceEndpoint(const Getenv& env,
                                               const std::string& service,
                                               const std::string& default_url) {
  std::string url = GetEnv(env, "AWS_ENDPOINT_URL_" + service);
  if (url.empty()) url = GetEnv(env, "AWS_ENDPOINT_URL");
  if (url.empty()) url = default_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  size_t scheme = url.find("://");
  if (scheme == std::string::npos || scheme + 3 == url.size() ||
      url.find('/', scheme + 3) != std::string::npos)
    return MakeError(
        ErrorCode::kInvalidArgument,
        service + " endpoint '" + url + "' is not a scheme://host[:port]");
  return ServiceEndpoint{url, url.substr(scheme + 3)};
}

HttpRequest SignServiceCall(const ServiceEndpoint& ep, const ServiceCall& call,
                            const Credentials& creds) {
  long long now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  SigningRequest sreq;
  sreq.method = call.method;
  sreq.path = call.path;
  sreq.query = call.query;
  sreq.payload_hash = Sha256Hex(call.body);
  sreq.headers = call.headers;
  sreq.headers.emplace_back("Host", ep.authority);
  sreq.headers.emplace_back("x-amz-date", AmzDate(now));
  if (!creds.session_token.empty())
    sreq.headers.emplace_back("x-amz-security-token", creds.session_token);
  Signature sig = Sign(sreq, {creds.access_key_id, creds.secret_access_key},
                       {call.region, call.service, AmzDate(now)},
                       /*normalize_path=*/true);
  std::string url = ep.base + call.path;
  if (!call.query.empty()) url += "?" + CanonicalQuery(call.query);
  HttpRequest req{call.method, url, std::move(sreq.headers), call.body,
                  call.what};
  req.headers.emplace_back("Authorization", sig.authorization);
  return req;
}

}  // namespace efs2s3::aws
