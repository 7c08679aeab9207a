#include "jobs/generate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

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

// What CloudFormation's Fn::Sub makes of a string with these variables:
// ${NAME} replaced, ${!NAME} left as the literal ${NAME}.
std::string Substitute(const std::string& text,
                       const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "${") != 0) {
      out += text[i];
      continue;
    }
    size_t end = text.find('}', i);
    std::string name = text.substr(i + 2, end - i - 2);
    if (!name.empty() && name[0] == '!') {
      out += "${" + name.substr(1) + "}";
    } else {
      auto it = vars.find(name);
      EXPECT_NE(it, vars.end()) << name;
      if (it != vars.end()) out += it->second;
    }
    i = end;
  }
  return out;
}

// The deployed configuration, once CloudFormation has filled in the stack
// parameters, is one that config.cc reads, with the job's own strings intact.
TEST(GenerateTest, CloudFormationConfigParsesBack) {
  Job j;
  j.name = "nightly";
  j.host = "efs \"main\" ${H}";
  j.tags = {"t\"q", "${x}", "a#b=c"};
  j.excludes = {"*.tmp", "a\\b\nc"};
  j.workers = 12;
  j.retention.keep_last = 2;
  j.retention.keep_within = "30d";
  j.prune.max_unused = "5%";
  j.lock_extend.enabled = true;
  j.lock_extend.every = std::chrono::hours(24);
  j.lock_extend.lock_days = 30;
  AwsOptions o;
  o.file_system_id = "fs-0123456789abcdef0";
  o.bucket = "b";
  o.prefix = "p/${q}";
  o.subnets = {"subnet-1"};
  o.security_groups = {"sg-1"};
  const std::map<std::string, std::string> vars = {
      {"BucketName", "b"},
      {"AWS::Region", "eu-west-1"},
      {"KeepDaily", "7"},
      {"KeepWeekly", "5"},
      {"KeepMonthly", "12"},
      {"CheckReadDataSubset", "1%"},
      {"KmsSse", ""},
      {"AccessPoint", "fsap-1"},
      {"PasswordSecretArn", "arn:s"},
      {"BinaryUrl", "s3://t/e"},
      {"LogGroup", "g"},
      {"FailureTopic", "arn:t"}};
  for (bool ec2 : {false, true}) {
    o.ec2 = ec2;
    auto t = GenerateCloudFormation(j, o);
    ASSERT_TRUE(t) << t.error().message;
    const auto& sub =
        ec2 ? (*t)["Resources"]["LaunchTemplate"]["Properties"]
                  ["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
            : (*t)["Resources"]["TaskDefinition"]["Properties"]
                  ["ContainerDefinitions"][0]["Environment"][0]["Value"]
                  ["Fn::Sub"];
    std::string text = Substitute(sub[0].get<std::string>(), vars);
    if (ec2) {
      size_t from = text.find("<<'EFS2S3_CONFIG'\n") + 18;
      text = text.substr(from, text.find("EFS2S3_CONFIG\n", from) - from);
    }
    auto c = ParseConfig(text, "/etc/efs2s3/efs2s3.toml");
    ASSERT_TRUE(c) << c.error().message << "\n" << text;
    ASSERT_EQ(c->jobs.size(), 1u);
    const Job& got = c->jobs[0];
    EXPECT_EQ(got.repository, "s3://b/p/${q}");
    EXPECT_EQ(got.host, j.host);
    EXPECT_EQ(got.tags, j.tags);
    EXPECT_EQ(got.excludes, j.excludes);
    EXPECT_EQ(got.workers, 12);
    EXPECT_EQ(got.retention.keep_daily, 7);
    EXPECT_EQ(got.retention.keep_last, 2);
    // The maintenance schedule decides when they run: no interval, no day.
    EXPECT_TRUE(got.prune.enabled);
    EXPECT_TRUE(got.prune.weekdays.empty());
    EXPECT_EQ(got.prune.every.count(), 0);
    EXPECT_EQ(got.prune.max_unused, "5%");
    EXPECT_TRUE(got.lock_extend.enabled);
    EXPECT_EQ(got.lock_extend.every.count(), 0);
    EXPECT_EQ(got.lock_extend.lock_days, 30);
    EXPECT_EQ(got.check.read_data_subset, "1%");
    EXPECT_EQ(got.efs.has_value(), ec2);
    if (ec2) {
      EXPECT_EQ(got.efs->access_point, "fsap-1");
    }
  }
}

AwsOptions TestAwsOptions(bool ec2) {
  AwsOptions o;
  o.file_system_id = "fs-12345678";
  o.bucket = "b";
  o.subnets = {"subnet-1"};
  o.security_groups = {"sg-1"};
  o.ec2 = ec2;
  return o;
}

// Every action a role's policy allows.
std::vector<std::string> RoleActions(const nlohmann::ordered_json& role) {
  std::vector<std::string> out;
  for (const auto& st :
       role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]) {
    const auto& s = st.contains("Fn::If") ? st["Fn::If"][1] : st;
    for (const auto& a : s["Action"]) out.push_back(a.get<std::string>());
  }
  return out;
}

bool Matches(const std::string& action, const std::string& pattern) {
  return pattern.back() == '*'
             ? action.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0
             : action == pattern;
}

// The backup runs with a role that cannot delete, the maintenance with one
// that can but cannot bypass a retention; each schedule starts its part.
TEST(GenerateTest, CloudFormationBackupAndMaintenanceRolesAndSchedules) {
  Job j;
  j.name = "nightly";
  for (bool ec2 : {false, true}) {
    SCOPED_TRACE(ec2 ? "ec2" : "fargate");
    auto t = GenerateCloudFormation(j, TestAwsOptions(ec2));
    ASSERT_TRUE(t) << t.error().message;
    const auto& r = (*t)["Resources"];
    EXPECT_FALSE(r.contains("JobRole"));
    std::vector<std::string> backup = RoleActions(r["BackupRole"]);
    EXPECT_NE(std::find(backup.begin(), backup.end(), "s3:PutObject"),
              backup.end());
    for (const std::string& a : backup) {
      EXPECT_EQ(a.find('*'), std::string::npos) << a;
      // s3:PutObjectRetention only to write locked objects (AWS checks it
      // on such a PUT); it cannot shorten a retention.
      for (const char* no : {"s3:Delete*", "s3:Bypass*", "s3:PutBucket*",
                             "s3:GetObjectRetention"})
        EXPECT_FALSE(Matches(a, no)) << "backup role grants " << a;
    }
    std::vector<std::string> maintenance = RoleActions(r["MaintenanceRole"]);
    for (const char* yes : {"s3:DeleteObject", "s3:DeleteObjectVersion",
                            "s3:ListBucketVersions", "s3:GetObjectVersion",
                            "s3:PutObjectRetention", "s3:GetObjectRetention"})
      EXPECT_NE(std::find(maintenance.begin(), maintenance.end(), yes),
                maintenance.end())
          << yes;
    for (const std::string& a : maintenance) {
      EXPECT_FALSE(Matches(a, "s3:Bypass*")) << a;
      EXPECT_FALSE(Matches(a, "elasticfilesystem:*")) << a;
    }

    struct Expect {
      const char* schedule;
      const char* expression;
      const char* runner;
      const char* role;
      const char* command;
    };
    for (const Expect& e :
         {Expect{"Schedule", "ScheduleExpression",
                 ec2 ? "LaunchTemplate" : "TaskDefinition", "BackupRole",
                 "efs2s3 job run nightly --config CONFIG --only backup"},
          Expect{
              "MaintenanceSchedule", "MaintenanceScheduleExpression",
              ec2 ? "MaintenanceLaunchTemplate" : "MaintenanceTaskDefinition",
              "MaintenanceRole",
              "efs2s3 job run nightly --config CONFIG --only "
              "maintenance"}}) {
      SCOPED_TRACE(e.schedule);
      const auto& p = r[e.schedule]["Properties"];
      EXPECT_EQ(p["ScheduleExpression"]["Ref"], e.expression);
      std::string command;
      std::string config;
      if (ec2) {
        EXPECT_NE(p["Target"]["Input"]["Fn::Sub"][0].get<std::string>().find(
                      std::string("${") + e.runner + "}"),
                  std::string::npos);
        const auto& data = r[e.runner]["Properties"]["LaunchTemplateData"];
        std::string profile = data["IamInstanceProfile"]["Arn"]["Fn::GetAtt"][0]
                                  .get<std::string>();
        EXPECT_EQ(r[profile]["Properties"]["Roles"][0]["Ref"], e.role);
        command =
            data["UserData"]["Fn::Base64"]["Fn::Sub"][0].get<std::string>();
        config = "/etc/efs2s3/efs2s3.toml";
      } else {
        EXPECT_EQ(p["Target"]["EcsParameters"]["TaskDefinitionArn"]["Ref"],
                  e.runner);
        const auto& td = r[e.runner]["Properties"];
        EXPECT_EQ(td["TaskRoleArn"]["Fn::GetAtt"][0], e.role);
        command =
            td["ContainerDefinitions"][0]["Command"][0].get<std::string>();
        config = "/tmp/efs2s3.toml";
        // Only the backup mounts the file system.
        EXPECT_EQ(td.contains("Volumes"), std::string(e.role) == "BackupRole");
      }
      std::string want = e.command;
      want.replace(want.find("CONFIG"), 6, config);
      EXPECT_NE(command.find(want), std::string::npos) << command;
    }
  }
}

TEST(GenerateTest, CloudFormationMaintenanceSchedule) {
  Job j;
  j.name = "nightly";
  auto expression = [&j]() -> std::string {
    auto t = GenerateCloudFormation(j, TestAwsOptions(false));
    if (!t) return "error: " + t.error().message;
    return (*t)["Parameters"]["MaintenanceScheduleExpression"]["Default"]
        .get<std::string>();
  };
  // Weekly, twelve hours away from the default backup time.
  EXPECT_EQ(expression(), "cron(0 15 ? * SUN *)");
  j.schedule = S("30 22 * * *");
  EXPECT_EQ(expression(), "cron(30 10 ? * SUN *)");
  j.prune.weekdays = {3, 0};
  EXPECT_EQ(expression(), "cron(30 10 ? * SUN,WED *)");
  // The job's prune interval wins.
  j.prune.every = std::chrono::hours(72);
  EXPECT_EQ(expression(), "rate(3 days)");
  // lock extend runs with the maintenance: more often than the lock period.
  j.lock_extend.enabled = true;
  j.lock_extend.lock_days = 3;
  EXPECT_NE(expression().find("runs lock extend every 3d, not more often "
                              "than the repository's lock period"),
            std::string::npos)
      << expression();
  j.lock_extend.lock_days = 4;
  EXPECT_EQ(expression(), "rate(3 days)");
  j.prune.every = std::chrono::seconds(0);
  j.prune.weekdays = {};
  EXPECT_EQ(expression().rfind("error: ", 0), 0u);  // weekly >= 4 days
  j.lock_extend.lock_days = 8;
  EXPECT_EQ(expression(), "cron(30 10 ? * SUN *)");
}

}  // namespace
}  // namespace efs2s3::jobs
