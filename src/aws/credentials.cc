#include "aws/credentials.h"

#include <stdio.h>
#include <sys/wait.h>

#include <cstdlib>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

#include "aws/http.h"
#include "aws/query_xml.h"
#include "base/file_util.h"

namespace efs2s3::aws {
namespace {

using TimePoint = std::chrono::system_clock::time_point;
using std::chrono::minutes;
using std::chrono::seconds;

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string Get(const Getenv& env, const std::string& name) {
  return env(name).value_or("");
}

std::string HomeFile(const Getenv& env, const std::string& var,
                     const std::string& rel) {
  std::string path = Get(env, var);
  if (!path.empty()) {
    if (path.rfind("~/", 0) == 0) path = Get(env, "HOME") + path.substr(1);
    return path;
  }
  std::string home = Get(env, "HOME");
  return home.empty() ? "" : home + "/" + rel;
}

std::map<std::string, IniSection> ReadIni(const std::string& path) {
  if (path.empty()) return {};
  auto data = ReadFile(path);
  if (!data) return {};
  return ParseIni(std::string(AsString(*data)));
}

}  // namespace

Result<Credentials> ParseJsonCredentials(const std::string& text,
                                         const std::string& source) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return MakeError(ErrorCode::kPermission,
                     source + ": the answer is not a JSON object");
  auto str = [&](const char* k) -> std::string {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
  };
  if (!str("Code").empty() && str("Code") != "Success")
    return MakeError(ErrorCode::kPermission,
                     source + ": answered with code " + str("Code"));
  Credentials c;
  c.access_key_id = str("AccessKeyId");
  c.secret_access_key = str("SecretAccessKey");
  c.session_token = str("Token");
  if (c.session_token.empty()) c.session_token = str("SessionToken");
  std::string exp = str("Expiration");
  if (!exp.empty()) {
    c.expiration = ParseIsoTime(exp);
    if (!c.expiration)
      return MakeError(ErrorCode::kPermission,
                       source + ": unreadable Expiration " + exp);
  }
  c.source = source;
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    return MakeError(
        ErrorCode::kPermission,
        source + ": the answer has no AccessKeyId/SecretAccessKey");
  return c;
}

namespace {

HttpOptions MetadataHttpOptions() {
  HttpOptions o;
  o.max_in_flight = 2;
  o.connect_timeout = std::chrono::milliseconds(1000);
  o.stall_timeout = std::chrono::milliseconds(2000);
  o.total_timeout = std::chrono::milliseconds(5000);
  return o;
}

// ---- sources
// ------------------------------------------------------------------------ Each
// returns nullopt when it is not configured.
using MaybeCreds = Result<std::optional<Credentials>>;

MaybeCreds FromEnvironment(const Getenv& env) {
  std::string id = Get(env, "AWS_ACCESS_KEY_ID");
  std::string secret = Get(env, "AWS_SECRET_ACCESS_KEY");
  if (id.empty() && secret.empty()) return std::nullopt;
  if (id.empty() || secret.empty())
    return MakeError(
        ErrorCode::kPermission,
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
  return Credentials{id, secret, Get(env, "AWS_SESSION_TOKEN"), std::nullopt,
                     "environment"};
}

MaybeCreds FromProcess(const std::string& command, const std::string& source) {
  // The command comes from the user's config file; its output holds secrets and
  // is never echoed. stderr goes to ours so the tool can explain itself.
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return PosixError(source + ": cannot run credential_process", errno);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return MakeError(
        ErrorCode::kPermission,
        source + ": credential_process failed (exit status " +
            std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("Version") &&
      j["Version"] != 1)
    return MakeError(
        ErrorCode::kPermission,
        source + ": credential_process output has an unsupported Version");
  ASSIGN_OR_RETURN(Credentials c, ParseJsonCredentials(out, source));
  return std::optional<Credentials>(std::move(c));
}

MaybeCreds AssumeRoleWithWebIdentity(const Getenv& env,
                                     const std::string& token_file,
                                     const std::string& role_arn,
                                     std::string session_name,
                                     const std::string& source,
                                     const Clock& clock) {
  auto token = ReadFile(token_file);
  if (!token)
    return MakeError(ErrorCode::kPermission,
                     source + ": cannot read the web identity token file " +
                         token_file + ": " + token.error().message);
  if (session_name.empty())
    session_name =
        "efs2s3-" + std::to_string(std::chrono::duration_cast<seconds>(
                                       clock().time_since_epoch())
                                       .count());
  std::string endpoint = Get(env, "AWS_ENDPOINT_URL_STS");
  if (endpoint.empty()) {
    std::string region = ResolveRegion(env);
    endpoint = "https://sts." +
               (region.empty() ? std::string("us-east-1") : region) +
               ".amazonaws.com";
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  // The request is not signed: the token is the proof. It goes in the body, not
  // the URL, so that it never shows up in a proxy's access log.
  std::string body =
      "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" +
      UriEncode(role_arn, false) +
      "&RoleSessionName=" + UriEncode(session_name, false) +
      "&WebIdentityToken=" + UriEncode(Trim(AsString(*token)), false);
  HttpClient http(MetadataHttpOptions());
  HttpRequest req{
      "POST",
      endpoint + "/",
      {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
      AsBytes(body),
      source + " (STS AssumeRoleWithWebIdentity)"};
  ASSIGN_OR_RETURN(HttpResponse resp, http.Do(req));
  if (resp.status != 200) {
    QueryError e = ParseQueryError(resp.body).value_or(QueryError{});
    return MakeError(
        resp.status >= 500 ? ErrorCode::kTransient : ErrorCode::kPermission,
        source + ": STS AssumeRoleWithWebIdentity for " + role_arn +
            " failed: HTTP " + std::to_string(resp.status) +
            (e.code.empty() ? "" : " " + e.code) +
            (e.message.empty() ? "" : ": " + e.message));
  }
  auto sts = ParseAssumeRoleWithWebIdentity(resp.body);
  if (!sts)
    return MakeError(ErrorCode::kPermission,
                     source + ": STS answer has no credentials");
  Credentials c;
  c.access_key_id = sts->access_key_id;
  c.secret_access_key = sts->secret_access_key;
  c.session_token = sts->session_token;
  c.expiration = ParseIsoTime(sts->expiration);
  c.source = source;
  return std::optional<Credentials>(std::move(c));
}

MaybeCreds FromProfile(const Getenv& env, const Clock& clock) {
  std::string profile = ProfileName(env);
  bool explicit_profile = !Get(env, "AWS_PROFILE").empty() ||
                          !Get(env, "AWS_DEFAULT_PROFILE").empty();
  std::string source = "profile " + profile;
  auto creds_file =
      ReadIni(HomeFile(env, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"));
  IniSection conf = ConfigFileProfile(env, profile);
  auto it = creds_file.find(profile);
  const IniSection* sections[] = {
      it == creds_file.end() ? nullptr : &it->second, &conf};
  for (const IniSection* s : sections) {
    if (!s) continue;
    auto id = s->find("aws_access_key_id");
    auto secret = s->find("aws_secret_access_key");
    if (id != s->end() && secret != s->end() && !id->second.empty()) {
      auto tok = s->find("aws_session_token");
      return Credentials{id->second, secret->second,
                         tok == s->end() ? "" : tok->second, std::nullopt,
                         source};
    }
  }
  if (auto p = conf.find("credential_process"); p != conf.end())
    return FromProcess(p->second, source);
  auto role = conf.find("role_arn");
  auto token_file = conf.find("web_identity_token_file");
  if (role != conf.end() && token_file != conf.end()) {
    auto session = conf.find("role_session_name");
    return AssumeRoleWithWebIdentity(
        env, token_file->second, role->second,
        session == conf.end() ? "" : session->second, source, clock);
  }
  if (explicit_profile && it == creds_file.end() && conf.empty())
    return MakeError(ErrorCode::kPermission,
                     "AWS profile " + profile +
                         " is in neither the credentials nor the config file");
  return std::nullopt;
}

MaybeCreds FromWebIdentityEnv(const Getenv& env, const Clock& clock) {
  std::string token_file = Get(env, "AWS_WEB_IDENTITY_TOKEN_FILE");
  std::string role = Get(env, "AWS_ROLE_ARN");
  if (token_file.empty() || role.empty()) return std::nullopt;
  return AssumeRoleWithWebIdentity(env, token_file, role,
                                   Get(env, "AWS_ROLE_SESSION_NAME"),
                                   "web identity", clock);
}

MaybeCreds FromContainer(const Getenv& env) {
  std::string rel = Get(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  std::string full = Get(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (rel.empty() && full.empty()) return std::nullopt;
  std::string url = !rel.empty() ? "http://169.254.170.2" + rel : full;
  std::string token;
  if (std::string f = Get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
      !f.empty()) {
    auto t = ReadFile(f);
    if (!t)
      return MakeError(ErrorCode::kPermission,
                       "container credentials: cannot read "
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " +
                           f + ": " + t.error().message);
    token = Trim(AsString(*t));
  } else {
    token = Get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
  }
  HttpClient http(MetadataHttpOptions());
  HttpRequest req{"GET", url, {}, {}, "container credentials"};
  if (!token.empty()) req.headers.emplace_back("Authorization", token);
  ASSIGN_OR_RETURN(HttpResponse resp, http.Do(req));
  if (resp.status != 200)
    return MakeError(
        resp.status >= 500 ? ErrorCode::kTransient : ErrorCode::kPermission,
        "container credentials: the agent answered HTTP " +
            std::to_string(resp.status));
  ASSIGN_OR_RETURN(
      Credentials c,
      ParseJsonCredentials(std::string(AsString(resp.body)), "container"));
  return std::optional<Credentials>(std::move(c));
}

MaybeCreds FromInstanceMetadata(const Getenv& env) {
  std::string disabled = Get(env, "AWS_EC2_METADATA_DISABLED");
  for (char& ch : disabled)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (disabled == "true") return std::nullopt;
  std::string base = Get(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (base.empty()) base = "http://169.254.169.254";
  while (!base.empty() && base.back() == '/') base.pop_back();
  HttpClient http(MetadataHttpOptions());
  const std::string what = "instance metadata";
  auto token = http.Do({"PUT",
                        base + "/latest/api/token",
                        {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}},
                        {},
                        what});
  // Not on EC2 (nothing answers): the chain has nothing more to offer.
  if (!token) return std::nullopt;
  if (token->status != 200)
    return MakeError(ErrorCode::kPermission,
                     what + ": IMDSv2 token request answered HTTP " +
                         std::to_string(token->status));
  HeaderList auth{
      {"X-aws-ec2-metadata-token", std::string(AsString(token->body))}};
  const std::string dir = base + "/latest/meta-data/iam/security-credentials/";
  ASSIGN_OR_RETURN(HttpResponse roles, http.Do({"GET", dir, auth, {}, what}));
  if (roles.status == 404)
    return MakeError(
        ErrorCode::kPermission,
        what + ": this instance has no IAM role (instance profile)");
  if (roles.status != 200)
    return MakeError(
        ErrorCode::kPermission,
        what + ": role lookup answered HTTP " + std::to_string(roles.status));
  std::string role = Trim(AsString(roles.body));
  role = role.substr(0, role.find('\n'));
  ASSIGN_OR_RETURN(HttpResponse creds,
                   http.Do({"GET", dir + role, auth, {}, what}));
  if (creds.status != 200)
    return MakeError(ErrorCode::kPermission, what + ": credentials of role " +
                                                 role + " answered HTTP " +
                                                 std::to_string(creds.status));
  ASSIGN_OR_RETURN(Credentials c,
                   ParseJsonCredentials(std::string(AsString(creds.body)),
                                        "instance metadata"));
  return std::optional<Credentials>(std::move(c));
}

Result<Credentials> ResolveChain(const Getenv& env, const Clock& clock) {
  std::optional<Credentials> c;
  ASSIGN_OR_RETURN(c, FromEnvironment(env));
  if (c) return *c;
  ASSIGN_OR_RETURN(c, FromProfile(env, clock));
  if (c) return *c;
  ASSIGN_OR_RETURN(c, FromWebIdentityEnv(env, clock));
  if (c) return *c;
  ASSIGN_OR_RETURN(c, FromContainer(env));
  if (c) return *c;
  ASSIGN_OR_RETURN(c, FromInstanceMetadata(env));
  if (c) return *c;
  return MakeError(
      ErrorCode::kPermission,
      "no AWS credentials found (tried the environment, the shared credentials "
      "and config files, web identity, container credentials and EC2 instance "
      "metadata); see docs/S3.md");
}

class StaticProvider : public CredentialsProvider {
 public:
  explicit StaticProvider(Credentials c) : creds_(std::move(c)) {}
  Result<Credentials> Get() override { return creds_; }
  void Invalidate() override {}

 private:
  Credentials creds_;
};

class ChainProvider : public CredentialsProvider {
 public:
  ChainProvider(Getenv env, Clock clock)
      : env_(std::move(env)), clock_(std::move(clock)) {}

  Result<Credentials> Get() override {
    std::lock_guard lock(mu_);
    TimePoint now = clock_();
    if (cached_ && (!cached_->expiration || now < refresh_at_)) return *cached_;
    auto fresh = ResolveChain(env_, clock_);
    if (!fresh) {
      // Keep using credentials that are still valid; the next call tries again.
      if (cached_ && cached_->expiration && now < *cached_->expiration)
        return *cached_;
      return fresh.error();
    }
    cached_ = *fresh;
    if (cached_->expiration) {
      // Refresh 5 minutes ahead, or half-way for credentials that live less
      // than 10.
      auto left = *cached_->expiration - now;
      refresh_at_ =
          *cached_->expiration -
          std::min<std::chrono::system_clock::duration>(minutes(5), left / 2);
    }
    return *cached_;
  }

  void Invalidate() override {
    std::lock_guard lock(mu_);
    refresh_at_ = TimePoint::min();
    if (cached_ && !cached_->expiration) cached_.reset();
  }

 private:
  Getenv env_;
  Clock clock_;
  std::mutex mu_;
  std::optional<Credentials> cached_;
  TimePoint refresh_at_{};
};

}  // namespace

Getenv ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
}

Clock SystemClock() {
  return [] { return std::chrono::system_clock::now(); };
}

std::unique_ptr<CredentialsProvider> NewStaticCredentials(Credentials creds) {
  return std::make_unique<StaticProvider>(std::move(creds));
}

std::unique_ptr<CredentialsProvider> NewDefaultCredentialsChain(Getenv env,
                                                                Clock clock) {
  return std::make_unique<ChainProvider>(std::move(env), std::move(clock));
}

std::map<std::string, IniSection> ParseIni(const std::string& text) {
  std::map<std::string, IniSection> out;
  IniSection* cur = nullptr;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = Trim(std::string_view(text).substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      std::string name = Trim(line.substr(1, line.size() - 2));
      // "profile  x" -> "profile x"
      if (name.rfind("profile", 0) == 0 && name.size() > 7 &&
          (name[7] == ' ' || name[7] == '\t'))
        name = "profile " + Trim(name.substr(7));
      cur = &out[name];
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos || !cur) continue;
    std::string key = Trim(line.substr(0, eq));
    for (char& ch : key)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    (*cur)[key] = Trim(line.substr(eq + 1));
  }
  return out;
}

std::string ProfileName(const Getenv& env) {
  std::string p = Get(env, "AWS_PROFILE");
  if (p.empty()) p = Get(env, "AWS_DEFAULT_PROFILE");
  return p.empty() ? "default" : p;
}

IniSection ConfigFileProfile(const Getenv& env, const std::string& profile) {
  auto ini = ReadIni(HomeFile(env, "AWS_CONFIG_FILE", ".aws/config"));
  auto it = ini.find("profile " + profile);
  if (it == ini.end() && profile == "default") it = ini.find("default");
  return it == ini.end() ? IniSection{} : it->second;
}

std::string ResolveRegion(const Getenv& env) {
  std::string r = Get(env, "AWS_REGION");
  if (r.empty()) r = Get(env, "AWS_DEFAULT_REGION");
  if (r.empty()) {
    IniSection s = ConfigFileProfile(env, ProfileName(env));
    if (auto it = s.find("region"); it != s.end()) r = it->second;
  }
  return r;
}

std::optional<TimePoint> ParseIsoTime(const std::string& s) {
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  if (*rest == '.')
    while (*++rest >= '0' && *rest <= '9') {
    }
  long offset = 0;
  if (*rest == '+' || *rest == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    offset = (*rest == '+' ? 1 : -1) * (hh * 3600L + mm * 60L);
  } else if (*rest != 'Z' && *rest != '\0') {
    return std::nullopt;
  }
  // system_clock counts nanoseconds in 64 bits: the years 1677 to 2262.
  std::time_t t = timegm(&tm) - offset;
  if (t > 9000000000 || t < -9000000000) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

}  // namespace efs2s3::aws
