#include "storage/registry.h"

#include "storage/local/local_backend.h"

namespace efs2s3::storage {

Result<std::unique_ptr<Backend>> Open(const std::string& location,
                                      const BackendOptions& options) {
  (void)options;
  if (location.empty())
    return MakeError(ErrorCode::kInvalidArgument,
                     "no repository given (use -r or EFS2S3_REPOSITORY)");
  if (location.rfind("s3://", 0) == 0 || location.rfind("s3:", 0) == 0)
    return MakeError(ErrorCode::kUnsupported, location + ": S3 support is not built in");
  std::string path = location;
  if (path.rfind("local:", 0) == 0) path = path.substr(6);
  return NewLocalBackend(path);
}

}  // namespace efs2s3::storage
