#include "aws/s3_versions.h"

namespace efs2s3::aws {

const ObjectVersion* SelectVersionAt(std::span<const ObjectVersion> entries,
                                     std::int64_t at_ns) {
  const ObjectVersion* best = nullptr;
  for (const ObjectVersion& e : entries) {
    if (e.last_modified_ns > at_ns) continue;
    // Strictly newer only: of equal times the one listed first (newest) stays.
    if (!best || e.last_modified_ns > best->last_modified_ns) best = &e;
  }
  if (best && best->delete_marker) return nullptr;
  return best;
}

}  // namespace efs2s3::aws
