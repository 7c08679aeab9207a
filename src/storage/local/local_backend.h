// A repository in a local (or NFS-mounted) directory.
//
// Writes go to a temporary file in the target directory, are fsynced and then
// published with rename() (or link() for create-only saves), so a crash never
// leaves a partial object under its final name. Temporary files (".tmp-*") are
// ignored by List and may be deleted at any time by maintenance.
#pragma once

#include <memory>
#include <string>

#include "base/rate_limit.h"
#include "storage/backend.h"

namespace efs2s3::storage {

// Objects written take from limits.upload, objects read from limits.download
// (--limit-upload, --limit-download).
std::unique_ptr<Backend> NewLocalBackend(const std::string& root,
                                         TransferLimits limits = {});

}  // namespace efs2s3::storage
