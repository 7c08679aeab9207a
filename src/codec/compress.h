// zstd compression of blobs.
#pragma once

#include "base/bytes.h"
#include "base/result.h"

namespace efs2s3::codec {

// Compresses with zstd at `level`. Thread-safe (a context per thread).
Bytes Compress(ByteSpan data, int level = 3);

// Decompresses a zstd frame that must expand to exactly `expected_size` bytes.
// kCorruption otherwise.
Result<Bytes> Decompress(ByteSpan data, size_t expected_size);

}  // namespace efs2s3::codec
