// Options for opening a backend, filled from the command line by cli/.
// Environment fallbacks (AWS_ENDPOINT_URL_S3, AWS_REGION, ...) are resolved by
// the backend itself; see docs/S3.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/rate_limit.h"

namespace efs2s3::storage {

struct S3Options {
  std::string endpoint;  // --s3-endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL
  std::string region;    // AWS_REGION, AWS_DEFAULT_REGION, config file
  bool path_style = false;  // --s3-path-style
  int connections = 32;     // requests in flight
  std::string sse;          // "", "AES256", "aws:kms"
  std::string sse_kms_key_id;
  std::string storage_class_data;  // storage class of data packs
  std::string storage_class_meta;  // storage class of everything else
  // Objects of at least this size are uploaded in parts of multipart_part_size
  // bytes (at least 5 MiB), multipart_parallel parts at a time.
  std::uint64_t multipart_threshold = 64u << 20;
  std::uint64_t multipart_part_size = 16u << 20;
  int multipart_parallel = 4;
  // Timeouts in seconds: connecting, a transfer that moves nothing, a whole
  // request (0 = none).
  int connect_timeout_s = 10;
  int stall_timeout_s = 60;
  int request_timeout_s = 0;
  // Attempts per request for retryable failures.
  int max_attempts = 8;
  // --limit-upload / --limit-download, shared with every other client of the
  // process (BackendOptions::limits).
  TransferLimits limits;
};

struct BackendOptions {
  S3Options s3;
  // --point-in-time: open a read-only view of the repository as it was then
  // (Unix nanoseconds), from the object versions of an S3 bucket. A local
  // repository has no versions: Open refuses it (kUsage).
  std::optional<std::int64_t> point_in_time_ns;
  // --limit-upload / --limit-download: what objects written to and read from
  // any backend take from (for S3 through s3.limits, the same limiters).
  TransferLimits limits;
};

}  // namespace efs2s3::storage
