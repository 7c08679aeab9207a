#include "jobs/sns.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "aws/service_endpoint.h"
#include "jobs/config.h"

namespace efs2s3::jobs {
namespace {

TEST(AwsServiceTest, EndpointPrecedenceAndShape) {
  std::map<std::string, std::string> vars;
  aws::Getenv env = [&](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  auto ep = aws::ResolveServiceEndpoint(env, "SNS", "https://sns.eu-west-1.x");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->base, "https://sns.eu-west-1.x");
  EXPECT_EQ(ep->authority, "sns.eu-west-1.x");
  vars["AWS_ENDPOINT_URL"] = "http://all:1/";
  EXPECT_EQ(aws::ResolveServiceEndpoint(env, "SNS", "https://d")->base,
            "http://all:1");
  vars["AWS_ENDPOINT_URL_SNS"] = "http://sns-only:2";
  EXPECT_EQ(aws::ResolveServiceEndpoint(env, "SNS", "https://d")->authority,
            "sns-only:2");
  EXPECT_EQ(aws::ResolveServiceEndpoint(env, "EFS", "https://d")->authority,
            "all:1");
  vars["AWS_ENDPOINT_URL_EFS"] = "http://host/with/path";
  auto bad = aws::ResolveServiceEndpoint(env, "EFS", "https://d");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("EFS endpoint 'http://host/with/path'"),
            std::string::npos);
  vars["AWS_ENDPOINT_URL_EFS"] = "no-scheme";
  EXPECT_FALSE(aws::ResolveServiceEndpoint(env, "EFS", "https://d"));
}

TEST(SnsTest, ParsesTopicArns) {
  auto t = ParseSnsTopicArn("arn:aws:sns:eu-west-1:123456789012:efs2s3-alerts");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->partition, "aws");
  EXPECT_EQ(t->region, "eu-west-1");
  EXPECT_EQ(t->account, "123456789012");
  EXPECT_EQ(t->name, "efs2s3-alerts");
  EXPECT_TRUE(ParseSnsTopicArn("arn:aws-cn:sns:cn-north-1:123456789012:t.fifo")
                  .has_value());
  for (const char* bad :
       {"", "efs2s3-alerts", "arn:aws:sqs:eu-west-1:123456789012:q",
        "arn:aws:sns:eu-west-1:1234:t", "arn:aws:sns::123456789012:t",
        "arn:aws:sns:eu-west-1:123456789012:",
        "arn:aws:sns:eu-west-1:123456789012:a/b"}) {
    auto r = ParseSnsTopicArn(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r.has_value()) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

TEST(SnsTest, ReportMessageHasSubjectAndShortensBigReports) {
  nlohmann::json report = {{"message_type", "job_report"},
                           {"job", "nightly"},
                           {"status", "failed"},
                           {"exit_code", 1},
                           {"steps", nlohmann::json::array()}};
  SnsMessage m =
      SnsReportMessage(report, "arn:aws:sns:eu-west-1:123456789012:t");
  EXPECT_EQ(m.subject, "efs2s3 job nightly: failed (exit 1)");
  EXPECT_EQ(nlohmann::json::parse(m.message), report);
  EXPECT_EQ(m.group_id, "nightly");
  EXPECT_FALSE(m.deduplication_id.empty());

  // 400 error lines of 2 KB: the last 10 are kept, each cut to 1000 bytes.
  nlohmann::json errors = nlohmann::json::array();
  for (int i = 0; i < 400; ++i)
    errors.push_back(std::string(2000, 'a' + i % 26));
  report["steps"].push_back({{"name", "backup"}, {"errors", errors}});
  m = SnsReportMessage(report, "arn:aws:sns:eu-west-1:123456789012:t");
  ASSERT_LE(m.message.size(), kSnsMaxMessageBytes);
  auto j = nlohmann::json::parse(m.message);
  ASSERT_EQ(j["steps"][0]["errors"].size(), 10u);
  EXPECT_EQ(j["steps"][0]["errors"][9].get<std::string>().size(), 1003u);

  // Too many steps even then: a summary that says where the report is.
  for (int i = 0; i < 2000; ++i)
    report["steps"].push_back(
        {{"name", "post-hook"}, {"command", std::string(200, 'x')}});
  m = SnsReportMessage(report, "arn:aws:sns:eu-west-1:123456789012:t");
  ASSERT_LE(m.message.size(), kSnsMaxMessageBytes);
  j = nlohmann::json::parse(m.message);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_FALSE(j.contains("steps"));
  EXPECT_NE(j["note"].get<std::string>().find("state directory"),
            std::string::npos);
}

TEST(SnsTest, ConfigValidatesTheTopicAndWhen) {
  const std::string head = R"(state_dir = "state"
[jobs.a]
repository = "/r"
source = { paths = ["/data"] }
[jobs.a.report]
)";
  auto ok =
      ParseConfig(head +
                      "sns_topic = \"arn:aws:sns:eu-west-1:123456789012:t\"\n"
                      "sns_when = \"problems\"\n",
                  "f.toml");
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->jobs[0].report_sns_topic,
            "arn:aws:sns:eu-west-1:123456789012:t");
  EXPECT_TRUE(ok->jobs[0].report_sns_problems_only);

  auto bad = ParseConfig(head + "sns_topic = \"my-topic\"\n", "f.toml");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("f.toml:6:13: jobs.a.report.sns_topic: "
                                     "'my-topic' is not an SNS topic ARN"),
            std::string::npos)
      << bad.error().message;
  bad = ParseConfig(head +
                        "sns_topic = \"arn:aws:sns:eu-west-1:123456789012:t\"\n"
                        "sns_when = \"failure\"\n",
                    "f.toml");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find(
                "jobs.a.report.sns_when: must be \"always\" or \"problems\""),
            std::string::npos)
      << bad.error().message;
}

}  // namespace
}  // namespace efs2s3::jobs
