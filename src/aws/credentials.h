// AWS credentials: the standard provider chain, and the shared config files.
//
// The chain tries, in this order, and uses the first source that is configured:
//   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
//   AWS_SESSION_TOKEN;
//   2. shared files for the profile AWS_PROFILE (default "default"):
//      AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials), then AWS_CONFIG_FILE
//      (~/.aws/config) with static keys, credential_process, or role_arn +
//      web_identity_token_file;
//   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+
//   AWS_ROLE_SESSION_NAME)
//      via STS AssumeRoleWithWebIdentity (AWS_ENDPOINT_URL_STS overrides the
//      endpoint);
//   4. ECS/Fargate: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI, with
//      AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE);
//   5. EC2 instance metadata, IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT
//   overrides the
//      address, AWS_EC2_METADATA_DISABLED=true skips it).
// A source that is configured but fails (an unreadable token file, a failing
// credential_process) is an error; the chain does not silently fall through.
//
// Temporary credentials are cached and fetched again shortly before they
// expire. Credentials are never part of an error message or a log line;
// Credentials has no printer on purpose.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "base/result.h"

namespace efs2s3::aws {

using Clock = std::function<std::chrono::system_clock::time_point()>;
// Looks up an environment variable; nullopt when unset.
using Getenv = std::function<std::optional<std::string>(const std::string&)>;

// The process environment (empty values count as unset).
Getenv ProcessEnv();
Clock SystemClock();

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  // Unset for long-term keys.
  std::optional<std::chrono::system_clock::time_point> expiration;
  // Where they came from, for diagnostics: "environment", "profile default",
  // ...
  std::string source;
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Valid credentials, refreshed ahead of their expiry. Thread-safe.
  virtual Result<Credentials> Get() = 0;
  // Makes the next Get() fetch again (after the server said the token expired).
  virtual void Invalidate() = 0;
};

std::unique_ptr<CredentialsProvider> NewStaticCredentials(Credentials creds);

// The default chain described above. Nothing is fetched before the first Get().
std::unique_ptr<CredentialsProvider> NewDefaultCredentialsChain(
    Getenv env = ProcessEnv(), Clock clock = SystemClock());

// One section of an INI-style AWS file: key -> value.
using IniSection = std::map<std::string, std::string>;
// Parses an AWS credentials/config file: section name -> keys. Comments (# ;)
// and blank lines are skipped; keys are lower-cased.
std::map<std::string, IniSection> ParseIni(const std::string& text);

// The profile in use: AWS_PROFILE, AWS_DEFAULT_PROFILE, or "default".
std::string ProfileName(const Getenv& env);
// The section of `profile` in the config file ("[profile x]", or "[default]").
IniSection ConfigFileProfile(const Getenv& env, const std::string& profile);

// Region: AWS_REGION, AWS_DEFAULT_REGION, the profile's `region` in the config
// file, or "" when none is set.
std::string ResolveRegion(const Getenv& env);

// Parses the JSON document of the ECS agent, IMDS and credential_process
// (AccessKeyId, SecretAccessKey, Token or SessionToken, Expiration, Code);
// kPermission, naming `source`, for anything without a key and its secret.
Result<Credentials> ParseJsonCredentials(const std::string& text,
                                         const std::string& source);

// Parses an ISO 8601 UTC time ("2024-05-01T12:00:00Z", fractional seconds
// allowed).
std::optional<std::chrono::system_clock::time_point> ParseIsoTime(
    const std::string& s);

}  // namespace efs2s3::aws
