// Error values for the whole code base.
//
// Every fallible function returns Result<T>. An Error carries a code that says
// how callers may react (retry, skip, abort) and a one-line message that names
// the object and what is wrong ("data/3f/3fa2...: pack header authentication
// failed"). Exceptions never cross module boundaries; only cli/ catches what
// libraries throw.
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <utility>

namespace efs2s3 {

enum class ErrorCode {
  kUnknown,
  kNotFound,         // the object/file does not exist
  kAlreadyExists,    // a create-only write found the object present
  kCorruption,       // authentication or decoding failed: never retried
  kInvalidArgument,  // the user asked for something impossible
  kIo,               // an I/O error that is not known to be transient
  kPermission,       // EACCES/EPERM, HTTP 403
  kTransient,        // may succeed when retried (network, 5xx, SlowDown)
  kLocked,           // the repository is locked by another process
  kWrongPassword,    // no key file opens with the given password
  kNoRepository,     // the repository does not exist
  kCancelled,        // interrupted by a signal or a caller
  kUnsupported,      // a format version or feature this build cannot handle
  kUsage,  // the command line names something that cannot be resolved (an
           // ambiguous ID prefix): exit 2, as a rejected option
};

const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kUnknown;
  std::string message;

  // Returns a copy whose message is prefixed with "context: ".
  Error Wrap(std::string_view context) const;
};

template <class T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using tl::expected<T, Error>::expected;
  Result(Error e) : tl::expected<T, Error>(tl::unexpect, std::move(e)) {}
  Result(tl::unexpected<Error> e) : tl::expected<T, Error>(std::move(e)) {}
};

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

// Maps an errno value to an Error "context: strerror".
Error PosixError(std::string_view context, int err);

inline Result<void> Ok() { return {}; }

}  // namespace efs2s3

#define EFS2S3_CONCAT_INNER(a, b) a##b
#define EFS2S3_CONCAT(a, b) EFS2S3_CONCAT_INNER(a, b)

// RETURN_IF_ERROR(expr): evaluates a Result<T>; returns its error from the
// caller.
#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    auto&& efs2s3_r_ = (expr);                                  \
    if (!efs2s3_r_) return ::tl::unexpected(efs2s3_r_.error()); \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): lhs = *expr, or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(EFS2S3_CONCAT(efs2s3_r_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                \
  auto tmp = (expr);                                         \
  if (!tmp) return ::tl::unexpected(std::move(tmp).error()); \
  lhs = std::move(*tmp)

// Broken invariants abort: they are bugs, not errors.
#define EFS2S3_CHECK(cond)                                         \
  do {                                                             \
    if (!(cond)) ::efs2s3::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

namespace efs2s3 {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond);
}
