// The IAM roles of `generate aws` and the statements they grant, each
// statement a function named after its Sid. Least privilege: the repository
// prefix, the KMS key, the file system.
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

ojson Ec2Arn(const char* resource) {
  return Arn(std::string("ec2:${AWS::Region}:${AWS::AccountId}:") + resource);
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

ojson ReadWriteRepository(const AwsJob& a) {
  return {{"Sid", "ReadWriteRepository"},
          {"Effect", "Allow"},
          {"Action",
           {"s3:GetObject", "s3:PutObject", "s3:DeleteObject",
            "s3:AbortMultipartUpload"}},
          {"Resource", RepositoryObjects(a)}};
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

ojson RepositoryPassword() {
  return {{"Sid", "RepositoryPassword"},
          {"Effect", "Allow"},
          {"Action", {"secretsmanager:GetSecretValue"}},
          {"Resource", Ref("PasswordSecretArn")}};
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
          {"Action", {"logs:CreateLogStream", "logs:PutLogEvents"}},
          {"Resource", Sub("${LogGroup.Arn}")}};
}

ojson NotifyFailure() {
  return {{"Sid", "NotifyFailure"},
          {"Effect", "Allow"},
          {"Action", {"sns:Publish"}},
          {"Resource", Ref("FailureTopic")}};
}

ojson RunTask() {
  return {{"Effect", "Allow"},
          {"Action", {"ecs:RunTask"}},
          {"Resource", {Ref("TaskDefinition")}},
          {"Condition",
           {{"ArnLike", {{"ecs:cluster", GetAtt("Cluster", "Arn")}}}}}};
}

ojson PassRoleToEcsTasks() {
  return {
      {"Effect", "Allow"},
      {"Action", {"iam:PassRole"}},
      {"Resource", {GetAtt("JobRole", "Arn"), GetAtt("ExecutionRole", "Arn")}},
      {"Condition",
       {{"StringEquals",
         {{"iam:PassedToService", "ecs-tasks.amazonaws.com"}}}}}};
}

ojson RunInstances() {
  return {
      {"Effect", "Allow"},
      {"Action", {"ec2:RunInstances"}},
      {"Resource",
       {Ec2Arn("launch-template/${LaunchTemplate}"), Ec2Arn("instance/*"),
        Ec2Arn("volume/*"), Ec2Arn("network-interface/*"), Ec2Arn("subnet/*"),
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
          {"Resource", {GetAtt("JobRole", "Arn")}},
          {"Condition",
           {{"StringEquals", {{"iam:PassedToService", "ec2.amazonaws.com"}}}}}};
}

}  // namespace iam

ojson JobRole(const AwsJob& a) {
  ojson statements =
      ojson::array({iam::ListRepository(a), iam::ReadWriteRepository(a),
                    iam::MountFileSystem(), iam::RepositoryKey()});
  if (a.o.ec2) {
    for (ojson s : {iam::RepositoryPassword(), iam::Binary(), iam::Logs(),
                    iam::NotifyFailure()})
      statements.push_back(std::move(s));
  }
  const char* principal =
      a.o.ec2 ? "ec2.amazonaws.com" : "ecs-tasks.amazonaws.com";
  return {{"Type", "AWS::IAM::Role"},
          {"Properties",
           {{"Description",
             "efs2s3 job: the repository prefix and the file system only"},
            {"AssumeRolePolicyDocument", AssumeRolePolicy(principal)},
            {"Policies",
             ojson::array({Policy("efs2s3-repository", statements)})}}}};
}

ojson ExecutionRole() {
  return {{"Type", "AWS::IAM::Role"},
          {"Properties",
           {{"AssumeRolePolicyDocument",
             AssumeRolePolicy("ecs-tasks.amazonaws.com")},
            {"ManagedPolicyArns",
             {Arn("iam::aws:policy/service-role/"
                  "AmazonECSTaskExecutionRolePolicy")}},
            {"Policies",
             ojson::array({Policy(
                 "efs2s3-password",
                 ojson::array({WithoutSid(iam::RepositoryPassword())}))})}}}};
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
