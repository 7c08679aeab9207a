#include "aws/http.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>

namespace efs2s3::aws {
namespace {

std::once_flag g_curl_init;

// The most a response body reserves on the word of its Content-Length.
constexpr std::uint64_t kMaxReserve = 256u << 20;

struct Transfer {
  const Source* body;
  std::uint64_t sent = 0;
  HttpResponse* resp = nullptr;
  StallWatch* stall = nullptr;
  bool stalled = false;
  RateLimiter* upload = nullptr;  // --limit-upload, or null
  RateLimiter* download = nullptr;
};

// libcurl calls this at least once a second while a transfer runs.
int Progress(void* user, curl_off_t dltotal, curl_off_t dlnow,
             curl_off_t ultotal, curl_off_t ulnow) {
  (void)dltotal;
  (void)ultotal;
  auto* t = static_cast<Transfer*>(user);
  std::uint64_t moved =
      static_cast<std::uint64_t>(std::max<curl_off_t>(0, dlnow)) +
      static_cast<std::uint64_t>(std::max<curl_off_t>(0, ulnow));
  if (!t->stall->Stalled(moved, StallWatch::Clock::now())) return 0;
  t->stalled = true;
  return 1;  // aborts the transfer: CURLE_ABORTED_BY_CALLBACK
}

size_t ReadBody(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t want = static_cast<size_t>(
      std::min<std::uint64_t>(size * n, t->body->size() - t->sent));
  if (want &&
      !t->body->ReadAt(t->sent,
                       std::span(reinterpret_cast<std::uint8_t*>(buf), want)))
    return CURL_READFUNC_ABORT;  // a transport error: the request fails
  if (t->upload && want) t->upload->Take(want);
  t->sent += want;
  return want;
}

int SeekBody(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 ||
      static_cast<std::uint64_t>(offset) > t->body->size())
    return CURL_SEEKFUNC_FAIL;
  t->sent = static_cast<std::uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t WriteBody(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->download) t->download->Take(size * n);
  if (t->resp->body.empty()) {
    // Room for the announced length up front: a 16 MiB pack is then not
    // copied on every doubling of the buffer.
    std::optional<std::uint64_t> len =
        ParseUint(t->resp->Header("content-length"));
    if (len && *len <= kMaxReserve)
      t->resp->body.reserve(static_cast<size_t>(*len));
  }
  t->resp->body.insert(t->resp->body.end(),
                       reinterpret_cast<std::uint8_t*>(buf),
                       reinterpret_cast<std::uint8_t*>(buf) + size * n);
  return size * n;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

size_t WriteHeader(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(buf, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after 100 Continue or a redirect): forget earlier
    // headers.
    t->resp->headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  for (char& c : name)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string value = Trim(line.substr(colon + 1));
  if (name == "content-length" && t->resp->body.capacity() == 0) {
    // Pre-size the body buffer; capped so a lying server cannot make us
    // allocate much.
    std::uint64_t len = ParseUint(value).value_or(0);
    t->resp->body.reserve(static_cast<size_t>(std::min(len, kMaxReserve)));
  }
  t->resp->headers[name] = value;
  return size * n;
}

}  // namespace

std::optional<ContentRange> ParseContentRange(std::string_view value) {
  if (!value.starts_with("bytes ")) return std::nullopt;
  value.remove_prefix(6);
  size_t dash = value.find('-'), slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos ||
      slash < dash)
    return std::nullopt;
  auto first = ParseUint(value.substr(0, dash));
  auto last = ParseUint(value.substr(dash + 1, slash - dash - 1));
  auto total = ParseUint(value.substr(slash + 1));
  if (!first || !last || !total || *first > *last || *last >= *total)
    return std::nullopt;
  return ContentRange{*first, *last, *total};
}

struct HttpClient::Pool {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<CURL*> idle;
  int in_flight = 0;
  int dropped = 0;
  curl_slist* resolve = nullptr;

  ~Pool() {
    for (CURL* h : idle) curl_easy_cleanup(h);
    curl_slist_free_all(resolve);
  }
};

HttpClient::HttpClient(HttpOptions options)
    : options_(std::move(options)), pool_(std::make_unique<Pool>()) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (options_.max_in_flight < 1) options_.max_in_flight = 1;
  for (const auto& r : options_.resolve)
    pool_->resolve = curl_slist_append(pool_->resolve, r.c_str());
}

HttpClient::~HttpClient() = default;

int HttpClient::dropped_connections() const {
  std::lock_guard lock(pool_->mu);
  return pool_->dropped;
}

namespace {

// The request's headers as curl wants them (the caller frees the list).
curl_slist* HeaderLines(const HttpRequest& req) {
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : req.headers) {
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  // No "Expect: 100-continue": one round trip less, and no half-read
  // connections.
  headers = curl_slist_append(headers, "Expect:");
  // libcurl adds "Accept: */*" and, for POST, a form Content-Type unless told
  // not to.
  return curl_slist_append(headers, "Accept:");
}

// The options of one transfer on handle h, besides the headers.
void SetTransfer(CURL* h, const HttpRequest& req, const HttpOptions& o,
                 curl_slist* resolve, Transfer& t) {
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(o.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, Progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
  if (o.total_timeout.count() > 0)
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(o.total_timeout.count()));
  if (resolve) curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
  if (!o.ca_file.empty())
    curl_easy_setopt(h, CURLOPT_CAINFO, o.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);

  if (req.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(h, CURLOPT_READDATA, &t);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, SeekBody);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                     static_cast<curl_off_t>(t.body->size()));
  } else if (req.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(req.body.size()));
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
}

Error TransportError(CURLcode rc, const HttpRequest& req, const Transfer& t) {
  if (t.stalled)
    return MakeError(
        ErrorCode::kTransient,
        fmt::format("{}: {} failed: nothing moved for {} s", req.what,
                    req.method, t.stall->limit().count() / 1000.0));
  ErrorCode code = ErrorCode::kTransient;
  if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
    code = ErrorCode::kInvalidArgument;
  // A certificate that does not verify will not verify on the next attempt
  // either.
  if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
      rc == CURLE_SSL_CERTPROBLEM)
    code = ErrorCode::kIo;
  std::string hint;
  if (rc == CURLE_SSL_CONNECT_ERROR) {
    // A handshake that fails fails again: most often https:// names a port
    // that speaks plain HTTP.
    code = ErrorCode::kIo;
    hint = " (the TLS handshake failed; does the endpoint speak https?)";
  }
  return MakeError(code, req.what + ": " + req.method +
                             " failed: " + curl_easy_strerror(rc) + hint);
}

}  // namespace

void* HttpClient::Acquire() {
  CURL* h = nullptr;
  {
    std::unique_lock lock(pool_->mu);
    pool_->cv.wait(lock,
                   [&] { return pool_->in_flight < options_.max_in_flight; });
    ++pool_->in_flight;
    if (!pool_->idle.empty()) {
      h = pool_->idle.back();
      pool_->idle.pop_back();
    }
  }
  if (h == nullptr) h = curl_easy_init();
  EFS2S3_CHECK(h != nullptr);
  curl_easy_reset(h);
  return h;
}

void HttpClient::Release(void* handle, bool drop) {
  CURL* h = static_cast<CURL*>(handle);
  {
    std::lock_guard lock(pool_->mu);
    --pool_->in_flight;
    if (drop) {
      ++pool_->dropped;
    } else {
      pool_->idle.push_back(h);
      h = nullptr;
    }
  }
  pool_->cv.notify_one();
  if (h) curl_easy_cleanup(h);
}

Result<HttpResponse> HttpClient::Do(const HttpRequest& req) {
  CURL* h = static_cast<CURL*>(Acquire());
  HttpResponse resp;
  SpanSource span_body(req.body);
  const Source& body = req.source ? *req.source : span_body;
  StallWatch stall(options_.stall_timeout, StallWatch::Clock::now());
  Transfer t{&body, 0, &resp, &stall};
  t.upload = options_.limits.upload.get();
  t.download = options_.limits.download.get();
  curl_slist* headers = HeaderLines(req);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  SetTransfer(h, req, options_, pool_->resolve, t);
  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  if (rc == CURLE_OK)
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  Release(h, rc != CURLE_OK || (body.size() > 0 && resp.status >= 400) ||
                 resp.status >= 500);
  if (rc != CURLE_OK) return TransportError(rc, req, t);
  return resp;
}

}  // namespace efs2s3::aws
