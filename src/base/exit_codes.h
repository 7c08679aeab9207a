// Process exit codes (README, "Exit codes"): the numbers every command returns
// and the job runner reads back from the steps it runs.
#pragma once

namespace efs2s3 {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,          // fatal error
  kExitUsage = 2,          // bad command line
  kExitIncomplete = 3,     // done, but some files could not be read or copied
  kExitPending = 4,        // restore waits for archived data: run it again
  kExitShardsMissing = 5,  // backup --merge: shards of the run are missing
  kExitNoRepository = 10,
  kExitLocked = 11,
  kExitWrongPassword = 12,
  kExitInterrupted = 130,
};

}  // namespace efs2s3
