// Small POSIX file helpers with crash-safe publishing.
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "base/source.h"

namespace efs2s3 {

// Reads a whole file. kNotFound if it does not exist.
Result<Bytes> ReadFile(const std::string& path);

// Writes `data` to a temporary file beside `path`, fsyncs it, then publishes
// it: with create_only, via link() so an existing `path` is never replaced
// (kAlreadyExists); otherwise via rename(). The directory is fsynced
// afterwards. A crash at any point leaves either the old state or the complete
// new file (plus, at worst, a ".tmp-*" file that readers ignore). The file
// is created with `mode` (less the umask).
Result<void> WriteFileAtomic(const std::string& path, ByteSpan data,
                             bool create_only, bool sync = true,
                             unsigned mode = 0600);
// The same, streaming from a Source in pieces of 1 MiB.
Result<void> WriteFileAtomic(const std::string& path, const Source& data,
                             bool create_only, bool sync = true,
                             unsigned mode = 0600);

// An unnamed temporary file in `dir` (O_TMPFILE; where the file system lacks
// it, a file created and unlinked at once), open for reading and writing. It
// disappears when closed, also after a crash.
Result<int> OpenTempFile(const std::string& dir);

// mkdir -p. Existing directories are fine.
Result<void> MakeDirs(const std::string& path, unsigned mode = 0700);

// Random bytes from the OS CSPRNG (OpenSSL RAND_bytes).
Bytes RandomBytes(size_t n);

}  // namespace efs2s3
