#include "jobs/efs.h"

#include <gtest/gtest.h>

#include <map>

namespace efs2s3::jobs {
namespace {

aws::Getenv Env(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

TEST(EfsTest, DnsNameWithRecommendedOptions) {
  // Given a region and a resolvable DNS name, then the mount is NFSv4.1 with
  // the recommended options, read-only, to the DNS name.
  EfsMountRequest req;
  req.file_system_id = "fs-12345678";
  req.path = "/exports";
  req.mount_point = "/mnt/efs";
  std::string asked;
  auto plan = PlanEfsMount(req, Env({{"AWS_REGION", "eu-west-1"}}),
                           [&](const std::string& h) {
                             asked = h;
                             return true;
                           });
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(asked, "fs-12345678.efs.eu-west-1.amazonaws.com");
  EXPECT_EQ(plan->resolved_by, "dns");
  EXPECT_EQ(ShellJoin(plan->mount_command),
            "mount -t nfs4 -o nfsvers=4.1,rsize=1048576,wsize=1048576,hard,"
            "timeo=600,retrans=2,noresvport,ro "
            "fs-12345678.efs.eu-west-1.amazonaws.com:/exports /mnt/efs");
  EXPECT_EQ(ShellJoin(plan->unmount_command), "umount /mnt/efs");
}

TEST(EfsTest, AccessPointUsesEfsUtils) {
  EfsMountRequest req;
  req.file_system_id = "fs-12345678";
  req.mount_point = "/mnt/efs";
  req.access_point = "fsap-0123456789abcdef0";
  req.region = "us-east-1";
  auto plan =
      PlanEfsMount(req, Env({}), [](const std::string&) { return true; });
  ASSERT_TRUE(plan);
  EXPECT_EQ(ShellJoin(plan->mount_command),
            "mount -t efs -o tls,iam,accesspoint=fsap-0123456789abcdef0,"
            "region=us-east-1,ro fs-12345678:/ /mnt/efs");
}

TEST(EfsTest, NoRegionAnywhereIsAClearError) {
  EfsMountRequest req;
  req.file_system_id = "fs-12345678";
  req.mount_point = "/mnt/efs";
  auto plan = PlanEfsMount(req,
                           Env({{"AWS_EC2_METADATA_DISABLED", "true"},
                                {"AWS_CONFIG_FILE", "/nonexistent"}}),
                           [](const std::string&) { return true; });
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("no region for fs-12345678"),
            std::string::npos);
}

TEST(EfsTest, ShellJoinQuotes) {
  EXPECT_EQ(ShellJoin({"a", "b c", "it's", ""}), "a 'b c' 'it'\\''s' ''");
}

}  // namespace
}  // namespace efs2s3::jobs
