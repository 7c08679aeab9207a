#include "aws/service_endpoint.h"

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
  SigningRequest sreq;
  sreq.method = call.method;
  sreq.path = call.path;
  sreq.query = call.query;
  sreq.payload_hash = Sha256Hex(call.body);
  sreq.headers = call.headers;
  std::string url = ep.base + call.path;
  if (!call.query.empty()) url += "?" + CanonicalQuery(call.query);
  HttpRequest req{call.method, url,
                  SignNow(std::move(sreq), ep.authority,
                          {creds.access_key_id, creds.secret_access_key},
                          creds.session_token, call.region, call.service,
                          /*normalize_path=*/true),
                  call.body, call.what};
  return req;
}

}  // namespace efs2s3::aws
