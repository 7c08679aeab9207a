// prune (placeholder until maintenance lands)
#include "cli/context.h"

namespace efs2s3::cli {
Result<int> RunPruneFromForget(Context&, bool) {
  return MakeError(ErrorCode::kUnsupported, "prune is not available yet");
}
}  // namespace efs2s3::cli
