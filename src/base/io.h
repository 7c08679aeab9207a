// Whole reads and writes at an offset: the one place that loops over short
// transfers and EINTR.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace efs2s3 {

// Reads up to out.size() bytes at `offset`, stopping early only at the end of
// the file. Returns the bytes read (fewer than asked: the file ended). Errors
// name `what`.
Result<size_t> PreadFull(int fd, std::span<std::uint8_t> out,
                         std::uint64_t offset, const std::string& what);

// Reads exactly out.size() bytes at `offset`; a file that ends first is kIo
// ("shorter than expected").
Result<void> PreadExact(int fd, std::span<std::uint8_t> out,
                        std::uint64_t offset, const std::string& what);

// Writes all of `data` at `offset`.
Result<void> PwriteFull(int fd, ByteSpan data, std::uint64_t offset,
                        const std::string& what);

// Writes all of `data` at the file position (pipes, O_APPEND files).
Result<void> WriteFull(int fd, ByteSpan data, const std::string& what);

}  // namespace efs2s3
