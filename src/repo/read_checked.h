// Reads that tell a byte flipped in transit from a damaged object.
//
// Everything the repository reads is authenticated, but one failed check is
// inconclusive: a proxy, a NIC or a server can hand back a wrong byte once.
// Reporting that as "damaged" would send an operator to delete good data, and
// repair would drop what is still restorable. So a read whose check fails is
// read again; it is damage only when two reads return the same bytes and both
// fail (the stored object is what it is). Reads that disagree every time are a
// transient fault (kTransient), never "damaged".
#pragma once

#include <functional>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace efs2s3::repo {

// At most this many reads of one object or range per check.
inline constexpr int kMaxCheckedReads = 4;

// Calls `read`, then `check` on its bytes, until `check` accepts them. Only
// `check` may take the bytes when it accepts them, and must leave them as
// they are when it rejects them. Only kCorruption from `check` leads to another
// read; any other error (from either) is returned as is. `what` names the
// object in the transient error. On stable damage the failed bytes are moved to
// *damaged when given (callers that salvage what is intact, e.g. check and
// repair reading whole packs).
Result<void> ReadChecked(const std::function<Result<Bytes>()>& read,
                         const std::function<Result<void>(Bytes&)>& check,
                         const std::string& what, Bytes* damaged = nullptr);

}  // namespace efs2s3::repo
