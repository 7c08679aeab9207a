// A small blocking HTTP/1.1 client on libcurl, shared by many threads.
//
// HttpClient keeps a pool of curl easy handles; each keeps its connection alive
// between requests, so a busy client holds up to `max_in_flight` persistent
// connections. Do() blocks while `max_in_flight` requests are already running.
//
// A handle whose request failed at the transport level, or whose request body
// may not have been read by the server (a status >= 400 answering a request
// with a body), is closed instead of being returned to the pool: such a
// connection may be stalled or out of sync (radosgw leaves it half-read).
//
// Errors: transport failures (connect refused, reset, timeout, truncated body)
// are kTransient; a malformed URL is kInvalidArgument. HTTP statuses are not
// errors here. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/sigv4.h"
#include "base/bytes.h"
#include "base/rate_limit.h"
#include "base/result.h"
#include "base/source.h"

namespace efs2s3::aws {

struct HttpOptions {
  int max_in_flight = 32;
  std::chrono::milliseconds connect_timeout{10000};
  // A transfer that moves nothing for this long (StallWatch) is aborted.
  std::chrono::milliseconds stall_timeout{60000};
  // Whole request, 0 = no limit.
  std::chrono::milliseconds total_timeout{0};
  // curl CURLOPT_RESOLVE entries ("bucket.localhost:7480:127.0.0.1"), for
  // tests.
  std::vector<std::string> resolve;
  // Path of a CA bundle, "" for the system default.
  std::string ca_file;
  // Request bodies sent (upload) and answer bodies received (download) take
  // from these, shared by every connection (and every client that shares
  // them); null: unlimited.
  TransferLimits limits;
};

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  HeaderList headers;
  ByteSpan body;
  // A short description for error messages ("s3:bucket/key"); never
  // credentials.
  std::string what;
  // PUT only: if set, the body is read from here instead of `body`.
  const Source* source = nullptr;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  Bytes body;

  // Header value or "".
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

// A Content-Range header of a 206 answer: "bytes FIRST-LAST/TOTAL".
struct ContentRange {
  std::uint64_t first = 0, last = 0, total = 0;
};
// nullopt unless `value` is exactly that form with FIRST <= LAST < TOTAL.
std::optional<ContentRange> ParseContentRange(std::string_view value);

// When a transfer has stalled: nothing sent or received for `limit`, counted
// from the start of the request or the last byte moved (waiting for an answer
// counts as stalled). libcurl's own low-speed check averages over a window of
// seconds, so after an upload it fired at several times its setting.
class StallWatch {
 public:
  using Clock = std::chrono::steady_clock;
  StallWatch(std::chrono::milliseconds limit, Clock::time_point start)
      : limit_(limit), last_change_(start) {}
  // True once nothing has moved for `limit`; `moved` is the bytes sent plus
  // received so far.
  bool Stalled(std::uint64_t moved, Clock::time_point now) {
    if (moved != moved_) {
      moved_ = moved;
      last_change_ = now;
      return false;
    }
    return now - last_change_ >= limit_;
  }
  std::chrono::milliseconds limit() const { return limit_; }

 private:
  std::chrono::milliseconds limit_;
  Clock::time_point last_change_;
  std::uint64_t moved_ = 0;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> Do(const HttpRequest& req);

  const HttpOptions& options() const { return options_; }
  // Number of connections closed because of errors (for tests).
  int dropped_connections() const;

 private:
  struct Pool;
  // A curl handle, once fewer than max_in_flight requests run; Release
  // returns it to the pool, or closes its connection when `drop`.
  void* Acquire();
  void Release(void* handle, bool drop);
  HttpOptions options_;
  std::unique_ptr<Pool> pool_;
};

}  // namespace efs2s3::aws
