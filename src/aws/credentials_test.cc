// The credentials chain against local stand-ins for STS, the ECS agent and IMDS
// (testing/fake_aws.py), and temporary files for the shared config files.
#include "aws/credentials.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>

#include "aws/testing/fake_aws.h"
#include "base/file_util.h"

namespace efs2s3::aws {
namespace {

using std::chrono::minutes;
using TimePoint = std::chrono::system_clock::time_point;

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_.ok()) << "could not start fake_aws.py with python3";
    char tmpl[] = "/tmp/efs2s3-creds-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // Nothing of the machine's own configuration may leak in: HOME is the temp
    // dir and IMDS points at a closed port unless a test says otherwise.
    env_["HOME"] = dir_;
    env_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:1";
  }

  Getenv Env() {
    return [this](const std::string& n) -> std::optional<std::string> {
      auto it = env_.find(n);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    EXPECT_TRUE(WriteFileAtomic(path, AsBytes(text), false, false));
    return path;
  }

  Result<Credentials> Resolve() {
    return NewDefaultCredentialsChain(Env())->Get();
  }

  testing::FakeAws fake_;
  std::string dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(CredentialsTest, Environment) {
  env_["AWS_ACCESS_KEY_ID"] = "AKENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  env_["AWS_SESSION_TOKEN"] = "env-token";
  auto c = Resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKENV");
  EXPECT_EQ(c->secret_access_key, "env-secret");
  EXPECT_EQ(c->session_token, "env-token");
  EXPECT_EQ(c->source, "environment");
  EXPECT_FALSE(c->expiration);
}

TEST_F(CredentialsTest, HalfSetEnvironmentIsAnError) {
  env_["AWS_ACCESS_KEY_ID"] = "AKENV";
  auto c = Resolve();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kPermission);
}

TEST_F(CredentialsTest, SharedCredentialsFileWithProfile) {
  env_["AWS_SHARED_CREDENTIALS_FILE"] = Write("creds", R"(
# comment
[default]
aws_access_key_id = AKDEFAULT
aws_secret_access_key = default-secret

[backup]
aws_access_key_id=AKBACKUP
aws_secret_access_key=backup-secret
aws_session_token = backup-token
)");
  auto c = Resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKDEFAULT");
  env_["AWS_PROFILE"] = "backup";
  c = Resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKBACKUP");
  EXPECT_EQ(c->session_token, "backup-token");
  EXPECT_EQ(c->source, "profile backup");
  env_["AWS_PROFILE"] = "nosuch";
  c = Resolve();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("nosuch"), std::string::npos);
}

TEST_F(CredentialsTest, ConfigFileKeysAndRegion) {
  // Given the default ~/.aws/config (HOME) with a "[profile x]" section, then
  // its keys and region are used.
  ASSERT_TRUE(MakeDirs(dir_ + "/.aws"));
  Write(".aws/config",
        "[profile x]\nregion = eu-central-1\naws_access_key_id = AKCONF\n"
        "aws_secret_access_key = conf-secret\n[default]\nregion = us-west-1\n");
  EXPECT_EQ(ResolveRegion(Env()), "us-west-1");
  env_["AWS_PROFILE"] = "x";
  EXPECT_EQ(ResolveRegion(Env()), "eu-central-1");
  auto c = Resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKCONF");
  env_["AWS_DEFAULT_REGION"] = "sa-east-1";
  EXPECT_EQ(ResolveRegion(Env()), "sa-east-1");
  env_["AWS_REGION"] = "af-south-1";
  EXPECT_EQ(ResolveRegion(Env()), "af-south-1");
}

TEST_F(CredentialsTest, CredentialProcess) {
  std::string out = Write(
      "out.json",
      R"({"Version": 1, "AccessKeyId": "AKPROC", "SecretAccessKey": "proc-secret",
                              "SessionToken": "proc-token", "Expiration": "2031-02-03T04:05:06Z"})");
  env_["AWS_CONFIG_FILE"] =
      Write("config", "[default]\ncredential_process = cat " + out + "\n");
  auto c = Resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKPROC");
  EXPECT_EQ(c->session_token, "proc-token");
  ASSERT_TRUE(c->expiration);
  EXPECT_EQ(*c->expiration, *ParseIsoTime("2031-02-03T04:05:06Z"));
  // A failing process is an error that does not echo its output.
  env_["AWS_CONFIG_FILE"] =
      Write("config2", "[default]\ncredential_process = sh -c 'cat " + out +
                           "; exit 3'\n");
  c = Resolve();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("exit status 3"), std::string::npos)
      << c.error().message;
  EXPECT_EQ(c.error().message.find("proc-secret"), std::string::npos);
}

TEST_F(CredentialsTest, WebIdentityViaSts) {
  env_["AWS_WEB_IDENTITY_TOKEN_FILE"] =
      Write("token", std::string(testing::kWebToken) + "\n");
  env_["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/backup";
  env_["AWS_ENDPOINT_URL_STS"] = fake_.url() + "/sts";
  auto c = Resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->access_key_id, "STS1");
  EXPECT_EQ(c->secret_access_key, "STS-secret-1");
  EXPECT_EQ(c->session_token, "STS-token-1");
  EXPECT_EQ(c->source, "web identity");
  ASSERT_TRUE(c->expiration);
  auto log = fake_.Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["method"], "POST");
  // The token travels in the body, not in the URL.
  EXPECT_EQ(log[0]["path"].get<std::string>().find(testing::kWebToken),
            std::string::npos);
  // A rejected token is a clear error.
  Write("token", "wrong");
  c = Resolve();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kPermission);
  EXPECT_NE(c.error().message.find("InvalidIdentityToken"), std::string::npos)
      << c.error().message;
}

TEST_F(CredentialsTest, ContainerCredentialsWithTokenFile) {
  env_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = fake_.url() + "/ecs/creds";
  env_["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] =
      Write("ecs-token", std::string(testing::kEcsToken) + "\n");
  auto c = Resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ECS1");
  EXPECT_EQ(c->session_token, "ECS-token-1");
  EXPECT_EQ(c->source, "container");
  env_.erase("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  env_["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong";
  c = Resolve();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("403"), std::string::npos)
      << c.error().message;
}

TEST_F(CredentialsTest, InstanceMetadataV2) {
  env_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = fake_.url();
  auto c = Resolve();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->access_key_id, "IMDS1");
  EXPECT_EQ(c->source, "instance metadata");
  auto log = fake_.Log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0]["method"], "PUT");
  EXPECT_EQ(log[0]["path"], "/latest/api/token");
  EXPECT_EQ(log[2]["path"],
            "/latest/meta-data/iam/security-credentials/test-role");
  EXPECT_EQ(log[2]["headers"]["x-aws-ec2-metadata-token"], testing::kImdsToken);
  env_["AWS_EC2_METADATA_DISABLED"] = "true";
  c = Resolve();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("no AWS credentials found"),
            std::string::npos);
}

TEST_F(CredentialsTest, NothingConfiguredIsAClearError) {
  auto c = Resolve();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kPermission);
  EXPECT_NE(c.error().message.find("docs/S3.md"), std::string::npos);
}

TEST_F(CredentialsTest, ChainOrder) {
  // Given every source configured, then environment > shared files > web
  // identity > container > instance metadata.
  env_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = fake_.url();
  env_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = fake_.url() + "/ecs/creds";
  env_["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = testing::kEcsToken;
  EXPECT_EQ(Resolve()->source, "container");
  env_["AWS_WEB_IDENTITY_TOKEN_FILE"] = Write("token", testing::kWebToken);
  env_["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/backup";
  env_["AWS_ENDPOINT_URL_STS"] = fake_.url() + "/sts";
  EXPECT_EQ(Resolve()->source, "web identity");
  env_["AWS_SHARED_CREDENTIALS_FILE"] = Write(
      "creds", "[default]\naws_access_key_id=A\naws_secret_access_key=B\n");
  EXPECT_EQ(Resolve()->source, "profile default");
  env_["AWS_ACCESS_KEY_ID"] = "E";
  env_["AWS_SECRET_ACCESS_KEY"] = "F";
  EXPECT_EQ(Resolve()->source, "environment");
}

TEST_F(CredentialsTest, TemporaryCredentialsAreRefreshedBeforeExpiry) {
  // Given IMDS credentials expiring 2030-01-01, then they are reused until 5
  // minutes before, fetched again after, and fetched again after Invalidate().
  env_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = fake_.url();
  TimePoint now = *ParseIsoTime("2029-12-31T23:00:00Z");
  auto provider = NewDefaultCredentialsChain(Env(), [&] { return now; });
  EXPECT_EQ(provider->Get()->access_key_id, "IMDS1");
  now += minutes(50);
  EXPECT_EQ(provider->Get()->access_key_id, "IMDS1");
  now += minutes(6);  // 23:56, within 5 minutes of expiry
  EXPECT_EQ(provider->Get()->access_key_id, "IMDS2");
  provider->Invalidate();
  EXPECT_EQ(provider->Get()->access_key_id, "IMDS3");
  // If the source fails, still-valid credentials keep being used.
  env_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:1";
  provider->Invalidate();
  EXPECT_EQ(provider->Get()->access_key_id, "IMDS3");
}

TEST(IniTest, ParsesAwsFiles) {
  auto ini =
      ParseIni("; c\n[default]\nA = 1\n[profile  x ]\nb=two words \n  \nc=\n");
  EXPECT_EQ(ini["default"]["a"], "1");
  EXPECT_EQ(ini["profile x"]["b"], "two words");
  EXPECT_EQ(ini["profile x"]["c"], "");
}

TEST(IsoTimeTest, Parses) {
  auto t = ParseIsoTime("1970-01-02T00:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*t), 86400);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(
                *ParseIsoTime("1970-01-02T00:00:00.123Z")),
            86400);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(
                *ParseIsoTime("1970-01-02T01:00:00+01:00")),
            86400);
  EXPECT_FALSE(ParseIsoTime("yesterday"));
}

}  // namespace
}  // namespace efs2s3::aws
