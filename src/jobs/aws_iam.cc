// The IAM roles of `generate aws` and the statements they grant, each
// statement a function named after its Sid. Least privilege: the repository
// prefix, the KMS key, the file system; the backup role deletes nothing (a
// stolen backup credential cannot remove history), only the maintenance role
// deletes, and neither may bypass an Object Lock retention.
#include "jobs/aws_template.h"

namespace efs2s3::jobs::aws_template {

namespace {

ojson AssumeRolePolicy(const char* service) {
  return {{"Version", "2012-10-17"},
          {"Statement",
           {{{"Effect", "Allow"},
             {"Principal", {{"Service", service}}},
             {"Action", "sts:AssumeRole"}}}}};
}

// One inline policy, as an element of a role's Policies.
ojson Policy(const char* name, const ojson& statements) {
  return {{"PolicyName", name},
          {"PolicyDocument",
           {{"Version", "2012-10-17"}, {"Statement", statements}}}};
}

ojson Arn(const std::string& rest) {
  return Sub("arn:${AWS::Partition}:" + rest);
}

ojson RepositoryObjects(const AwsJob& a) {
  return Arn("s3:::${BucketName}/" + SubEscape(a.prefix) + "/*");
}

ojson Ec2Arn(const std::string& resource) {
  return Arn("ec2:${AWS::Region}:${AWS::AccountId}:" + resource);
}

ojson WithoutSid(ojson statement) {
  statement.erase("Sid");
  return statement;
}

}  // namespace

namespace iam {

ojson ListRepository(const AwsJob& a) {
  return {{"Sid", "ListRepository"},
          {"Effect", "Allow"},
          {"Action", {"s3:ListBucket", "s3:ListBucketMultipartUploads"}},
          {"Resource", Arn("s3:::${BucketName}")},
          {"Condition",
           {{"StringLike", {{"s3:prefix", {a.prefix + "/*", a.prefix}}}}}}};
}

// forget, prune and lock extend look at every version of the repository's
// objects on a versioned (Object Lock) bucket.
ojson ListRepositoryVersions(const AwsJob& a) {
  ojson s = ListRepository(a);
  s["Sid"] = "ListRepositoryVersions";
  s["Action"] = {"s3:ListBucketVersions"};
  return s;
}

// The backup's: new objects and what it reads back; no delete of any kind.
// Aborting an unfinished multipart upload of its own removes no object.
ojson WriteRepository(const AwsJob& a) {
  return {
      {"Sid", "WriteRepository"},
      {"Effect", "Allow"},
      {"Action", {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}},
      {"Resource", RepositoryObjects(a)}};
}

// The backup's, on a repository with Object Lock: AWS checks
// s3:PutObjectRetention on a PUT that carries a retention. It cannot shorten
// or remove one (that needs s3:BypassGovernanceRetention); what it could do,
// lengthen retentions, is capped at the job's lock period when it names one.
ojson SetRetentionOnWrite(const AwsJob& a) {
  ojson s = {{"Sid", "SetRetentionOnWrite"},
             {"Effect", "Allow"},
             {"Action", {"s3:PutObjectRetention"}},
             {"Resource", RepositoryObjects(a)}};
  if (a.job.lock_extend.lock_days > 0)
    s["Condition"] = {{"NumericLessThanEquals",
                       {{"s3:object-lock-remaining-retention-days",
                         a.job.lock_extend.lock_days}}}};
  return s;
}

// The maintenance's: forget and prune delete snapshots, packs, indexes and
// locks.
ojson MaintainRepository(const AwsJob& a) {
  return {{"Sid", "MaintainRepository"},
          {"Effect", "Allow"},
          {"Action",
           {"s3:GetObject", "s3:PutObject", "s3:DeleteObject",
            "s3:AbortMultipartUpload"}},
          {"Resource", RepositoryObjects(a)}};
}

// Noncurrent versions: read (check) and removed once their retention ended.
ojson RepositoryVersions(const AwsJob& a) {
  return {{"Sid", "RepositoryVersions"},
          {"Effect", "Allow"},
          {"Action", {"s3:GetObjectVersion", "s3:DeleteObjectVersion"}},
          {"Resource", RepositoryObjects(a)}};
}

// lock extend: reads and extends retentions. Without
// s3:BypassGovernanceRetention it cannot shorten or remove one, even in
// governance mode.
ojson RepositoryRetention(const AwsJob& a) {
  return {{"Sid", "RepositoryRetention"},
          {"Effect", "Allow"},
          {"Action", {"s3:GetObjectRetention", "s3:PutObjectRetention"}},
          {"Resource", RepositoryObjects(a)}};
}

// The merge of a sharded backup's: it removes the workers' partial
// snapshots once the merged one is saved, and nothing else.
ojson RemoveShardSnapshots(const AwsJob& a) {
  return {{"Sid", "RemoveShardSnapshots"},
          {"Effect", "Allow"},
          {"Action", {"s3:DeleteObject"}},
          {"Resource",
           Arn("s3:::${BucketName}/" + SubEscape(a.prefix) + "/snapshots/*")}};
}

ojson ReadRepository(const AwsJob& a) {
  return {{"Sid", "ReadRepository"},
          {"Effect", "Allow"},
          {"Action", {"s3:GetObject"}},
          {"Resource", RepositoryObjects(a)}};
}

ojson RepositoryLocks(const AwsJob& a) {
  return {{"Sid", "RepositoryLocks"},
          {"Effect", "Allow"},
          {"Action", {"s3:PutObject", "s3:DeleteObject"}},
          {"Resource",
           Arn("s3:::${BucketName}/" + SubEscape(a.prefix) + "/locks/*")}};
}

ojson MountFileSystem() {
  return {
      {"Sid", "MountFileSystem"},
      {"Effect", "Allow"},
      {"Action",
       {"elasticfilesystem:ClientMount", "elasticfilesystem:ClientRootAccess"}},
      {"Resource", Arn("elasticfilesystem:${AWS::Region}:${AWS::AccountId}:"
                       "file-system/${FileSystemId}")},
      {"Condition",
       {{"StringEquals",
         {{"elasticfilesystem:AccessPointArn",
           GetAtt("AccessPoint", "Arn")}}}}}};
}

ojson MountFileSystemReadWrite() {
  ojson s = MountFileSystem();
  s["Sid"] = "MountFileSystemReadWrite";
  s["Action"] = {"elasticfilesystem:ClientMount",
                 "elasticfilesystem:ClientWrite",
                 "elasticfilesystem:ClientRootAccess"};
  return s;
}

ojson RepositoryKey() {
  return {{"Fn::If",
           {"HasKms",
            {{"Sid", "RepositoryKey"},
             {"Effect", "Allow"},
             {"Action", {"kms:GenerateDataKey", "kms:Decrypt"}},
             {"Resource", Ref("KmsKeyArn")}},
            Ref("AWS::NoValue")}}};
}

// The password's secret or SSM parameter (PasswordSecretArn is either).
ojson RepositoryPassword() {
  return {{"Sid", "RepositoryPassword"},
          {"Effect", "Allow"},
          {"Action",
           {"secretsmanager:GetSecretValue", "ssm:GetParameter",
            "ssm:GetParameters"}},
          {"Resource", Ref("PasswordSecretArn")}};
}

// A password encrypted with a customer-managed key needs that key.
ojson PasswordKey() {
  return {{"Fn::If",
           {"HasPasswordKey",
            {{"Sid", "PasswordKey"},
             {"Effect", "Allow"},
             {"Action", {"kms:Decrypt"}},
             {"Resource", Ref("PasswordKmsKeyArn")}},
            Ref("AWS::NoValue")}}};
}

ojson Binary() {
  // The binary's object: arn:<partition>:s3:::<bucket/key of BinaryUrl>.
  ojson split = {{"Fn::Split", ojson::array({"s3://", Ref("BinaryUrl")})}};
  ojson key = {{"Fn::Select", ojson::array({1, split})}};
  ojson binary_arn = {
      {"Fn::Join",
       ojson::array({"", ojson::array({"arn:", Ref("AWS::Partition"),
                                       ":s3:::", key})})}};
  return {{"Sid", "Binary"},
          {"Effect", "Allow"},
          {"Action", {"s3:GetObject"}},
          {"Resource", binary_arn}};
}

ojson Logs() {
  return {{"Sid", "Logs"},
          {"Effect", "Allow"},
          {"Action",
           {"logs:CreateLogStream", "logs:PutLogEvents",
            "logs:DescribeLogStreams"}},
          {"Resource", Sub("${LogGroup.Arn}")}};
}

ojson NotifyFailure() {
  return {{"Sid", "NotifyFailure"},
          {"Effect", "Allow"},
          {"Action", {"sns:Publish"}},
          {"Resource", Ref("FailureTopic")}};
}

// On EC2 the instance publishes to the topic itself: with an encrypted topic
// that needs the topic's key.
ojson FailureTopicKey() {
  return {{"Fn::If",
           {"EncryptTopic",
            {{"Sid", "FailureTopicKey"},
             {"Effect", "Allow"},
             {"Action", {"kms:GenerateDataKey", "kms:Decrypt"}},
             {"Resource", GetAtt("FailureTopicKey", "Arn")}},
            Ref("AWS::NoValue")}}};
}

ojson DeadLetter() {
  return {{"Sid", "DeadLetter"},
          {"Effect", "Allow"},
          {"Action", {"sqs:SendMessage"}},
          {"Resource", GetAtt("ScheduleDeadLetterQueue", "Arn")}};
}

ojson RunTask() {
  return {{"Effect", "Allow"},
          {"Action", {"ecs:RunTask"}},
          {"Resource",
           {Ref(TaskDefinitionName(Part::kBackup)),
            Ref(TaskDefinitionName(Part::kMaintenance))}},
          {"Condition",
           {{"ArnLike", {{"ecs:cluster", GetAtt("Cluster", "Arn")}}}}}};
}

ojson PassRoleToEcsTasks() {
  return {{"Effect", "Allow"},
          {"Action", {"iam:PassRole"}},
          {"Resource",
           {GetAtt(RoleName(Part::kBackup), "Arn"),
            GetAtt(RoleName(Part::kMaintenance), "Arn"),
            GetAtt("ExecutionRole", "Arn")}},
          {"Condition",
           {{"StringEquals",
             {{"iam:PassedToService", "ecs-tasks.amazonaws.com"}}}}}};
}

// The scheduler's (--shards): start the backup's state machine and submit
// the maintenance job.
ojson StartBackupRun() {
  return {{"Effect", "Allow"},
          {"Action", {"states:StartExecution"}},
          {"Resource", Ref("StateMachine")}};
}

ojson SubmitJobs(const std::vector<const char*>& job_definitions) {
  ojson resources = ojson::array({Ref("JobQueue")});
  for (const char* d : job_definitions) resources.push_back(Ref(d));
  return {{"Effect", "Allow"},
          {"Action", {"batch:SubmitJob"}},
          {"Resource", resources}};
}

// The state machine's batch:submitJob.sync: it follows its jobs through a
// rule Step Functions manages, and stops them when the execution stops.
ojson FollowJobs() {
  return {{"Effect", "Allow"},
          {"Action", {"batch:DescribeJobs"}},
          // DescribeJobs has no resource-level permissions.
          {"Resource", "*"}};
}

ojson StopJobs() {
  return {{"Effect", "Allow"},
          {"Action", {"batch:TerminateJob"}},
          {"Resource", Arn("batch:${AWS::Region}:${AWS::AccountId}:job/*")}};
}

ojson SyncRule() {
  return {{"Effect", "Allow"},
          {"Action",
           {"events:PutTargets", "events:PutRule", "events:DescribeRule"}},
          {"Resource", Arn("events:${AWS::Region}:${AWS::AccountId}:rule/"
                           "StepFunctionsGetEventsForBatchJobsRule")}};
}

ojson RunInstances() {
  return {{"Effect", "Allow"},
          {"Action", {"ec2:RunInstances"}},
          {"Resource",
           {Ec2Arn(std::string("launch-template/${") +
                   LaunchTemplateName(Part::kBackup) + "}"),
            Ec2Arn(std::string("launch-template/${") +
                   LaunchTemplateName(Part::kMaintenance) + "}"),
            Ec2Arn("instance/*"), Ec2Arn("volume/*"),
            Ec2Arn("network-interface/*"), Ec2Arn("subnet/*"),
            Ec2Arn("security-group/*"), Arn("ec2:${AWS::Region}::image/*")}}};
}

ojson TagNewInstances() {
  return {{"Effect", "Allow"},
          {"Action", {"ec2:CreateTags"}},
          {"Resource", {Ec2Arn("instance/*"), Ec2Arn("volume/*")}},
          {"Condition",
           {{"StringEquals", {{"ec2:CreateAction", "RunInstances"}}}}}};
}

ojson PassRoleToEc2() {
  return {{"Effect", "Allow"},
          {"Action", {"iam:PassRole"}},
          {"Resource",
           {GetAtt(RoleName(Part::kBackup), "Arn"),
            GetAtt(RoleName(Part::kMaintenance), "Arn")}},
          {"Condition",
           {{"StringEquals", {{"iam:PassedToService", "ec2.amazonaws.com"}}}}}};
}

}  // namespace iam

namespace {

// A role of one of the job's parts: its statements, and on EC2 what the
// instance itself does (password, binary, logs, failure notice and the
// topic's key).
ojson PartRole(const AwsJob& a, const char* description, const char* policy,
               ojson statements) {
  if (a.o.ec2) {
    for (ojson s :
         {iam::RepositoryPassword(), iam::PasswordKey(), iam::Binary(),
          iam::Logs(), iam::NotifyFailure(), iam::FailureTopicKey()})
      statements.push_back(std::move(s));
  }
  const char* principal =
      a.o.ec2 ? "ec2.amazonaws.com" : "ecs-tasks.amazonaws.com";
  return {{"Type", "AWS::IAM::Role"},
          {"Properties",
           {{"Description", description},
            {"AssumeRolePolicyDocument", AssumeRolePolicy(principal)},
            {"Policies", ojson::array({Policy(policy, statements)})}}}};
}

}  // namespace

ojson BackupRole(const AwsJob& a) {
  return PartRole(
      a, "efs2s3 backup: writes the repository prefix, deletes nothing",
      "efs2s3-backup",
      ojson::array({iam::ListRepository(a), iam::WriteRepository(a),
                    iam::SetRetentionOnWrite(a), iam::MountFileSystem(),
                    iam::RepositoryKey()}));
}

ojson MaintenanceRole(const AwsJob& a) {
  return PartRole(
      a,
      "efs2s3 maintenance: forget, lock extend, prune, check in the "
      "repository prefix; cannot bypass retention",
      "efs2s3-maintenance",
      ojson::array({iam::ListRepository(a), iam::ListRepositoryVersions(a),
                    iam::MaintainRepository(a), iam::RepositoryVersions(a),
                    iam::RepositoryRetention(a), iam::RepositoryKey()}));
}

// The merge of a sharded backup: the backup's rights, and the removal of
// the workers' partial snapshots.
ojson MergeRole(const AwsJob& a) {
  return PartRole(
      a,
      "efs2s3 merge: writes the repository prefix, deletes only the "
      "workers' partial snapshots",
      "efs2s3-merge",
      ojson::array({iam::ListRepository(a), iam::WriteRepository(a),
                    iam::SetRetentionOnWrite(a), iam::RemoveShardSnapshots(a),
                    iam::MountFileSystem(), iam::RepositoryKey()}));
}

ojson StateMachineRole() {
  ojson statements = ojson::array(
      {iam::SubmitJobs({"ShardJobDefinition", "MergeJobDefinition"}),
       iam::FollowJobs(), iam::StopJobs(), iam::SyncRule()});
  return {
      {"Type", "AWS::IAM::Role"},
      {"Properties",
       {{"Description",
         "efs2s3 sharded backup: submits the workers and the merge"},
        {"AssumeRolePolicyDocument", AssumeRolePolicy("states.amazonaws.com")},
        {"Policies",
         ojson::array({Policy("efs2s3-run-backup", statements)})}}}};
}

ojson ExecutionRole() {
  return {
      {"Type", "AWS::IAM::Role"},
      {"Properties",
       {{"AssumeRolePolicyDocument",
         AssumeRolePolicy("ecs-tasks.amazonaws.com")},
        {"ManagedPolicyArns",
         {Arn("iam::aws:policy/service-role/"
              "AmazonECSTaskExecutionRolePolicy")}},
        {"Policies", ojson::array({Policy(
                         "efs2s3-password",
                         ojson::array({WithoutSid(iam::RepositoryPassword()),
                                       iam::PasswordKey()}))})}}}};
}

// Restores: reads the repository and may only write its locks.
ojson RestoreRole(const AwsJob& a) {
  ojson statements = ojson::array(
      {iam::ListRepository(a), iam::ReadRepository(a), iam::RepositoryLocks(a),
       iam::MountFileSystemReadWrite(), iam::RepositoryKey()});
  return {
      {"Type", "AWS::IAM::Role"},
      {"Properties",
       {{"Description",
         "efs2s3 restore: reads the repository, writes the file system"},
        {"AssumeRolePolicyDocument",
         AssumeRolePolicy("ecs-tasks.amazonaws.com")},
        {"Policies", ojson::array({Policy("efs2s3-restore", statements)})}}}};
}

ojson SchedulerRole(const ojson& statements) {
  ojson assume = AssumeRolePolicy("scheduler.amazonaws.com");
  assume["Statement"][0]["Condition"] = {
      {"StringEquals", {{"aws:SourceAccount", Ref("AWS::AccountId")}}}};
  return {
      {"Type", "AWS::IAM::Role"},
      {"Properties",
       {{"AssumeRolePolicyDocument", assume},
        {"Policies", ojson::array({Policy("efs2s3-start-job", statements)})}}}};
}

}  // namespace efs2s3::jobs::aws_template
