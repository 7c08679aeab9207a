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

}  // namespace efs2s3::aws
