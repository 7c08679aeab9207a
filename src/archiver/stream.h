// Backup of a stream (standard input, or the output of a command): one file
// in a new snapshot, chunked and deduplicated like any file. There is no
// checkpoint and no partial snapshot: a stream cut short is not a version of
// anything, so an interrupted or failed stream saves no snapshot (what was
// uploaded is indexed, so a retry does not upload it again).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "archiver/archiver.h"
#include "base/result.h"

namespace efs2s3::archiver {

struct StreamSource {
  int fd = -1;       // read to its end (a pipe or a file)
  std::string name;  // where the file goes in the snapshot (StreamPath)
  std::string what;  // names the stream in errors ("standard input")
  // Called once the stream has ended or failed, before anything is saved: an
  // error (the command that wrote the stream failed) fails the backup and no
  // snapshot is saved. May be empty.
  std::function<Result<void>()> finished;
};

// The path of a stream's file in the snapshot: `name` made absolute below "/"
// and lexically normal ("db.sql" -> "/db.sql", "/x/./y" -> "/x/y"). kUsage for
// a name that leaves no file name ("", "/", "..") or holds a NUL.
Result<std::string> StreamPath(const std::string& name);

// Saves the stream as one file at StreamPath(source.name) (its directories
// above it get mode 0755; the file mode 0644; owner this process's user;
// times the snapshot's), then the snapshot, with options.parent recorded.
// Only paths, tags, hostname, time_ns, parent, uploads, dry_run, progress,
// cancel and on_error of `options` are used.
Result<BackupResult> RunStreamBackup(BackupStores stores,
                                     const BackupOptions& options,
                                     const StreamSource& source);

}  // namespace efs2s3::archiver
