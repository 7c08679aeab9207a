// Opens a repository location: the one place where backends are chosen and the
// decorator stack is composed.
#pragma once

#include <memory>
#include <string>

#include "storage/backend.h"
#include "storage/options.h"

namespace efs2s3::storage {

// Locations: a path ("/srv/repo", "local:/srv/repo") or "s3://bucket[/prefix]".
// With options.point_in_time_ns an S3 location opens read-only as it was at
// that time (s3/s3_backend.h, NewS3PointInTimeBackend); any other is kUsage.
// Errors: kInvalidArgument for an unknown scheme or malformed location.
Result<std::unique_ptr<Backend>> Open(const std::string& location,
                                      const BackendOptions& options);

}  // namespace efs2s3::storage
