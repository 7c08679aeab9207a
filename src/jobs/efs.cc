#include "jobs/efs.h"

#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "aws/http.h"
#include "aws/service_endpoint.h"
#include "aws/sigv4.h"

namespace efs2s3::jobs {

namespace {

Result<nlohmann::json> DescribeMountTargets(const std::string& fs_id,
                                            const std::string& region,
                                            const aws::Getenv& env) {
  ASSIGN_OR_RETURN(aws::ServiceEndpoint ep,
                   aws::ResolveServiceEndpoint(env, "EFS",
                                               "https://elasticfilesystem." +
                                                   region + ".amazonaws.com"));
  auto provider = aws::NewDefaultCredentialsChain(env);
  ASSIGN_OR_RETURN(aws::Credentials creds, provider->Get());
  const std::string what = "EFS DescribeMountTargets " + fs_id;
  aws::ServiceCall call;
  call.method = "GET";
  call.path = "/2015-02-01/mount-targets";
  call.query = {{"FileSystemId", fs_id}};
  call.service = "elasticfilesystem";
  call.region = region;
  call.what = what;
  aws::HttpRequest req = aws::SignServiceCall(ep, call, creds);
  aws::HttpOptions opts;
  opts.max_in_flight = 1;
  opts.total_timeout = std::chrono::milliseconds(30000);
  aws::HttpClient http(opts);
  ASSIGN_OR_RETURN(aws::HttpResponse resp, http.Do(req));
  std::string body(AsString(resp.body));
  if (resp.status != 200) {
    ErrorCode code = resp.status == 403   ? ErrorCode::kPermission
                     : resp.status == 404 ? ErrorCode::kNotFound
                     : resp.status >= 500 ? ErrorCode::kTransient
                                          : ErrorCode::kInvalidArgument;
    return MakeError(code, fmt::format("{}: HTTP {}: {}", what, resp.status,
                                       body.substr(0, 300)));
  }
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("MountTargets"))
    return MakeError(ErrorCode::kCorruption, what + ": unexpected answer");
  return j;
}

}  // namespace

Resolver SystemResolver() {
  return [](const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(host.c_str(), "2049", &hints, &res);
    if (res) ::freeaddrinfo(res);
    return rc == 0;
  };
}

Result<std::string> InstanceMetadata(const aws::Getenv& env,
                                     const std::string& item) {
  std::string disabled = aws::GetEnv(env, "AWS_EC2_METADATA_DISABLED");
  if (disabled == "true" || disabled == "TRUE" || disabled == "True")
    return MakeError(ErrorCode::kNotFound, "instance metadata is disabled");
  std::string base = aws::GetEnv(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (base.empty()) base = "http://169.254.169.254";
  while (!base.empty() && base.back() == '/') base.pop_back();
  aws::HttpOptions opts;
  opts.max_in_flight = 1;
  opts.connect_timeout = std::chrono::milliseconds(1000);
  opts.total_timeout = std::chrono::milliseconds(3000);
  aws::HttpClient http(opts);
  const std::string what = "instance metadata";
  auto token = http.Do({"PUT",
                        base + "/latest/api/token",
                        {{"X-aws-ec2-metadata-token-ttl-seconds", "300"}},
                        {},
                        what});
  if (!token)
    return MakeError(ErrorCode::kNotFound,
                     "instance metadata does not answer (not on EC2?)");
  if (token->status != 200)
    return MakeError(ErrorCode::kPermission,
                     fmt::format("{}: IMDSv2 token request answered HTTP {}",
                                 what, token->status));
  ASSIGN_OR_RETURN(aws::HttpResponse r,
                   http.Do({"GET",
                            base + "/latest/meta-data/" + item,
                            {{"X-aws-ec2-metadata-token",
                              std::string(AsString(token->body))}},
                            {},
                            what}));
  if (r.status != 200)
    return MakeError(
        r.status == 404 ? ErrorCode::kNotFound : ErrorCode::kPermission,
        fmt::format("{}: {} answered HTTP {}", what, item, r.status));
  std::string value(AsString(r.body));
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r'))
    value.pop_back();
  return value;
}

std::string ShellJoin(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() &&
                 a.find_first_not_of(
                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                     "OPQRSTUVWXYZ0123456789-_./:=,@%+") == std::string::npos;
    if (plain) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) {
      if (c == '\'')
        out += "'\\''";
      else
        out += c;
    }
    out += '\'';
  }
  return out;
}

namespace {

// The mount and unmount commands: NFS with the recommended options, or
// amazon-efs-utils through an access point.
void SetMountCommands(const EfsMountRequest& req, const std::string& path,
                      EfsMountPlan& plan) {
  if (req.access_point.empty()) {
    std::string opts = req.options.empty() ? kEfsMountOptions : req.options;
    if (req.read_only) opts += ",ro";
    plan.mount_command = {"mount",        "-t", "nfs4",
                          "-o",           opts, plan.host + ":" + path,
                          req.mount_point};
  } else {
    // amazon-efs-utils: TLS and IAM authorization, through the access point.
    std::string opts = "tls,iam,accesspoint=" + req.access_point;
    if (plan.resolved_by == "mount-target")
      opts += ",mounttargetip=" + plan.host;
    if (!req.region.empty()) opts += ",region=" + plan.region;
    if (req.read_only) opts += ",ro";
    plan.mount_command = {"mount",        "-t", "efs",
                          "-o",           opts, req.file_system_id + ":" + path,
                          req.mount_point};
  }
  plan.unmount_command = {"umount", req.mount_point};
}

}  // namespace

Result<EfsMountPlan> PlanEfsMount(const EfsMountRequest& req,
                                  const aws::Getenv& env,
                                  const Resolver& resolves) {
  if (req.file_system_id.rfind("fs-", 0) != 0)
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + req.file_system_id +
                         "' is not an EFS file system ID (fs-12345678)");
  if (req.mount_point.empty())
    return MakeError(ErrorCode::kInvalidArgument, "no mount point given");
  std::string path = req.path.empty() ? "/" : req.path;
  EfsMountPlan plan;
  plan.region = req.region;
  if (plan.region.empty()) plan.region = aws::ResolveRegion(env);
  if (plan.region.empty()) {
    auto r = InstanceMetadata(env, "placement/region");
    if (!r)
      return MakeError(ErrorCode::kInvalidArgument,
                       "no region for " + req.file_system_id +
                           ": set region in the job's source, AWS_REGION, "
                           "or run on EC2 (" +
                           r.error().message + ")");
    plan.region = *r;
  }
  std::string dns =
      req.file_system_id + ".efs." + plan.region + ".amazonaws.com";
  if (resolves(dns)) {
    plan.host = dns;
    plan.resolved_by = "dns";
  } else {
    auto az = InstanceMetadata(env, "placement/availability-zone");
    if (!az)
      return MakeError(
          ErrorCode::kNotFound,
          fmt::format("{} does not resolve and the availability zone is "
                      "unknown: {}",
                      dns, az.error().message));
    plan.availability_zone = *az;
    ASSIGN_OR_RETURN(
        nlohmann::json targets,
        DescribeMountTargets(req.file_system_id, plan.region, env));
    std::vector<std::string> zones;
    for (const auto& t : targets["MountTargets"]) {
      std::string zone = t.value("AvailabilityZoneName", "");
      zones.push_back(zone);
      if (zone != *az) continue;
      std::string state = t.value("LifeCycleState", "available");
      if (state != "available")
        return MakeError(ErrorCode::kTransient,
                         fmt::format("mount target {} of {} in {} is {}",
                                     t.value("MountTargetId", ""),
                                     req.file_system_id, zone, state));
      plan.host = t.value("IpAddress", "");
      plan.mount_target_id = t.value("MountTargetId", "");
    }
    if (plan.host.empty())
      return MakeError(
          ErrorCode::kNotFound,
          fmt::format("{} does not resolve and {} has no mount target in "
                      "availability zone {} (mount targets in: {})",
                      dns, req.file_system_id, *az,
                      zones.empty()
                          ? "none"
                          : fmt::format("{}", fmt::join(zones, ", "))));
    plan.resolved_by = "mount-target";
  }
  SetMountCommands(req, path, plan);
  return plan;
}

}  // namespace efs2s3::jobs
