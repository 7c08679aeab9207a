// The one place that maps errors to process exit codes (README, "Exit codes";
// the numbers are in base/exit_codes.h).
#pragma once

#include "base/exit_codes.h"
#include "base/result.h"

namespace efs2s3::cli {

using efs2s3::ExitCode;
using enum efs2s3::ExitCode;

inline int ExitCodeFor(const Error& e) {
  switch (e.code) {
    case ErrorCode::kNoRepository:
      return kExitNoRepository;
    case ErrorCode::kLocked:
      return kExitLocked;
    case ErrorCode::kWrongPassword:
      return kExitWrongPassword;
    case ErrorCode::kCancelled:
      return kExitInterrupted;
    case ErrorCode::kUsage:
      return kExitUsage;
    default:
      return kExitError;
  }
}

}  // namespace efs2s3::cli
