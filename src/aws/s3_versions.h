// Which version of an object was current at a point in time, from the
// versions and delete markers ListObjectVersions gives for its key. A pure
// function, so the rule is tested on its own (s3_versions_test.cc) and the
// point-in-time view of a repository (storage/s3/) only applies it.
#pragma once

#include <cstdint>
#include <span>

#include "aws/s3_xml.h"

namespace efs2s3::aws {

// The entry of one key that was current at `at_ns` (Unix nanoseconds): the
// newest entry whose LastModified is at or before it. Entries after `at_ns`
// are ignored, whatever they are (later versions, delete markers). Two entries
// with the same LastModified (S3 keeps milliseconds, Amazon S3 often whole
// seconds) are told apart by the listing's order, which S3 gives newest first:
// the one listed first wins.
//
// nullptr when the object did not exist at `at_ns`: no entry is that old, or
// the current entry is a delete marker. `entries` are one key's, in listing
// order; IsLatest is not consulted (it describes now, not `at_ns`).
const ObjectVersion* SelectVersionAt(std::span<const ObjectVersion> entries,
                                     std::int64_t at_ns);

}  // namespace efs2s3::aws
