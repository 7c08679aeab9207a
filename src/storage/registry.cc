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
    return s3::NewS3Backend(where, options.s3);
  }
  std::string path = location;
  if (path.rfind("local:", 0) == 0) path = path.substr(6);
  return NewLocalBackend(path);
}

}  // namespace efs2s3::storage
