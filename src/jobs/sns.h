// Publishing job reports to an Amazon SNS topic.
//
// SnsPublish sends one Publish request of the SNS Query API (POST of a form,
// signed with SigV4, service "sns") with the credentials chain of the S3
// backend (docs/S3.md). The region and partition come from the topic's ARN;
// AWS_ENDPOINT_URL_SNS, else AWS_ENDPOINT_URL, overrides the endpoint
// https://sns.REGION.amazonaws.com (amazonaws.com.cn in the aws-cn partition).
// FIFO topics (".fifo") get the job's name as message group and a
// deduplication ID.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "aws/credentials.h"
#include "base/result.h"

namespace efs2s3::jobs {

struct SnsTopic {
  std::string partition;  // "aws", "aws-cn", "aws-us-gov"
  std::string region;
  std::string account;
  std::string name;
};

// Parses "arn:PARTITION:sns:REGION:ACCOUNT:NAME"; kInvalidArgument otherwise.
Result<SnsTopic> ParseSnsTopicArn(const std::string& arn);

struct SnsMessage {
  std::string topic_arn;
  std::string subject;  // made printable ASCII and cut to 100 characters
  std::string message;  // at most kSnsMaxMessageBytes
  std::string group_id, deduplication_id;  // FIFO topics only
};

inline constexpr size_t kSnsMaxMessageBytes = 256 * 1024;

// Publishes; returns the MessageId. kPermission for 403 / AuthorizationError,
// kNotFound for a missing topic, kTransient after 3 attempts at 5xx or
// transport errors.
Result<std::string> SnsPublish(const SnsMessage& m, const aws::Getenv& env);

// The SNS message for a job report: the report as indented JSON, shortened
// (step errors cut, then a summary) when it would exceed the SNS limit; the
// subject "efs2s3 job NAME: STATUS (exit N)".
SnsMessage SnsReportMessage(const nlohmann::json& report,
                            const std::string& topic_arn);

}  // namespace efs2s3::jobs
