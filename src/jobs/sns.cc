#include "jobs/sns.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "aws/http.h"
#include "aws/service_endpoint.h"
#include "aws/sigv4.h"

namespace efs2s3::jobs {

namespace {

// The text of the first <tag>...</tag> in `xml`, entities decoded; "" if
// absent.
std::string XmlText(const std::string& xml, const std::string& tag) {
  size_t b = xml.find("<" + tag + ">");
  if (b == std::string::npos) return "";
  b += tag.size() + 2;
  size_t e = xml.find("</" + tag + ">", b);
  if (e == std::string::npos) return "";
  std::string raw = xml.substr(b, e - b), out;
  static const std::pair<const char*, char> kEntities[] = {{"&amp;", '&'},
                                                           {"&lt;", '<'},
                                                           {"&gt;", '>'},
                                                           {"&quot;", '"'},
                                                           {"&apos;", '\''}};
  for (size_t i = 0; i < raw.size(); ++i) {
    bool done = false;
    if (raw[i] == '&') {
      for (const auto& [name, c] : kEntities) {
        if (raw.compare(i, std::string_view(name).size(), name) == 0) {
          out += c;
          i += std::string_view(name).size() - 1;
          done = true;
          break;
        }
      }
    }
    if (!done) out += raw[i];
  }
  return out;
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
    long long now = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    aws::SigningRequest sreq;
    sreq.method = "POST";
    sreq.path = "/";
    sreq.payload_hash = aws::Sha256Hex(AsBytes(body));
    sreq.headers = {
        {"Host", ep.authority},
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"x-amz-date", aws::AmzDate(now)}};
    if (!creds.session_token.empty())
      sreq.headers.emplace_back("x-amz-security-token", creds.session_token);
    aws::Signature sig =
        aws::Sign(sreq, {creds.access_key_id, creds.secret_access_key},
                  {topic.region, "sns", aws::AmzDate(now)},
                  /*normalize_path=*/true);
    aws::HttpRequest req{"POST", ep.base + "/", sreq.headers, AsBytes(body),
                         what};
    req.headers.emplace_back("Authorization", sig.authorization);
    Result<aws::HttpResponse> resp = http.Do(req);
    if (!resp) {
      last = resp.error();
      if (last.code == ErrorCode::kTransient) continue;
      return last;
    }
    std::string text(AsString(resp->body));
    if (resp->status == 200) {
      std::string id = XmlText(text, "MessageId");
      if (id.empty())
        return MakeError(ErrorCode::kCorruption,
                         what + ": no MessageId in the answer");
      return id;
    }
    std::string code = XmlText(text, "Code");
    std::string msg = XmlText(text, "Message");
    std::string detail = fmt::format(
        "{}: {}{}(HTTP {}{})", what, msg.empty() ? "" : msg,
        msg.empty() ? "" : " ", resp->status, code.empty() ? "" : " " + code);
    if (resp->status >= 500 || code == "Throttling" ||
        code == "ThrottledException") {
      last = MakeError(ErrorCode::kTransient, detail);
      continue;
    }
    ErrorCode ec = (resp->status == 403 || code == "AuthorizationError")
                       ? ErrorCode::kPermission
                   : (resp->status == 404 || code == "NotFound")
                       ? ErrorCode::kNotFound
                       : ErrorCode::kInvalidArgument;
    return MakeError(ec, detail);
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
