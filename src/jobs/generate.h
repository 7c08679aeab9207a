// Deployment generators: systemd units, a cron line, a CloudFormation template.
//
// All are pure functions of the job and the options; they return text (or a
// JSON document) and never touch the system.
#pragma once

#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"
#include "jobs/config.h"

namespace efs2s3::jobs {

struct SystemdUnits {
  std::string service_name, service;  // efs2s3-<job>.service
  std::string timer_name, timer;      // efs2s3-<job>.timer
};

// `exe` and `config_path` are written into ExecStart. kInvalidArgument when
// the job has no schedule.
Result<SystemdUnits> GenerateSystemd(const Job& job, const std::string& exe,
                                     const std::string& config_path);

// systemd OnCalendar= values for a cron schedule (two when both day-of-month
// and day-of-week are restricted: cron ORs them, systemd ANDs).
std::vector<std::string> OnCalendar(const Schedule& s, const std::string& tz);

struct CronOptions {
  std::string user = "root";  // the user field
  // Where the run's output goes: "" = syslog (logger -t efs2s3-JOB), else
  // appended to this file.
  std::string log_file{};
  // The cron honours CRON_TZ (cronie: Amazon Linux, RHEL, Fedora). Debian's
  // and Ubuntu's cron ignore it and read the fields in the system zone.
  bool cron_tz = false;
  // The zone cron runs in ("" = this process's: TZ, else /etc/localtime).
  std::string system_zone{};
  std::time_t now = 0;  // the year over which zones are compared (0 = now)
};

// A file for /etc/cron.d (with the user field). kInvalidArgument for @every
// schedules that cron cannot express, or no schedule. A job whose timezone
// is not the system zone gets CRON_TZ with cron_tz; otherwise its times are
// converted to the system zone when the two zones are a fixed whole number
// of minutes apart all year and no run moves to another day of a restricted
// day field; else kInvalidArgument saying why and what to do instead.
Result<std::string> GenerateCron(const Job& job, const std::string& exe,
                                 const std::string& config_path,
                                 const CronOptions& options);

// EventBridge Scheduler expression: "cron(0 3 * * ? *)" or "rate(6 hours)".
// kInvalidArgument when both day fields are restricted.
Result<std::string> AwsScheduleExpression(const Schedule& s);

struct AwsOptions {
  std::string file_system_id;
  std::string bucket;
  std::string prefix;  // "" = the job's name
  std::vector<std::string> subnets;
  std::vector<std::string> security_groups;
  bool ec2 = false;            // EC2 instance instead of a Fargate task
  std::string kms_key_arn;     // default for the KmsKeyArn parameter
  bool create_bucket = false;  // default for the CreateBucket parameter
  std::string image;           // default for ImageUri (Fargate)
  std::string binary_url;      // default for BinaryUrl (EC2)
  int alert_after_hours = 26;  // default for AlertAfterHours; 0: no alarm
  std::string architecture = "x86_64";  // default for Architecture (arm64)
  // Fargate: the stack creates an ECR repository and the task runs its
  // image ImageTag (instead of --image).
  bool create_ecr = false;
  // One backup on this many workers (2 or more): an AWS Batch array job of
  // Fargate workers, then a merge job, run by a Step Functions state machine
  // that the schedule starts (docs/DEPLOY.md, "Many workers"). 0: one task.
  int shards = 0;
};

// The largest AWS Batch array job.
inline constexpr int kMaxAwsShards = 10000;

struct K8sOptions {
  std::string file_system_id;  // "" = the job's EFS source
  std::string bucket;
  std::string prefix;  // "" = the job's name
  std::string image;   // with efs2s3 and /bin/sh
  std::string region;  // the bucket's
  std::string namespace_ = "efs2s3";
  // IAM role of the pods (IRSA): the service account's annotation, and no
  // S3 keys in the Secret.
  std::string role_arn;
  std::string access_point;  // fsap-...: the PersistentVolume's handle
  std::string cpu = "1", memory = "4Gi";  // each worker's requests
  int shards = 1;
};

inline constexpr int kMaxK8sShards = 10000;

// Kubernetes objects (EKS, EFS CSI driver) that run the job: the file
// system as a PersistentVolume and claim, a ServiceAccount, a Secret (the
// keys; their values are set at deployment), a ConfigMap (the job file), a
// CronJob whose Indexed Job runs `shards` workers (--shard auto/N, the run
// ID the Job's name, --merge-if-last), a maintenance CronJob and, with
// shards, a suspended CronJob to merge a run or run one shard again by hand.
// kUsage for missing or invalid options; kInvalidArgument for a job that
// Kubernetes cannot run (an @every schedule, a name too long).
Result<std::vector<nlohmann::ordered_json>> GenerateKubernetes(
    const Job& job, const K8sOptions& o);

// One YAML document of a JSON one (strings double-quoted, multi-line ones as
// literal blocks), without the "---" line.
std::string ToYaml(const nlohmann::ordered_json& document);

// The file system a deployment backs up (--efs, else the job's EFS
// source), checked with the repository's bucket: kInvalidArgument naming
// the option when either is missing or malformed.
Result<std::string> DeployedFileSystem(const Job& job,
                                       const std::string& file_system_id,
                                       const std::string& bucket);

// When the maintenance (forget, lock extend, prune, check) of a deployment
// runs: on the job's prune weekdays (Sunday by default), twelve hours away
// from a once-a-day backup (15:00 for the default 03:00), so that the two
// rarely meet (a maintenance that meets a backup's lock fails with exit 11).
struct MaintenanceTime {
  int minute = 0, hour = 15;
  std::vector<int> weekdays;  // 0 = Sunday, sorted
};
MaintenanceTime MaintenanceSlot(const Job& job);

// What a deployment (AWS, Kubernetes) keeps of the job: name, tags,
// excludes, workers, retention, and prune, check and lock extend, each
// string through `escape` (Fn::Sub's). A run there keeps no state, so no
// step has an interval; repository, source and host are the caller's.
Job DeployedJob(const Job& job,
                const std::function<std::string(const std::string&)>& escape);

// The longest --alert-after: a CloudWatch alarm looks back at most 7 days.
inline constexpr int kMaxAlertAfterHours = 168;

// A CloudFormation template (JSON). The job's retention, prune/check settings,
// excludes and tags are carried over; its source becomes the EFS file system
// and its repository s3://bucket/prefix. Every failure (a non-zero exit, a
// task that did not start, a schedule that could not start it, no
// successful backup within alert_after_hours) notifies the stack's topic.
// kInvalidArgument for missing or inconsistent options, kUsage without
// --image for Fargate.
Result<nlohmann::ordered_json> GenerateCloudFormation(const Job& job,
                                                      const AwsOptions& o);

// Where the stack's backup reads the file system (for Fn::Sub): the job's
// EFS mount_point, else the one path of a `paths` job, else
// /mnt/efs/${FileSystemId}: the path the job backs up on a host too
// (jobs/identity.h).
std::string AwsBackupPath(const Job& job);

// What makes the job's snapshots on AWS differ from those on a host, and
// excludes that can never match there: one line each.
std::vector<std::string> AwsWarnings(const Job& job, const AwsOptions& o);

// The `aws cloudformation deploy` command for a template, with an override
// for every parameter that has no default.
std::string AwsDeployCommand(const nlohmann::ordered_json& t,
                             const std::string& template_file,
                             const std::string& stack_name);

}  // namespace efs2s3::jobs
