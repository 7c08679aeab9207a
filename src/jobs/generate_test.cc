#include "jobs/generate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include "jobs/aws_template.h"
#include "jobs/config.h"
#include "jobs/identity.h"
#include "jobs/metrics.h"

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
  CronOptions co;
  co.cron_tz = true;
  co.system_zone = "UTC";
  auto c = GenerateCron(j, "/usr/bin/efs2s3", "/etc/efs2s3/efs2s3.toml", co);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_NE(c->find("CRON_TZ=Europe/Berlin\n"), std::string::npos);
  // The output goes to syslog, not /dev/null.
  EXPECT_NE(c->find("0 3 * * * root /usr/bin/efs2s3 job run nightly --config "
                    "/etc/efs2s3/efs2s3.toml 2>&1 | logger -t "
                    "efs2s3-nightly\n"),
            std::string::npos)
      << *c;
  EXPECT_EQ(c->find("/dev/null"), std::string::npos);
  co.log_file = "/var/log/efs2s3 nightly.log";
  c = GenerateCron(j, "/usr/bin/efs2s3", "/etc/efs2s3/efs2s3.toml", co);
  ASSERT_TRUE(c);
  EXPECT_NE(c->find("efs2s3.toml >>'/var/log/efs2s3 nightly.log' 2>&1\n"),
            std::string::npos)
      << *c;
  j.schedule = S("@every 1h");
  EXPECT_FALSE(GenerateCron(j, "e", "c", co));
}

// Debian's cron ignores CRON_TZ: a schedule in another zone is converted to
// the system zone when that is exact all year, else refused with a reason.
TEST(GenerateTest, CronWithoutCronTzConvertsOrRefuses) {
  Job j;
  j.name = "nightly";
  CronOptions co;
  co.now = 1704067200;  // 2024-01-01T00:00:00Z
  auto cron = [&](const char* sched, const char* zone,
                  const char* system) -> Result<std::string> {
    j.schedule_text = sched;
    j.schedule = S(sched);
    j.timezone = zone;
    co.system_zone = system;
    return GenerateCron(j, "/e", "/c", co);
  };
  auto line = [](const Result<std::string>& r) {
    if (!r) return "error: " + r.error().message;
    std::string text = *r;
    text.pop_back();
    return text.substr(text.rfind('\n') + 1);
  };
  // The same zone: nothing to convert.
  auto r = cron("0 3 * * *", "Europe/Berlin", "Europe/Berlin");
  EXPECT_EQ(line(r),
            "0 3 * * * root /e job run nightly --config /c 2>&1 | "
            "logger -t efs2s3-nightly");
  EXPECT_EQ(r->find("CRON_TZ="), std::string::npos);
  // A fixed offset: Asia/Tokyo is UTC+9 all year.
  r = cron("30 3 * * *", "Asia/Tokyo", "UTC");
  EXPECT_EQ(line(r).substr(0, 12), "30 18 * * * ");
  EXPECT_NE(r->find("'30 3 * * *' in Asia/Tokyo is '30 18 * * *' in UTC"),
            std::string::npos);
  EXPECT_EQ(r->find("CRON_TZ="), std::string::npos);
  EXPECT_EQ(line(cron("0 1,12 * * *", "Asia/Kolkata", "UTC")).substr(0, 12),
            "30 6,19 * * ");
  // Moving to the day before is fine every day, not on restricted days.
  EXPECT_EQ(line(cron("15 */6 * * *", "Asia/Tokyo", "UTC")).substr(0, 15),
            "15 3,9,15,21 * ");
  r = cron("0 3 * * MON", "Asia/Tokyo", "UTC");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("some runs move to another day"),
            std::string::npos);
  // Minutes that no longer form a grid.
  r = cron("0,45 3 * * *", "Asia/Kolkata", "UTC");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no longer every listed minute"),
            std::string::npos);
  // Daylight saving time: no fixed offset.
  r = cron("0 3 * * *", "Europe/Berlin", "UTC");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "job nightly: cannot convert the schedule from timezone "
            "Europe/Berlin to the system zone (UTC), in which cron reads it: "
            "the zones' difference changes during the year (daylight saving "
            "time). Debian's cron ignores CRON_TZ: with a cron that honours "
            "it (cronie) use --cron-tz; else set the job's timezone to the "
            "system zone, or use generate systemd or the daemon");
  // Two zones with the same rules are a fixed offset apart.
  EXPECT_EQ(
      line(cron("0 3 * * *", "Europe/Paris", "Europe/Berlin")).substr(0, 8),
      "0 3 * * ");
  EXPECT_EQ(
      line(cron("0 3 * * *", "Europe/London", "Europe/Berlin")).substr(0, 8),
      "0 4 * * ");
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
  // ECS cannot run a task without an image: a usage error (exit 2), not a
  // template with ImageUri "".
  auto t = GenerateCloudFormation(j, o);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::kUsage);
  EXPECT_NE(t.error().message.find("--image is required"), std::string::npos);
  EXPECT_EQ(t.error().message.find('\n'), std::string::npos);
  o.image = "i:1";
  t = GenerateCloudFormation(j, o);
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

// Values for the stack's ${...} variables, as CloudFormation would fill them.
std::map<std::string, std::string> StackVariables(const std::string& fs) {
  return {{"BucketName", "b"},
          {"FileSystemId", fs},
          {"AWS::StackName", "efs2s3-nightly"},
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
}

// The job configuration the backup part of a template runs, filled in.
std::string DeployedToml(const nlohmann::ordered_json& t, bool ec2,
                         const std::map<std::string, std::string>& vars) {
  const auto& sub =
      ec2 ? t["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
             ["UserData"]["Fn::Base64"]["Fn::Sub"]
          : t["Resources"]["TaskDefinition"]["Properties"]
             ["ContainerDefinitions"][0]["Environment"][0]["Value"]["Fn::Sub"];
  std::string text = Substitute(sub[0].get<std::string>(), vars);
  if (ec2) {
    size_t from = text.find("<<'EFS2S3_CONFIG'\n") + 18;
    text = text.substr(from, text.find("EFS2S3_CONFIG\n", from) - from);
  }
  return text;
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
  o.image = "i:1";
  o.subnets = {"subnet-1"};
  o.security_groups = {"sg-1"};
  const auto vars = StackVariables("fs-0123456789abcdef0");
  for (bool ec2 : {false, true}) {
    o.ec2 = ec2;
    auto t = GenerateCloudFormation(j, o);
    ASSERT_TRUE(t) << t.error().message;
    std::string text = DeployedToml(*t, ec2, vars);
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
      // From the FileSystemId parameter, not written in.
      EXPECT_EQ(got.efs->file_system_id, "fs-0123456789abcdef0");
    }
  }
}

using ojson = nlohmann::ordered_json;

AwsOptions TestAwsOptions(bool ec2);

// The same job file backs up the same path with the same host on a host
// (job run) and on AWS (the deployed job, both variants, and the path the
// Fargate task mounts the file system at).
TEST(GenerateTest, CloudFormationSnapshotIdentityIsTheHosts) {
  const auto vars = StackVariables("fs-12345678");
  auto host_job = [](const char* toml) {
    auto c = ParseConfig(toml, "/etc/efs2s3/efs2s3.toml");
    EXPECT_TRUE(c) << c.error().message;
    return c->jobs.at(0);
  };
  const Job efs_job = host_job(
      "[jobs.n]\nrepository = \"/r\"\nsource = { efs = \"fs-12345678\" }\n");
  const Job efs_at = host_job(
      "[jobs.n]\nrepository = \"/r\"\n"
      "source = { efs = \"fs-12345678\", mount_point = \"/srv/share\" }\n"
      "host = \"share\"\n");
  const Job paths_job = host_job(
      "[jobs.n]\nrepository = \"/r\"\nsource = { paths = [\"/mnt/nfs\"] }\n"
      "host = \"share\"\n");
  for (const Job* j : {&efs_job, &efs_at, &paths_job}) {
    for (bool ec2 : {false, true}) {
      auto t = GenerateCloudFormation(*j, TestAwsOptions(ec2));
      ASSERT_TRUE(t) << t.error().message;
      const ojson& r = (*t)["Resources"];
      const std::string text = DeployedToml(*t, ec2, vars);
      auto c = ParseConfig(text, "/etc/efs2s3/efs2s3.toml");
      ASSERT_TRUE(c) << c.error().message;
      const Job& deployed = c->jobs[0];
      const std::string host =
          SnapshotHost(*j).empty() ? "fs-12345678" : SnapshotHost(*j);
      EXPECT_EQ(SnapshotHost(deployed), host);
      EXPECT_EQ(BackupPaths(deployed), BackupPaths(*j)) << text;
      if (!ec2) {
        ojson path = r["TaskDefinition"]["Properties"]["ContainerDefinitions"]
                      [0]["MountPoints"][0]["ContainerPath"];
        std::string p =
            path.is_string()
                ? path.get<std::string>()
                : Substitute(path["Fn::Sub"].get<std::string>(), vars);
        EXPECT_EQ(std::vector<std::string>{p}, BackupPaths(*j));
      }
    }
  }
  // On a host, an EFS job's default is the file system at
  // /mnt/efs/<fs-id> with its ID as host.
  EXPECT_EQ(BackupPaths(efs_job),
            std::vector<std::string>{"/mnt/efs/fs-12345678"});
  EXPECT_EQ(SnapshotHost(efs_job), "fs-12345678");
}

TEST(GenerateTest, AwsWarningsNameWhatDiffers) {
  AwsOptions o = TestAwsOptions(false);
  Job j;
  j.name = "n";
  j.paths = {"/a", "/b"};
  j.excludes = {"/mnt/efs/scratch/*", "*.tmp"};
  std::vector<std::string> w = AwsWarnings(j, o);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0],
            "job n: on AWS its snapshots record host fs-12345678, on a host "
            "its hostname: set host in the job so that both share their "
            "parents");
  EXPECT_NE(w[1].find("backed up at /mnt/efs/fs-12345678, not at the job's 2 "
                      "paths"),
            std::string::npos);
  EXPECT_NE(w[2].find("exclude '/mnt/efs/scratch/*' can never match"),
            std::string::npos);
  EfsSource e;
  e.file_system_id = "fs-12345678";
  j.efs = e;
  j.paths.clear();
  j.excludes = {"/mnt/efs/fs-12345678/scratch/*"};
  EXPECT_TRUE(AwsWarnings(j, o).empty());
}

AwsOptions TestAwsOptions(bool ec2) {
  AwsOptions o;
  o.file_system_id = "fs-12345678";
  o.bucket = "b";
  o.subnets = {"subnet-1"};
  o.security_groups = {"sg-1"};
  o.image = "i:1";
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

// --shards N: the workers are one AWS Batch array job and the merge a job
// after it, both run by a state machine with its execution's name as the
// run ID; each of them has its role, and every failure reaches the topic.
TEST(GenerateTest, CloudFormationShardedBackup) {
  Job j;
  j.name = "nightly";
  AwsOptions o = TestAwsOptions(false);
  for (int bad : {1, -2, kMaxAwsShards + 1}) {
    o.shards = bad;
    auto t = GenerateCloudFormation(j, o);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, ErrorCode::kUsage);
    EXPECT_EQ(t.error().message.rfind("--shards " + std::to_string(bad), 0), 0u)
        << t.error().message;
    EXPECT_EQ(t.error().message.find('\n'), std::string::npos);
  }
  o.shards = 3;
  auto ec2 = TestAwsOptions(true);
  ec2.shards = 3;
  ASSERT_FALSE(GenerateCloudFormation(j, ec2));
  EXPECT_EQ(GenerateCloudFormation(j, ec2).error().code, ErrorCode::kUsage);

  auto t = GenerateCloudFormation(j, o);
  ASSERT_TRUE(t) << t.error().message;
  const auto& r = (*t)["Resources"];
  for (const char* name : {"Cluster", "TaskDefinition", "FailureRule"})
    EXPECT_FALSE(r.contains(name)) << name;
  EXPECT_EQ((*t)["Parameters"]["MaxVcpus"]["Default"], 3);
  EXPECT_FALSE((*t)["Parameters"].contains("Cpu"));
  EXPECT_EQ(r["ComputeEnvironment"]["Properties"]["ComputeResources"]["Type"],
            "FARGATE");

  // The run: the workers as an array job of 3, then the merge.
  EXPECT_EQ(r["Schedule"]["Properties"]["Target"]["Arn"],
            aws_template::Ref("StateMachine"));
  std::string text =
      r["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"]
          .get<std::string>();
  const std::string timeout = "${RunTimeoutSeconds}";
  ASSERT_NE(text.find(timeout), std::string::npos);
  text.replace(text.find(timeout), timeout.size(), "60");
  const auto d = nlohmann::json::parse(text);
  EXPECT_EQ(d["StartAt"], "Shards");
  EXPECT_EQ(d["States"]["Shards"]["Next"], "Merge");
  EXPECT_EQ(d["States"]["Shards"]["Parameters"]["ArrayProperties"]["Size"], 3);
  EXPECT_TRUE(d["States"]["Merge"]["End"].get<bool>());
  // One run ID for the workers and the merge of a run, another for the next
  // run: the execution's name.
  for (const char* state : {"Shards", "Merge"}) {
    const auto& p = d["States"][state]["Parameters"];
    EXPECT_EQ(d["States"][state]["Resource"],
              "arn:${AWS::Partition}:states:::batch:submitJob.sync");
    EXPECT_EQ(
        p["ContainerOverrides"]["Environment"],
        nlohmann::json::parse(
            R"([{"Name":"EFS2S3_RUN_ID","Value.$":"$$.Execution.Name"}])"));
  }
  EXPECT_EQ(d["States"]["Shards"]["Parameters"]["JobDefinition"],
            "${ShardJobDefinition}");
  EXPECT_EQ(d["States"]["Merge"]["Parameters"]["JobDefinition"],
            "${MergeJobDefinition}");
  auto command = [&](const char* definition) {
    return r[definition]["Properties"]["ContainerProperties"]["Command"][2]
        .get<std::string>();
  };
  EXPECT_NE(command("ShardJobDefinition")
                .find("efs2s3 job run nightly --config /tmp/efs2s3.toml "
                      "--shard auto/3 --run-id \"$EFS2S3_RUN_ID\""),
            std::string::npos);
  EXPECT_NE(command("MergeJobDefinition")
                .find("job run nightly --config /tmp/efs2s3.toml --merge "
                      "\"$EFS2S3_RUN_ID\" --only backup"),
            std::string::npos);
  EXPECT_NE(command("MaintenanceJobDefinition").find("--only maintenance"),
            std::string::npos);

  // Roles: the workers cannot delete; the merge deletes only snapshots.
  auto role = [&](const char* definition) {
    return r[definition]["Properties"]["ContainerProperties"]["JobRoleArn"];
  };
  EXPECT_EQ(role("ShardJobDefinition"),
            aws_template::GetAtt("BackupRole", "Arn"));
  EXPECT_EQ(role("MergeJobDefinition"),
            aws_template::GetAtt("MergeRole", "Arn"));
  EXPECT_EQ(role("MaintenanceJobDefinition"),
            aws_template::GetAtt("MaintenanceRole", "Arn"));
  for (const std::string& a : RoleActions(r["BackupRole"]))
    EXPECT_FALSE(Matches(a, "s3:Delete*")) << a;
  for (const auto& st : r["MergeRole"]["Properties"]["Policies"][0]
                         ["PolicyDocument"]["Statement"]) {
    // Conditional statements (Fn::If) hold no deletion.
    if (!st.contains("Action") ||
        st["Action"].dump().find("Delete") == std::string::npos)
      continue;
    EXPECT_EQ(st["Action"], nlohmann::ordered_json::array({"s3:DeleteObject"}));
    EXPECT_EQ(st["Resource"]["Fn::Sub"],
              "arn:${AWS::Partition}:s3:::${BucketName}/nightly/snapshots/*");
  }

  // Alerts: a failed job of the queue, a failed or timed-out run; the
  // merge emits BackupSucceeded for the missed-backup alarm.
  const std::string policy = r["FailureTopicPolicy"].dump();
  for (const char* rule : {"BatchFailureRule", "ExecutionFailureRule"}) {
    EXPECT_NE(policy.find(rule), std::string::npos) << rule;
    EXPECT_EQ(r[rule]["Properties"]["Targets"][0]["Arn"],
              aws_template::Ref("FailureTopic"));
  }
  EXPECT_EQ(r["BatchFailureRule"]["Properties"]["EventPattern"]["detail"]
             ["jobQueue"][0],
            aws_template::Ref("JobQueue"));
  EXPECT_EQ(r["ExecutionFailureRule"]["Properties"]["EventPattern"]["detail"]
             ["status"],
            nlohmann::ordered_json::array({"FAILED", "TIMED_OUT", "ABORTED"}));
  EXPECT_NE(r["MergeJobDefinition"].dump().find("EFS2S3_METRICS_DIMENSIONS"),
            std::string::npos);
  EXPECT_EQ(r["ShardJobDefinition"].dump().find("EFS2S3_METRICS"),
            std::string::npos);
  for (const char* schedule : {"Schedule", "MaintenanceSchedule"})
    EXPECT_TRUE(
        r[schedule]["Properties"]["Target"].contains("DeadLetterConfig"));
}

K8sOptions TestK8sOptions(int shards) {
  K8sOptions o;
  o.file_system_id = "fs-12345678";
  o.bucket = "backups";
  o.region = "eu-west-1";
  o.image = "registry.example/efs2s3:1";
  o.shards = shards;
  return o;
}

const nlohmann::ordered_json* FindObject(
    const std::vector<nlohmann::ordered_json>& docs, const std::string& kind,
    const std::string& name) {
  for (const auto& d : docs)
    if (d["kind"] == kind && d["metadata"]["name"] == name) return &d;
  return nullptr;
}

// generate k8s: an Indexed Job of N workers in a CronJob; each worker's
// shard is its completion index, the run ID the Job's name, and the last
// one merges; the pods read the Secret's keys and the ConfigMap's job file.
TEST(GenerateTest, KubernetesIndexedJob) {
  Job j;
  j.name = "nightly";
  j.schedule_text = "15 2 * * *";
  j.schedule = S("15 2 * * *");
  j.timezone = "Europe/Berlin";
  j.paths = {"/mnt/data"};
  j.retention.keep_daily = 7;
  auto docs = GenerateKubernetes(j, TestK8sOptions(3));
  ASSERT_TRUE(docs) << docs.error().message;
  const auto* cron = FindObject(*docs, "CronJob", "efs2s3-nightly");
  ASSERT_NE(cron, nullptr);
  EXPECT_EQ((*cron)["spec"]["schedule"], "15 2 * * *");
  EXPECT_EQ((*cron)["spec"]["timeZone"], "Europe/Berlin");
  EXPECT_EQ((*cron)["spec"]["concurrencyPolicy"], "Forbid");
  const auto& spec = (*cron)["spec"]["jobTemplate"]["spec"];
  EXPECT_EQ(spec["completionMode"], "Indexed");
  EXPECT_EQ(spec["completions"], 3);
  EXPECT_EQ(spec["parallelism"], 3);
  EXPECT_EQ(spec["template"]["spec"]["restartPolicy"], "Never");
  const auto& c = spec["template"]["spec"]["containers"][0];
  std::vector<std::string> command = c["command"];
  const std::vector<std::string> tail = {"--shard", "auto/3", "--run-id",
                                         "$(EFS2S3_RUN_ID)", "--merge-if-last"};
  ASSERT_GE(command.size(), tail.size());
  EXPECT_EQ(std::vector<std::string>(command.end() - 5, command.end()), tail);
  std::map<std::string, nlohmann::ordered_json> env;
  for (const auto& e : c["env"]) env[e["name"]] = e;
  EXPECT_EQ(env["EFS2S3_RUN_ID"]["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.labels['batch.kubernetes.io/job-name']");
  const auto* secret = FindObject(*docs, "Secret", "efs2s3-nightly");
  ASSERT_NE(secret, nullptr);
  for (const char* var :
       {"EFS2S3_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) {
    const auto& ref = env[var]["valueFrom"]["secretKeyRef"];
    EXPECT_EQ(ref["name"], "efs2s3-nightly") << var;
    EXPECT_TRUE((*secret)["stringData"].contains(ref["key"].get<std::string>()))
        << var;
    // Nothing secret is generated.
    EXPECT_EQ((*secret)["stringData"][ref["key"].get<std::string>()], "");
  }
  // The job file backs up where the file system is mounted.
  const auto* cm = FindObject(*docs, "ConfigMap", "efs2s3-nightly");
  ASSERT_NE(cm, nullptr);
  auto config = ParseConfig((*cm)["data"]["efs2s3.toml"].get<std::string>(),
                            "/etc/efs2s3/efs2s3.toml");
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(config->jobs.size(), 1u);
  EXPECT_EQ(config->jobs[0].repository, "s3://backups/nightly");
  EXPECT_EQ(config->jobs[0].paths, std::vector<std::string>{"/mnt/data"});
  EXPECT_EQ(config->jobs[0].host, "fs-12345678");
  EXPECT_EQ(config->jobs[0].retention.keep_daily, 7);
  bool mounted = false;
  for (const auto& m : c["volumeMounts"])
    if (m["mountPath"] == "/mnt/data") mounted = m["readOnly"].get<bool>();
  EXPECT_TRUE(mounted);
  // Maintenance twelve hours after the backup, on Sundays; by hand, a
  // suspended CronJob merges or runs one shard again.
  const auto* maintenance =
      FindObject(*docs, "CronJob", "efs2s3-nightly-maintenance");
  ASSERT_NE(maintenance, nullptr);
  EXPECT_EQ((*maintenance)["spec"]["schedule"], "15 14 * * 0");
  const auto* manual = FindObject(*docs, "CronJob", "efs2s3-nightly-manual");
  ASSERT_NE(manual, nullptr);
  EXPECT_TRUE((*manual)["spec"]["suspend"].get<bool>());

  // One worker: no shard, the backup part only, no manual CronJob.
  docs = GenerateKubernetes(j, TestK8sOptions(1));
  ASSERT_TRUE(docs);
  cron = FindObject(*docs, "CronJob", "efs2s3-nightly");
  ASSERT_NE(cron, nullptr);
  const std::string one =
      (*cron)["spec"]["jobTemplate"]["spec"]["template"].dump();
  EXPECT_EQ(one.find("--shard"), std::string::npos);
  EXPECT_NE(one.find(R"("--only","backup")"), std::string::npos);
  EXPECT_EQ(FindObject(*docs, "CronJob", "efs2s3-nightly-manual"), nullptr);

  // IRSA: the role on the service account, no S3 keys anywhere.
  K8sOptions irsa = TestK8sOptions(2);
  irsa.role_arn = "arn:aws:iam::123456789012:role/efs2s3";
  docs = GenerateKubernetes(j, irsa);
  ASSERT_TRUE(docs);
  const auto* sa = FindObject(*docs, "ServiceAccount", "efs2s3-nightly");
  ASSERT_NE(sa, nullptr);
  EXPECT_EQ((*sa)["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
            irsa.role_arn);
  for (const auto& d : *docs)
    EXPECT_EQ(d.dump().find("AWS_ACCESS_KEY_ID"), std::string::npos);
}

TEST(GenerateTest, KubernetesRefusesWhatItCannotRun) {
  Job j;
  j.name = "nightly";
  j.paths = {"/data"};
  for (auto change : std::vector<std::function<void(K8sOptions&)>>{
           [](K8sOptions& o) { o.shards = 0; },
           [](K8sOptions& o) { o.shards = kMaxK8sShards + 1; },
           [](K8sOptions& o) { o.image.clear(); },
           [](K8sOptions& o) { o.namespace_ = "Backups"; },
           [](K8sOptions& o) { o.access_point = "ap-1"; }}) {
    K8sOptions o = TestK8sOptions(2);
    change(o);
    auto docs = GenerateKubernetes(j, o);
    ASSERT_FALSE(docs);
    EXPECT_EQ(docs.error().code, ErrorCode::kUsage) << docs.error().message;
    EXPECT_EQ(docs.error().message.find('\n'), std::string::npos);
  }
  // As for generate aws: the file system and the bucket.
  K8sOptions o = TestK8sOptions(2);
  o.bucket = "s3://b";
  EXPECT_EQ(GenerateKubernetes(j, o).error().code, ErrorCode::kInvalidArgument);
  o = TestK8sOptions(2);
  o.file_system_id = "12345678";
  EXPECT_EQ(GenerateKubernetes(j, o).error().code, ErrorCode::kInvalidArgument);
  j.schedule_text = "@every 1h";
  j.schedule = S("@every 1h");
  auto docs = GenerateKubernetes(j, TestK8sOptions(2));
  ASSERT_FALSE(docs);
  EXPECT_EQ(docs.error().code, ErrorCode::kInvalidArgument);
  j.schedule.reset();
  j.name = std::string(40, 'a');
  docs = GenerateKubernetes(j, TestK8sOptions(2));
  ASSERT_FALSE(docs);
  EXPECT_EQ(docs.error().code, ErrorCode::kInvalidArgument);
  j.name = "Nightly";
  EXPECT_FALSE(GenerateKubernetes(j, TestK8sOptions(2)));
}

// Strings stay strings ("no", "1.0" quoted), multi-line ones are literal
// blocks, list items that are maps start on the "- " line.
TEST(GenerateTest, ToYaml) {
  nlohmann::ordered_json d = {
      {"a", "no"},
      {"b", 1},
      {"on", true},
      {"list", {{{"name", "x"}, {"value", "1.0"}}, "y"}},
      {"empty", nlohmann::ordered_json::object()},
      {"none", nlohmann::ordered_json::array()},
      {"text", "line 1\n  line 2\n"},
      {"cut", "a\nb"},
      {"lead", " x\ny"}};
  EXPECT_EQ(ToYaml(d),
            "a: \"no\"\n"
            "b: 1\n"
            "\"on\": true\n"
            "list:\n"
            "  - name: \"x\"\n"
            "    value: \"1.0\"\n"
            "  - \"y\"\n"
            "empty: {}\n"
            "none: []\n"
            "text: |\n"
            "  line 1\n"
            "    line 2\n"
            "cut: |-\n"
            "  a\n"
            "  b\n"
            "lead: \" x\\ny\"\n");
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

// The statements of an inline policy or a policy document, with the
// conditional ones (Fn::If [cond, statement, NoValue]) unwrapped.
std::vector<ojson> Statements(const ojson& document) {
  std::vector<ojson> out;
  for (const auto& st : document["Statement"])
    out.push_back(st.contains("Fn::If") ? st["Fn::If"][1] : st);
  return out;
}

ojson GetAttJ(const char* res, const char* attr) {
  return {{"Fn::GetAtt", {res, attr}}};
}
ojson RefJ(const char* name) { return {{"Ref", name}}; }

bool Contains(const ojson& array, const ojson& value) {
  return std::find(array.begin(), array.end(), value) != array.end();
}

// Every failure reaches the topic: the paths of issue 14, each checked to
// exist and to name the right resources, for Fargate and EC2 and for both
// schedules.
TEST(GenerateTest, CloudFormationEveryFailureReachesTheTopic) {
  Job j;
  j.name = "nightly";
  for (bool ec2 : {false, true}) {
    SCOPED_TRACE(ec2 ? "ec2" : "fargate");
    auto t = GenerateCloudFormation(j, TestAwsOptions(ec2));
    ASSERT_TRUE(t) << t.error().message;
    const ojson& r = (*t)["Resources"];
    const ojson topic = RefJ("FailureTopic");
    // Never the AWS-managed key: EventBridge cannot use it.
    EXPECT_EQ(t->dump().find("alias/aws/sns"), std::string::npos);
    // The topic's own key, or none when EncryptFailureTopic=false.
    EXPECT_EQ(r["FailureTopic"]["Properties"]["KmsMasterKeyId"],
              (ojson{{"Fn::If",
                      {"EncryptTopic", GetAttJ("FailureTopicKey", "Arn"),
                       RefJ("AWS::NoValue")}}}));
    EXPECT_EQ((*t)["Conditions"]["EncryptTopic"],
              (ojson{{"Fn::Equals", {RefJ("EncryptFailureTopic"), "true"}}}));
    EXPECT_EQ((*t)["Parameters"]["EncryptFailureTopic"]["Default"], "true");
    const ojson& key = r["FailureTopicKey"];
    EXPECT_EQ(key["Condition"], "EncryptTopic");
    // The key policy: the account administers it, exactly the publishers
    // use it.
    std::vector<ojson> ks = Statements(key["Properties"]["KeyPolicy"]);
    ASSERT_EQ(ks.size(), 2u);
    EXPECT_EQ(ks[0]["Principal"]["AWS"],
              (ojson{{"Fn::Sub",
                      "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}));
    EXPECT_EQ(ks[1]["Principal"], (ojson{{"Service", "events.amazonaws.com"}}));
    EXPECT_EQ(ks[1]["Action"], (ojson{"kms:Decrypt", "kms:GenerateDataKey"}));
    // The topic policy lets exactly the stack's rules publish (the alarms
    // reach the topic through rules of their own).
    std::vector<ojson> tp =
        Statements(r["FailureTopicPolicy"]["Properties"]["PolicyDocument"]);
    EXPECT_EQ(r["FailureTopicPolicy"]["Properties"]["Topics"],
              ojson::array({topic}));
    std::map<std::string, ojson> sources;
    for (const ojson& st : tp) {
      EXPECT_EQ(st["Action"], "sns:Publish");
      EXPECT_EQ(st["Resource"], topic);
      sources[st["Principal"]["Service"].get<std::string>()] =
          st["Condition"]["ArnEquals"]["aws:SourceArn"];
    }
    EXPECT_EQ(tp.size(), 1u);
    EXPECT_FALSE(sources.count("cloudwatch.amazonaws.com"));
    ojson rules = ojson::array();
    if (!ec2) {
      rules.push_back(GetAttJ("FailureRule", "Arn"));
      rules.push_back(GetAttJ("StartFailureRule", "Arn"));
    }
    rules.push_back(GetAttJ("ScheduleFailureAlarmRule", "Arn"));
    rules.push_back(GetAttJ("MissedBackupAlarmRule", "Arn"));
    EXPECT_EQ(sources["events.amazonaws.com"], rules);

    if (!ec2) {
      // Task stopped with a non-zero exit code.
      const ojson& fr = r["FailureRule"]["Properties"];
      EXPECT_EQ(fr["Targets"][0]["Arn"], topic);
      EXPECT_EQ(fr["EventPattern"]["detail"]["containers"]["exitCode"],
                (ojson::array({{{"anything-but", 0}}})));
      EXPECT_EQ(fr["EventPattern"]["detail"]["lastStatus"],
                ojson::array({"STOPPED"}));
      EXPECT_EQ(fr["EventPattern"]["detail"]["clusterArn"],
                ojson::array({GetAttJ("Cluster", "Arn")}));
      // Task failed to start: no exit code at all.
      const ojson& sr = r["StartFailureRule"]["Properties"];
      EXPECT_EQ(sr["Targets"][0]["Arn"], topic);
      const ojson& d = sr["EventPattern"]["detail"];
      EXPECT_EQ(d["lastStatus"], ojson::array({"STOPPED"}));
      EXPECT_EQ(d["clusterArn"], ojson::array({GetAttJ("Cluster", "Arn")}));
      EXPECT_EQ(d["$or"][0]["stopCode"], ojson::array({"TaskFailedToStart"}));
      EXPECT_EQ(d["$or"][1]["stopCode"],
                ojson::array({"EssentialContainerExited"}));
      EXPECT_EQ(d["$or"][1]["containers"]["exitCode"],
                (ojson::array({{{"exists", false}}})));
    } else {
      // The instance publishes itself: it may, and may use the key.
      for (auto [role, lt] :
           {std::pair{"BackupRole", "LaunchTemplate"},
            std::pair{"MaintenanceRole", "MaintenanceLaunchTemplate"}}) {
        std::vector<ojson> st =
            Statements(r[role]["Properties"]["Policies"][0]["PolicyDocument"]);
        bool publish = false, use_key = false;
        for (const ojson& s : st) {
          if (s["Sid"] == "NotifyFailure") publish = s["Resource"] == topic;
          if (s["Sid"] == "FailureTopicKey")
            use_key = s["Resource"] == GetAttJ("FailureTopicKey", "Arn");
        }
        EXPECT_TRUE(publish && use_key) << role;
        std::string ud = r[lt]["Properties"]["LaunchTemplateData"]["UserData"]
                          ["Fn::Base64"]["Fn::Sub"][0];
        EXPECT_NE(ud.find("aws sns publish --region ${AWS::Region} "
                          "--topic-arn ${FailureTopic}"),
                  std::string::npos);
      }
    }

    // The schedules: each retries, then leaves the error in the stack's
    // dead-letter queue, whose depth raises an alarm to the topic.
    for (const char* schedule : {"Schedule", "MaintenanceSchedule"}) {
      const ojson& target = r[schedule]["Properties"]["Target"];
      EXPECT_EQ(target["DeadLetterConfig"]["Arn"],
                GetAttJ("ScheduleDeadLetterQueue", "Arn"))
          << schedule;
      EXPECT_GT(target["RetryPolicy"]["MaximumRetryAttempts"], 0) << schedule;
      EXPECT_EQ(target["RoleArn"], GetAttJ("SchedulerRole", "Arn"));
    }
    EXPECT_EQ(r["ScheduleDeadLetterQueue"]["Type"], "AWS::SQS::Queue");
    bool send = false;
    for (const ojson& s : Statements(
             r["SchedulerRole"]["Properties"]["Policies"][0]["PolicyDocument"]))
      if (s["Action"] == ojson::array({"sqs:SendMessage"}))
        send = s["Resource"] == GetAttJ("ScheduleDeadLetterQueue", "Arn");
    EXPECT_TRUE(send) << "the scheduler's role cannot send to the queue";
    const ojson& qp = r["ScheduleDeadLetterQueuePolicy"]["Properties"];
    EXPECT_EQ(qp["Queues"], ojson::array({RefJ("ScheduleDeadLetterQueue")}));
    EXPECT_EQ(qp["PolicyDocument"]["Statement"][0]["Principal"]["AWS"],
              GetAttJ("SchedulerRole", "Arn"));
    EXPECT_EQ(qp["PolicyDocument"]["Statement"][0]["Action"],
              "sqs:SendMessage");
    const ojson& dla = r["ScheduleFailureAlarm"]["Properties"];
    EXPECT_EQ(dla["Namespace"], "AWS/SQS");
    EXPECT_EQ(dla["MetricName"], "ApproximateNumberOfMessagesVisible");
    EXPECT_EQ(dla["Dimensions"][0]["Value"],
              GetAttJ("ScheduleDeadLetterQueue", "QueueName"));
    EXPECT_EQ(dla["ComparisonOperator"], "GreaterThanThreshold");
    EXPECT_EQ(dla["Threshold"], 0);

    // No successful backup within AlertAfterHours: the alarm watches the
    // metric the backup run emits, with the same dimensions.
    const ojson& mb = r["MissedBackupAlarm"]["Properties"];
    EXPECT_EQ(mb["Namespace"], "efs2s3");
    EXPECT_EQ(mb["MetricName"], "BackupSucceeded");
    EXPECT_EQ(mb["Dimensions"],
              (ojson{{{"Name", "Job"}, {"Value", "nightly"}},
                     {{"Name", "Stack"}, {"Value", RefJ("AWS::StackName")}}}));
    EXPECT_EQ(mb["TreatMissingData"], "breaching");
    EXPECT_EQ(mb["ComparisonOperator"], "LessThanThreshold");
    EXPECT_EQ(mb["Threshold"], 1);
    EXPECT_EQ(mb["Period"], 3600);
    EXPECT_EQ(mb["EvaluationPeriods"], RefJ("AlertAfterHours"));
    EXPECT_EQ(mb["DatapointsToAlarm"], RefJ("AlertAfterHours"));
    EXPECT_EQ((*t)["Parameters"]["AlertAfterHours"]["Default"], 26);
    if (ec2) {
      std::string backup =
          r["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]
           ["Fn::Base64"]["Fn::Sub"][0];
      EXPECT_NE(backup.find("export EFS2S3_METRICS=emf\n"
                            "export EFS2S3_METRICS_DIMENSIONS="
                            "Stack=${AWS::StackName}\n"),
                std::string::npos);
      // Each EMF line goes to the log group as an event of its own.
      EXPECT_NE(backup.find("startswith(\"{\\\"_aws\\\"\")"), std::string::npos)
          << backup;
      std::string maintenance =
          r["MaintenanceLaunchTemplate"]["Properties"]["LaunchTemplateData"]
           ["UserData"]["Fn::Base64"]["Fn::Sub"][0];
      EXPECT_EQ(maintenance.find("EFS2S3_METRICS"), std::string::npos);
    } else {
      const ojson& env = r["TaskDefinition"]["Properties"]
                          ["ContainerDefinitions"][0]["Environment"];
      EXPECT_TRUE(
          Contains(env, {{"Name", "EFS2S3_METRICS"}, {"Value", "emf"}}));
      EXPECT_TRUE(
          Contains(env, {{"Name", "EFS2S3_METRICS_DIMENSIONS"},
                         {"Value", {{"Fn::Sub", "Stack=${AWS::StackName}"}}}}));
      EXPECT_EQ(r["MaintenanceTaskDefinition"].dump().find("EFS2S3_METRICS"),
                std::string::npos);
      EXPECT_EQ(r["RestoreTaskDefinition"].dump().find("EFS2S3_METRICS"),
                std::string::npos);
    }
  }
}

// Each alarm of the stack reaches the topic as a message a person reads: no
// alarm publishes its own JSON (no AlarmActions), a rule matches the alarm's
// state changes and writes a message that names the job, the alarm, its state
// and reason, and what to do.
TEST(GenerateTest, CloudFormationEveryAlarmReachesTheTopicReadably) {
  Job j;
  j.name = "nightly";
  for (bool ec2 : {false, true}) {
    SCOPED_TRACE(ec2 ? "ec2" : "fargate");
    auto t = GenerateCloudFormation(j, TestAwsOptions(ec2));
    ASSERT_TRUE(t) << t.error().message;
    const ojson& r = (*t)["Resources"];
    std::map<std::string, std::string> messages;  // alarm -> message
    for (const auto& [name, alarm] : r.items()) {
      if (alarm["Type"] != "AWS::CloudWatch::Alarm") continue;
      SCOPED_TRACE(name);
      EXPECT_FALSE(alarm["Properties"].contains("AlarmActions"));
      EXPECT_FALSE(alarm["Properties"].contains("OKActions"));
      EXPECT_FALSE(alarm["Properties"].contains("InsufficientDataActions"));
      int routes = 0;
      for (const auto& [rule_name, rule] : r.items()) {
        if (rule["Type"] != "AWS::Events::Rule") continue;
        const ojson& pattern = rule["Properties"]["EventPattern"];
        if (pattern.value("resources", ojson::array()) !=
            ojson::array({GetAttJ(name.c_str(), "Arn")}))
          continue;
        ++routes;
        EXPECT_EQ(pattern["source"], ojson::array({"aws.cloudwatch"}));
        EXPECT_EQ(pattern["detail-type"],
                  ojson::array({"CloudWatch Alarm State Change"}));
        EXPECT_TRUE(Contains(pattern["detail"]["state"]["value"], "ALARM"));
        const ojson& targets = rule["Properties"]["Targets"];
        ASSERT_EQ(targets.size(), 1u);
        EXPECT_EQ(targets[0]["Arn"], RefJ("FailureTopic"));
        const ojson& it = targets[0]["InputTransformer"];
        EXPECT_EQ(it["InputPathsMap"]["alarm"], "$.detail.alarmName");
        EXPECT_EQ(it["InputPathsMap"]["state"], "$.detail.state.value");
        EXPECT_EQ(it["InputPathsMap"]["reason"], "$.detail.state.reason");
        const std::string text = it["InputTemplate"]["Fn::Sub"];
        // One JSON string: quoted, no quote inside.
        ASSERT_GE(text.size(), 2u);
        EXPECT_EQ(text.front(), '"');
        EXPECT_EQ(text.back(), '"');
        EXPECT_EQ(text.find('"', 1), text.size() - 1) << text;
        EXPECT_EQ(text.rfind("\"efs2s3 job nightly (stack "
                             "${AWS::StackName}): ",
                             0),
                  0u)
            << text;
        for (const char* field : {"<alarm>", "<state>", "<reason>", "<time>"})
          EXPECT_NE(text.find(field), std::string::npos) << field;
        EXPECT_NE(text.find("What to do"), std::string::npos) << text;
        // The topic lets this rule publish.
        EXPECT_TRUE(Contains(
            r["FailureTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
             [0]["Condition"]["ArnEquals"]["aws:SourceArn"],
            GetAttJ(rule_name.c_str(), "Arn")));
        messages[name] = text;
      }
      EXPECT_EQ(routes, 1) << "alarm " << name << " has no readable route";
    }
    ASSERT_EQ(messages.size(), 2u);
    // What to do, per alarm: the dead-letter queue to read; where to look
    // when no backup succeeded, and the recovery (OK) too.
    EXPECT_NE(messages["ScheduleFailureAlarm"].find(
                  "--queue-url ${ScheduleDeadLetterQueue}"),
              std::string::npos);
    EXPECT_NE(messages["MissedBackupAlarm"].find("${AlertAfterHours} hours"),
              std::string::npos);
    EXPECT_EQ(r["MissedBackupAlarmRule"]["Properties"]["EventPattern"]["detail"]
               ["state"]["value"],
              (ojson{"ALARM", "OK"}));
    EXPECT_EQ(r["ScheduleFailureAlarmRule"]["Properties"]["EventPattern"]
               ["detail"]["state"]["value"],
              ojson::array({"ALARM"}));
  }
}

TEST(GenerateTest, CloudFormationAlertAfter) {
  Job j;
  j.name = "nightly";
  AwsOptions o = TestAwsOptions(false);
  o.alert_after_hours = 30;
  auto t = GenerateCloudFormation(j, o);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ((*t)["Parameters"]["AlertAfterHours"]["Default"], 30);
  EXPECT_EQ((*t)["Parameters"]["AlertAfterHours"]["MaxValue"], 168);
  o.alert_after_hours = 169;  // beyond what an alarm can look back
  EXPECT_FALSE(GenerateCloudFormation(j, o));
  o.alert_after_hours = 26;
  // A schedule whose runs are further apart would ring between them.
  j.schedule = S("0 3 * * MON");
  t = GenerateCloudFormation(j, o);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("leaves up to 7d between two runs"),
            std::string::npos)
      << t.error().message;
  j.schedule = S("0 3 * * MON-FRI");  // three days over the weekend
  EXPECT_FALSE(GenerateCloudFormation(j, o));
  o.alert_after_hours = 80;
  EXPECT_TRUE(GenerateCloudFormation(j, o));
  j.schedule = S("@every 12h");
  o.alert_after_hours = 12;
  EXPECT_FALSE(GenerateCloudFormation(j, o));
  // 0: no missed-backup alarm (weekly backups).
  j.schedule = S("0 3 * * MON");
  o.alert_after_hours = 0;
  t = GenerateCloudFormation(j, o);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_FALSE((*t)["Resources"].contains("MissedBackupAlarm"));
  EXPECT_FALSE((*t)["Resources"].contains("MissedBackupAlarmRule"));
  EXPECT_FALSE((*t)["Parameters"].contains("AlertAfterHours"));
  EXPECT_EQ(
      (*t)["Resources"]["FailureTopicPolicy"].dump().find("MissedBackupAlarm"),
      std::string::npos);
}

// The dashboard shows every metric a run emits, with the dimensions the job
// emits them with, and the missed-backup alarm.
TEST(GenerateTest, CloudFormationDashboardShowsEveryMetric) {
  Job j;
  j.name = "nightly";
  for (bool ec2 : {false, true}) {
    auto t = GenerateCloudFormation(j, TestAwsOptions(ec2));
    ASSERT_TRUE(t) << t.error().message;
    const ojson& d = (*t)["Resources"]["Dashboard"];
    EXPECT_EQ(d["Type"], "AWS::CloudWatch::Dashboard");
    EXPECT_EQ(d["Properties"]["DashboardName"], RefJ("AWS::StackName"));
    const std::string body =
        d["Properties"]["DashboardBody"]["Fn::Sub"].get<std::string>();
    auto parsed = nlohmann::json::parse(body, nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << body;
    std::set<std::string> shown;
    bool alarm = false;
    for (const auto& w : parsed["widgets"]) {
      const auto& p = w["properties"];
      EXPECT_EQ(p["region"], "${AWS::Region}");
      for (const auto& m : p["metrics"]) {
        ASSERT_EQ(m.size(), 6u) << m.dump();
        EXPECT_EQ(m[0], "efs2s3");
        EXPECT_EQ(m[2], "Job");
        EXPECT_EQ(m[3], "nightly");
        EXPECT_EQ(m[4], "Stack");
        EXPECT_EQ(m[5], "${AWS::StackName}");
        shown.insert(m[1].get<std::string>());
      }
      if (p.contains("annotations"))
        alarm = p["annotations"]["alarms"] ==
                nlohmann::json::array({"${MissedBackupAlarm.Arn}"});
    }
    std::set<std::string> all;
    for (const MetricInfo& m : AllMetrics()) all.insert(m.name);
    EXPECT_EQ(shown, all);
    EXPECT_TRUE(alarm);
    EXPECT_NE((*t)["Outputs"]["Dashboard"].dump().find("${Dashboard}"),
              std::string::npos);
  }
  // Without the alarm, the dashboard names none.
  AwsOptions o = TestAwsOptions(false);
  o.alert_after_hours = 0;
  auto t = GenerateCloudFormation(j, o);
  ASSERT_TRUE(t);
  EXPECT_EQ((*t)["Resources"]["Dashboard"].dump().find("MissedBackupAlarm"),
            std::string::npos);
}

// Statements of a role's first inline policy, Fn::If (condition) kept whole.
std::vector<ojson> RoleStatements(const ojson& role) {
  std::vector<ojson> out;
  for (const ojson& st :
       role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"])
    out.push_back(st);
  return out;
}

// The statement of `sid` behind an Fn::If on `condition`, or null.
ojson ConditionalStatement(const std::vector<ojson>& statements,
                           const std::string& condition,
                           const std::string& sid) {
  for (const ojson& st : statements)
    if (st.contains("Fn::If") && st["Fn::If"][0] == condition &&
        st["Fn::If"][1]["Sid"] == sid)
      return st["Fn::If"][1];
  return nullptr;
}

TEST(GenerateTest, CloudFormationArchitecture) {
  Job j;
  j.name = "nightly";
  for (const char* arch : {"x86_64", "arm64"}) {
    AwsOptions o = TestAwsOptions(false);
    o.architecture = arch;
    auto t = GenerateCloudFormation(j, o);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ((*t)["Parameters"]["Architecture"]["Default"], arch);
    EXPECT_EQ((*t)["Parameters"]["Architecture"]["AllowedValues"],
              (ojson{"x86_64", "arm64"}));
    EXPECT_EQ((*t)["Conditions"]["IsArm64"],
              (ojson{{"Fn::Equals", {RefJ("Architecture"), "arm64"}}}));
    for (const char* td : {"TaskDefinition", "MaintenanceTaskDefinition",
                           "RestoreTaskDefinition"})
      EXPECT_EQ((*t)["Resources"][td]["Properties"]["RuntimePlatform"],
                (ojson{{"CpuArchitecture",
                        {{"Fn::If", {"IsArm64", "ARM64", "X86_64"}}}},
                       {"OperatingSystemFamily", "LINUX"}}))
          << td;
  }
  AwsOptions o = TestAwsOptions(true);
  auto t = GenerateCloudFormation(j, o);
  ASSERT_TRUE(t) << t.error().message;
  for (const char* lt : {"LaunchTemplate", "MaintenanceLaunchTemplate"}) {
    const ojson& d = (*t)["Resources"][lt]["Properties"]["LaunchTemplateData"];
    EXPECT_EQ(d["InstanceType"],
              (ojson{{"Fn::If",
                      {"HasInstanceType",
                       RefJ("InstanceType"),
                       {{"Fn::If", {"IsArm64", "c7g.large", "c6i.large"}}}}}}));
    EXPECT_EQ(d["ImageId"]["Fn::If"][1], RefJ("ImageId"));
    EXPECT_EQ(d["ImageId"]["Fn::If"][2]["Fn::Sub"],
              "{{resolve:ssm:/aws/service/ami-amazon-linux-latest/"
              "al2023-ami-kernel-default-${Architecture}}}");
  }
  o.architecture = "aarch64";
  EXPECT_FALSE(GenerateCloudFormation(j, o));
}

TEST(GenerateTest, CloudFormationEcrRepository) {
  Job j;
  j.name = "nightly";
  AwsOptions o = TestAwsOptions(false);
  o.image.clear();
  EXPECT_FALSE(GenerateCloudFormation(j, o));  // neither --image nor ECR
  o.create_ecr = true;
  auto t = GenerateCloudFormation(j, o);
  ASSERT_TRUE(t) << t.error().message;
  const ojson& repo = (*t)["Resources"]["ImageRepository"];
  EXPECT_EQ(repo["Type"], "AWS::ECR::Repository");
  EXPECT_EQ(repo["DeletionPolicy"], "Retain");
  EXPECT_TRUE(repo["Properties"]["ImageScanningConfiguration"]["ScanOnPush"]);
  EXPECT_EQ(
      (*t)["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
          [0]["Image"],
      (ojson{{"Fn::Sub", "${ImageRepository.RepositoryUri}:${ImageTag}"}}));
  EXPECT_FALSE((*t)["Parameters"].contains("ImageUri"));
  EXPECT_EQ((*t)["Parameters"]["ImageTag"]["Default"], "latest");
  EXPECT_EQ((*t)["Outputs"]["ImageRepositoryUri"]["Value"],
            GetAttJ("ImageRepository", "RepositoryUri"));
  o.image = "i:1";  // both: which one?
  EXPECT_FALSE(GenerateCloudFormation(j, o));
  o.image.clear();
  o.ec2 = true;
  EXPECT_FALSE(GenerateCloudFormation(j, o));
}

TEST(GenerateTest, CloudFormationPasswordFromSecretsManagerOrSsm) {
  Job j;
  j.name = "nightly";
  for (bool ec2 : {false, true}) {
    auto t = GenerateCloudFormation(j, TestAwsOptions(ec2));
    ASSERT_TRUE(t) << t.error().message;
    const std::regex allowed(
        (*t)["Parameters"]["PasswordSecretArn"]["AllowedPattern"]
            .get<std::string>());
    EXPECT_TRUE(std::regex_match(
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:efs2s3-AbCd",
        allowed));
    EXPECT_TRUE(std::regex_match(
        "arn:aws:ssm:eu-west-1:123456789012:parameter/efs2s3/password",
        allowed));
    EXPECT_FALSE(std::regex_match("efs2s3/password", allowed));
    EXPECT_EQ((*t)["Conditions"]["HasPasswordKey"],
              (ojson{{"Fn::Not",
                      {{{"Fn::Equals", {RefJ("PasswordKmsKeyArn"), ""}}}}}}));
    // Whoever reads the password may read either kind, and use its key.
    const ojson& r = (*t)["Resources"];
    for (const char* role :
         ec2 ? std::vector<const char*>{"BackupRole", "MaintenanceRole"}
             : std::vector<const char*>{"ExecutionRole"}) {
      std::vector<ojson> st = RoleStatements(r[role]);
      bool read = false;
      for (const ojson& s : st)
        if (s.contains("Action") &&
            s["Action"] == ojson{"secretsmanager:GetSecretValue",
                                 "ssm:GetParameter", "ssm:GetParameters"})
          read = s["Resource"] == RefJ("PasswordSecretArn");
      EXPECT_TRUE(read) << role;
      ojson key = ConditionalStatement(st, "HasPasswordKey", "PasswordKey");
      ASSERT_FALSE(key.is_null()) << role;
      EXPECT_EQ(key["Action"], ojson{"kms:Decrypt"});
      EXPECT_EQ(key["Resource"], RefJ("PasswordKmsKeyArn"));
    }
    if (ec2) {
      std::string ud = r["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
                        ["UserData"]["Fn::Base64"]["Fn::Sub"][0];
      EXPECT_NE(ud.find("arn:*:ssm:*) aws ssm get-parameter --with-decryption "
                        "--name ${PasswordSecretArn}"),
                std::string::npos);
    } else {
      EXPECT_EQ(r["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
                 ["Secrets"][0]["ValueFrom"],
                RefJ("PasswordSecretArn"));
    }
  }
}

TEST(GenerateTest, CloudFormationNetworkPieces) {
  Job j;
  j.name = "nightly";
  for (bool ec2 : {false, true}) {
    auto t = GenerateCloudFormation(j, TestAwsOptions(ec2));
    ASSERT_TRUE(t) << t.error().message;
    const ojson& in = (*t)["Resources"]["NfsIngress"];
    EXPECT_EQ(in["Type"], "AWS::EC2::SecurityGroupIngress");
    EXPECT_EQ(in["Condition"], "AddNfsIngress");
    EXPECT_EQ(in["Properties"]["GroupId"], RefJ("MountTargetSecurityGroup"));
    EXPECT_EQ(in["Properties"]["FromPort"], 2049);
    EXPECT_EQ(in["Properties"]["ToPort"], 2049);
    EXPECT_EQ(in["Properties"]["IpProtocol"], "tcp");
    EXPECT_EQ(in["Properties"]["SourceSecurityGroupId"],
              (ojson{{"Fn::Select", {0, RefJ("SecurityGroups")}}}));
    EXPECT_EQ((*t)["Parameters"]["MountTargetSecurityGroup"]["Default"], "");
    const ojson& ep = (*t)["Resources"]["S3Endpoint"];
    EXPECT_EQ(ep["Type"], "AWS::EC2::VPCEndpoint");
    EXPECT_EQ(ep["Condition"], "AddS3Endpoint");
    EXPECT_EQ(ep["Properties"]["VpcEndpointType"], "Gateway");
    EXPECT_EQ(ep["Properties"]["ServiceName"],
              (ojson{{"Fn::Sub", "com.amazonaws.${AWS::Region}.s3"}}));
    EXPECT_EQ(ep["Properties"]["RouteTableIds"], RefJ("RouteTableIds"));
    EXPECT_EQ((*t)["Conditions"]["AddS3Endpoint"],
              (ojson{{"Fn::Not", {{{"Fn::Equals", {RefJ("VpcId"), ""}}}}}}));
  }
}

// The rules' messages say what happened in words, with the event's values.
TEST(GenerateTest, CloudFormationReadableAlerts) {
  Job j;
  j.name = "nightly";
  auto t = GenerateCloudFormation(j, TestAwsOptions(false));
  ASSERT_TRUE(t) << t.error().message;
  for (auto [rule, words] :
       {std::pair{"FailureRule", "a run failed with exit code <exit>"},
        std::pair{"StartFailureRule", "a run did not start: <code>"}}) {
    const ojson& target = (*t)["Resources"][rule]["Properties"]["Targets"][0];
    EXPECT_EQ(target["Arn"], RefJ("FailureTopic"));
    const ojson& it = target["InputTransformer"];
    EXPECT_EQ(it["InputPathsMap"]["exit"], "$.detail.containers[0].exitCode");
    EXPECT_EQ(it["InputPathsMap"]["reason"], "$.detail.stoppedReason");
    EXPECT_EQ(it["InputPathsMap"]["code"], "$.detail.stopCode");
    EXPECT_EQ(it["InputPathsMap"]["task"], "$.detail.taskArn");
    const std::string text = it["InputTemplate"]["Fn::Sub"];
    EXPECT_EQ(text.front(), '"');  // a JSON string: SNS gets plain text
    EXPECT_EQ(text.back(), '"');
    EXPECT_NE(text.find("efs2s3 job nightly (stack ${AWS::StackName}): "),
              std::string::npos);
    EXPECT_NE(text.find(words), std::string::npos) << text;
    EXPECT_NE(text.find("/efs2s3/${AWS::StackName}"), std::string::npos);
    // Every <name> is one of the paths.
    std::regex placeholder("<([a-z]+)>");
    for (auto m = std::sregex_iterator(text.begin(), text.end(), placeholder);
         m != std::sregex_iterator(); ++m)
      EXPECT_TRUE(it["InputPathsMap"].contains((*m)[1].str())) << (*m)[1];
  }
}

// The EC2 variant streams the job's log to the log group while it runs (a
// crash leaves what was written), and sends it at the end only without the
// agent.
TEST(GenerateTest, CloudFormationEc2StreamsItsLog) {
  Job j;
  j.name = "nightly";
  auto t = GenerateCloudFormation(j, TestAwsOptions(true));
  ASSERT_TRUE(t) << t.error().message;
  for (const char* lt : {"LaunchTemplate", "MaintenanceLaunchTemplate"}) {
    const std::string ud =
        (*t)["Resources"][lt]["Properties"]["LaunchTemplateData"]["UserData"]
            ["Fn::Base64"]["Fn::Sub"][0];
    const size_t config = ud.find(
        "\"file_path\": \"/var/log/efs2s3.log\", \"log_group_name\": "
        "\"${LogGroup}\", \"log_stream_name\": \"$stream\"");
    const size_t start = ud.find(
        "$agent -a fetch-config -m ec2 -s -c "
        "file:/etc/efs2s3-logs.json");
    const size_t run = ud.find("/usr/local/bin/efs2s3 job run nightly");
    const size_t end_upload = ud.find("aws logs put-log-events");
    ASSERT_NE(config, std::string::npos) << ud;
    ASSERT_NE(start, std::string::npos) << ud;
    ASSERT_NE(run, std::string::npos) << ud;
    EXPECT_LT(config, start);
    EXPECT_LT(start, run);  // streaming before the job starts
    EXPECT_NE(ud.find(" >> /var/log/efs2s3.log 2>&1\n", run),
              std::string::npos);
    // The upload at the end is the fallback without the agent.
    EXPECT_LT(ud.find("if [ \"$streaming\" = 1 ]; then"), end_upload);
    EXPECT_NE(ud.find("amazon-cloudwatch-agent"), std::string::npos);
  }
  bool describe = false;
  for (const ojson& st : RoleStatements((*t)["Resources"]["BackupRole"]))
    if (st.value("Sid", "") == "Logs")
      describe = st["Action"].dump().find("logs:DescribeLogStreams") !=
                 std::string::npos;
  EXPECT_TRUE(describe);
}

// Collects every string of a template but the parameters' defaults.
void StringsOutsideDefaults(const ojson& node, const std::string& path,
                            std::vector<std::string>* out) {
  if (node.is_string()) {
    out->push_back(path + ": " + node.get<std::string>());
  } else if (node.is_object()) {
    for (const auto& [k, v] : node.items()) {
      if (path.rfind("/Parameters/", 0) == 0 && k == "Default") continue;
      out->push_back(path + " key: " + k);
      StringsOutsideDefaults(v, path + "/" + k, out);
    }
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i)
      StringsOutsideDefaults(node[i], path + "/" + std::to_string(i), out);
  }
}

// The IDs given on the command line are parameter defaults and nothing
// else: a stack deployed with other parameters uses those everywhere (the
// EC2 user data wrote efs = "fs-..." and host = "fs-..." literally).
TEST(GenerateTest, CloudFormationNoLiteralIds) {
  Job j;
  j.name = "nightly";
  for (bool ec2 : {false, true}) {
    SCOPED_TRACE(ec2 ? "ec2" : "fargate");
    AwsOptions o;
    o.file_system_id = "fs-0a1b2c3d4e5f60718";
    o.bucket = "acme-literal-bucket";
    o.subnets = {"subnet-0a1b2c3d4e5f60718"};
    o.security_groups = {"sg-0a1b2c3d4e5f60718"};
    o.image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/efs2s3:7";
    o.binary_url = "s3://acme-tools/efs2s3-7";
    o.kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/literal-key";
    o.ec2 = ec2;
    auto t = GenerateCloudFormation(j, o);
    ASSERT_TRUE(t) << t.error().message;
    std::vector<std::string> strings;
    StringsOutsideDefaults(*t, "", &strings);
    const std::regex any_fs_id("fs-[0-9a-f]{8}");
    for (const std::string& s : strings) {
      for (const std::string& id :
           {o.file_system_id, o.bucket, o.subnets[0], o.security_groups[0],
            o.image, o.binary_url, o.kms_key_arn})
        EXPECT_EQ(s.find(id), std::string::npos) << s;
      EXPECT_FALSE(std::regex_search(s, any_fs_id)) << s;
    }
    EXPECT_EQ((*t)["Parameters"]["FileSystemId"]["Default"], o.file_system_id);
  }
}

// The deploy hint names every parameter without a default.
TEST(GenerateTest, AwsDeployCommandNamesRequiredParameters) {
  Job j;
  j.name = "nightly";
  for (bool ec2 : {false, true}) {
    for (bool binary : {false, true}) {
      AwsOptions o = TestAwsOptions(ec2);
      if (binary) o.binary_url = "s3://t/efs2s3";
      auto t = GenerateCloudFormation(j, o);
      ASSERT_TRUE(t) << t.error().message;
      std::string cmd = AwsDeployCommand(*t, "stack.json", "efs2s3-nightly");
      EXPECT_EQ(cmd.rfind("aws cloudformation deploy --template-file "
                          "stack.json --stack-name efs2s3-nightly "
                          "--capabilities CAPABILITY_IAM",
                          0),
                0u)
          << cmd;
      int required = 0;
      for (const auto& [name, p] : (*t)["Parameters"].items()) {
        if (p.contains("Default")) continue;
        ++required;
        EXPECT_NE(cmd.find(" " + name + "="), std::string::npos)
            << name << " missing from: " << cmd;
      }
      EXPECT_NE(cmd.find(" PasswordSecretArn="), std::string::npos);
      // Without --binary-url, the EC2 stack needs BinaryUrl at deploy time.
      EXPECT_EQ(required, ec2 && !binary ? 2 : 1) << cmd;
    }
  }
}

}  // namespace
}  // namespace efs2s3::jobs
