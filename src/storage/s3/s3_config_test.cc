// S3 client settings from options and the environment, and s3: locations.
#include <gtest/gtest.h>

#include <map>

#include "storage/s3/s3_backend.h"

namespace efs2s3::storage::s3 {
namespace {

Getenv FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(S3OptionsTest, EndpointAndRegionResolution) {
  S3Options o;
  auto c = ResolveS3Config(o, FakeEnv({}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->endpoint, "");
  EXPECT_EQ(c->region, "us-east-1");
  c = ResolveS3Config(o, FakeEnv({{"AWS_ENDPOINT_URL", "http://a:1"},
                                  {"AWS_ENDPOINT_URL_S3", "http://s3:2"},
                                  {"AWS_DEFAULT_REGION", "eu-north-1"}}));
  EXPECT_EQ(c->endpoint, "http://s3:2");
  EXPECT_EQ(c->region, "eu-north-1");
  c = ResolveS3Config(o, FakeEnv({{"AWS_ENDPOINT_URL", "minio.local:9000"},
                                  {"AWS_REGION", "ap-south-1"},
                                  {"AWS_DEFAULT_REGION", "eu-north-1"}}));
  EXPECT_EQ(c->endpoint, "https://minio.local:9000");
  EXPECT_EQ(c->region, "ap-south-1");
  o.endpoint = "http://flag:3";
  o.region = "us-west-2";
  o.connections = 48;
  c = ResolveS3Config(o, FakeEnv({{"AWS_ENDPOINT_URL_S3", "http://s3:2"},
                                  {"AWS_REGION", "x"}}));
  EXPECT_EQ(c->endpoint, "http://flag:3");
  EXPECT_EQ(c->region, "us-west-2");
  EXPECT_EQ(c->http.max_in_flight, 48);
  o.sse = "aes";
  EXPECT_EQ(ResolveS3Config(o, FakeEnv({})).error().code,
            ErrorCode::kInvalidArgument);
  o.sse = "AES256";
  o.sse_kms_key_id = "k";
  EXPECT_EQ(ResolveS3Config(o, FakeEnv({})).error().code,
            ErrorCode::kInvalidArgument);
  o.sse = "aws:kms";
  EXPECT_TRUE(ResolveS3Config(o, FakeEnv({})));
  o.storage_class_data = "glacier";
  EXPECT_FALSE(ResolveS3Config(o, FakeEnv({})));
  o.storage_class_data = "DEEP_ARCHIVE";
  o.endpoint = "ftp://x";
  EXPECT_FALSE(ResolveS3Config(o, FakeEnv({})));
}

TEST(S3LocationTest, Parses) {
  auto a = ParseS3Location("s3://bucket/some/prefix/");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->bucket, "bucket");
  EXPECT_EQ(a->prefix, "some/prefix");
  auto b = ParseS3Location("s3:bucket");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->bucket, "bucket");
  EXPECT_EQ(b->prefix, "");
  auto c = ParseS3Location("s3:my-bucket/repo");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix, "repo");
  EXPECT_FALSE(ParseS3Location("s3://"));
  EXPECT_FALSE(ParseS3Location("s3://Upper/x"));
  EXPECT_FALSE(ParseS3Location("/local"));
  EXPECT_FALSE(ParseS3Location("s3:///prefix"));  // no bucket, not "prefix"
  EXPECT_FALSE(ParseS3Location("s3:/bucket"));
}

}  // namespace
}  // namespace efs2s3::storage::s3
