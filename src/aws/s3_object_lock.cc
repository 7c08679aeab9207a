// S3 Object Lock calls of S3Client: the bucket's lock configuration, the
// retention of one object, and deletion of one version.
#include <ctime>

#include "aws/s3_client.h"
#include "aws/s3_xml.h"

namespace efs2s3::aws {

std::string FormatRetainUntil(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

Result<bool> S3Client::BucketObjectLockEnabled(const std::string& bucket) {
  Call call("GET", bucket, "");
  call.query = {{"object-lock", ""}};
  auto r = Execute(call);
  if (!r) {
    if (call.error_code == S3Code::kObjectLockConfigurationNotFound)
      return false;
    return r.error();
  }
  auto enabled = ParseObjectLockEnabled(r->body);
  if (!enabled)
    return MakeError(enabled.error().code,
                     call.what + ": " + enabled.error().message);
  return *enabled;
}

Result<void> S3Client::PutObjectRetention(const std::string& bucket,
                                          const std::string& key,
                                          std::string_view mode,
                                          std::int64_t retain_until_seconds,
                                          const std::string& version_id) {
  std::string body =
      RetentionBody(mode, FormatRetainUntil(retain_until_seconds));
  Call call("PUT", bucket, key);
  call.query = {{"retention", ""}};
  if (!version_id.empty()) call.query.emplace_back("versionId", version_id);
  call.body = AsBytes(body);
  call.content_md5 = true;  // required by S3 for this call
  call.headers.emplace_back("Content-Type", "application/xml");
  auto r = Execute(call);
  if (!r) return r.error();
  return Ok();
}

Result<void> S3Client::DeleteObjectVersion(const std::string& bucket,
                                           const std::string& key,
                                           const std::string& version_id) {
  Call call("DELETE", bucket, key);
  call.query = {{"versionId", version_id}};
  auto r = Execute(call);
  if (!r && r.error().code != ErrorCode::kNotFound) return r.error();
  return Ok();
}

}  // namespace efs2s3::aws
