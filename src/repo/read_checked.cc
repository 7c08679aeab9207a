#include "repo/read_checked.h"

#include <vector>

#include "crypto/crypto.h"

namespace efs2s3::repo {

Result<void> ReadChecked(const std::function<Result<Bytes>()>& read,
                         const std::function<Result<void>(Bytes&)>& check,
                         const std::string& what, Bytes* damaged) {
  std::vector<crypto::Digest> failed;  // hashes of the reads check rejected
  for (int n = 1;; ++n) {
    ASSIGN_OR_RETURN(Bytes data, read());
    auto ok = check(data);
    if (ok || ok.error().code != ErrorCode::kCorruption) return ok;
    crypto::Digest digest = crypto::Sha256(data);
    for (const crypto::Digest& d : failed) {
      if (d != digest) continue;
      if (damaged) *damaged = std::move(data);
      return ok;  // the same bytes twice: the stored object is damaged
    }
    failed.push_back(digest);
    if (n == kMaxCheckedReads)
      return MakeError(ErrorCode::kTransient,
                       what + ": " + std::to_string(n) +
                           " reads returned different bytes, none intact "
                           "(data corrupted in transit?); last: " +
                           ok.error().message);
  }
}

}  // namespace efs2s3::repo
