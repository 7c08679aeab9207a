// The one multipart uploader: repository packs (storage/s3) and large files of
// sync both use it.
//
// An upload is CreateMultipartUpload, the parts (each with Content-MD5, which
// radosgw enforces, and its ETag compared with the part's MD5 unless SSE-KMS),
// then CompleteMultipartUpload; on any failure the upload is aborted, since the
// parts of a failed upload cost storage until then. The calling thread hands
// the parts out in order; at most `parallel` of them are uploaded (and, when
// buffered, held in memory) at once.
//
// S3Client's calls of a multipart upload (create, part, complete, abort,
// list) are defined in multipart.cc too.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "aws/s3_client.h"
#include "base/result.h"
#include "base/source.h"

namespace efs2s3::aws {

struct MultipartOptions {
  // At least 5 MiB; doubled until the object has at most 10,000 parts.
  std::uint64_t part_size = 16u << 20;
  int parallel = 4;
};

// What a caller may add to an upload (all optional).
struct MultipartHooks {
  // Read each part into memory first, in order, on the calling thread (a file
  // of sync is then read once, and on_read sees every byte in order).
  // Otherwise each upload reads its part from the source itself (a pack in a
  // temporary file is not copied into memory).
  bool buffer_parts = false;
  // With buffer_parts: each part's bytes, in order, before it is uploaded.
  std::function<void(ByteSpan)> on_read;
  // A part was stored (called from the thread that uploaded it).
  std::function<void(std::uint64_t bytes)> on_part_done;
  // Asked before each part; true stops the upload with kCancelled.
  std::function<bool()> cancelled;
};

// The part size for an object of `size` bytes (see MultipartOptions).
std::uint64_t PartSize(std::uint64_t size, std::uint64_t wanted);

// Uploads `data` to bucket/key in parts; returns the object's ETag.
Result<std::string> UploadMultipart(S3Client& client, const std::string& bucket,
                                    const std::string& key, const Source& data,
                                    const PutOptions& opts,
                                    const MultipartOptions& mp,
                                    const MultipartHooks& hooks = {});

}  // namespace efs2s3::aws
