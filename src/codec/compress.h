// zstd compression of blobs.
#pragma once

#include "base/bytes.h"
#include "base/result.h"

namespace efs2s3::codec {

// Compresses with zstd at `level`. Thread-safe (a context per thread).
Bytes Compress(ByteSpan data, int level = 3);

// True if `data` (64 KiB or more) is very likely not worth compressing: a
// 16 KiB sample from its middle, compressed at zstd's fastest level, shrinks
// by less than 2 %. Costs about 1 % of compressing the whole at level 3, and
// saves all of it on media, archives and encrypted files.
bool LooksIncompressible(ByteSpan data);

// Decompresses a zstd frame that must expand to exactly `expected_size` bytes.
// kCorruption otherwise.
Result<Bytes> Decompress(ByteSpan data, size_t expected_size);

}  // namespace efs2s3::codec
