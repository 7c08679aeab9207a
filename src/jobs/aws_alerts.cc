// The alert path of `generate aws`: every way a run can fail ends at the SNS
// topic FailureTopic.
//
//   task stopped with a non-zero exit code   FailureRule (Fargate), or the
//                                            instance publishes (EC2)
//   task failed to start                     StartFailureRule (Fargate)
//   schedule could not start its target      ScheduleDeadLetterQueue +
//                                            ScheduleFailureAlarm +
//                                            ScheduleFailureAlarmRule
//   no successful backup for AlertAfterHours MissedBackupAlarm on the metric
//                                            the job emits (EFS2S3_METRICS) +
//                                            MissedBackupAlarmRule
//
// The alarms have no AlarmActions: an alarm's own notification is a JSON
// document. Their state changes ("CloudWatch Alarm State Change" events) go
// through a rule each, whose InputTransformer writes the message a person
// reads, as for the stopped tasks; so EventBridge is the only service that
// publishes. It cannot publish to a topic encrypted with the AWS-managed key
// alias/aws/sns: the topic has a key of its own whose policy lets exactly
// EventBridge use it (or no encryption, EncryptFailureTopic).
#include "jobs/aws_template.h"
#include "jobs/metrics.h"

namespace efs2s3::jobs::aws_template {

namespace {

ojson Partition(const std::string& rest) {
  return Sub("arn:${AWS::Partition}:" + rest);
}

}  // namespace

ojson FailureTopicKey() {
  ojson admin = {
      {"Sid", "Administration"},
      {"Effect", "Allow"},
      {"Principal", {{"AWS", Partition("iam::${AWS::AccountId}:root")}}},
      {"Action", "kms:*"},
      {"Resource", "*"}};
  ojson publishers = {{"Sid", "PublishToFailureTopic"},
                      {"Effect", "Allow"},
                      {"Principal", {{"Service", kAlertPublisher}}},
                      {"Action", {"kms:Decrypt", "kms:GenerateDataKey"}},
                      {"Resource", "*"}};
  return {
      {"Type", "AWS::KMS::Key"},
      {"Condition", "EncryptTopic"},
      {"Properties",
       {{"Description",
         Sub("efs2s3 ${AWS::StackName}: encrypts the failure topic")},
        {"EnableKeyRotation", true},
        {"KeyPolicy",
         {{"Version", "2012-10-17"}, {"Statement", {admin, publishers}}}}}}};
}

ojson FailureTopic() {
  return {{"Type", "AWS::SNS::Topic"},
          {"Properties",
           {{"KmsMasterKeyId",
             {{"Fn::If",
               {"EncryptTopic", GetAtt("FailureTopicKey", "Arn"),
                Ref("AWS::NoValue")}}}}}}};
}

ojson FailureSubscription() {
  return {{"Type", "AWS::SNS::Subscription"},
          {"Condition", "HasEmail"},
          {"Properties",
           {{"TopicArn", Ref("FailureTopic")},
            {"Protocol", "email"},
            {"Endpoint", Ref("NotificationEmail")}}}};
}

// Who may publish: the stack's EventBridge rules, each named by its ARN (the
// stopped-task rules on Fargate, the failed-job and failed-run rules on Batch,
// the alarms' rules always). On EC2 the instances publish with their role.
ojson FailureTopicPolicy(const std::vector<std::string>& publishers,
                         bool missed_backup_alarm) {
  ojson rules = ojson::array();
  for (const std::string& rule : publishers)
    rules.push_back(GetAtt(rule.c_str(), "Arn"));
  rules.push_back(GetAtt(kScheduleFailureRoute.rule, "Arn"));
  if (missed_backup_alarm)
    rules.push_back(GetAtt(kMissedBackupRoute.rule, "Arn"));
  ojson statement = {
      {"Sid", "PublishFromRules"},
      {"Effect", "Allow"},
      {"Principal", {{"Service", kAlertPublisher}}},
      {"Action", "sns:Publish"},
      {"Resource", Ref("FailureTopic")},
      {"Condition", {{"ArnEquals", {{"aws:SourceArn", rules}}}}}};
  return {{"Type", "AWS::SNS::TopicPolicy"},
          {"Properties",
           {{"Topics", {Ref("FailureTopic")}},
            {"PolicyDocument",
             {{"Version", "2012-10-17"}, {"Statement", {statement}}}}}}};
}

// The rule's one target: the topic, with the event made into a message a
// person can read (EventBridge InputTransformer; `text` is for Fn::Sub, its
// <name>s are the event's `paths`). The message starts with the job.
ojson ToTopic(const AwsJob& a, const ojson& paths, const std::string& text) {
  const std::string message = "efs2s3 job " + SubEscape(a.job.name) +
                              " (stack ${AWS::StackName}): " + text;
  return {{{"Id", "sns"},
           {"Arn", Ref("FailureTopic")},
           {"InputTransformer",
            {{"InputPathsMap", paths},
             {"InputTemplate", Sub("\"" + message + "\"")}}}}};
}

namespace {

ojson StoppedTaskPattern(const ojson& detail) {
  ojson d = {{"clusterArn", {GetAtt("Cluster", "Arn")}},
             {"lastStatus", {"STOPPED"}}};
  d.update(detail);
  return {{"source", {"aws.ecs"}},
          {"detail-type", {"ECS Task State Change"}},
          {"detail", d}};
}

// A stopped task: what stopped, why, and where its log is.
ojson StoppedTaskToTopic(const AwsJob& a, const std::string& what) {
  const ojson paths = {{"task", "$.detail.taskArn"},
                       {"time", "$.time"},
                       {"exit", "$.detail.containers[0].exitCode"},
                       {"code", "$.detail.stopCode"},
                       {"reason", "$.detail.stoppedReason"}};
  return ToTopic(a, paths,
                 what + " Task <task>, stopped <time>. " + kLogText +
                     " Exit codes: 1 error, 3 completed but some files "
                     "unreadable, 10 no repository, 11 locked, 12 wrong "
                     "password, 130 interrupted.");
}

}  // namespace

// A task that stops with a non-zero exit code is a failed run.
ojson FailureRule(const AwsJob& a) {
  return {{"Type", "AWS::Events::Rule"},
          {"Properties",
           {{"Description", "efs2s3 job failed (non-zero exit code)"},
            {"EventPattern",
             StoppedTaskPattern(
                 {{"containers", {{"exitCode", {{{"anything-but", 0}}}}}}})},
            {"Targets",
             StoppedTaskToTopic(
                 a, "a run failed with exit code <exit> (<reason>).")}}}};
}

// A task that never ran the job: the image could not be pulled, the secret
// not read, the file system not mounted, no network. Its container has no
// exit code, which FailureRule does not match.
ojson StartFailureRule(const AwsJob& a) {
  ojson any = {{{"stopCode", {"TaskFailedToStart"}}},
               {{"stopCode", {"EssentialContainerExited"}},
                {"containers", {{"exitCode", {{{"exists", false}}}}}}}};
  return {{"Type", "AWS::Events::Rule"},
          {"Properties",
           {{"Description", "efs2s3 job task failed to start"},
            {"EventPattern", StoppedTaskPattern({{"$or", any}})},
            {"Targets",
             StoppedTaskToTopic(a,
                                "a run did not start: <code>, <reason> (the "
                                "image, the password's secret, the file "
                                "system mount or the network).")}}}};
}

// Where the schedules put what they could not deliver, after their retries
// (RunTask or RunInstances refused: a missing role, a deleted task
// definition, no capacity, throttling).
ojson DeadLetterQueue() {
  return {{"Type", "AWS::SQS::Queue"},
          {"Properties",
           {{"MessageRetentionPeriod", 1209600},  // 14 days, the maximum
            {"SqsManagedSseEnabled", true}}}};
}

// The scheduler delivers with the schedule's role (SchedulerRole's
// DeadLetter statement); the queue policy names that role too, so that a
// policy added to the queue later cannot shut it out unnoticed.
ojson DeadLetterQueuePolicy() {
  return {{"Type", "AWS::SQS::QueuePolicy"},
          {"Properties",
           {{"Queues", {Ref("ScheduleDeadLetterQueue")}},
            {"PolicyDocument",
             {{"Version", "2012-10-17"},
              {"Statement",
               {{{"Sid", "SchedulerDeadLetters"},
                 {"Effect", "Allow"},
                 {"Principal", {{"AWS", GetAtt("SchedulerRole", "Arn")}}},
                 {"Action", "sqs:SendMessage"},
                 {"Resource", GetAtt("ScheduleDeadLetterQueue", "Arn")}}}}}}}}};
}

ojson DeadLetterAlarm(const AwsJob& a) {
  return {{"Type", "AWS::CloudWatch::Alarm"},
          {"Properties",
           {{"AlarmDescription",
             "efs2s3 job " + a.job.name +
                 ": a schedule could not start its run (the dead-letter queue "
                 "ScheduleDeadLetterQueue holds the error)"},
            {"Namespace", "AWS/SQS"},
            {"MetricName", "ApproximateNumberOfMessagesVisible"},
            {"Dimensions",
             {{{"Name", "QueueName"},
               {"Value", GetAtt("ScheduleDeadLetterQueue", "QueueName")}}}},
            {"Statistic", "Maximum"},
            {"Period", 300},
            {"EvaluationPeriods", 1},
            {"Threshold", 0},
            {"ComparisonOperator", "GreaterThanThreshold"},
            {"TreatMissingData", "notBreaching"}}}};
}

// No BackupSucceeded = 1 in any of the last AlertAfterHours hours (a run
// that never happened sends nothing: missing data is breaching). The job
// emits it with EFS2S3_METRICS=emf and the Stack dimension of
// EFS2S3_METRICS_DIMENSIONS (MetricsEnvironment).
ojson MissedBackupAlarm(const AwsJob& a) {
  return {{"Type", "AWS::CloudWatch::Alarm"},
          {"Properties",
           {{"AlarmDescription",
             "efs2s3 job " + a.job.name +
                 ": no successful backup within AlertAfterHours hours"},
            {"Namespace", kMetricsNamespace},
            {"MetricName", "BackupSucceeded"},
            {"Dimensions",
             {{{"Name", "Job"}, {"Value", a.job.name}},
              {{"Name", "Stack"}, {"Value", Ref("AWS::StackName")}}}},
            {"Statistic", "Maximum"},
            {"Period", 3600},
            {"EvaluationPeriods", Ref("AlertAfterHours")},
            {"DatapointsToAlarm", Ref("AlertAfterHours")},
            {"Threshold", 1},
            {"ComparisonOperator", "LessThanThreshold"},
            {"TreatMissingData", "breaching"}}}};
}

namespace {

// The state changes of one of the stack's alarms (to one of `states`) as a
// message: what the alarm means, its name, new state, time and reason, then
// what to do.
ojson AlarmRule(const AwsJob& a, const AlarmRoute& route,
                const std::vector<std::string>& states,
                const std::string& description, const std::string& meaning,
                const std::string& what_to_do) {
  const ojson paths = {{"alarm", "$.detail.alarmName"},
                       {"state", "$.detail.state.value"},
                       {"reason", "$.detail.state.reason"},
                       {"time", "$.time"}};
  ojson pattern = {{"source", {"aws.cloudwatch"}},
                   {"detail-type", {"CloudWatch Alarm State Change"}},
                   {"resources", {GetAtt(route.alarm, "Arn")}},
                   {"detail", {{"state", {{"value", states}}}}}};
  return {{"Type", "AWS::Events::Rule"},
          {"Properties",
           {{"Description", description},
            {"EventPattern", pattern},
            {"Targets", ToTopic(a, paths,
                                meaning +
                                    " Alarm <alarm> is <state> since <time>. "
                                    "Reason: <reason> " +
                                    what_to_do)}}}};
}

}  // namespace

ojson ScheduleFailureAlarmRule(const AwsJob& a) {
  return AlarmRule(
      a, kScheduleFailureRoute, {"ALARM"},
      "efs2s3 job: a schedule could not start its run (ScheduleFailureAlarm)",
      "a schedule could not start its run after its retries (a deleted task "
      "definition or role, no capacity, throttling).",
      "What to do: read the error of each attempt with aws sqs "
      "receive-message --region ${AWS::Region} --queue-url "
      "${ScheduleDeadLetterQueue} --message-attribute-names All "
      "--max-number-of-messages 10, fix its cause, then empty the queue (aws "
      "sqs purge-queue --region ${AWS::Region} --queue-url "
      "${ScheduleDeadLetterQueue}) to end the alarm.");
}

ojson MissedBackupAlarmRule(const AwsJob& a) {
  return AlarmRule(
      a, kMissedBackupRoute, {"ALARM", "OK"},
      "efs2s3 job: no successful backup within AlertAfterHours hours "
      "(MissedBackupAlarm), and when backups succeed again",
      "ALARM: no backup succeeded in the last ${AlertAfterHours} hours; OK: a "
      "backup succeeded again.",
      std::string(
          "What to do on ALARM: look for the failure alerts of the runs "
          "before this one; none means that no run started: is the stack's "
          "backup schedule enabled (aws scheduler list-schedules --region "
          "${AWS::Region} --name-prefix ${AWS::StackName})? ") +
          kLogText);
}

// The job's metrics (RunMetrics), one graph per kind: whether backups
// succeed, how long they take, bytes, files, errors and requests, the age of
// the newest snapshot; with the missed-backup alarm when there is one.
ojson Dashboard(const AwsJob& a, bool missed_backup_alarm) {
  const std::vector<std::pair<std::string, std::vector<const char*>>> graphs = {
      {"Backup succeeded (1) or failed (0)", {"BackupSucceeded"}},
      {"Backup duration (s)", {"BackupDuration"}},
      {"Bytes read and added", {"BytesRead", "BytesAdded"}},
      {"Files new, changed, unchanged",
       {"FilesNew", "FilesChanged", "FilesUnchanged"}},
      {"Errors and storage requests", {"Errors", "Requests"}},
      {"Age of the newest snapshot (s)", {"SnapshotAge"}}};
  nlohmann::ordered_json widgets = nlohmann::ordered_json::array();
  int n = 0;
  for (const auto& [title, names] : graphs) {
    nlohmann::ordered_json metrics = nlohmann::ordered_json::array();
    for (const char* name : names)
      metrics.push_back({kMetricsNamespace, name, "Job", SubEscape(a.job.name),
                         "Stack", "${AWS::StackName}"});
    nlohmann::ordered_json props = {{"title", title},
                                    {"view", "timeSeries"},
                                    {"region", "${AWS::Region}"},
                                    {"stat", "Maximum"},
                                    {"period", 3600},
                                    {"metrics", metrics}};
    if (missed_backup_alarm && std::string_view(names[0]) == "BackupSucceeded")
      props["annotations"] = {{"alarms", nlohmann::ordered_json::array(
                                             {"${MissedBackupAlarm.Arn}"})}};
    widgets.push_back({{"type", "metric"},
                       {"x", (n % 2) * 12},
                       {"y", (n / 2) * 6},
                       {"width", 12},
                       {"height", 6},
                       {"properties", props}});
    ++n;
  }
  const std::string body = nlohmann::ordered_json{{"widgets", widgets}}.dump();
  return {{"Type", "AWS::CloudWatch::Dashboard"},
          {"Properties",
           {{"DashboardName", Ref("AWS::StackName")},
            {"DashboardBody", Sub(body)}}}};
}

std::vector<std::pair<std::string, std::string>> MetricsEnvironment() {
  return {{"EFS2S3_METRICS", "emf"},
          {"EFS2S3_METRICS_DIMENSIONS", "Stack=${AWS::StackName}"}};
}

}  // namespace efs2s3::jobs::aws_template
