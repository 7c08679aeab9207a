#include "storage/registry.h"

#include "storage/local/local_backend.h"
#include "storage/s3/s3_backend.h"

namespace efs2s3::storage {

Result<std::unique_ptr<Backend>> Open(const std::string& location,
                                      const BackendOptions& options) {
  if (location.empty())
    return MakeError(ErrorCode::kInvalidArgument,
                     "no repository given (use -r or EFS2S3_REPOSITORY)");
  if (location.rfind("s3://", 0) == 0 || location.rfind("s3:", 0) == 0) {
    // Retries and the request limit live inside the S3 client, per request.
    ASSIGN_OR_RETURN(s3::S3Location where, s3::ParseS3Location(location));
    if (options.point_in_time_ns)
      return s3::NewS3PointInTimeBackend(where, options.s3,
                                         *options.point_in_time_ns);
    return s3::NewS3Backend(where, options.s3);
  }
  if (options.point_in_time_ns)
    return MakeError(ErrorCode::kUsage,
                     location +
                         ": --point-in-time needs an S3 repository (a "
                         "versioned bucket); a local repository keeps no "
                         "earlier versions of its objects");
  std::string path = location;
  if (path.rfind("file://", 0) == 0) {
    path = path.substr(7);
    if (path.empty() || path.front() != '/')
      return MakeError(ErrorCode::kInvalidArgument,
                       location +
                           ": a file:// location needs an absolute path "
                           "(file:///srv/repo)");
  } else if (path.rfind("local:", 0) == 0) {
    path = path.substr(6);
  } else if (size_t colon = path.find("://"); colon != std::string::npos &&
                                              colon > 0 &&
                                              path.find('/') > colon) {
    // Not a path: a URL of a kind this program does not store to.
    return MakeError(
        ErrorCode::kInvalidArgument,
        location + ": unknown location scheme \"" + path.substr(0, colon) +
            "\" (use s3://BUCKET/PREFIX, a path, or file:///PATH)");
  }
  return NewLocalBackend(path, options.limits);
}

}  // namespace efs2s3::storage
