#include "base/result.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace efs2s3 {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknown:
      return "error";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kCorruption:
      return "corruption";
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kIo:
      return "I/O error";
    case ErrorCode::kPermission:
      return "permission denied";
    case ErrorCode::kTransient:
      return "transient error";
    case ErrorCode::kLocked:
      return "locked";
    case ErrorCode::kWrongPassword:
      return "wrong password";
    case ErrorCode::kNoRepository:
      return "no repository";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kUsage:
      return "usage error";
  }
  return "error";
}

Error Error::Wrap(std::string_view context) const {
  Error e = *this;
  e.message = std::string(context) + ": " + message;
  return e;
}

Error PosixError(std::string_view context, int err) {
  ErrorCode code = ErrorCode::kIo;
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      code = ErrorCode::kNotFound;
      break;
    case EEXIST:
      code = ErrorCode::kAlreadyExists;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = ErrorCode::kPermission;
      break;
    case EINTR:
    case EAGAIN:
      code = ErrorCode::kTransient;
      break;
    default:
      break;
  }
  return Error{code, std::string(context) + ": " + std::strerror(err)};
}

void CheckFailed(const char* file, int line, const char* cond) {
  std::fprintf(stderr, "efs2s3: internal error at %s:%d: check failed: %s\n",
               file, line, cond);
  std::abort();
}

}  // namespace efs2s3
