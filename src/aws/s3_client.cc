#include "aws/s3_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>

#include "aws/s3_errors.h"

namespace efs2s3::aws {
namespace {

const std::string kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

bool IsIpLiteral(const std::string& host) {
  if (!host.empty() && host.front() == '[') return true;
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isdigit(c) || c == '.';
  });
}

std::chrono::milliseconds Backoff(const RetryPolicy& p, int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double cap =
      static_cast<double>(p.base_delay.count()) * std::pow(2.0, attempt - 1);
  cap = std::min(cap, static_cast<double>(p.max_delay.count()));
  std::uniform_real_distribution<double> dist(0.0, cap);
  // Full jitter, but never less than a tenth of the step so a storm of retries
  // spreads.
  return std::chrono::milliseconds(
      static_cast<long long>(std::max(cap / 10, dist(rng))));
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace

void AddPutHeaders(HeaderList& h, const PutOptions& opts) {
  if (!opts.storage_class.empty())
    h.emplace_back("x-amz-storage-class", opts.storage_class);
  if (!opts.sse.empty())
    h.emplace_back("x-amz-server-side-encryption", opts.sse);
  if (opts.sse == "aws:kms" && !opts.sse_kms_key_id.empty())
    h.emplace_back("x-amz-server-side-encryption-aws-kms-key-id",
                   opts.sse_kms_key_id);
  for (const auto& [name, value] : opts.metadata)
    h.emplace_back("x-amz-meta-" + name, value);
  if (!opts.lock_mode.empty()) {
    h.emplace_back("x-amz-object-lock-mode", opts.lock_mode);
    h.emplace_back("x-amz-object-lock-retain-until-date",
                   opts.lock_retain_until);
  }
}

// An object's metadata from the headers of a GET or HEAD answer.
ObjectMeta MetaFromHeaders(const HttpResponse& r, std::uint64_t size) {
  ObjectMeta m;
  m.size = size;
  m.etag = StripQuotes(r.Header("etag"));
  m.storage_class = r.Header("x-amz-storage-class");
  m.last_modified = r.Header("last-modified");
  for (const auto& [name, value] : r.headers)
    if (name.starts_with("x-amz-meta-")) m.metadata[name.substr(11)] = value;
  m.lock_mode = r.Header("x-amz-object-lock-mode");
  if (auto until =
          ParseIsoTime(r.Header("x-amz-object-lock-retain-until-date")))
    m.lock_retain_until = std::chrono::duration_cast<std::chrono::seconds>(
                              until->time_since_epoch())
                              .count();
  m.version_id = r.Header("x-amz-version-id");
  m.restore = r.Header("x-amz-restore");
  m.archive_status = r.Header("x-amz-archive-status");
  return m;
}

std::string S3Name(const std::string& bucket, const std::string& key) {
  return "s3:" + bucket + (key.empty() ? "" : "/" + key);
}

S3Client::S3Client(S3Config config,
                   std::unique_ptr<CredentialsProvider> credentials)
    : config_(std::move(config)),
      credentials_(std::move(credentials)),
      http_(config_.http) {
  if (!config_.retry.sleep)
    config_.retry.sleep = [](std::chrono::milliseconds d) {
      std::this_thread::sleep_for(d);
    };
  if (config_.region.empty()) config_.region = "us-east-1";
  std::string ep = config_.endpoint;
  if (ep.empty()) ep = "https://s3." + config_.region + ".amazonaws.com";
  size_t sep = ep.find("://");
  scheme_ = sep == std::string::npos ? "https" : ep.substr(0, sep);
  std::string rest = sep == std::string::npos ? ep : ep.substr(sep + 3);
  size_t slash = rest.find('/');
  authority_ = rest.substr(0, slash);
  if (slash != std::string::npos) base_path_ = rest.substr(slash);
  while (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
  // Drop a default port: the Host header must match what the server
  // reconstructs.
  if ((scheme_ == "https" && authority_.ends_with(":443")) ||
      (scheme_ == "http" && authority_.ends_with(":80")))
    authority_ = authority_.substr(0, authority_.rfind(':'));
  std::string host = authority_;
  if (host.front() != '[') host = host.substr(0, host.find(':'));
  ip_host_ = IsIpLiteral(host);
}

S3Client::~S3Client() = default;

S3Client::Target S3Client::MakeTarget(const std::string& bucket,
                                      const std::string& key,
                                      const std::string& query) const {
  Target t;
  // Virtual-host addressing needs a DNS name; buckets with dots break TLS
  // wildcards.
  bool path_style =
      config_.path_style || ip_host_ ||
      (scheme_ == "https" && bucket.find('.') != std::string::npos);
  t.host = authority_;
  t.path = base_path_;
  if (!bucket.empty()) {
    if (path_style)
      t.path += "/" + bucket;
    else
      t.host = bucket + "." + authority_;
  }
  t.path += "/" + key;
  if (path_style && !bucket.empty() && key.empty())
    t.path.pop_back();  // "/bucket"
  if (t.path.empty()) t.path = "/";
  t.url = scheme_ + "://" + t.host + UriEncode(t.path, true) +
          (query.empty() ? "" : "?" + query);
  return t;
}

std::string S3Client::ObjectUrl(const std::string& bucket,
                                const std::string& key) const {
  return MakeTarget(bucket, key, "").url;
}

void S3Client::Count(const Call& call) {
  size_t i = 0;  // get
  if (call.method == "HEAD") {
    i = 1;
  } else if (call.method == "PUT") {
    i = 2;
  } else if (call.method == "POST") {
    i = 3;
  } else if (call.method == "DELETE") {
    i = 5;
  } else if (call.key.empty()) {
    i = 4;  // a GET of the bucket lists it
  }
  ++counts_[i];
}

RequestCounts S3Client::request_counts() const {
  return {counts_[0].load(), counts_[1].load(), counts_[2].load(),
          counts_[3].load(), counts_[4].load(), counts_[5].load()};
}

Result<void> S3Client::HashBody(Call& call, std::string& payload_hash,
                                std::string& md5_base64) const {
  payload_hash = kEmptySha256;
  SpanSource span_body(call.body);
  const Source& body = call.source ? *call.source : span_body;
  if (!call.payload_sha256.empty()) {
    payload_hash = call.payload_sha256;
  } else if (body.size() > 0 || call.content_md5) {
    auto d = DigestBody(body, call.content_md5);
    if (!d) return d.error().Wrap(call.what);
    payload_hash = HexEncode(d->sha256);
    if (call.content_md5) {
      md5_base64 = Base64Encode(d->md5);
      call.md5_hex = HexEncode(d->md5);
    }
  }
  return Ok();
}

HttpRequest S3Client::SignedRequest(const Call& call, const Target& target,
                                    const std::string& payload_hash,
                                    const std::string& md5_base64,
                                    const Credentials& creds) const {
  SigningRequest sreq;
  sreq.method = call.method;
  sreq.path = target.path;
  sreq.query = call.query;
  sreq.payload_hash = payload_hash;
  sreq.headers = call.headers;
  sreq.headers.emplace_back("x-amz-content-sha256", payload_hash);
  if (!md5_base64.empty()) sreq.headers.emplace_back("Content-MD5", md5_base64);
  HttpRequest hreq{call.method, target.url,
                   SignNow(std::move(sreq), target.host,
                           {creds.access_key_id, creds.secret_access_key},
                           creds.session_token, config_.region, "s3",
                           /*normalize_path=*/false),
                   call.body, call.what};
  hreq.source = call.source;
  return hreq;
}

Result<HttpResponse> S3Client::Execute(Call& call) {
  std::string payload_hash, md5;
  RETURN_IF_ERROR(HashBody(call, payload_hash, md5));
  const Target target =
      MakeTarget(call.bucket, call.key, CanonicalQuery(call.query));
  // After a request spent its whole budget on an endpoint that is down, the
  // next ones try once until one gets an answer: the clean-up of a failed
  // command (its lock) must not spend the budget again.
  int max_attempts =
      endpoint_down_ ? 1 : std::max(1, config_.retry.max_attempts);
  if (call.max_attempts > 0)
    max_attempts = std::min(max_attempts, call.max_attempts);
  bool refreshed_token = false;
  Error last;
  for (call.attempts = 1;; ++call.attempts) {
    ASSIGN_OR_RETURN(Credentials creds, credentials_->Get());
    Count(call);
    auto resp = http_.Do(SignedRequest(call, target, payload_hash, md5, creds));
    bool retry = false;
    call.error_status = 0;
    call.error_code = S3Code::kNone;
    if (!resp) {
      last = resp.error();
      retry = last.code == ErrorCode::kTransient;
      call.ambiguous = true;
    } else if (auto other = NotS3(*resp, call)) {
      return *other;
    } else if (resp->status >= 200 && resp->status < 300) {
      endpoint_down_ = false;
      if (!call.validate) return resp;
      auto ok = call.validate(*resp);
      if (ok) return resp;
      last = ok.error();
      retry = last.code == ErrorCode::kTransient;
    } else {
      S3ErrorBody body = ParseS3ErrorBody(resp->body).value_or(S3ErrorBody{});
      call.error_status = resp->status;
      call.error_code = body.code;
      last = S3Error(resp->status, body, call.method, call.what);
      retry = IsRetryable(resp->status, body.code);
      if (resp->status >= 500) call.ambiguous = true;
      // A HEAD answer has no body to say why; with temporary credentials a bare
      // 400 is most likely an expired token.
      bool maybe_expired = call.method == "HEAD" && resp->status == 400 &&
                           !creds.session_token.empty();
      if ((IsExpiredToken(body.code) || maybe_expired) && !refreshed_token) {
        credentials_->Invalidate();
        refreshed_token = true;
        retry = true;
      }
    }
    if (!retry) {
      if (resp) endpoint_down_ = false;  // the endpoint answered
      return last;
    }
    if (call.attempts >= max_attempts) {
      if (max_attempts > 1)
        last.message +=
            fmt::format(" (gave up after {} attempts)", call.attempts);
      endpoint_down_ = true;
      return last;
    }
    config_.retry.sleep(Backoff(config_.retry, call.attempts));
  }
}

std::optional<Error> S3Client::NotS3(const HttpResponse& resp,
                                     const Call& call) const {
  // S3 never answers in HTML; its error answers are <Error> documents. A 5xx
  // page of a load balancer in front of S3 is retried as usual.
  if (IsRetryable(resp.status, S3Code::kNone)) return std::nullopt;
  std::string type = resp.Header("content-type");
  for (char& c : type)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool html = type.find("html") != std::string::npos;
  bool s3_error = !resp.body.empty() && ParseS3ErrorBody(resp.body);
  bool foreign_error = resp.status >= 300 && !resp.body.empty() && !s3_error;
  // S3 and the servers that mimic it tag every answer with a request ID
  // (x-amz-request-id, x-amzn-requestid); some (moto) label an empty HEAD
  // answer text/html. An HTML page from a web server carries neither an
  // <Error> document nor such a header.
  bool amz_tagged = false;
  for (const auto& [name, value] : resp.headers)
    if (name.starts_with("x-amz")) amz_tagged = true;
  if (html && (s3_error || (resp.body.empty() && amz_tagged))) html = false;
  if (!html && !foreign_error) return std::nullopt;
  std::string shown = type.substr(0, type.find(';'));
  return MakeError(
      ErrorCode::kIo,
      fmt::format("{}: the endpoint does not answer like S3 ({} {}: HTTP "
                  "{}{}); is --s3-endpoint right?",
                  Endpoint(), call.method, call.what, resp.status,
                  shown.empty() ? "" : ", " + shown));
}

std::string S3Client::Endpoint() const {
  return scheme_ + "://" + authority_ + base_path_;
}

Result<std::string> S3Client::PutObject(const std::string& bucket,
                                        const std::string& key,
                                        const Source& data,
                                        const PutOptions& opts) {
  Call call("PUT", bucket, key);
  call.source = &data;
  call.payload_sha256 = opts.payload_sha256;
  call.content_md5 = call.payload_sha256.empty();
  call.what = S3Name(bucket, key);
  call.headers.emplace_back("Content-Type", "application/octet-stream");
  // Kept with the object, so that a retry can tell its own earlier attempt
  // from another object, as the MD5 ETag does otherwise.
  if (!call.payload_sha256.empty())
    call.headers.emplace_back("x-amz-meta-sha256", call.payload_sha256);
  if (opts.create_only) call.headers.emplace_back("If-None-Match", "*");
  AddPutHeaders(call.headers, opts);
  if (!opts.lock_mode.empty() && !call.content_md5) {
    // A PUT with a retention needs an integrity header on AWS: the SHA-256
    // the caller knows, which S3 checks.
    auto raw = HexDecode(call.payload_sha256);
    if (!raw)
      return MakeError(ErrorCode::kUsage,
                       call.what + ": payload SHA-256 is not hex");
    call.headers.emplace_back("x-amz-checksum-sha256", Base64Encode(*raw));
  }
  if (call.content_md5 && opts.sse != "aws:kms") {
    // The ETag of a single-part object is its MD5 (not with SSE-KMS): verify
    // the server stored what was sent.
    call.validate = [&](const HttpResponse& r) -> Result<void> {
      std::string etag = StripQuotes(r.Header("etag"));
      if (!etag.empty() && etag != call.md5_hex)
        return MakeError(
            ErrorCode::kTransient,
            call.what + ": the server's ETag does not match the data sent");
      return Ok();
    };
  }
  auto r = Execute(call);
  if (!r && r.error().code == ErrorCode::kAlreadyExists)
    return SettleCreateOnly(call, data, r.error());
  if (!r) return r.error();
  std::string etag = StripQuotes(r->Header("etag"));
  return etag.empty() ? call.md5_hex : etag;
}

Result<std::string> S3Client::SettleCreateOnly(Call& call, const Source& data,
                                               Error conflict) {
  // A 412 says that something held the name when the server checked the
  // precondition; only the stored object tells what. An earlier attempt may
  // have created it before its answer was lost: ours (call.ambiguous), or one
  // that libcurl re-sent by itself when a reused connection was reset or
  // stalled, which Execute never sees. And the server may have checked against
  // a write that was still in progress, or that failed after the check: the
  // HEAD then finds no object, or one that is not there a moment later.
  // So every 412 is settled by what is stored: our own bytes are a success, no
  // object means the PUT is sent again after a backoff, and another object is
  // "already exists" once two looks a backoff apart agree on it. All of it
  // within the call's retry budget.
  const int budget = std::max(1, config_.retry.max_attempts);
  int spent = call.attempts;
  std::optional<ObjectMeta> seen;  // another object, at the last look
  for (;;) {
    auto meta = HeadObject(call.bucket, call.key);
    if (!meta && meta.error().code != ErrorCode::kNotFound) return meta.error();
    const bool ours = meta && meta->size == data.size() &&
                      (call.payload_sha256.empty()
                           ? meta->etag == call.md5_hex
                           : meta->metadata["sha256"] == call.payload_sha256);
    if (ours) return meta->etag;
    if (meta && seen && meta->etag == seen->etag && meta->size == seen->size)
      return conflict;  // the same other object twice: a real conflict
    if (spent >= budget || endpoint_down_) {
      if (meta) return conflict;
      return MakeError(
          ErrorCode::kTransient,
          fmt::format("{}: the server answered 412 (exists) but holds no "
                      "object under the name (gave up after {} attempts)",
                      call.what, spent));
    }
    seen = meta ? std::optional<ObjectMeta>(*meta) : std::nullopt;
    config_.retry.sleep(Backoff(config_.retry, spent));
    call.max_attempts = budget - spent;
    auto r = Execute(call);
    spent += call.attempts;
    if (r) {
      std::string etag = StripQuotes(r->Header("etag"));
      return etag.empty() ? call.md5_hex : etag;
    }
    if (r.error().code != ErrorCode::kAlreadyExists) return r.error();
    conflict = r.error();
  }
}

Result<Bytes> S3Client::GetObject(const std::string& bucket,
                                  const std::string& key, std::uint64_t offset,
                                  std::uint64_t length,
                                  const std::string& version_id) {
  ASSIGN_OR_RETURN(Fetched f,
                   GetObjectWithMeta(bucket, key, offset, length, version_id));
  return std::move(f.data);
}

Result<S3Client::Fetched> S3Client::GetObjectWithMeta(
    const std::string& bucket, const std::string& key, std::uint64_t offset,
    std::uint64_t length, const std::string& version_id) {
  Call call("GET", bucket, key);
  if (!version_id.empty()) {
    call.query.emplace_back("versionId", version_id);
    call.what += " (version " + version_id + ")";
  }
  bool ranged = offset > 0 || length > 0;
  if (ranged)
    call.headers.emplace_back(
        "Range", length > 0
                     ? fmt::format("bytes={}-{}", offset, offset + length - 1)
                     : fmt::format("bytes={}-", offset));
  Fetched result;
  std::pair<std::uint64_t, std::uint64_t> body_range;  // skip, length
  call.validate = [&](const HttpResponse& r) -> Result<void> {
    std::uint64_t total = 0, first = 0;
    if (r.status == 206) {
      // "bytes FIRST-LAST/TOTAL"
      std::string cr = r.Header("content-range");
      std::optional<ContentRange> range = ParseContentRange(cr);
      if (!range)
        return MakeError(ErrorCode::kTransient,
                         call.what + ": bad Content-Range " + cr);
      total = range->total;
      first = range->first;
    } else {
      total = r.body.size();
      std::string cl = r.Header("content-length");
      if (!cl.empty() && ParseUint(cl) != total)
        return MakeError(ErrorCode::kTransient,
                         call.what + ": body of " + std::to_string(total) +
                             " bytes, Content-Length " + cl);
    }
    if (offset > total || (length > 0 && offset + length > total))
      return MakeError(
          ErrorCode::kCorruption,
          fmt::format(
              "{}: object is {} bytes, shorter than the requested range "
              "{}+{}",
              call.what, total, offset, length));
    std::uint64_t want = length > 0 ? length : total - offset;
    std::uint64_t skip =
        offset - first;  // a 200 answer carries the whole object
    if (r.body.size() < skip + want)
      return MakeError(ErrorCode::kTransient,
                       fmt::format("{}: short body ({} of {} bytes)", call.what,
                                   r.body.size(), skip + want));
    body_range = {skip, want};
    result.meta = MetaFromHeaders(r, total);
    return Ok();
  };
  auto r = Execute(call);
  if (!r) {
    if (r.error().code == ErrorCode::kCorruption && length == 0) {
      // 416 for a range starting exactly at the end: an empty tail, not an
      // error.
      auto meta = HeadObject(bucket, key, version_id);
      if (meta && meta->size == offset) return Fetched{Bytes{}, *meta};
    }
    return r.error();
  }
  // The validated body, moved rather than copied.
  result.data = std::move(r->body);
  const auto [skip, want] = body_range;
  result.data.erase(result.data.begin(),
                    result.data.begin() + static_cast<std::ptrdiff_t>(skip));
  result.data.resize(static_cast<size_t>(want));
  return result;
}

Result<ObjectMeta> S3Client::HeadObject(const std::string& bucket,
                                        const std::string& key,
                                        const std::string& version_id) {
  Call call("HEAD", bucket, key);
  if (!version_id.empty()) {
    call.query.emplace_back("versionId", version_id);
    call.what += " (version " + version_id + ")";
  }
  auto head = Execute(call);
  if (!head && call.error_status == 403 && call.error_code == S3Code::kNone) {
    // A HEAD answer has no body, so it cannot say why access was denied. Ask
    // again with a one-byte GET, whose answer names the reason (wrong secret,
    // unknown key).
    Call probe = call;
    probe.method = "GET";
    probe.headers.emplace_back("Range", "bytes=0-0");
    auto r = Execute(probe);
    if (!r && r.error().code == ErrorCode::kPermission) return r.error();
  }
  if (!head) return head.error();
  const std::string& cl = head->Header("content-length");
  std::optional<std::uint64_t> size = cl.empty() ? 0 : ParseUint(cl);
  if (!size)
    return MakeError(ErrorCode::kTransient,
                     call.what + ": bad Content-Length '" + cl + "'");
  return MetaFromHeaders(*head, *size);
}

Result<void> S3Client::DeleteObject(const std::string& bucket,
                                    const std::string& key) {
  Call call("DELETE", bucket, key);
  auto r = Execute(call);
  if (!r && r.error().code != ErrorCode::kNotFound) return r.error();
  return Ok();
}

Result<void> S3Client::DeleteObjects(const std::string& bucket,
                                     const std::vector<std::string>& keys) {
  for (size_t start = 0; start < keys.size(); start += 1000) {
    size_t end = std::min(keys.size(), start + 1000);
    std::string body = "<Delete><Quiet>true</Quiet>";
    for (size_t i = start; i < end; ++i)
      body += "<Object><Key>" + XmlEscape(keys[i]) + "</Key></Object>";
    body += "</Delete>";
    Call call;
    call.method = "POST";
    call.bucket = bucket;
    call.query = {{"delete", ""}};
    call.body = AsBytes(body);
    call.content_md5 = true;
    call.what = S3Name(bucket, "") + " (delete " + std::to_string(end - start) +
                " objects)";
    call.headers.emplace_back("Content-Type", "application/xml");
    ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
    auto failures = ParseDeleteResult(r.body);
    if (!failures)
      return MakeError(ErrorCode::kIo,
                       call.what + ": " + failures.error().message);
    int failed = 0;
    std::string first;
    for (const DeleteFailure& f : *failures) {
      if (f.error.code == S3Code::kNoSuchKey) continue;
      if (failed++ == 0)
        first = S3Name(bucket, f.key) + ": " + f.error.code_text + " " +
                f.error.message;
    }
    if (failed)
      return MakeError(
          ErrorCode::kIo,
          fmt::format("{} of {} objects could not be deleted, first: {}",
                      failed, end - start, first));
  }
  return Ok();
}

Result<void> S3Client::ListObjects(
    const std::string& bucket, const std::string& prefix,
    const std::function<Result<void>(const ListedObject&)>& fn) {
  std::string token;
  for (;;) {
    Call call;
    call.method = "GET";
    call.bucket = bucket;
    call.query = {{"list-type", "2"},
                  {"prefix", prefix},
                  {"encoding-type", "url"},
                  {"max-keys", std::to_string(config_.list_page_size)}};
    call.what = S3Name(bucket, prefix);
    if (!token.empty()) call.query.emplace_back("continuation-token", token);
    Result<ListObjectsPage> page = MakeError(ErrorCode::kTransient, "");
    call.validate = DecodeOrRetry(page, &ParseListObjectsV2, call.what);
    RETURN_IF_ERROR(Execute(call));
    for (const ListedObject& o : page->objects) RETURN_IF_ERROR(fn(o));
    if (!page->truncated) return Ok();
    token = page->next_token;
    if (token.empty())
      return MakeError(
          ErrorCode::kIo,
          call.what + ": truncated listing without a continuation token");
  }
}

Result<void> S3Client::ListObjectVersions(
    const std::string& bucket, const std::string& prefix,
    const std::function<Result<void>(const ObjectVersion&)>& fn) {
  std::string key_marker, version_marker;
  for (;;) {
    Call call;
    call.method = "GET";
    call.bucket = bucket;
    call.query = {{"versions", ""},
                  {"prefix", prefix},
                  {"encoding-type", "url"},
                  {"max-keys", std::to_string(config_.list_page_size)}};
    call.what = S3Name(bucket, prefix) + " (versions)";
    if (!key_marker.empty()) {
      call.query.emplace_back("key-marker", key_marker);
      call.query.emplace_back("version-id-marker", version_marker);
    }
    Result<ListVersionsPage> page = MakeError(ErrorCode::kTransient, "");
    call.validate = DecodeOrRetry(page, &ParseListObjectVersions, call.what);
    RETURN_IF_ERROR(Execute(call));
    for (const ObjectVersion& v : page->versions) RETURN_IF_ERROR(fn(v));
    if (!page->truncated) return Ok();
    if (page->next_key_marker.empty() ||
        (page->next_key_marker == key_marker &&
         page->next_version_id_marker == version_marker))
      return MakeError(ErrorCode::kIo,
                       call.what + ": truncated listing without a new marker");
    key_marker = page->next_key_marker;
    version_marker = page->next_version_id_marker;
  }
}

Result<void> S3Client::CopyObject(const std::string& src_bucket,
                                  const std::string& src_key,
                                  const std::string& bucket,
                                  const std::string& key,
                                  const PutOptions& opts) {
  Call call("PUT", bucket, key);
  call.what =
      S3Name(bucket, key) + " (copy of " + S3Name(src_bucket, src_key) + ")";
  call.headers.emplace_back("x-amz-copy-source",
                            UriEncode("/" + src_bucket + "/" + src_key, true));
  call.headers.emplace_back("x-amz-metadata-directive", "COPY");
  PutOptions o = opts;
  o.metadata.clear();  // COPY keeps the source's metadata
  AddPutHeaders(call.headers, o);
  // S3 may answer 200 and report an error in the body.
  call.validate = [&](const HttpResponse& r) -> Result<void> {
    std::optional<S3ErrorBody> error = ParseS3ErrorBody(r.body);
    if (!error) return Ok();
    Error e = S3Error(500, *error, "PUT", call.what);
    e.code = ErrorCode::kTransient;
    return e;
  };
  RETURN_IF_ERROR(Execute(call));
  return Ok();
}

Result<void> S3Client::HeadBucket(const std::string& bucket) {
  Call call;
  call.method = "HEAD";
  call.bucket = bucket;
  call.what = S3Name(bucket, "");
  auto r = Execute(call);
  if (!r && call.error_status == 403 && call.error_code == S3Code::kNone) {
    // As in HeadObject: a listing of one key says why access was denied (a
    // wrong secret key, an unknown key id).
    Call probe = call;
    probe.method = "GET";
    probe.query = {{"list-type", "2"}, {"max-keys", "1"}};
    auto why = Execute(probe);
    if (!why && why.error().code == ErrorCode::kPermission) return why.error();
  }
  if (!r && r.error().code == ErrorCode::kNotFound)
    return MakeError(ErrorCode::kNoRepository,
                     call.what + ": the bucket does not exist");
  if (!r) return r.error();
  return Ok();
}

std::string CreateBucketBody(const std::string& region) {
  if (region.empty() || region == "us-east-1") return "";
  return "<CreateBucketConfiguration><LocationConstraint>" + XmlEscape(region) +
         "</LocationConstraint></CreateBucketConfiguration>";
}

Result<void> S3Client::CreateBucket(const std::string& bucket,
                                    bool object_lock) {
  // Amazon S3 wants the region as the location constraint everywhere but in
  // us-east-1 (IllegalLocationConstraintException), also behind a custom
  // endpoint (a VPC endpoint, a proxy).
  std::string body = CreateBucketBody(config_.region);
  Call call;
  call.method = "PUT";
  call.bucket = bucket;
  call.body = AsBytes(body);
  call.what = S3Name(bucket, "");
  if (object_lock)
    call.headers.emplace_back("x-amz-bucket-object-lock-enabled", "true");
  auto r = Execute(call);
  if (!r && !body.empty() && !config_.endpoint.empty() &&
      call.error_code == S3Code::kInvalidLocationConstraint) {
    // An S3-compatible server that names its regions otherwise (radosgw: by
    // zonegroup, "default") and accepts any region in signatures: the bucket
    // goes where the server puts buckets by default.
    call.body = {};
    r = Execute(call);
  }
  if (!r && call.error_code != S3Code::kBucketAlreadyOwnedByYou)
    return r.error();
  if (!r && object_lock) {
    ASSIGN_OR_RETURN(bool locked, BucketObjectLockEnabled(bucket));
    if (!locked)
      return MakeError(ErrorCode::kUsage,
                       S3Name(bucket, "") +
                           ": the bucket exists without Object Lock, which "
                           "can only be enabled when a bucket is created");
  }
  return Ok();
}

}  // namespace efs2s3::aws
