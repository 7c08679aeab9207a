// generate aws --shards N: one backup on N Fargate workers of AWS Batch.
//
//   Schedule ─► StateMachine ─► Shards: array job of N workers
//                               (job run --shard auto/N, index from
//                               AWS_BATCH_JOB_ARRAY_INDEX)
//                           └─► Merge: job run --merge RUN --only backup
//   MaintenanceSchedule ─► batch:SubmitJob of the maintenance job
//
// EventBridge Scheduler cannot chain two SubmitJob calls: a state machine
// waits for the array job (batch:submitJob.sync) and then submits the merge.
// The run ID is the execution's name: the same for the workers and the
// merge of one run, another for the next, and kept when a failed execution
// is redriven. Failures reach the topic by two rules: a job of the queue that
// failed (a worker, the merge, the maintenance, or one that could not start)
// and an execution that failed, timed out or was stopped.
#include <fmt/format.h>

#include "jobs/aws_template.h"

namespace efs2s3::jobs::aws_template {

namespace {

ojson ComputeEnvironment() {
  return {{"Type", "AWS::Batch::ComputeEnvironment"},
          {"Properties",
           {{"Type", "MANAGED"},
            {"State", "ENABLED"},
            {"ComputeResources",
             {{"Type", "FARGATE"},
              {"MaxvCpus", Ref("MaxVcpus")},
              {"Subnets", Ref("Subnets")},
              {"SecurityGroupIds", Ref("SecurityGroups")}}}}}};
}

ojson JobQueue() {
  return {{"Type", "AWS::Batch::JobQueue"},
          {"Properties",
           {{"Priority", 1},
            {"State", "ENABLED"},
            {"ComputeEnvironmentOrder",
             {{{"Order", 1},
               {"ComputeEnvironment", Ref("ComputeEnvironment")}}}}}}};
}

// What one kind of job runs and with which rights.
struct BatchJob {
  const char* role;
  std::string args;  // of job run; "" for the restore's `efs2s3 snapshots`
  bool mount;        // the file system
  bool read_only;
  bool metrics;  // emits BackupSucceeded
  int attempts;
  const char* log_prefix;
};

ojson JobDefinition(const AwsJob& a, const BatchJob& j) {
  ojson env = JobEnvironment(a, j.metrics);
  ojson command = {"/bin/sh", "-c", JobRunScript(a, j.args)};
  if (j.args.empty()) {  // the restore: any efs2s3 command, given at submit
    env = ojson::array(
        {{{"Name", "EFS2S3_REPOSITORY"},
          {"Value", Sub("s3://${BucketName}/" + SubEscape(a.prefix))}},
         {{"Name", "AWS_REGION"}, {"Value", Ref("AWS::Region")}}});
    command = {"efs2s3", "snapshots"};
  }
  ojson c = {
      {"Image", ContainerImage(a)},
      {"Command", command},
      {"JobRoleArn", GetAtt(j.role, "Arn")},
      {"ExecutionRoleArn", GetAtt("ExecutionRole", "Arn")},
      {"ResourceRequirements",
       {{{"Type", "VCPU"}, {"Value", Ref("Vcpu")}},
        {{"Type", "MEMORY"}, {"Value", Ref("Memory")}}}},
      {"Environment", env},
      {"Secrets",
       {{{"Name", "EFS2S3_PASSWORD"},
         {"ValueFrom", Ref("PasswordSecretArn")}}}},
      {"NetworkConfiguration", {{"AssignPublicIp", "DISABLED"}}},
      {"FargatePlatformConfiguration", {{"PlatformVersion", "LATEST"}}},
      {"EphemeralStorage", {{"SizeInGiB", Ref("EphemeralStorageGiB")}}},
      {"RuntimePlatform",
       {{"CpuArchitecture", {{"Fn::If", {"IsArm64", "ARM64", "X86_64"}}}},
        {"OperatingSystemFamily", "LINUX"}}},
      {"LogConfiguration",
       {{"LogDriver", "awslogs"},
        {"Options",
         {{"awslogs-group", Ref("LogGroup")},
          {"awslogs-region", Ref("AWS::Region")},
          {"awslogs-stream-prefix", j.log_prefix}}}}}};
  if (j.mount) {
    c["Volumes"] = {
        {{"Name", "efs"},
         {"EfsVolumeConfiguration",
          {{"FileSystemId", Ref("FileSystemId")},
           {"TransitEncryption", "ENABLED"},
           {"AuthorizationConfig",
            {{"AccessPointId", Ref("AccessPoint")}, {"Iam", "ENABLED"}}}}}}};
    c["MountPoints"] = {{{"SourceVolume", "efs"},
                         {"ContainerPath", MaybeSub(a.mount)},
                         {"ReadOnly", j.read_only}}};
  }
  return {{"Type", "AWS::Batch::JobDefinition"},
          {"Properties",
           {{"Type", "container"},
            {"PlatformCapabilities", {"FARGATE"}},
            {"PropagateTags", true},
            {"RetryStrategy", {{"Attempts", j.attempts}}},
            {"ContainerProperties", c}}}};
}

// The run: the workers as one array job, then the merge, each with the
// execution's name as the run ID; the whole run within RunTimeoutSeconds.
ojson StateMachine(const AwsJob& a) {
  auto submit = [](const char* state, const char* definition) {
    return ojson{
        {"Type", "Task"},
        {"Resource", "arn:${AWS::Partition}:states:::batch:submitJob.sync"},
        {"Parameters",
         {{"JobName", std::string("efs2s3-") + state},
          {"JobQueue", "${JobQueue}"},
          {"JobDefinition", std::string("${") + definition + "}"},
          {"ContainerOverrides",
           {{"Environment",
             {{{"Name", "EFS2S3_RUN_ID"},
               {"Value.$", "$$.Execution.Name"}}}}}}}},
        {"ResultPath", nullptr}};
  };
  ojson shards = submit("shards", "ShardJobDefinition");
  shards["Parameters"]["ArrayProperties"] = {{"Size", a.o.shards}};
  shards["Next"] = "Merge";
  ojson merge = submit("merge", "MergeJobDefinition");
  merge["End"] = true;
  ojson d = {
      {"Comment", "efs2s3 job " + SubEscape(a.job.name) + ": " +
                      std::to_string(a.o.shards) + " workers, then the merge"},
      {"StartAt", "Shards"},
      {"TimeoutSeconds", 0},
      {"States", {{"Shards", shards}, {"Merge", merge}}}};
  // A number from a parameter: the definition is a string for Fn::Sub.
  std::string text = d.dump();
  const std::string placeholder = "\"TimeoutSeconds\":0";
  text.replace(text.find(placeholder), placeholder.size(),
               "\"TimeoutSeconds\":${RunTimeoutSeconds}");
  return {{"Type", "AWS::StepFunctions::StateMachine"},
          {"Properties",
           {{"RoleArn", GetAtt("StateMachineRole", "Arn")},
            {"DefinitionString", Sub(text)}}}};
}

// A failed job of the queue: a worker (after its retries), the merge, the
// maintenance, or a job that could not start (image, secret, mount).
ojson BatchFailureRule(const AwsJob& a) {
  const ojson paths = {{"job", "$.detail.jobName"},
                       {"id", "$.detail.jobId"},
                       {"time", "$.time"},
                       {"reason", "$.detail.statusReason"}};
  return {{"Type", "AWS::Events::Rule"},
          {"Properties",
           {{"Description", "efs2s3 job failed (AWS Batch)"},
            {"EventPattern",
             {{"source", {"aws.batch"}},
              {"detail-type", {"Batch Job State Change"}},
              {"detail",
               {{"status", {"FAILED"}}, {"jobQueue", {Ref("JobQueue")}}}}}},
            {"Targets", ToTopic(a, paths,
                                "AWS Batch job <job> (<id>) failed at <time>: "
                                "<reason>. A worker's job name is that of "
                                "the array job with :INDEX. " +
                                    std::string(kLogText))}}}};
}

// A run that failed (a job failed), timed out or was stopped.
ojson ExecutionFailureRule(const AwsJob& a) {
  const ojson paths = {{"run", "$.detail.name"},
                       {"status", "$.detail.status"},
                       {"time", "$.time"}};
  return {{"Type", "AWS::Events::Rule"},
          {"Properties",
           {{"Description", "efs2s3 sharded backup run did not complete"},
            {"EventPattern",
             {{"source", {"aws.states"}},
              {"detail-type", {"Step Functions Execution Status Change"}},
              {"detail",
               {{"status", {"FAILED", "TIMED_OUT", "ABORTED"}},
                {"stateMachineArn", {Ref("StateMachine")}}}}}},
            {"Targets",
             ToTopic(a, paths,
                     "run <run> ended <status> at <time>: no merged snapshot. "
                     "Re-run the failed workers with the same run ID (redrive "
                     "the execution), or merge by hand. " +
                         std::string(kLogText))}}}};
}

}  // namespace

void AddBatch(const AwsJob& a, ojson& r) {
  if (a.o.create_ecr) r["ImageRepository"] = ImageRepository();
  r["ExecutionRole"] = ExecutionRole();
  r["MergeRole"] = MergeRole(a);
  r["RestoreRole"] = RestoreRole(a);
  r["ComputeEnvironment"] = ComputeEnvironment();
  r["JobQueue"] = JobQueue();
  const std::string shard =
      fmt::format("--shard auto/{} --run-id \"$EFS2S3_RUN_ID\"", a.o.shards);
  r["ShardJobDefinition"] =
      JobDefinition(a, {"BackupRole", shard, true, true, false, 2, "shard"});
  r["MergeJobDefinition"] =
      JobDefinition(a, {"MergeRole", "--merge \"$EFS2S3_RUN_ID\" --only backup",
                        true, true, true, 2, "merge"});
  r["MaintenanceJobDefinition"] =
      JobDefinition(a, {"MaintenanceRole", "--only maintenance", false, false,
                        false, 1, "maintenance"});
  r["RestoreJobDefinition"] =
      JobDefinition(a, {"RestoreRole", "", true, false, false, 1, "restore"});
  r["StateMachineRole"] = StateMachineRole();
  r["StateMachine"] = StateMachine(a);
  r["BatchFailureRule"] = BatchFailureRule(a);
  r["ExecutionFailureRule"] = ExecutionFailureRule(a);
}

std::vector<std::string> BatchFailureRules() {
  return {"BatchFailureRule", "ExecutionFailureRule"};
}

ojson BatchTarget(Part part) {
  ojson t = {{"RoleArn", GetAtt("SchedulerRole", "Arn")},
             {"RetryPolicy", {{"MaximumRetryAttempts", 2}}}};
  if (part == Part::kBackup) {
    t["Arn"] = Ref("StateMachine");
  } else {
    const ojson input = {{"JobName", "efs2s3-maintenance"},
                         {"JobQueue", "${JobQueue}"},
                         {"JobDefinition", "${MaintenanceJobDefinition}"}};
    t["Arn"] = "arn:aws:scheduler:::aws-sdk:batch:submitJob";
    t["Input"] = Sub(input.dump());
  }
  return t;
}

ojson BatchSchedulerStatements() {
  return ojson::array(
      {iam::StartBackupRun(), iam::SubmitJobs({"MaintenanceJobDefinition"})});
}

}  // namespace efs2s3::jobs::aws_template
