// The one place that maps errors to process exit codes (README, "Exit codes").
#pragma once

#include "base/result.h"

namespace efs2s3::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,       // fatal error
  kExitUsage = 2,       // bad command line
  kExitIncomplete = 3,  // backup done, some source files unreadable
  kExitNoRepository = 10,
  kExitLocked = 11,
  kExitWrongPassword = 12,
  kExitInterrupted = 130,
};

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
    default:
      return kExitError;
  }
}

}  // namespace efs2s3::cli
