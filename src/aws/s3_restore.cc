// RestoreObject and the x-amz-restore header (archive storage classes).
#include <fmt/format.h>

#include <ctime>

#include "aws/s3_client.h"
#include "aws/s3_xml.h"

namespace efs2s3::aws {

std::int64_t HttpDateSeconds(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  return end ? static_cast<std::int64_t>(timegm(&tm)) : 0;
}

RestoreState ParseRestoreHeader(std::string_view header) {
  RestoreState st;
  if (header.find("ongoing-request") == std::string_view::npos) return st;
  st.requested = true;
  auto value = [&](std::string_view name) -> std::string_view {
    auto at = header.find(name);
    if (at == std::string_view::npos) return {};
    auto open = header.find('"', at + name.size());
    if (open == std::string_view::npos) return {};
    auto close = header.find('"', open + 1);
    if (close == std::string_view::npos) return {};
    return header.substr(open + 1, close - open - 1);
  };
  st.ongoing = value("ongoing-request") != "false";
  if (!st.ongoing) st.expiry = HttpDateSeconds(value("expiry-date"));
  return st;
}

std::string RestoreRequestBody(int days, std::string_view tier) {
  std::string body =
      R"(<RestoreRequest xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)";
  if (days > 0) body += fmt::format("<Days>{}</Days>", days);
  body += fmt::format(
      "<GlacierJobParameters><Tier>{}</Tier></GlacierJobParameters>"
      "</RestoreRequest>",
      tier);
  return body;
}

Result<void> S3Client::RestoreObject(const std::string& bucket,
                                     const std::string& key, int days,
                                     std::string_view tier) {
  std::string body = RestoreRequestBody(days, tier);
  Call call("POST", bucket, key);
  call.query = {{"restore", ""}};
  call.body = AsBytes(body);
  call.content_md5 = true;
  call.headers.emplace_back("Content-Type", "application/xml");
  auto r = Execute(call);
  // 202: started; 200: a restored copy exists (its expiry is extended);
  // 409 RestoreAlreadyInProgress: asked before.
  if (!r && call.error_code == S3Code::kRestoreAlreadyInProgress) return Ok();
  if (!r) return r.error();
  return Ok();
}

}  // namespace efs2s3::aws
