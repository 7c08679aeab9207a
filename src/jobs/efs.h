// Mounting Amazon EFS as a backup source.
//
// PlanEfsMount decides how to mount a file system and returns the commands,
// without running them (so --dry-run can print them and tests can check them):
//   1. region: the request, else AWS_REGION / AWS_DEFAULT_REGION / the profile,
//      else instance metadata (IMDSv2, placement/region);
//   2. the DNS name <fs-id>.efs.<region>.amazonaws.com, if it resolves;
//   3. otherwise the IP address of the file system's mount target in this
//      instance's availability zone (instance metadata placement/
//      availability-zone), from the EFS API DescribeMountTargets (SigV4,
//      service "elasticfilesystem"; endpoint AWS_ENDPOINT_URL_EFS or
//      AWS_ENDPOINT_URL overrides
//      https://elasticfilesystem.<region>.amazonaws.com).
// Without an access point the mount is plain NFSv4.1 with the recommended
// options (nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,
// noresvport); with one it uses amazon-efs-utils ("mount -t efs", tls, iam).
// Instance metadata is at AWS_EC2_METADATA_SERVICE_ENDPOINT (default
// http://169.254.169.254) unless AWS_EC2_METADATA_DISABLED=true.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "base/result.h"

namespace efs2s3::jobs {

inline constexpr char kEfsMountOptions[] =
    "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,"
    "noresvport";

struct EfsMountRequest {
  std::string file_system_id;
  std::string path = "/";
  std::string region;
  std::string mount_point;
  std::string access_point;
  std::string options;  // "" = kEfsMountOptions
  bool read_only = true;
};

struct EfsMountPlan {
  std::string region;
  std::string host;         // DNS name or mount target IP
  std::string resolved_by;  // "dns" or "mount-target"
  std::string availability_zone;
  std::string mount_target_id;
  std::vector<std::string> mount_command, unmount_command;
};

// Returns true if `host` resolves (getaddrinfo).
using Resolver = std::function<bool(const std::string& host)>;
Resolver SystemResolver();

// kInvalidArgument for a bad request, kNotFound when no mount target exists in
// this availability zone, kPermission/kTransient from the EFS API or instance
// metadata.
Result<EfsMountPlan> PlanEfsMount(const EfsMountRequest& req,
                                  const aws::Getenv& env,
                                  const Resolver& resolves);

// One value of instance metadata (IMDSv2), e.g. "placement/region".
// kNotFound when instance metadata is disabled or does not answer.
Result<std::string> InstanceMetadata(const aws::Getenv& env,
                                     const std::string& item);

// Quotes argv for display / sh ("mount -t nfs4 -o '...' host:/ /mnt").
std::string ShellJoin(const std::vector<std::string>& argv);

}  // namespace efs2s3::jobs
