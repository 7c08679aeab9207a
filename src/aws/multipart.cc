#include "aws/multipart.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "aws/s3_errors.h"

namespace efs2s3::aws {
namespace {

// A part handed to the uploaders: its number (from 0) and, when buffered, its
// bytes.
struct Part {
  size_t index = 0;
  std::shared_ptr<Bytes> bytes;
};

// The parts of one upload between the calling thread and the uploaders.
class Parts {
 public:
  Parts(size_t parts, int window) : etags_(parts), window_(window) {}

  // Blocks until fewer than `window` parts are queued or being uploaded.
  // False once a part has failed.
  bool WaitForRoom() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !status_ || in_flight_ < window_; });
    return static_cast<bool>(status_);
  }
  void Push(Part p) {
    {
      std::lock_guard lock(mu_);
      ++in_flight_;
      queue_.push_back(std::move(p));
    }
    cv_.notify_all();
  }
  // No part follows.
  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  // The next part to upload, nullopt when there is none left.
  std::optional<Part> Pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
    if (queue_.empty()) return std::nullopt;
    Part p = std::move(queue_.front());
    queue_.pop_front();
    return p;
  }
  bool failed() {
    std::lock_guard lock(mu_);
    return !status_;
  }
  // Records a part's result and frees its slot.
  void Done(size_t index, Result<std::string> etag) {
    {
      std::lock_guard lock(mu_);
      --in_flight_;
      if (!etag && status_) status_ = etag.error();
      if (etag) etags_[index] = std::move(*etag);
    }
    cv_.notify_all();
  }
  void Fail(Error e) {
    std::lock_guard lock(mu_);
    if (status_) status_ = std::move(e);
  }
  efs2s3::Result<std::vector<std::string>> Finish() {
    std::lock_guard lock(mu_);
    if (!status_) return status_.error();
    return std::move(etags_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Part> queue_;
  std::vector<std::string> etags_;
  efs2s3::Result<void> status_ = Ok();
  int in_flight_ = 0;
  const int window_;
  bool closed_ = false;
};

}  // namespace

std::uint64_t PartSize(std::uint64_t size, std::uint64_t wanted) {
  std::uint64_t part = std::max<std::uint64_t>(wanted, 5u << 20);
  while ((size + part - 1) / part > 10000) part *= 2;
  return part;
}

Result<std::string> UploadMultipart(S3Client& client, const std::string& bucket,
                                    const std::string& key, const Source& data,
                                    const PutOptions& opts,
                                    const MultipartOptions& mp,
                                    const MultipartHooks& hooks) {
  const std::uint64_t size = data.size();
  const std::uint64_t part_size = PartSize(size, mp.part_size);
  const size_t parts = std::max<size_t>(
      1, static_cast<size_t>((size + part_size - 1) / part_size));
  ASSIGN_OR_RETURN(std::string upload_id,
                   client.CreateMultipartUpload(bucket, key, opts));
  const bool check_etag = opts.sse != "aws:kms";
  const int window = std::max(1, mp.parallel);
  Parts queue(parts, window);
  auto uploader = [&] {
    while (std::optional<Part> p = queue.Pop()) {
      if (queue.failed()) {
        queue.Done(p->index, MakeError(ErrorCode::kCancelled, "skipped"));
        continue;
      }
      const std::uint64_t off = p->index * part_size;
      const std::uint64_t len = std::min(part_size, size - off);
      SliceSource slice(data, off, len);
      SpanSource buffered(p->bytes ? ByteSpan(*p->bytes) : ByteSpan());
      const Source& body = p->bytes ? static_cast<const Source&>(buffered)
                                    : static_cast<const Source&>(slice);
      auto etag =
          client.UploadPart(bucket, key, upload_id,
                            static_cast<int>(p->index + 1), body, check_etag);
      if (etag && hooks.on_part_done) hooks.on_part_done(len);
      queue.Done(p->index, std::move(etag));
    }
  };
  std::vector<std::thread> threads;
  const size_t nthreads = std::min<size_t>(parts, static_cast<size_t>(window));
  for (size_t t = 0; t < nthreads; ++t) threads.emplace_back(uploader);
  for (size_t i = 0; i < parts && queue.WaitForRoom(); ++i) {
    if (hooks.cancelled && hooks.cancelled()) {
      queue.Fail(MakeError(ErrorCode::kCancelled, "interrupted"));
      break;
    }
    Part p{i, nullptr};
    if (hooks.buffer_parts) {
      const std::uint64_t off = i * part_size;
      p.bytes = std::make_shared<Bytes>(
          static_cast<size_t>(std::min(part_size, size - off)));
      auto read = data.ReadAt(off, *p.bytes);
      if (!read) {
        queue.Fail(read.error());
        break;
      }
      if (hooks.on_read) hooks.on_read(*p.bytes);
    }
    queue.Push(std::move(p));
  }
  queue.Close();
  for (auto& t : threads) t.join();

  auto etags = queue.Finish();
  Result<std::string> done =
      etags ? client.CompleteMultipartUpload(bucket, key, upload_id, *etags,
                                             opts.create_only)
            : Result<std::string>(etags.error());
  if (!done) {
    // Parts of a failed upload cost storage until aborted.
    (void)client.AbortMultipartUpload(bucket, key, upload_id);
    return done.error();
  }
  return done;
}

// S3Client's multipart calls, the uploader's steps.

Result<std::string> S3Client::CreateMultipartUpload(const std::string& bucket,
                                                    const std::string& key,
                                                    const PutOptions& opts) {
  Call call("POST", bucket, key);
  call.query = {{"uploads", ""}};
  call.what = S3Name(bucket, key);
  call.headers.emplace_back("Content-Type", "application/octet-stream");
  AddPutHeaders(call.headers, opts);
  ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  auto id = ParseInitiateMultipartUpload(r.body);
  if (!id)
    return MakeError(ErrorCode::kIo, call.what + ": " + id.error().message);
  return id;
}

Result<std::string> S3Client::UploadPart(const std::string& bucket,
                                         const std::string& key,
                                         const std::string& upload_id, int part,
                                         const Source& data, bool check_etag) {
  Call call("PUT", bucket, key);
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
  Call call("POST", bucket, key);
  call.query = {{"uploadId", upload_id}};
  call.body = AsBytes(body);
  call.what = S3Name(bucket, key);
  call.headers.emplace_back("Content-Type", "application/xml");
  if (create_only) call.headers.emplace_back("If-None-Match", "*");
  std::string etag;
  // S3 may answer 200 and report an error in the body.
  call.validate = [&](const HttpResponse& r) -> Result<void> {
    // An unreadable answer leaves the ETag empty, as S3 had accepted the call.
    auto result = ParseCompleteMultipartUpload(r.body);
    if (!result) return Ok();
    etag = result->etag;
    if (!result->error) return Ok();
    const bool internal = result->error->code == S3Code::kInternalError;
    Error e = S3Error(internal ? 500 : 400, *result->error, "POST", call.what);
    if (internal) e.code = ErrorCode::kTransient;
    return e;
  };
  RETURN_IF_ERROR(Execute(call));
  return etag;
}

Result<void> S3Client::AbortMultipartUpload(const std::string& bucket,
                                            const std::string& key,
                                            const std::string& upload_id) {
  Call call("DELETE", bucket, key);
  call.query = {{"uploadId", upload_id}};
  call.what = S3Name(bucket, key);
  auto r = Execute(call);
  if (!r && r.error().code != ErrorCode::kNotFound) return r.error();
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
    Result<ListUploadsPage> page = MakeError(ErrorCode::kTransient, "");
    call.validate = DecodeOrRetry(page, &ParseListMultipartUploads, call.what);
    RETURN_IF_ERROR(Execute(call));
    for (const MultipartUpload& u : page->uploads) RETURN_IF_ERROR(fn(u));
    if (!page->truncated) return Ok();
    key_marker = page->next_key_marker;
    id_marker = page->next_upload_id_marker;
    if (key_marker.empty() && id_marker.empty())
      return MakeError(ErrorCode::kIo,
                       call.what + ": truncated listing without markers");
  }
}

}  // namespace efs2s3::aws
