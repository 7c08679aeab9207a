// A decorator that counts the requests made of a backend: every call that
// reaches the store (save, load, stat, remove, a listing, a retention call)
// counts once, however many HTTP requests an S3 backend makes for it (a
// multipart upload, a paginated listing, retries). `backup --json` reports
// the count as "requests", and `job run` as the Requests metric.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "storage/backend.h"

namespace efs2s3::storage {

// `count` must outlive the returned backend.
std::unique_ptr<Backend> NewCountingBackend(std::unique_ptr<Backend> inner,
                                            std::atomic<std::uint64_t>* count);

}  // namespace efs2s3::storage
