// The manifest: what the previous run knew about every object of the mirror.
//
// ListObjectsV2 returns key, size, ETag and Last-Modified but no user metadata,
// so a run would need a HEAD per object to learn file times and modes. Instead
// each run writes a manifest object (kManifestName under the prefix) with the
// attributes of every object it knows, keyed by object key and pinned to the
// object's size and ETag. The next run trusts an entry only when the listing
// shows the same key with the same size and ETag; anything else (an object
// written by another tool, or by a run that crashed before its manifest) is
// looked at with one HEAD. See docs/SYNC.md, "Change detection".
//
// Encoding: 8-byte little-endian length of the text, then the text compressed
// with zstd. The text is a header line "efs2s3-sync-manifest 1", then one line
// per object: key, size, etag, mode, uid, gid, mtime, atime, md5, separated by
// tabs; mode is octal with the type bits or "-" for an object without
// attributes; uid, gid, atime and md5 may be "-"; tab, newline and backslash in
// keys are written as \t, \n and \\.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "sync/names.h"

namespace efs2s3::sync {

inline constexpr const char* kManifestName = ".efs2s3-sync-manifest";

struct ManifestEntry {
  std::uint64_t size = 0;
  std::string etag;
  // nullopt: the object has no attributes (written by another tool); its
  // Last-Modified time stands for the mtime.
  std::optional<Attributes> attrs;
};

// Object key relative to the prefix -> entry.
using Manifest = std::map<std::string, ManifestEntry>;

Bytes EncodeManifest(const Manifest& m);
// kCorruption for anything that does not parse.
Result<Manifest> DecodeManifest(ByteSpan data);

}  // namespace efs2s3::sync
