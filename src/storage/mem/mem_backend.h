// An in-memory backend for unit tests of the modules above storage.
#pragma once

#include <memory>

#include "storage/backend.h"

namespace efs2s3::storage {

std::unique_ptr<Backend> NewMemBackend();

}  // namespace efs2s3::storage
