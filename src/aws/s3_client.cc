#include "aws/s3_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <pugixml.hpp>
#include <random>
#include <thread>

namespace efs2s3::aws {
namespace {

const std::string kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct XmlError {
  std::string code;
  std::string message;
};

XmlError ParseXmlError(const Bytes& body) {
  XmlError e;
  if (body.empty()) return e;
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) return e;
  pugi::xml_node err = doc.child("Error");
  e.code = err.child_value("Code");
  e.message = err.child_value("Message");
  return e;
}

std::string StripQuotes(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"')
    s = s.substr(1, s.size() - 2);
  return s;
}

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
}

// Decodes the %XX escapes of a ListObjectsV2 answer with encoding-type=url.
std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 &&
        hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::string S3Name(const std::string& bucket, const std::string& key) {
  return "s3:" + bucket + (key.empty() ? "" : "/" + key);
}

bool IsRetryableStatus(const HttpResponse& resp) {
  if (resp.status == 429) return true;
  if (resp.status >= 500) return resp.status != 501;
  if (resp.status == 400 || resp.status == 409) {
    std::string code = ParseXmlError(resp.body).code;
    return code == "RequestTimeout" || code == "OperationAborted" ||
           code == "ConditionalRequestConflict" || code == "SlowDown";
  }
  return false;
}

Error S3Error(const HttpResponse& resp, const std::string& method,
              const std::string& what) {
  XmlError x = ParseXmlError(resp.body);
  std::string detail = "HTTP " + std::to_string(resp.status) +
                       (x.code.empty() ? "" : " " + x.code);
  if (!x.message.empty()) detail += ": " + x.message;
  auto err = [&](ErrorCode c, const std::string& text) {
    return MakeError(c,
                     what + ": " + text + " (" + method + ", " + detail + ")");
  };
  switch (resp.status) {
    case 403:
      if (x.code == "SignatureDoesNotMatch")
        return err(ErrorCode::kPermission,
                   "access denied: the request signature does not match; is "
                   "the secret access "
                   "key right?");
      if (x.code == "InvalidAccessKeyId")
        return err(ErrorCode::kPermission,
                   "access denied: the access key id is not known");
      if (x.code == "InvalidObjectState")
        return err(ErrorCode::kIo,
                   "the object is in an archive storage class (GLACIER, "
                   "DEEP_ARCHIVE) and "
                   "must be restored before it can be read");
      if (x.code == "RequestTimeTooSkewed")
        return err(ErrorCode::kPermission,
                   "access denied: this machine's clock is wrong");
      return err(ErrorCode::kPermission, "access denied");
    case 404:
      if (x.code == "NoSuchBucket")
        return err(ErrorCode::kNoRepository, "the bucket does not exist");
      return err(ErrorCode::kNotFound, "not found");
    case 412:
      return err(ErrorCode::kAlreadyExists, "already exists");
    case 416:
      return err(ErrorCode::kCorruption,
                 "the requested range is beyond the object's end");
    case 501:
      return err(ErrorCode::kUnsupported, "the server does not implement this");
    default:
      break;
  }
  if (x.code == "ExpiredToken" || x.code == "InvalidToken" ||
      x.code == "TokenRefreshRequired")
    return err(ErrorCode::kPermission, "the session token has expired");
  if (IsRetryableStatus(resp))
    return err(ErrorCode::kTransient, "the server is unavailable");
  if (resp.status == 400 &&
      (x.code == "BadDigest" || x.code == "XAmzContentSHA256Mismatch"))
    return err(ErrorCode::kIo,
               "the server received different bytes than were sent");
  return err(ErrorCode::kIo, "request failed");
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

Result<HttpResponse> S3Client::Execute(Call& call) {
  std::string payload_hash = kEmptySha256;
  std::string md5;
  SpanSource span_body(call.body);
  const Source& body = call.source ? *call.source : span_body;
  if (!call.payload_sha256.empty()) {
    payload_hash = call.payload_sha256;
  } else if (body.size() > 0 || call.content_md5) {
    auto d = DigestBody(body, call.content_md5);
    if (!d) return d.error().Wrap(call.what);
    payload_hash = HexEncode(d->sha256);
    if (call.content_md5) {
      md5 = Base64Encode(d->md5);
      call.md5_hex = HexEncode(d->md5);
    }
  }
  const std::string query = CanonicalQuery(call.query);
  const Target target = MakeTarget(call.bucket, call.key, query);
  const int max_attempts = std::max(1, config_.retry.max_attempts);
  bool refreshed_token = false;
  Error last;
  for (call.attempts = 1;; ++call.attempts) {
    ASSIGN_OR_RETURN(Credentials creds, credentials_->Get());
    long long now = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    SigningRequest sreq;
    sreq.method = call.method;
    sreq.path = target.path;
    sreq.query = call.query;
    sreq.payload_hash = payload_hash;
    sreq.headers = call.headers;
    sreq.headers.emplace_back("Host", target.host);
    sreq.headers.emplace_back("x-amz-date", AmzDate(now));
    sreq.headers.emplace_back("x-amz-content-sha256", payload_hash);
    if (!md5.empty()) sreq.headers.emplace_back("Content-MD5", md5);
    if (!creds.session_token.empty())
      sreq.headers.emplace_back("x-amz-security-token", creds.session_token);
    Signature sig = Sign(sreq, {creds.access_key_id, creds.secret_access_key},
                         {config_.region, "s3", AmzDate(now)});
    HttpRequest hreq{call.method, target.url, std::move(sreq.headers),
                     call.body, call.what};
    hreq.source = call.source;
    hreq.headers.emplace_back("Authorization", sig.authorization);

    Count(call);
    auto resp = http_.Do(hreq);
    bool retry = false;
    if (!resp) {
      last = resp.error();
      retry = last.code == ErrorCode::kTransient;
      call.ambiguous = true;
    } else if (resp->status >= 200 && resp->status < 300) {
      if (!call.validate) return resp;
      auto ok = call.validate(*resp);
      if (ok) return resp;
      last = ok.error();
      retry = last.code == ErrorCode::kTransient;
    } else {
      last = S3Error(*resp, call.method, call.what);
      retry = IsRetryableStatus(*resp);
      if (resp->status >= 500) call.ambiguous = true;
      std::string code = ParseXmlError(resp->body).code;
      // A HEAD answer has no body to say why; with temporary credentials a bare
      // 400 is most likely an expired token.
      bool maybe_expired = call.method == "HEAD" && resp->status == 400 &&
                           !creds.session_token.empty();
      if ((code == "ExpiredToken" || code == "InvalidToken" ||
           code == "TokenRefreshRequired" || maybe_expired) &&
          !refreshed_token) {
        credentials_->Invalidate();
        refreshed_token = true;
        retry = true;
      }
    }
    if (!retry) return last;
    if (call.attempts >= max_attempts) {
      last.message +=
          fmt::format(" (gave up after {} attempts)", call.attempts);
      return last;
    }
    config_.retry.sleep(Backoff(config_.retry, call.attempts));
  }
}

Result<std::string> S3Client::PutObject(const std::string& bucket,
                                        const std::string& key,
                                        const Source& data,
                                        const PutOptions& opts) {
  Call call;
  call.method = "PUT";
  call.bucket = bucket;
  call.key = key;
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
  if (!r && r.error().code == ErrorCode::kAlreadyExists && call.ambiguous) {
    // An earlier attempt may have created the object before its answer was
    // lost.
    auto meta = HeadObject(bucket, key);
    if (meta && meta->size == data.size() &&
        (call.payload_sha256.empty()
             ? meta->etag == call.md5_hex
             : meta->metadata["sha256"] == call.payload_sha256))
      return meta->etag;
  }
  if (!r) return r.error();
  std::string etag = StripQuotes(r->Header("etag"));
  return etag.empty() ? call.md5_hex : etag;
}

Result<Bytes> S3Client::GetObject(const std::string& bucket,
                                  const std::string& key, std::uint64_t offset,
                                  std::uint64_t length) {
  ASSIGN_OR_RETURN(Fetched f, GetObjectWithMeta(bucket, key, offset, length));
  return std::move(f.data);
}

Result<S3Client::Fetched> S3Client::GetObjectWithMeta(const std::string& bucket,
                                                      const std::string& key,
                                                      std::uint64_t offset,
                                                      std::uint64_t length) {
  Call call;
  call.method = "GET";
  call.bucket = bucket;
  call.key = key;
  call.what = S3Name(bucket, key);
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
      unsigned long long a = 0, b = 0, t = 0;
      if (std::sscanf(cr.c_str(), "bytes %llu-%llu/%llu", &a, &b, &t) != 3)
        return MakeError(ErrorCode::kTransient,
                         call.what + ": bad Content-Range " + cr);
      total = t;
      first = a;
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
    result.meta.size = total;
    result.meta.etag = StripQuotes(r.Header("etag"));
    result.meta.storage_class = r.Header("x-amz-storage-class");
    result.meta.last_modified = r.Header("last-modified");
    for (const auto& [name, value] : r.headers)
      if (name.starts_with("x-amz-meta-"))
        result.meta.metadata[name.substr(11)] = value;
    return Ok();
  };
  auto r = Execute(call);
  if (!r) {
    if (r.error().code == ErrorCode::kCorruption && length == 0) {
      // 416 for a range starting exactly at the end: an empty tail, not an
      // error.
      auto meta = HeadObject(bucket, key);
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
                                        const std::string& key) {
  Call call;
  call.method = "HEAD";
  call.bucket = bucket;
  call.key = key;
  call.what = S3Name(bucket, key);
  auto head = Execute(call);
  if (!head && head.error().code == ErrorCode::kPermission &&
      head.error().message.find("(HEAD, HTTP 403)") != std::string::npos) {
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
  const HttpResponse& r = *head;
  ObjectMeta m;
  const std::string& cl = r.Header("content-length");
  std::optional<std::uint64_t> size = cl.empty() ? 0 : ParseUint(cl);
  if (!size)
    return MakeError(ErrorCode::kTransient,
                     call.what + ": bad Content-Length '" + cl + "'");
  m.size = *size;
  m.etag = StripQuotes(r.Header("etag"));
  m.storage_class = r.Header("x-amz-storage-class");
  m.last_modified = r.Header("last-modified");
  for (const auto& [name, value] : r.headers)
    if (name.starts_with("x-amz-meta-")) m.metadata[name.substr(11)] = value;
  return m;
}

Result<void> S3Client::DeleteObject(const std::string& bucket,
                                    const std::string& key) {
  Call call;
  call.method = "DELETE";
  call.bucket = bucket;
  call.key = key;
  call.what = S3Name(bucket, key);
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
    pugi::xml_document doc;
    doc.load_buffer(r.body.data(), r.body.size());
    int failed = 0;
    std::string first;
    for (pugi::xml_node e : doc.child("DeleteResult").children("Error")) {
      if (std::string(e.child_value("Code")) == "NoSuchKey") continue;
      if (failed++ == 0)
        first = S3Name(bucket, e.child_value("Key")) + ": " +
                e.child_value("Code") + " " + e.child_value("Message");
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
    ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
    pugi::xml_document doc;
    if (!doc.load_buffer(r.body.data(), r.body.size()))
      return MakeError(ErrorCode::kTransient,
                       call.what + ": unreadable ListObjectsV2 answer");
    pugi::xml_node root = doc.child("ListBucketResult");
    // Servers that ignore encoding-type send keys as they are.
    const bool encoded = std::string(root.child_value("EncodingType")) == "url";
    for (pugi::xml_node c : root.children("Contents")) {
      std::string k = c.child_value("Key");
      ListedObject o{encoded ? UrlDecode(k) : k,
                     std::strtoull(c.child_value("Size"), nullptr, 10),
                     StripQuotes(c.child_value("ETag")),
                     c.child_value("LastModified")};
      RETURN_IF_ERROR(fn(o));
    }
    token = root.child_value("NextContinuationToken");
    if (std::string(root.child_value("IsTruncated")) != "true") return Ok();
    if (token.empty())
      return MakeError(
          ErrorCode::kIo,
          call.what + ": truncated listing without a continuation token");
  }
}

Result<std::string> S3Client::CreateMultipartUpload(const std::string& bucket,
                                                    const std::string& key,
                                                    const PutOptions& opts) {
  Call call;
  call.method = "POST";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"uploads", ""}};
  call.what = S3Name(bucket, key);
  call.headers.emplace_back("Content-Type", "application/octet-stream");
  AddPutHeaders(call.headers, opts);
  ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  pugi::xml_document doc;
  doc.load_buffer(r.body.data(), r.body.size());
  std::string id =
      doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (id.empty())
    return MakeError(ErrorCode::kIo, call.what + ": no UploadId in the answer");
  return id;
}

Result<std::string> S3Client::UploadPart(const std::string& bucket,
                                         const std::string& key,
                                         const std::string& upload_id, int part,
                                         const Source& data, bool check_etag) {
  Call call;
  call.method = "PUT";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}};
  call.source = &data;
  call.content_md5 = true;
  call.what = S3Name(bucket, key) + " (part " + std::to_string(part) + ")";
  std::string etag;
  call.validate = [&](const HttpResponse& r) -> Result<void> {
    etag = StripQuotes(r.Header("etag"));
    if (etag.empty() || (check_etag && etag != call.md5_hex))
      return MakeError(ErrorCode::kTransient,
                       call.what + ": unexpected ETag in the answer");
    return Ok();
  };
  RETURN_IF_ERROR(Execute(call));
  return etag;
}

Result<std::string> S3Client::CompleteMultipartUpload(
    const std::string& bucket, const std::string& key,
    const std::string& upload_id, const std::vector<std::string>& etags,
    bool create_only) {
  std::string body = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i)
    body += fmt::format(
        "<Part><PartNumber>{}</PartNumber><ETag>\"{}\"</ETag></Part>", i + 1,
        etags[i]);
  body += "</CompleteMultipartUpload>";
  Call call;
  call.method = "POST";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"uploadId", upload_id}};
  call.body = AsBytes(body);
  call.what = S3Name(bucket, key);
  call.headers.emplace_back("Content-Type", "application/xml");
  if (create_only) call.headers.emplace_back("If-None-Match", "*");
  std::string etag;
  // S3 may answer 200 and report an error in the body.
  call.validate = [&](const HttpResponse& r) -> Result<void> {
    pugi::xml_document doc;
    doc.load_buffer(r.body.data(), r.body.size());
    etag = StripQuotes(
        doc.child("CompleteMultipartUploadResult").child_value("ETag"));
    if (doc.child("Error")) {
      HttpResponse as_error = r;
      as_error.status =
          std::string(doc.child("Error").child_value("Code")) == "InternalError"
              ? 500
              : 400;
      Error e = S3Error(as_error, "POST", call.what);
      if (as_error.status == 500) e.code = ErrorCode::kTransient;
      return e;
    }
    return Ok();
  };
  RETURN_IF_ERROR(Execute(call));
  return etag;
}

Result<void> S3Client::AbortMultipartUpload(const std::string& bucket,
                                            const std::string& key,
                                            const std::string& upload_id) {
  Call call;
  call.method = "DELETE";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"uploadId", upload_id}};
  call.what = S3Name(bucket, key);
  auto r = Execute(call);
  if (!r && r.error().code != ErrorCode::kNotFound) return r.error();
  return Ok();
}

Result<std::string> S3Client::PutObjectMultipart(const std::string& bucket,
                                                 const std::string& key,
                                                 const Source& data,
                                                 const PutOptions& opts,
                                                 const MultipartOptions& mp) {
  std::uint64_t part_size = std::max<std::uint64_t>(mp.part_size, 5u << 20);
  // At most 10,000 parts.
  while ((data.size() + part_size - 1) / part_size > 10000) part_size *= 2;
  const size_t parts =
      std::max<size_t>(1, (data.size() + part_size - 1) / part_size);
  ASSIGN_OR_RETURN(std::string upload_id,
                   CreateMultipartUpload(bucket, key, opts));

  std::vector<std::string> etags(parts);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Error first_error;
  const bool check_etag = opts.sse != "aws:kms";
  auto worker = [&] {
    for (size_t i = next++; i < parts && !failed; i = next++) {
      std::uint64_t off = i * part_size;
      std::uint64_t len = std::min<std::uint64_t>(part_size, data.size() - off);
      auto etag = UploadPart(bucket, key, upload_id, static_cast<int>(i + 1),
                             SliceSource(data, off, len), check_etag);
      if (!etag) {
        std::lock_guard lock(mu);
        if (!failed.exchange(true)) first_error = etag.error();
        return;
      }
      etags[i] = *etag;
    }
  };
  int nthreads = std::clamp<int>(mp.parallel, 1, static_cast<int>(parts));
  std::vector<std::thread> threads;
  for (int t = 1; t < nthreads; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();

  Result<std::string> done =
      failed ? Result<std::string>(first_error)
             : CompleteMultipartUpload(bucket, key, upload_id, etags,
                                       opts.create_only);
  if (!done) {
    // Parts of a failed upload cost storage until aborted.
    (void)AbortMultipartUpload(bucket, key, upload_id);
    return done.error();
  }
  return done;
}

Result<void> S3Client::CopyObject(const std::string& src_bucket,
                                  const std::string& src_key,
                                  const std::string& bucket,
                                  const std::string& key,
                                  const PutOptions& opts) {
  Call call;
  call.method = "PUT";
  call.bucket = bucket;
  call.key = key;
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
    pugi::xml_document doc;
    doc.load_buffer(r.body.data(), r.body.size());
    if (doc.child("Error")) {
      HttpResponse as_error = r;
      as_error.status = 500;
      Error e = S3Error(as_error, "PUT", call.what);
      e.code = ErrorCode::kTransient;
      return e;
    }
    return Ok();
  };
  RETURN_IF_ERROR(Execute(call));
  return Ok();
}

Result<void> S3Client::ListMultipartUploads(
    const std::string& bucket, const std::string& prefix,
    const std::function<Result<void>(const MultipartUpload&)>& fn) {
  std::string key_marker, id_marker;
  for (;;) {
    Call call;
    call.method = "GET";
    call.bucket = bucket;
    call.query = {{"uploads", ""}, {"prefix", prefix}};
    call.what = S3Name(bucket, prefix) + " (multipart uploads)";
    if (!key_marker.empty()) call.query.emplace_back("key-marker", key_marker);
    if (!id_marker.empty())
      call.query.emplace_back("upload-id-marker", id_marker);
    ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
    pugi::xml_document doc;
    if (!doc.load_buffer(r.body.data(), r.body.size()))
      return MakeError(ErrorCode::kTransient,
                       call.what + ": unreadable answer");
    pugi::xml_node root = doc.child("ListMultipartUploadsResult");
    for (pugi::xml_node u : root.children("Upload"))
      RETURN_IF_ERROR(fn({u.child_value("Key"), u.child_value("UploadId"),
                          u.child_value("Initiated")}));
    if (std::string(root.child_value("IsTruncated")) != "true") return Ok();
    key_marker = root.child_value("NextKeyMarker");
    id_marker = root.child_value("NextUploadIdMarker");
    if (key_marker.empty() && id_marker.empty())
      return MakeError(ErrorCode::kIo,
                       call.what + ": truncated listing without markers");
  }
}

Result<void> S3Client::HeadBucket(const std::string& bucket) {
  Call call;
  call.method = "HEAD";
  call.bucket = bucket;
  call.what = S3Name(bucket, "");
  auto r = Execute(call);
  if (!r && r.error().code == ErrorCode::kNotFound)
    return MakeError(ErrorCode::kNoRepository,
                     call.what + ": the bucket does not exist");
  if (!r) return r.error();
  return Ok();
}

Result<void> S3Client::CreateBucket(const std::string& bucket) {
  std::string body;
  // Only Amazon S3 wants a location constraint; other servers reject unknown
  // regions.
  if (config_.endpoint.empty() && config_.region != "us-east-1")
    body = "<CreateBucketConfiguration><LocationConstraint>" + config_.region +
           "</LocationConstraint></CreateBucketConfiguration>";
  Call call;
  call.method = "PUT";
  call.bucket = bucket;
  call.body = AsBytes(body);
  call.what = S3Name(bucket, "");
  auto r = Execute(call);
  if (!r) {
    if (r.error().message.find("BucketAlreadyOwnedByYou") != std::string::npos)
      return Ok();
    return r.error();
  }
  return Ok();
}

}  // namespace efs2s3::aws
