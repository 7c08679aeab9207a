#include "jobs/sns.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "aws/http.h"
#include "aws/query_xml.h"
#include "aws/service_endpoint.h"
#include "aws/sigv4.h"

namespace efs2s3::jobs {

namespace {

// The MessageId of a Publish answer, or why there is none (kTransient: the
// call may be tried again).
Result<std::string> ReadPublishAnswer(const aws::HttpResponse& resp,
                                      const std::string& what) {
  if (resp.status == 200) {
    auto id = aws::ParseSnsPublish(resp.body);
    if (!id)
      return MakeError(id.error().code, what + ": " + id.error().message);
    return id;
  }
  aws::QueryError e =
      aws::ParseQueryError(resp.body).value_or(aws::QueryError{});
  std::string detail = fmt::format("{}: {}{}(HTTP {}{})", what, e.message,
                                   e.message.empty() ? "" : " ", resp.status,
                                   e.code.empty() ? "" : " " + e.code);
  if (resp.status >= 500 || e.code == "Throttling" ||
      e.code == "ThrottledException")
    return MakeError(ErrorCode::kTransient, detail);
  ErrorCode ec = (resp.status == 403 || e.code == "AuthorizationError")
                     ? ErrorCode::kPermission
                 : (resp.status == 404 || e.code == "NotFound")
                     ? ErrorCode::kNotFound
                     : ErrorCode::kInvalidArgument;
  return MakeError(ec, detail);
}

// SNS subjects: ASCII, printable, no line breaks, at most 100 characters.
std::string CleanSubject(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (out.size() == 100) break;
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

}  // namespace

Result<SnsTopic> ParseSnsTopicArn(const std::string& arn) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + arn + "' is not an SNS topic ARN: " + why);
  };
  std::vector<std::string> parts;
  size_t pos = 0;
  for (int i = 0; i < 5; ++i) {
    size_t c = arn.find(':', pos);
    if (c == std::string::npos)
      return bad("arn:PARTITION:sns:REGION:ACCOUNT:NAME");
    parts.push_back(arn.substr(pos, c - pos));
    pos = c + 1;
  }
  parts.push_back(arn.substr(pos));
  if (parts[0] != "arn" || parts[1].rfind("aws", 0) != 0 || parts[2] != "sns")
    return bad("arn:PARTITION:sns:REGION:ACCOUNT:NAME");
  if (parts[3].empty() ||
      parts[3].find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
          std::string::npos)
    return bad("no region");
  if (parts[4].size() != 12 ||
      parts[4].find_first_not_of("0123456789") != std::string::npos)
    return bad("the account is 12 digits");
  const std::string& n = parts[5];
  std::string base = n;
  if (base.size() > 5 && base.ends_with(".fifo")) base.resize(base.size() - 5);
  if (base.empty() || n.size() > 256 ||
      base.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
                             "WXYZ0123456789-_") != std::string::npos)
    return bad("topic names are letters, digits, '-' and '_'");
  return SnsTopic{parts[1], parts[3], parts[4], n};
}

Result<std::string> SnsPublish(const SnsMessage& m, const aws::Getenv& env) {
  ASSIGN_OR_RETURN(SnsTopic topic, ParseSnsTopicArn(m.topic_arn));
  ASSIGN_OR_RETURN(
      aws::ServiceEndpoint ep,
      aws::ResolveServiceEndpoint(
          env, "SNS",
          fmt::format("https://sns.{}.amazonaws.com{}", topic.region,
                      topic.partition == "aws-cn" ? ".cn" : "")));

  std::vector<std::pair<std::string, std::string>> form = {
      {"Action", "Publish"},
      {"Version", "2010-03-31"},
      {"TopicArn", m.topic_arn},
      {"Message", m.message}};
  if (!m.subject.empty()) form.emplace_back("Subject", CleanSubject(m.subject));
  if (topic.name.ends_with(".fifo")) {
    form.emplace_back("MessageGroupId", m.group_id);
    form.emplace_back("MessageDeduplicationId", m.deduplication_id);
  }
  std::string body;
  for (const auto& [k, v] : form) {
    if (!body.empty()) body += '&';
    body += aws::UriEncode(k, false) + "=" + aws::UriEncode(v, false);
  }

  auto provider = aws::NewDefaultCredentialsChain(env);
  ASSIGN_OR_RETURN(aws::Credentials creds, provider->Get());
  const std::string what = "SNS Publish to " + m.topic_arn;
  aws::HttpOptions opts;
  opts.max_in_flight = 1;
  opts.total_timeout = std::chrono::milliseconds(30000);
  aws::HttpClient http(opts);
  Error last = MakeError(ErrorCode::kTransient, what);
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt)
      std::this_thread::sleep_for(std::chrono::milliseconds(500 << attempt));
    aws::ServiceCall call;
    call.method = "POST";
    call.headers = {
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    call.body = AsBytes(body);
    call.service = "sns";
    call.region = topic.region;
    call.what = what;
    aws::HttpRequest req = aws::SignServiceCall(ep, call, creds);
    Result<aws::HttpResponse> resp = http.Do(req);
    if (!resp) {
      last = resp.error();
      if (last.code == ErrorCode::kTransient) continue;
      return last;
    }
    auto id = ReadPublishAnswer(*resp, what);
    if (id || id.error().code != ErrorCode::kTransient) return id;
    last = id.error();
  }
  return last;
}

SnsMessage SnsReportMessage(const nlohmann::json& report,
                            const std::string& topic_arn) {
  SnsMessage m;
  m.topic_arn = topic_arn;
  std::string job = report.value("job", "");
  m.subject =
      fmt::format("efs2s3 job {}: {} (exit {})", job,
                  report.value("status", ""), report.value("exit_code", 0));
  m.group_id = job.empty() ? "efs2s3" : job;
  m.deduplication_id = aws::Sha256Hex(AsBytes(report.dump()));
  m.message = report.dump(2);
  if (m.message.size() <= kSnsMaxMessageBytes) return m;
  // Too big: keep the last lines of each step's errors, then only a summary.
  nlohmann::json shorter = report;
  if (shorter.contains("steps") && shorter["steps"].is_array()) {
    for (auto& s : shorter["steps"]) {
      if (!s.contains("errors") || !s["errors"].is_array()) continue;
      auto& e = s["errors"];
      if (e.size() > 10) {
        nlohmann::json tail = nlohmann::json::array();
        for (size_t i = e.size() - 10; i < e.size(); ++i) tail.push_back(e[i]);
        e = tail;
      }
      for (auto& line : e)
        if (line.is_string() && line.get<std::string>().size() > 1000)
          line = line.get<std::string>().substr(0, 1000) + "...";
    }
  }
  m.message = shorter.dump();
  if (m.message.size() <= kSnsMaxMessageBytes) return m;
  nlohmann::json summary = nlohmann::json::object();
  for (const char* k :
       {"message_type", "job", "repository", "host", "status", "exit_code",
        "snapshot_id", "started", "finished", "duration_seconds"})
    if (report.contains(k)) summary[k] = report[k];
  summary["note"] =
      "the whole report exceeds the SNS message limit; it is in the job's "
      "state directory (efs2s3 job status)";
  m.message = summary.dump(2);
  return m;
}

}  // namespace efs2s3::jobs
