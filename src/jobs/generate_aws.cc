// generate aws: the CloudFormation template, built resource by resource. The
// IAM statements are functions named after their Sid (aws_iam.cc), so each
// role lists the statements it grants by name.
//
// The job runs in two parts, each with its own schedule, role and task (or
// launch template): the backup (`job run --only backup`, the job's schedule)
// with a role that cannot delete, and the maintenance (`--only maintenance`:
// forget, lock extend, prune, check; weekly or at the job's prune interval)
// with a role that can.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "jobs/aws_template.h"
#include "jobs/config_writer.h"
#include "jobs/generate.h"
#include "jobs/identity.h"

namespace efs2s3::jobs {

namespace {

using namespace aws_template;

// How often the maintenance runs: the job's prune interval, else the
// longest wait between its prune weekdays (a week by default).
std::chrono::seconds MaintenanceInterval(const Job& job) {
  if (job.prune.every.count() > 0) return job.prune.every;
  if (!job.prune.weekdays.empty()) return LongestWeekdayGap(job.prune.weekdays);
  return std::chrono::days(7);
}

// The maintenance schedule: at the job's prune interval, else on its prune
// weekdays (MaintenanceSlot).
Result<std::string> MaintenanceSchedule(const Job& job) {
  if (job.prune.every.count() > 0) {
    ASSIGN_OR_RETURN(
        Schedule every,
        Schedule::Parse("@every " + FormatInterval(job.prune.every)));
    return AwsScheduleExpression(every);
  }
  static const char* const kAwsDays[] = {"SUN", "MON", "TUE", "WED",
                                         "THU", "FRI", "SAT"};
  const MaintenanceTime slot = MaintenanceSlot(job);
  std::vector<std::string> names;
  for (int d : slot.weekdays) names.push_back(kAwsDays[d % 7]);
  return fmt::format("cron({} {} ? * {} *)", slot.minute, slot.hour,
                     fmt::join(names, ","));
}

// The longest time between two runs of a schedule, over the next runs from
// a fixed date (enough of them to see weekly and monthly gaps).
std::chrono::seconds LongestGap(const Schedule& s, const std::string& zone) {
  if (s.is_interval()) return s.interval();
  const std::time_t start = 1704067200;  // 2024-01-01T00:00:00Z
  std::time_t t = s.Next(start, zone);
  std::time_t longest = 0;
  for (int i = 0; i < 1000 && t != 0 && t < start + 400 * 86400; ++i) {
    const std::time_t next = s.Next(t, zone);
    if (next == 0) break;
    longest = std::max(longest, next - t);
    t = next;
  }
  return std::chrono::seconds(longest);
}

// The options checked and the values every resource needs.
Result<AwsJob> Resolve(const Job& job, const AwsOptions& o) {
  auto invalid = [](const std::string& m) {
    return MakeError(ErrorCode::kInvalidArgument, m);
  };
  AwsJob a{job, o};
  ASSIGN_OR_RETURN(a.fs, DeployedFileSystem(job, o.file_system_id, o.bucket));
  if (o.subnets.empty()) return invalid("--subnets is required");
  if (o.security_groups.empty()) return invalid("--security-group is required");
  // ECS refuses a task definition without an image: no template that
  // cannot deploy.
  if (!o.ec2 && o.image.empty() && !o.create_ecr)
    return MakeError(ErrorCode::kUsage,
                     "--image is required for a Fargate task (the container "
                     "image with efs2s3, e.g. "
                     "123456789012.dkr.ecr.eu-west-1.amazonaws.com/efs2s3:1), "
                     "or --create-ecr (the stack's own repository), or use "
                     "--ec2 --binary-url s3://...");
  if (o.create_ecr && (o.ec2 || !o.image.empty()))
    return MakeError(ErrorCode::kUsage,
                     "--create-ecr is for a Fargate task without --image");
  if (o.shards != 0 && (o.shards < 2 || o.shards > kMaxAwsShards))
    return MakeError(ErrorCode::kUsage,
                     fmt::format("--shards {}: between 2 and {} workers (an "
                                 "AWS Batch array job); without --shards one "
                                 "task backs up the whole file system",
                                 o.shards, kMaxAwsShards));
  if (o.shards && o.ec2)
    return MakeError(ErrorCode::kUsage,
                     "--shards runs its workers on AWS Batch with Fargate, "
                     "not with --ec2");
  if (o.architecture != "x86_64" && o.architecture != "arm64")
    return MakeError(ErrorCode::kUsage,
                     "--architecture " + o.architecture + ": x86_64 or arm64");
  if (o.alert_after_hours < 0 || o.alert_after_hours > kMaxAlertAfterHours)
    return invalid(fmt::format(
        "--alert-after {}: between 1 and {} hours (a CloudWatch alarm "
        "looks back at most 7 days), or 0 for no missed-backup alarm",
        o.alert_after_hours, kMaxAlertAfterHours));
  a.prefix = o.prefix.empty() ? job.name : o.prefix;
  while (!a.prefix.empty() && a.prefix.back() == '/') a.prefix.pop_back();
  while (!a.prefix.empty() && a.prefix.front() == '/') a.prefix.erase(0, 1);
  a.schedule = "cron(0 3 * * ? *)";
  if (job.schedule) {
    ASSIGN_OR_RETURN(a.schedule, AwsScheduleExpression(*job.schedule));
  }
  ASSIGN_OR_RETURN(a.maintenance_schedule, MaintenanceSchedule(job));
  // lock extend runs with the maintenance: at least once per lock period.
  const int lock_days = job.lock_extend.lock_days;
  if (job.lock_extend.enabled && lock_days) {
    std::chrono::seconds every = MaintenanceInterval(job);
    if (every >= std::chrono::days(lock_days))
      return invalid(fmt::format(
          "the maintenance schedule runs lock extend every {}, not more "
          "often than the repository's lock period (lock_days = {}): set "
          "[jobs.{}.prune] every or weekdays to run it more often",
          FormatInterval(every), lock_days, job.name));
  }
  a.efs_path = job.efs ? job.efs->path : "/";
  // The parameter, not the ID it defaults to: the stack may be deployed with
  // another file system.
  a.host = job.host.empty() ? "${FileSystemId}" : SubEscape(job.host);
  a.mount = AwsBackupPath(job);
  // The missed-backup alarm must not ring between two runs that are on time.
  if (job.schedule && o.alert_after_hours > 0) {
    const std::chrono::seconds gap = LongestGap(*job.schedule, job.timezone);
    if (gap >= std::chrono::hours(o.alert_after_hours))
      return invalid(fmt::format(
          "the backup schedule leaves up to {} between two runs: "
          "--alert-after {} would raise the missed-backup alarm between "
          "runs that are on time; give --alert-after more hours than that "
          "(at most {}), or 0 for no such alarm",
          FormatInterval(gap), o.alert_after_hours, kMaxAlertAfterHours));
  }
  return a;
}

// The job as it runs on AWS: the EFS volume at /mnt/efs, the repository in
// the bucket, retention from the stack parameters. Fn::Sub fills ${...}
// (ConfigSub adds ${KmsSse}); the job's own strings are escaped for it.
// Each maintenance run (its own schedule) runs forget, lock extend (when the
// job has it), prune and check: a task keeps no state, so none has an
// interval.
Result<std::string> DeployedConfig(const AwsJob& a) {
  Job j = DeployedJob(a.job, SubEscape);
  j.repository = "s3://${BucketName}/" + SubEscape(a.prefix);
  if (a.o.ec2) {
    j.efs =
        EfsSource{"${FileSystemId}", SubEscape(a.efs_path), "${AWS::Region}",
                  a.mount,           "${AccessPoint}",      ""};
    // A Secrets Manager secret or an SSM Parameter Store SecureString.
    j.password_command =
        "case ${PasswordSecretArn} in arn:*:ssm:*) aws ssm get-parameter "
        "--with-decryption --name ${PasswordSecretArn} --query "
        "Parameter.Value --output text;; *) aws secretsmanager "
        "get-secret-value --secret-id ${PasswordSecretArn} --query "
        "SecretString --output text;; esac";
  } else {
    j.paths = {a.mount};
  }
  j.host = a.host;
  // Daily, weekly and monthly from the stack's parameters.
  j.retention.keep_daily = j.retention.keep_weekly = 0;
  j.retention.keep_monthly = 0;
  j.check.read_data_subset = "${CheckReadDataSubset}";
  j.s3_options = {{"--s3-region", "${AWS::Region}"}};
  Config c;
  c.state_dir = "/tmp/efs2s3";
  c.jobs = {j};
  const TomlVerbatim parameters = {
      {"retention.keep_daily", "${KeepDaily}"},
      {"retention.keep_weekly", "${KeepWeekly}"},
      {"retention.keep_monthly", "${KeepMonthly}"}};
  ASSIGN_OR_RETURN(std::string toml, WriteConfigToml(c, parameters));
  return "# Generated by efs2s3 generate aws\n" + toml + "${KmsSse}";
}

ojson CommonParameters(const AwsJob& a) {
  const Retention& ret = a.job.retention;
  ojson p;
  p["FileSystemId"] = {{"Type", "String"},
                       {"Default", a.fs},
                       {"AllowedPattern", "^fs-[0-9a-f]{8,40}$"}};
  p["BucketName"] = {{"Type", "String"},
                     {"Default", a.o.bucket},
                     {"Description", "Repository bucket"}};
  p["CreateBucket"] = {{"Type", "String"},
                       {"Default", a.o.create_bucket ? "true" : "false"},
                       {"AllowedValues", {"true", "false"}}};
  p["KmsKeyArn"] = {{"Type", "String"},
                    {"Default", a.o.kms_key_arn},
                    {"Description", "KMS key for SSE-KMS ('' = SSE-S3)"}};
  p["PasswordSecretArn"] = {
      {"Type", "String"},
      {"Description",
       "The repository password: a Secrets Manager secret or an SSM "
       "Parameter Store SecureString (its ARN)"},
      {"AllowedPattern",
       "^arn:aws[a-z-]*:(secretsmanager:.+|ssm:.+:parameter/.+)$"}};
  p["PasswordKmsKeyArn"] = {
      {"Type", "String"},
      {"Default", ""},
      {"Description",
       "The customer-managed KMS key the password is encrypted with ('' = "
       "the AWS-managed key)"}};
  p["Architecture"] = {{"Type", "String"},
                       {"Default", a.o.architecture},
                       {"AllowedValues", {"x86_64", "arm64"}},
                       {"Description", "CPU of the task or instance"}};
  p["MountTargetSecurityGroup"] = {
      {"Type", "String"},
      {"Default", ""},
      {"Description",
       "Security group of the file system's mount targets: the stack adds a "
       "rule letting the first of SecurityGroups reach it on NFS (TCP 2049) "
       "('' = none; the rule exists already)"}};
  p["VpcId"] = {{"Type", "String"},
                {"Default", ""},
                {"Description",
                 "With RouteTableIds: add an S3 gateway endpoint to this VPC "
                 "('' = none: the subnets reach S3 by a NAT gateway or an "
                 "endpoint of their own)"}};
  p["RouteTableIds"] = {{"Type", "CommaDelimitedList"},
                        {"Default", ""},
                        {"Description", "The subnets' route tables (VpcId)"}};
  p["Subnets"] = {{"Type", "List<AWS::EC2::Subnet::Id>"},
                  {"Default", fmt::format("{}", fmt::join(a.o.subnets, ","))}};
  p["SecurityGroups"] = {
      {"Type", "List<AWS::EC2::SecurityGroup::Id>"},
      {"Default", fmt::format("{}", fmt::join(a.o.security_groups, ","))}};
  p["ScheduleExpression"] = {{"Type", "String"},
                             {"Default", a.schedule},
                             {"Description", "When the backup runs"}};
  p["MaintenanceScheduleExpression"] = {
      {"Type", "String"},
      {"Default", a.maintenance_schedule},
      {"Description",
       "When forget, lock extend, prune and check run: apart from the backups, "
       "and more often than the repository's Object Lock period"}};
  p["ScheduleTimezone"] = {
      {"Type", "String"},
      {"Default", a.job.timezone.empty() ? "UTC" : a.job.timezone}};
  auto keep = [](int n, int fallback) -> ojson {
    return {{"Type", "Number"}, {"Default", n ? n : fallback}, {"MinValue", 0}};
  };
  p["KeepDaily"] = keep(ret.keep_daily, 7);
  p["KeepWeekly"] = keep(ret.keep_weekly, 5);
  p["KeepMonthly"] = keep(ret.keep_monthly, 12);
  return p;
}

ojson Parameters(const AwsJob& a) {
  ojson p = CommonParameters(a);
  const std::string& subset = a.job.check.read_data_subset;
  p["CheckReadDataSubset"] = {{"Type", "String"},
                              {"Default", subset.empty() ? "1%" : subset}};
  p["LogRetentionDays"] = {
      {"Type", "Number"},
      {"Default", 30},
      {"AllowedValues", {1, 3, 5, 7, 14, 30, 60, 90, 180, 365}}};
  p["NotificationEmail"] = {
      {"Type", "String"},
      {"Default", ""},
      {"Description", "Mailed when a run fails ('' = none)"}};
  p["EncryptFailureTopic"] = {
      {"Type", "String"},
      {"Default", "true"},
      {"AllowedValues", {"true", "false"}},
      {"Description",
       "Encrypt the failure topic with a key of the stack (EventBridge and "
       "alarms cannot use the AWS-managed SNS key)"}};
  if (a.o.alert_after_hours > 0)
    p["AlertAfterHours"] = {
        {"Type", "Number"},
        {"Default", a.o.alert_after_hours},
        {"MinValue", 1},
        {"MaxValue", kMaxAlertAfterHours},
        {"Description", "Alarm when no backup succeeded for this many hours"}};
  if (a.o.ec2) {
    p["InstanceType"] = {
        {"Type", "String"},
        {"Default", ""},
        {"Description",
         "'' = c6i.large (x86_64) or c7g.large (arm64), after Architecture"}};
    p["ImageId"] = {{"Type", "String"},
                    {"Default", ""},
                    {"Description",
                     "'' = the latest Amazon Linux 2023 AMI for Architecture"}};
    p["BinaryUrl"] = {{"Type", "String"},
                      {"Description", "s3://bucket/key of the efs2s3 binary"},
                      {"AllowedPattern", "^s3://[^/]+/.+$"}};
    // Without --binary-url, a parameter the deploy must give.
    if (!a.o.binary_url.empty()) p["BinaryUrl"]["Default"] = a.o.binary_url;
    return p;
  }
  if (a.o.create_ecr)
    p["ImageTag"] = {
        {"Type", "String"},
        {"Default", "latest"},
        {"Description", "The tag of the image in the stack's ECR repository"}};
  else
    p["ImageUri"] = {
        {"Type", "String"},
        {"Default", a.o.image},
        {"Description", "Container image with efs2s3 and /bin/sh"}};
  if (a.o.shards) {
    p["Vcpu"] = {{"Type", "String"},
                 {"Default", "1"},
                 {"AllowedValues", {"0.25", "0.5", "1", "2", "4", "8", "16"}},
                 {"Description", "vCPUs of each worker"}};
    p["MaxVcpus"] = {
        {"Type", "Number"},
        {"Default", a.o.shards},
        {"MinValue", 1},
        {"Description",
         "vCPUs of the compute environment: the workers times Vcpu runs "
         "them all at once"}};
    p["RunTimeoutSeconds"] = {
        {"Type", "Number"},
        {"Default", 86400},
        {"MinValue", 600},
        {"Description",
         "A run (workers and merge) that takes longer is stopped and "
         "notified"}};
  } else {
    p["Cpu"] = {{"Type", "String"},
                {"Default", "1024"},
                {"AllowedValues",
                 {"256", "512", "1024", "2048", "4096", "8192", "16384"}}};
  }
  p["Memory"] = {
      {"Type", "String"},
      {"Default", "4096"},
      {"Description", a.o.shards ? "MiB of each worker, valid for Vcpu"
                                 : "MiB, valid for the Cpu value"}};
  p["EphemeralStorageGiB"] = {{"Type", "Number"},
                              {"Default", 21},
                              {"MinValue", 21},
                              {"MaxValue", 200},
                              {"Description", "Task disk (the index cache)"}};
  return p;
}

ojson Conditions(const AwsJob& a) {
  ojson c = {
      {"CreateTheBucket", {{"Fn::Equals", {Ref("CreateBucket"), "true"}}}},
      {"HasKms", {{"Fn::Not", {{{"Fn::Equals", {Ref("KmsKeyArn"), ""}}}}}}},
      {"HasEmail",
       {{"Fn::Not", {{{"Fn::Equals", {Ref("NotificationEmail"), ""}}}}}}},
      {"EncryptTopic", {{"Fn::Equals", {Ref("EncryptFailureTopic"), "true"}}}},
      {"IsArm64", {{"Fn::Equals", {Ref("Architecture"), "arm64"}}}},
      {"HasPasswordKey",
       {{"Fn::Not", {{{"Fn::Equals", {Ref("PasswordKmsKeyArn"), ""}}}}}}},
      {"AddNfsIngress",
       {{"Fn::Not",
         {{{"Fn::Equals", {Ref("MountTargetSecurityGroup"), ""}}}}}}},
      {"AddS3Endpoint", {{"Fn::Not", {{{"Fn::Equals", {Ref("VpcId"), ""}}}}}}}};
  if (a.o.ec2) {
    c["HasInstanceType"] = {
        {"Fn::Not", {{{"Fn::Equals", {Ref("InstanceType"), ""}}}}}};
    c["HasImageId"] = {{"Fn::Not", {{{"Fn::Equals", {Ref("ImageId"), ""}}}}}};
  }
  return c;
}

ojson Outputs(const AwsJob& a) {
  ojson out = {
      {"Repository",
       {{"Value", Sub("s3://${BucketName}/" + SubEscape(a.prefix))}}},
      {"LogGroup", {{"Value", Ref("LogGroup")}}},
      {"FailureTopic", {{"Value", Ref("FailureTopic")}}},
      {"ScheduleDeadLetterQueue", {{"Value", Ref("ScheduleDeadLetterQueue")}}},
      {"ScheduleDeadLetterQueueArn",
       {{"Value", GetAtt("ScheduleDeadLetterQueue", "Arn")}}},
      {"ScheduleFailureAlarm", {{"Value", Ref("ScheduleFailureAlarm")}}},
      {"SchedulerRole", {{"Value", GetAtt("SchedulerRole", "Arn")}}},
      {"BackupRole", {{"Value", GetAtt("BackupRole", "Arn")}}},
      {"MaintenanceRole", {{"Value", GetAtt("MaintenanceRole", "Arn")}}}};
  if (a.o.alert_after_hours > 0)
    out["MissedBackupAlarm"] = {{"Value", Ref("MissedBackupAlarm")}};
  out["Dashboard"] = {
      {"Value",
       Sub("https://${AWS::Region}.console.aws.amazon.com/cloudwatch/"
           "home?region=${AWS::Region}#dashboards:name=${Dashboard}")}};
  if (a.o.shards) {
    for (const char* name : {"StateMachine", "JobQueue", "ShardJobDefinition",
                             "MergeJobDefinition", "MaintenanceJobDefinition",
                             "RestoreJobDefinition"})
      out[name] = {{"Value", Ref(name)}};
    out["MergeRole"] = {{"Value", GetAtt("MergeRole", "Arn")}};
  } else if (!a.o.ec2) {
    out["Cluster"] = {{"Value", Ref("Cluster")}};
    out["ClusterArn"] = {{"Value", GetAtt("Cluster", "Arn")}};
    out["TaskDefinition"] = {{"Value", Ref("TaskDefinition")}};
    out["MaintenanceTaskDefinition"] = {
        {"Value", Ref("MaintenanceTaskDefinition")}};
    out["RestoreTaskDefinition"] = {{"Value", Ref("RestoreTaskDefinition")}};
    if (a.o.create_ecr)
      out["ImageRepositoryUri"] = {
          {"Value", GetAtt("ImageRepository", "RepositoryUri")}};
  }
  return out;
}

constexpr Part kParts[] = {Part::kBackup, Part::kMaintenance};

// What runs the job's parts: Fargate tasks or EC2 instances, with what
// starts them: the scheduler's statements and each schedule's target.
struct Launch {
  ojson scheduler_statements = ojson::array();
  std::map<Part, ojson> targets;
};

Launch AddFargate(const AwsJob& a, ojson& r) {
  if (a.o.create_ecr) r["ImageRepository"] = ImageRepository();
  r["Cluster"] = Cluster();
  r["ExecutionRole"] = ExecutionRole();
  Launch l{ojson::array({iam::RunTask(), iam::PassRoleToEcsTasks()}), {}};
  for (Part part : kParts) {
    r[TaskDefinitionName(part)] = TaskDefinition(a, part, a.mount);
    l.targets[part] = FargateTarget(part);
  }
  r["RestoreRole"] = RestoreRole(a);
  r["RestoreTaskDefinition"] = RestoreTaskDefinition(a, r["TaskDefinition"]);
  r["FailureRule"] = FailureRule(a);
  r["StartFailureRule"] = StartFailureRule(a);
  return l;
}

// --shards: AWS Batch, run by a state machine (aws_batch.cc).
Launch AddSharded(const AwsJob& a, ojson& r) {
  AddBatch(a, r);
  Launch l{BatchSchedulerStatements(), {}};
  for (Part part : kParts) l.targets[part] = BatchTarget(part);
  return l;
}

Launch AddEc2(const AwsJob& a, ojson& r) {
  Launch l{ojson::array({iam::RunInstances(), iam::TagNewInstances(),
                         iam::PassRoleToEc2()}),
           {}};
  for (Part part : kParts) {
    r[InstanceProfileName(part)] = InstanceProfile(part);
    r[LaunchTemplateName(part)] = LaunchTemplate(a, part);
    l.targets[part] = Ec2Target(part);
  }
  return l;
}

}  // namespace

Result<std::string> DeployedFileSystem(const Job& job,
                                       const std::string& file_system_id,
                                       const std::string& bucket) {
  auto invalid = [](const std::string& m) {
    return MakeError(ErrorCode::kInvalidArgument, m);
  };
  std::string fs = file_system_id;
  if (fs.empty() && job.efs) fs = job.efs->file_system_id;
  if (fs.rfind("fs-", 0) != 0) return invalid("--efs fs-... is required");
  if (bucket.empty()) return invalid("--bucket is required");
  if (bucket.find_first_of("/:") != std::string::npos)
    return invalid("--bucket takes a bucket name, not a URL");
  return fs;
}

MaintenanceTime MaintenanceSlot(const Job& job) {
  MaintenanceTime t;
  if (job.schedule && !job.schedule->is_interval() &&
      job.schedule->hours().count() == 1 &&
      job.schedule->minutes().count() == 1) {
    for (int h = 0; h < 24; ++h)
      if (job.schedule->hours()[h]) t.hour = (h + 12) % 24;
    for (int m = 0; m < 60; ++m)
      if (job.schedule->minutes()[m]) t.minute = m;
  }
  t.weekdays = job.prune.weekdays;
  if (t.weekdays.empty()) t.weekdays = {0};
  std::sort(t.weekdays.begin(), t.weekdays.end());
  t.weekdays.erase(std::unique(t.weekdays.begin(), t.weekdays.end()),
                   t.weekdays.end());
  return t;
}

Job DeployedJob(const Job& job,
                const std::function<std::string(const std::string&)>& escape) {
  auto escaped = [&escape](const std::vector<std::string>& v) {
    std::vector<std::string> out;
    for (const auto& s : v) out.push_back(escape(s));
    return out;
  };
  Job j;
  j.name = job.name;
  j.tags = escaped(job.tags);
  j.excludes = escaped(job.excludes);
  j.workers = job.workers;
  const Retention& ret = job.retention;
  j.retention.keep_last = ret.keep_last;
  j.retention.keep_hourly = ret.keep_hourly;
  j.retention.keep_daily = ret.keep_daily;
  j.retention.keep_weekly = ret.keep_weekly;
  j.retention.keep_monthly = ret.keep_monthly;
  j.retention.keep_yearly = ret.keep_yearly;
  j.retention.keep_within = escape(ret.keep_within);
  j.prune.enabled = true;
  j.prune.max_unused = escape(job.prune.max_unused);
  j.check.enabled = true;
  j.check.read_data_subset = escape(job.check.read_data_subset);
  j.lock_extend.enabled = job.lock_extend.enabled;
  j.lock_extend.lock_days = job.lock_extend.lock_days;
  return j;
}

Result<nlohmann::ordered_json> GenerateCloudFormation(const Job& job,
                                                      const AwsOptions& o) {
  ASSIGN_OR_RETURN(AwsJob a, Resolve(job, o));
  ASSIGN_OR_RETURN(a.toml, DeployedConfig(a));
  ojson t;
  t["AWSTemplateFormatVersion"] = "2010-09-09";
  // No IDs: they are parameters (FileSystemId, BucketName).
  t["Description"] = fmt::format(
      "efs2s3 backup job {}: EFS -> S3 on a schedule ({})", job.name,
      o.ec2      ? "EC2 instance"
      : o.shards ? fmt::format("{} AWS Batch Fargate workers", o.shards)
                 : "ECS Fargate task");
  t["Parameters"] = Parameters(a);
  t["Conditions"] = Conditions(a);
  ojson r;
  r["Bucket"] = Bucket();
  r["LogGroup"] = LogGroup();
  r["AccessPoint"] = AccessPoint(a);
  r["BackupRole"] = BackupRole(a);
  r["MaintenanceRole"] = MaintenanceRole(a);
  r["FailureTopicKey"] = FailureTopicKey();
  r["FailureTopic"] = FailureTopic();
  r["FailureSubscription"] = FailureSubscription();
  Launch launch = o.ec2      ? AddEc2(a, r)
                  : o.shards ? AddSharded(a, r)
                             : AddFargate(a, r);
  const bool missed_backup_alarm = o.alert_after_hours > 0;
  std::vector<std::string> rules;
  if (o.shards)
    rules = BatchFailureRules();
  else if (!o.ec2)
    rules = {"FailureRule", "StartFailureRule"};
  r["FailureTopicPolicy"] = FailureTopicPolicy(rules, missed_backup_alarm);
  r["NfsIngress"] = NfsIngress();
  r["S3Endpoint"] = S3Endpoint();
  r["ScheduleDeadLetterQueue"] = DeadLetterQueue();
  r["ScheduleDeadLetterQueuePolicy"] = DeadLetterQueuePolicy();
  r[kScheduleFailureRoute.alarm] = DeadLetterAlarm(a);
  r[kScheduleFailureRoute.rule] = ScheduleFailureAlarmRule(a);
  if (missed_backup_alarm) {
    r[kMissedBackupRoute.alarm] = MissedBackupAlarm(a);
    r[kMissedBackupRoute.rule] = MissedBackupAlarmRule(a);
  }
  r["Dashboard"] = Dashboard(a, missed_backup_alarm);
  launch.scheduler_statements.push_back(iam::DeadLetter());
  r["SchedulerRole"] = SchedulerRole(launch.scheduler_statements);
  for (Part part : kParts)
    r[ScheduleName(part)] = ScheduleResource(a, part, launch.targets[part]);
  t["Resources"] = r;
  t["Outputs"] = Outputs(a);
  return t;
}

std::string AwsBackupPath(const Job& job) {
  if (job.efs && !job.efs->mount_point.empty())
    return SubEscape(job.efs->mount_point);
  if (!job.efs && job.paths.size() == 1) return SubEscape(job.paths[0]);
  // The parameter, not the ID it defaults to, as for the host.
  return DefaultEfsMountPoint("${FileSystemId}");
}

std::vector<std::string> AwsWarnings(const Job& job, const AwsOptions& o) {
  std::vector<std::string> out;
  std::string fs = o.file_system_id;
  if (fs.empty() && job.efs) fs = job.efs->file_system_id;
  std::string path = AwsBackupPath(job);
  if (const size_t at = path.find("${FileSystemId}"); at != std::string::npos)
    path.replace(at, 15, fs);
  if (!job.efs && job.host.empty())
    out.push_back(fmt::format(
        "job {}: on AWS its snapshots record host {}, on a host its "
        "hostname: set host in the job so that both share their parents",
        job.name, fs));
  if (!job.efs && job.paths.size() > 1)
    out.push_back(fmt::format(
        "job {}: on AWS the file system is backed up at {}, not at the "
        "job's {} paths: their snapshots do not share parents",
        job.name, path, job.paths.size()));
  for (std::string& w : ExcludeWarnings(job, {path}))
    out.push_back(std::move(w) + " (on AWS)");
  return out;
}

std::string AwsDeployCommand(const nlohmann::ordered_json& t,
                             const std::string& template_file,
                             const std::string& stack_name) {
  std::string overrides;
  for (const auto& [name, p] : t["Parameters"].items()) {
    if (p.contains("Default")) continue;
    std::string example = "...";
    if (name == "PasswordSecretArn") example = "arn:aws:secretsmanager:...";
    if (name == "BinaryUrl") example = "s3://BUCKET/KEY";
    overrides += " " + name + "=" + example;
  }
  std::string cmd = fmt::format(
      "aws cloudformation deploy --template-file {} --stack-name {} "
      "--capabilities CAPABILITY_IAM",
      template_file, stack_name);
  if (!overrides.empty()) cmd += " --parameter-overrides" + overrides;
  return cmd;
}

}  // namespace efs2s3::jobs
