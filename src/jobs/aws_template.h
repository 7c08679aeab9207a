// The pieces of the CloudFormation template of `generate aws`
// (generate_aws.cc puts them together): one function per resource
// (aws_resources.cc) and per IAM role and statement (aws_iam.cc). Internal to
// jobs/.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "jobs/config.h"
#include "jobs/generate.h"

namespace efs2s3::jobs::aws_template {

using ojson = nlohmann::ordered_json;

// The job and options, checked, and what the resources are made of.
struct AwsJob {
  AwsJob(const Job& j, const AwsOptions& opts) : job(j), o(opts) {}
  const Job& job;
  const AwsOptions& o;
  std::string fs;        // the file system ID
  std::string prefix;    // of the repository, without '/' at either end
  std::string schedule;  // the EventBridge Scheduler expression (backup)
  std::string maintenance_schedule;  // and of the maintenance
  std::string efs_path;              // the access point's root directory
  std::string host;                  // the snapshots' host (Fn::Sub)
  std::string mount;  // where the backup reads the file system (Fn::Sub)
  std::string toml;   // the deployed configuration, for ConfigSub
};

// Intrinsic functions.
inline ojson Ref(const char* name) { return {{"Ref", name}}; }
inline ojson Sub(const std::string& s) { return {{"Fn::Sub", s}}; }
inline ojson GetAtt(const char* res, const char* attr) {
  return {{"Fn::GetAtt", {res, attr}}};
}
// A string that may hold ${...}: Fn::Sub of it, else the string itself.
inline ojson MaybeSub(const std::string& s) {
  return s.find("${") == std::string::npos ? ojson(s) : Sub(s);
}
// ${...} would be taken by Fn::Sub: literal dollars become ${!...}.
std::string SubEscape(const std::string& s);
// Fn::Sub of the job configuration: ${KmsSse} adds the SSE-KMS options when
// a key is given.
ojson ConfigSub(const std::string& text);

// Resources (aws_resources.cc).
ojson Bucket();
ojson LogGroup();
ojson AccessPoint(const AwsJob& a);
ojson Cluster();
// The job's two parts (job run --only), each run by its own schedule with its
// own role: the backup cannot delete, the maintenance can.
enum class Part { kBackup, kMaintenance };
const char* PartName(Part part);  // "backup", "maintenance"
ojson InstanceProfile(Part part);
// The backup's mounts the file system read-only at `mount`; the
// maintenance's mounts nothing.
ojson TaskDefinition(const AwsJob& a, Part part, const std::string& mount);
ojson RestoreTaskDefinition(const AwsJob& a, const ojson& task_definition);
ojson FargateTarget(Part part);
// What a job's container runs: the configuration written from
// $EFS2S3_JOB_CONFIG, then `efs2s3 job run NAME --config FILE ARGS`.
std::string JobRunScript(const AwsJob& a, const std::string& args);
// The image of the job's containers: ImageUri, or the stack's repository.
ojson ContainerImage(const AwsJob& a);
// The containers' environment: the configuration, and with metrics the
// variables that make the run emit BackupSucceeded (MetricsEnvironment).
ojson JobEnvironment(const AwsJob& a, bool metrics);
ojson LaunchTemplate(const AwsJob& a, Part part);
ojson Ec2Target(Part part);
ojson NfsIngress();       // with the AddNfsIngress condition
ojson S3Endpoint();       // with the AddS3Endpoint condition
ojson ImageRepository();  // --create-ecr
ojson ScheduleResource(const AwsJob& a, Part part, ojson target);

// The sharded backup (--shards N, aws_batch.cc): a Fargate compute
// environment and job queue, a job definition per kind of job (workers,
// merge, maintenance, restore), the state machine that runs the workers as
// an array job and then the merge, the merge's role, and the rules that
// send a failed job or execution to the topic.
void AddBatch(const AwsJob& a, ojson& resources);
// The schedules' targets: the state machine (backup), SubmitJob of the
// maintenance job (maintenance), and the scheduler's statements.
ojson BatchTarget(Part part);
ojson BatchSchedulerStatements();
// The logical IDs of the rules that publish to the topic.
std::vector<std::string> BatchFailureRules();

// The alert path (aws_alerts.cc): the topic, its key and policy, the rules
// for stopped tasks (Fargate), the schedules' dead-letter queue and its
// alarm, the alarm on missing successful backups, and for each alarm a rule
// that turns its state change into a message. Only EventBridge publishes to
// the topic (and, on EC2, the instances with their role).
inline constexpr const char* kAlertPublisher = "events.amazonaws.com";
ojson FailureTopicKey();  // only with the EncryptTopic condition
ojson FailureTopic();
ojson FailureSubscription();
// The rules that publish (their logical IDs; none on EC2).
ojson FailureTopicPolicy(const std::vector<std::string>& rules,
                         bool missed_backup_alarm);
// Where a run's log is, for the messages.
inline constexpr const char* kLogText =
    "Log: CloudWatch Logs group /efs2s3/${AWS::StackName} (region "
    "${AWS::Region}).";
// A target of a rule: the topic, with the event made into a message that
// starts with the job (`what` may name the paths as <name>).
ojson ToTopic(const AwsJob& a, const ojson& paths, const std::string& what);
ojson FailureRule(const AwsJob& a);
ojson StartFailureRule(const AwsJob& a);
ojson DeadLetterQueue();
ojson DeadLetterQueuePolicy();
ojson DeadLetterAlarm(const AwsJob& a);
ojson MissedBackupAlarm(const AwsJob& a);
// The alarms, each with the rule that carries its state changes to the topic
// as a readable message: logical IDs of the alarm and of its rule.
struct AlarmRoute {
  const char* alarm;
  const char* rule;
};
inline constexpr AlarmRoute kScheduleFailureRoute = {
    "ScheduleFailureAlarm", "ScheduleFailureAlarmRule"};
inline constexpr AlarmRoute kMissedBackupRoute = {"MissedBackupAlarm",
                                                  "MissedBackupAlarmRule"};
ojson ScheduleFailureAlarmRule(const AwsJob& a);
ojson MissedBackupAlarmRule(const AwsJob& a);
// A CloudWatch dashboard of the job's metrics (RunMetrics).
ojson Dashboard(const AwsJob& a, bool missed_backup_alarm);
// The environment of a backup run (values for Fn::Sub) that makes the job
// emit BackupSucceeded with the dimensions MissedBackupAlarm watches.
std::vector<std::pair<std::string, std::string>> MetricsEnvironment();

// The names of each part's resources: BackupRole / MaintenanceRole,
// TaskDefinition / MaintenanceTaskDefinition, ...
const char* RoleName(Part part);
const char* TaskDefinitionName(Part part);
const char* LaunchTemplateName(Part part);
const char* InstanceProfileName(Part part);
const char* ScheduleName(Part part);

// Roles (aws_iam.cc).
// Backup: lists, reads and writes the repository; deletes nothing.
ojson BackupRole(const AwsJob& a);
// Maintenance (forget, lock extend, prune, check): deletes objects and
// versions and extends retention, but cannot bypass a retention.
ojson MaintenanceRole(const AwsJob& a);
// The merge of a sharded backup: the backup's rights, and removes the
// workers' partial snapshots.
ojson MergeRole(const AwsJob& a);
// The state machine of a sharded backup: submits its jobs and follows them.
ojson StateMachineRole();
ojson ExecutionRole();
ojson RestoreRole(const AwsJob& a);
ojson SchedulerRole(const ojson& statements);

// IAM statements, named after their Sid where they have one.
namespace iam {
ojson ListRepository(const AwsJob& a);
ojson ListRepositoryVersions(const AwsJob& a);
ojson WriteRepository(const AwsJob& a);
ojson SetRetentionOnWrite(const AwsJob& a);
ojson MaintainRepository(const AwsJob& a);
ojson RepositoryVersions(const AwsJob& a);
ojson RepositoryRetention(const AwsJob& a);
ojson ReadRepository(const AwsJob& a);
ojson RemoveShardSnapshots(const AwsJob& a);
ojson RepositoryLocks(const AwsJob& a);
ojson MountFileSystem();
ojson MountFileSystemReadWrite();
ojson RepositoryKey();  // only with the HasKms condition
ojson RepositoryPassword();
ojson PasswordKey();  // only with the HasPasswordKey condition
ojson Binary();
ojson Logs();
ojson NotifyFailure();
ojson FailureTopicKey();  // only with the EncryptTopic condition
// The scheduler's: start the tasks or the instances, pass them their roles.
ojson RunTask();
ojson PassRoleToEcsTasks();
ojson RunInstances();
ojson StartBackupRun();  // --shards
ojson SubmitJobs(const std::vector<const char*>& job_definitions);
ojson FollowJobs();
ojson StopJobs();
ojson SyncRule();
ojson TagNewInstances();
ojson PassRoleToEc2();
ojson DeadLetter();  // the schedules' dead-letter queue
}  // namespace iam

}  // namespace efs2s3::jobs::aws_template
