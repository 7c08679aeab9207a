// The resources of `generate aws` other than roles: bucket, logs, access
// point, the Fargate task definitions and failure rule, the EC2 launch
// templates, and the schedules with their targets. The backup and the
// maintenance each have their task definition (or launch template and
// instance profile), role and schedule.
#include "jobs/aws_template.h"

namespace efs2s3::jobs::aws_template {

const char* PartName(Part part) {
  return part == Part::kBackup ? "backup" : "maintenance";
}
const char* RoleName(Part part) {
  return part == Part::kBackup ? "BackupRole" : "MaintenanceRole";
}
const char* TaskDefinitionName(Part part) {
  return part == Part::kBackup ? "TaskDefinition" : "MaintenanceTaskDefinition";
}
const char* LaunchTemplateName(Part part) {
  return part == Part::kBackup ? "LaunchTemplate" : "MaintenanceLaunchTemplate";
}
const char* InstanceProfileName(Part part) {
  return part == Part::kBackup ? "InstanceProfile"
                               : "MaintenanceInstanceProfile";
}
const char* ScheduleName(Part part) {
  return part == Part::kBackup ? "Schedule" : "MaintenanceSchedule";
}

std::string SubEscape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    out += s[i];
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') {
      out += "{!";
      ++i;
    }
  }
  return out;
}

ojson ConfigSub(const std::string& text) {
  ojson kms = {
      {"Fn::If",
       {"HasKms",
        {{"Fn::Sub", "sse = \"aws:kms\"\nsse_kms_key_id = \"${KmsKeyArn}\"\n"}},
        ""}}};
  return {{"Fn::Sub", {text, {{"KmsSse", kms}}}}};
}

ojson Bucket() {
  ojson encryption = {
      {"Fn::If",
       {"HasKms",
        {{"SSEAlgorithm", "aws:kms"}, {"KMSMasterKeyID", Ref("KmsKeyArn")}},
        {{"SSEAlgorithm", "AES256"}}}}};
  return {{"Type", "AWS::S3::Bucket"},
          {"Condition", "CreateTheBucket"},
          {"DeletionPolicy", "Retain"},
          {"UpdateReplacePolicy", "Retain"},
          {"Properties",
           {{"BucketName", Ref("BucketName")},
            {"PublicAccessBlockConfiguration",
             {{"BlockPublicAcls", true},
              {"BlockPublicPolicy", true},
              {"IgnorePublicAcls", true},
              {"RestrictPublicBuckets", true}}},
            {"OwnershipControls",
             {{"Rules", {{{"ObjectOwnership", "BucketOwnerEnforced"}}}}}},
            {"BucketEncryption",
             {{"ServerSideEncryptionConfiguration",
               {{{"BucketKeyEnabled", true},
                 {"ServerSideEncryptionByDefault", encryption}}}}}},
            {"LifecycleConfiguration",
             {{"Rules",
               {{{"Id", "AbortIncompleteMultipartUploads"},
                 {"Status", "Enabled"},
                 {"AbortIncompleteMultipartUpload",
                  {{"DaysAfterInitiation", 7}}}}}}}}}}};
}

ojson LogGroup() {
  return {{"Type", "AWS::Logs::LogGroup"},
          {"Properties",
           {{"LogGroupName", Sub("/efs2s3/${AWS::StackName}")},
            {"RetentionInDays", Ref("LogRetentionDays")}}}};
}

ojson AccessPoint(const AwsJob& a) {
  return {{"Type", "AWS::EFS::AccessPoint"},
          {"Properties",
           {{"FileSystemId", Ref("FileSystemId")},
            {"PosixUser", {{"Uid", "0"}, {"Gid", "0"}}},
            {"RootDirectory", {{"Path", a.efs_path}}}}}};
}

ojson Cluster() {
  return {{"Type", "AWS::ECS::Cluster"},
          {"Properties",
           {{"ClusterSettings",
             {{{"Name", "containerInsights"}, {"Value", "disabled"}}}}}}};
}

namespace {

// The job run of one part: efs2s3 job run NAME --config FILE --only PART.
std::string JobRunCommand(const AwsJob& a, Part part,
                          const std::string& config) {
  return "efs2s3 job run " + a.job.name + " --config " + config + " --only " +
         PartName(part);
}

}  // namespace

std::string JobRunScript(const AwsJob& a, const std::string& args) {
  return "printf '%s' \"$EFS2S3_JOB_CONFIG\" > /tmp/efs2s3.toml && exec "
         "efs2s3 job run " +
         a.job.name + " --config /tmp/efs2s3.toml " + args;
}

ojson ContainerImage(const AwsJob& a) {
  return a.o.create_ecr ? Sub("${ImageRepository.RepositoryUri}:${ImageTag}")
                        : Ref("ImageUri");
}

ojson JobEnvironment(const AwsJob& a, bool metrics) {
  ojson env = ojson::array();
  env.push_back({{"Name", "EFS2S3_JOB_CONFIG"}, {"Value", ConfigSub(a.toml)}});
  if (metrics)
    for (const auto& [name, value] : MetricsEnvironment())
      env.push_back({{"Name", name}, {"Value", MaybeSub(value)}});
  return env;
}

namespace {

ojson JobContainer(const AwsJob& a, Part part, const std::string& mount) {
  ojson c = {
      {"Name", "efs2s3"},
      {"Image", ContainerImage(a)},
      {"Essential", true},
      {"EntryPoint", {"/bin/sh", "-c"}},
      {"Command", {JobRunScript(a, std::string("--only ") + PartName(part))}},
      {"Environment", JobEnvironment(a, part == Part::kBackup)},
      {"Secrets",
       {{{"Name", "EFS2S3_PASSWORD"},
         {"ValueFrom", Ref("PasswordSecretArn")}}}},
      {"MountPoints", ojson::array()},
      {"StopTimeout", 120},
      {"LogConfiguration",
       {{"LogDriver", "awslogs"},
        {"Options",
         {{"awslogs-group", Ref("LogGroup")},
          {"awslogs-region", Ref("AWS::Region")},
          {"awslogs-stream-prefix",
           part == Part::kBackup ? "efs2s3" : "maintenance"}}}}}};
  if (part == Part::kBackup)
    c["MountPoints"].push_back({{"SourceVolume", "efs"},
                                {"ContainerPath", MaybeSub(mount)},
                                {"ReadOnly", true}});
  return c;
}

}  // namespace

ojson TaskDefinition(const AwsJob& a, Part part, const std::string& mount) {
  ojson t = {
      {"Type", "AWS::ECS::TaskDefinition"},
      {"Properties",
       {{"RequiresCompatibilities", {"FARGATE"}},
        {"NetworkMode", "awsvpc"},
        {"Cpu", Ref("Cpu")},
        {"Memory", Ref("Memory")},
        {"EphemeralStorage", {{"SizeInGiB", Ref("EphemeralStorageGiB")}}},
        {"RuntimePlatform",
         {{"CpuArchitecture", {{"Fn::If", {"IsArm64", "ARM64", "X86_64"}}}},
          {"OperatingSystemFamily", "LINUX"}}},
        {"ExecutionRoleArn", GetAtt("ExecutionRole", "Arn")},
        {"TaskRoleArn", GetAtt(RoleName(part), "Arn")}}}};
  ojson& p = t["Properties"];
  if (part == Part::kBackup)
    p["Volumes"] = {
        {{"Name", "efs"},
         {"EFSVolumeConfiguration",
          {{"FilesystemId", Ref("FileSystemId")},
           {"TransitEncryption", "ENABLED"},
           {"AuthorizationConfig",
            {{"AccessPointId", Ref("AccessPoint")}, {"IAM", "ENABLED"}}}}}}};
  p["ContainerDefinitions"] = ojson::array({JobContainer(a, part, mount)});
  return t;
}

// Restores: the job's task definition with the access point mounted
// read-write, running any efs2s3 command given as the container's command
// (aws ecs run-task --overrides), with the restore role.
ojson RestoreTaskDefinition(const AwsJob& a, const ojson& task_definition) {
  ojson env = ojson::array();
  env.push_back({{"Name", "EFS2S3_REPOSITORY"},
                 {"Value", Sub("s3://${BucketName}/" + SubEscape(a.prefix))}});
  env.push_back({{"Name", "AWS_REGION"}, {"Value", Ref("AWS::Region")}});
  ojson t = task_definition;
  t["Properties"]["TaskRoleArn"] = GetAtt("RestoreRole", "Arn");
  ojson& c = t["Properties"]["ContainerDefinitions"][0];
  c["EntryPoint"] = {"efs2s3"};
  c["Command"] = {"snapshots"};
  c["Environment"] = env;
  c["MountPoints"][0]["ReadOnly"] = false;
  c["LogConfiguration"]["Options"]["awslogs-stream-prefix"] = "restore";
  return t;
}

ojson FargateTarget(Part part) {
  return {{"Arn", GetAtt("Cluster", "Arn")},
          {"RoleArn", GetAtt("SchedulerRole", "Arn")},
          {"EcsParameters",
           {{"TaskDefinitionArn", Ref(TaskDefinitionName(part))},
            {"LaunchType", "FARGATE"},
            {"TaskCount", 1},
            {"NetworkConfiguration",
             {{"AwsvpcConfiguration",
               {{"Subnets", Ref("Subnets")},
                {"SecurityGroups", Ref("SecurityGroups")},
                {"AssignPublicIp", "DISABLED"}}}}}}},
          {"RetryPolicy", {{"MaximumRetryAttempts", 2}}}};
}

namespace {

// The instance's script: run one part of the job (the job mounts EFS for
// the backup), send its output to the log group, report, power off.
std::string UserData(const AwsJob& a, Part part) {
  const std::string& name = a.job.name;
  std::string metrics;
  if (part == Part::kBackup)
    for (const auto& [var, value] : MetricsEnvironment())
      metrics += "export " + var + "=" + value + "\n";
  // The log streams to CloudWatch Logs while the job runs (the CloudWatch
  // agent, one event per line, so that each EMF line is an event of its
  // own), and a crash leaves what was written. Where the agent cannot start,
  // the log is sent once at the end: as one event, and each EMF line as one.
  return "#!/bin/bash\n"
         "# efs2s3 job " +
         name + " (" + PartName(part) +
         "): run it, report, power off.\n"
         "set -u\n"
         "trap 'shutdown -h now' EXIT\n"
         "dnf install -y -q amazon-efs-utils awscli amazon-cloudwatch-agent "
         ">/dev/null 2>&1 || true\n"
         "stream=" +
         std::string(PartName(part)) +
         "-$(date -u +%Y-%m-%dT%H-%M-%SZ)-$(cat "
         "/var/lib/cloud/data/instance-id 2>/dev/null)\n"
         "touch /var/log/efs2s3.log\n"
         "cat > /etc/efs2s3-logs.json <<EFS2S3_LOGS\n"
         "{\"logs\": {\"force_flush_interval\": 5, \"logs_collected\": "
         "{\"files\": {\"collect_list\": [{\"file_path\": "
         "\"/var/log/efs2s3.log\", \"log_group_name\": \"${LogGroup}\", "
         "\"log_stream_name\": \"$stream\"}]}}}}\n"
         "EFS2S3_LOGS\n"
         "agent=/opt/aws/amazon-cloudwatch-agent/bin/"
         "amazon-cloudwatch-agent-ctl\n"
         "streaming=0\n"
         "$agent -a fetch-config -m ec2 -s -c file:/etc/efs2s3-logs.json "
         ">/dev/null 2>&1 && streaming=1\n"
         "aws s3 cp \"${BinaryUrl}\" /usr/local/bin/efs2s3 && chmod 755 "
         "/usr/local/bin/efs2s3\n"
         "mkdir -p /etc/efs2s3\n"
         "cat > /etc/efs2s3/efs2s3.toml <<'EFS2S3_CONFIG'\n" +
         a.toml + "EFS2S3_CONFIG\n" + metrics + "/usr/local/bin/" +
         JobRunCommand(a, part, "/etc/efs2s3/efs2s3.toml") +
         " >> /var/log/efs2s3.log 2>&1\n"
         "code=$?\n"
         "if [ \"$streaming\" = 1 ]; then\n"
         // The agent sends what it holds every 5 s, and on stop.
         "  sleep 10; $agent -a stop >/dev/null 2>&1 || true\n"
         "else\n"
         "aws logs create-log-stream --region ${AWS::Region} --log-group-name "
         "${LogGroup} --log-stream-name \"$stream\" || true\n"
         "tail -c 200000 /var/log/efs2s3.log | python3 -c 'import "
         "json,sys,time\n"
         "now = int(time.time()*1000)\n"
         "text = sys.stdin.read()\n"
         "emf = [l for l in text.splitlines() if "
         "l.startswith(\"{\\\"_aws\\\"\")]\n"
         "events = [{\"timestamp\": now, \"message\": text or \"(empty)\"}]\n"
         "events += [{\"timestamp\": now, \"message\": l} for l in emf]\n"
         "print(json.dumps(events))' > /tmp/events.json\n"
         "aws logs put-log-events --region ${AWS::Region} --log-group-name "
         "${LogGroup} --log-stream-name \"$stream\" --log-events "
         "file:///tmp/events.json || true\n"
         "fi\n"
         "if [ \"$code\" -ne 0 ]; then\n"
         "  aws sns publish --region ${AWS::Region} --topic-arn "
         "${FailureTopic} "
         "--subject \"efs2s3 job " +
         name + " " + PartName(part) +
         " failed (exit $code)\" --message \"$(tail -c 60000 "
         "/var/log/efs2s3.log)\" || true\n"
         "fi\n";
}

}  // namespace

ojson InstanceProfile(Part part) {
  return {{"Type", "AWS::IAM::InstanceProfile"},
          {"Properties", {{"Roles", {Ref(RoleName(part))}}}}};
}

ojson LaunchTemplate(const AwsJob& a, Part part) {
  return {{"Type", "AWS::EC2::LaunchTemplate"},
          {"Properties",
           {{"LaunchTemplateData",
             {{"ImageId",
               {{"Fn::If",
                 {"HasImageId", Ref("ImageId"),
                  Sub("{{resolve:ssm:/aws/service/ami-amazon-linux-latest/"
                      "al2023-ami-kernel-default-${Architecture}}}")}}}},
              {"InstanceType",
               {{"Fn::If",
                 {"HasInstanceType",
                  Ref("InstanceType"),
                  {{"Fn::If", {"IsArm64", "c7g.large", "c6i.large"}}}}}}},
              {"IamInstanceProfile",
               {{"Arn", GetAtt(InstanceProfileName(part), "Arn")}}},
              {"InstanceInitiatedShutdownBehavior", "terminate"},
              {"SecurityGroupIds", Ref("SecurityGroups")},
              {"MetadataOptions",
               {{"HttpTokens", "required"}, {"HttpEndpoint", "enabled"}}},
              {"TagSpecifications",
               {{{"ResourceType", "instance"},
                 {"Tags",
                  {{{"Key", "Name"},
                    {"Value",
                     "efs2s3-" + a.job.name +
                         (part == Part::kBackup ? "" : "-maintenance")}}}}}}},
              {"UserData", {{"Fn::Base64", ConfigSub(UserData(a, part))}}}}}}}};
}

// NFS from the task or instance (the first of SecurityGroups) to the mount
// targets, when their group is given.
ojson NfsIngress() {
  return {
      {"Type", "AWS::EC2::SecurityGroupIngress"},
      {"Condition", "AddNfsIngress"},
      {"Properties",
       {{"GroupId", Ref("MountTargetSecurityGroup")},
        {"IpProtocol", "tcp"},
        {"FromPort", 2049},
        {"ToPort", 2049},
        {"SourceSecurityGroupId", {{"Fn::Select", {0, Ref("SecurityGroups")}}}},
        {"Description", "efs2s3: NFS from the backup task or instance"}}}};
}

// S3 without a NAT gateway (and without its per-GiB charge): a gateway
// endpoint on the subnets' route tables.
ojson S3Endpoint() {
  return {{"Type", "AWS::EC2::VPCEndpoint"},
          {"Condition", "AddS3Endpoint"},
          {"Properties",
           {{"VpcId", Ref("VpcId")},
            {"ServiceName", Sub("com.amazonaws.${AWS::Region}.s3")},
            {"VpcEndpointType", "Gateway"},
            {"RouteTableIds", Ref("RouteTableIds")}}}};
}

// The image's repository (--create-ecr): scanned on push, the last 20
// images kept; retained with the stack, as the bucket.
ojson ImageRepository() {
  const std::string lifecycle =
      R"({"rules":[{"rulePriority":1,"description":"keep the last 20 images",)"
      R"("selection":{"tagStatus":"any","countType":"imageCountMoreThan",)"
      R"("countNumber":20},"action":{"type":"expire"}}]})";
  return {{"Type", "AWS::ECR::Repository"},
          {"DeletionPolicy", "Retain"},
          {"UpdateReplacePolicy", "Retain"},
          {"Properties",
           {{"ImageScanningConfiguration", {{"ScanOnPush", true}}},
            {"EncryptionConfiguration", {{"EncryptionType", "AES256"}}},
            {"LifecyclePolicy", {{"LifecyclePolicyText", lifecycle}}}}}};
}

ojson Ec2Target(Part part) {
  const std::string lt = LaunchTemplateName(part);
  ojson input = {{"LaunchTemplate",
                  {{"LaunchTemplateId", "${" + lt + "}"},
                   {"Version", "${" + lt + ".LatestVersionNumber}"}}},
                 {"MinCount", 1},
                 {"MaxCount", 1},
                 {"SubnetId", "${SubnetId}"}};
  return {{"Arn", "arn:aws:scheduler:::aws-sdk:ec2:runInstances"},
          {"RoleArn", GetAtt("SchedulerRole", "Arn")},
          {"Input",
           {{"Fn::Sub",
             {input.dump(),
              {{"SubnetId", {{"Fn::Select", {0, Ref("Subnets")}}}}}}}}},
          {"RetryPolicy", {{"MaximumRetryAttempts", 2}}}};
}

// Each schedule retries its target twice, then leaves the error in the
// dead-letter queue (ScheduleFailureAlarm watches it).
ojson ScheduleResource(const AwsJob& a, Part part, ojson target) {
  const bool backup = part == Part::kBackup;
  target["DeadLetterConfig"] = {
      {"Arn", GetAtt("ScheduleDeadLetterQueue", "Arn")}};
  return {
      {"Type", "AWS::Scheduler::Schedule"},
      {"Properties",
       {{"Description",
         "efs2s3 job " + a.job.name + ": " +
             (backup ? "backup"
                     : "maintenance (forget, lock extend, prune, check)")},
        {"ScheduleExpression",
         Ref(backup ? "ScheduleExpression" : "MaintenanceScheduleExpression")},
        {"ScheduleExpressionTimezone", Ref("ScheduleTimezone")},
        {"FlexibleTimeWindow", {{"Mode", "OFF"}}},
        {"State", "ENABLED"},
        {"Target", target}}}};
}

}  // namespace efs2s3::jobs::aws_template
