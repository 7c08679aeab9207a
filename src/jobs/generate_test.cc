#include "jobs/generate.h"

#include <gtest/gtest.h>

namespace efs2s3::jobs {
namespace {

Schedule S(const char* e) { return *Schedule::Parse(e); }

TEST(GenerateTest, OnCalendar) {
  EXPECT_EQ(OnCalendar(S("0 3 * * *"), ""),
            std::vector<std::string>{"*-*-* 3:0:00"});
  EXPECT_EQ(OnCalendar(S("*/15 1-5 * * MON-FRI"), "Europe/Berlin"),
            std::vector<std::string>{
                "Mon..Fri *-*-* 1..5:0,15,30,45:00 Europe/Berlin"});
  // cron ORs the day fields; systemd ANDs them: two lines.
  EXPECT_EQ(OnCalendar(S("0 0 1,15 * SUN"), ""),
            (std::vector<std::string>{"*-*-1,15 0:0:00", "Sun *-*-* 0:0:00"}));
}

TEST(GenerateTest, AwsScheduleExpression) {
  EXPECT_EQ(*AwsScheduleExpression(S("0 3 * * *")), "cron(0 3 * * ? *)");
  EXPECT_EQ(*AwsScheduleExpression(S("30 2 * * 1-5")),
            "cron(30 2 ? * MON-FRI *)");
  EXPECT_EQ(*AwsScheduleExpression(S("0 4 1 * *")), "cron(0 4 1 * ? *)");
  EXPECT_EQ(*AwsScheduleExpression(S("@every 6h")), "rate(6 hours)");
  EXPECT_FALSE(AwsScheduleExpression(S("0 0 1 * 1")));
}

TEST(GenerateTest, SystemdAndCron) {
  Job j;
  j.name = "nightly";
  j.schedule_text = "0 3 * * *";
  j.schedule = S("0 3 * * *");
  j.timezone = "Europe/Berlin";
  auto u = GenerateSystemd(j, "/usr/bin/efs2s3", "/etc/efs2s3/efs2s3.toml");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->service_name, "efs2s3-nightly.service");
  EXPECT_NE(
      u->service.find("ExecStart=/usr/bin/efs2s3 job run nightly --config "
                      "/etc/efs2s3/efs2s3.toml"),
      std::string::npos);
  EXPECT_NE(u->service.find("KillMode=mixed"), std::string::npos);
  EXPECT_NE(u->timer.find("OnCalendar=*-*-* 3:0:00 Europe/Berlin"),
            std::string::npos);
  auto c =
      GenerateCron(j, "/usr/bin/efs2s3", "/etc/efs2s3/efs2s3.toml", "root");
  ASSERT_TRUE(c);
  EXPECT_NE(c->find("CRON_TZ=Europe/Berlin\n"), std::string::npos);
  EXPECT_NE(c->find("0 3 * * * root /usr/bin/efs2s3 job run nightly"),
            std::string::npos);
  j.schedule = S("@every 1h");
  EXPECT_FALSE(GenerateCron(j, "e", "c", "root"));
}

TEST(GenerateTest, CloudFormationNeedsItsOptions) {
  Job j;
  j.name = "nightly";
  AwsOptions o;
  EXPECT_FALSE(GenerateCloudFormation(j, o));
  o.file_system_id = "fs-12345678";
  o.bucket = "b";
  o.subnets = {"subnet-1"};
  o.security_groups = {"sg-1"};
  auto t = GenerateCloudFormation(j, o);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_TRUE((*t)["Resources"].contains("TaskDefinition"));
  o.ec2 = true;
  t = GenerateCloudFormation(j, o);
  ASSERT_TRUE(t);
  EXPECT_TRUE((*t)["Resources"].contains("LaunchTemplate"));
}

}  // namespace
}  // namespace efs2s3::jobs
