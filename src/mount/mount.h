// mount: the snapshots of a repository as a read-only FUSE file system.
//
//   snapshots/<time>/...          every snapshot by its time (UTC, RFC 3339;
//   snapshots/latest -> <time>    "<time>-<short id>" when two share a time)
//   ids/<short id>/...
//   hosts/<host>/<time>/..., hosts/<host>/latest
//   tags/<tag>/<time>/...,   tags/<tag>/latest
//
// Below a snapshot: its stored tree with full metadata (modes, owners, times,
// sizes, link counts, symlinks, devices, xattrs). Files are read lazily, blob
// by blob, through a cache bounded in bytes; a read that follows the previous
// one of the same open file starts loading the next blobs ahead of it.
// Built only when libfuse3 is found (EFS2S3_HAVE_FUSE); nothing else depends
// on this module.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/result.h"
#include "repo/repository.h"
#include "repo/snapshots.h"

namespace efs2s3::mount {

struct MountOptions {
  std::string dir;           // an existing, empty directory
  bool allow_other = false;  // -o allow_other (other users may read it)
  std::uint64_t cache_bytes = 256u << 20;  // decoded blobs kept
  int read_ahead = 4;                      // blobs loaded ahead
  std::function<void()> on_mounted;        // once the mount is up
};

// Serves `snapshots` of `repo` at options.dir until it is unmounted
// (`fusermount3 -u DIR`) or this process gets SIGINT, SIGTERM or SIGHUP
// (libfuse's handlers: the mount is removed before this returns).
Result<void> Serve(repo::Repository& repo, const repo::SnapshotList& snapshots,
                   const MountOptions& options);

}  // namespace efs2s3::mount
