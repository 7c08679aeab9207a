// dump: one entry of a snapshot as a stream, for `efs2s3 dump`: a file as its
// bytes, a directory (or any other entry) as a tar (pax) or zip archive.
//
// Blobs are read through the repository's authenticated LoadBlob, up to
// read_ahead of them ahead of the writer and across files (a directory of
// small files would otherwise cost one request after another), and written in
// order; nothing is written to disk. Entry names
// in the archive are relative: the dumped entry's own name first ("" for the
// root of a snapshot, whose entries are then the top level), then the names
// of the trees below, each checked again with model::IsSafeName, so that no
// name can make an extractor write outside its directory (a tree that holds
// "..", "/" or an empty name fails the dump). Hard links (files with the same
// device and inode) are hard-link entries in a tar, copies in a zip. Sockets
// have no tar or zip form, FIFOs and devices no zip form: they are left out
// (named to on_skipped). A zip holds content, modes, times and symlinks only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "base/result.h"
#include "model/node.h"
#include "repo/interfaces.h"

namespace efs2s3::restorer {

enum class ArchiveFormat { kTar, kZip };

struct DumpOptions {
  ArchiveFormat format = ArchiveFormat::kTar;
  int out_fd = 1;
  // Blobs being fetched ahead of the writer, at most (and threads that fetch).
  int read_ahead = 8;
  // An entry left out of the archive (a socket), with why.
  std::function<void(const std::string& path, const std::string& why)>
      on_skipped;
  const std::atomic<bool>* cancel = nullptr;
};

struct DumpResult {
  std::uint64_t files = 0, dirs = 0, links = 0, other = 0, skipped = 0;
  std::uint64_t bytes = 0;  // file content written
};

// Writes the content of the file `node` to options.out_fd. `path` names it in
// errors.
Result<DumpResult> DumpFile(repo::BlobLoader& repo, const model::Node& node,
                            const std::string& path,
                            const DumpOptions& options);

// Writes `node`, under the name `name`, and everything below it as an archive
// to options.out_fd. With `name` empty, `node` must be a directory: its
// entries are the archive's top level (the root of a snapshot). `path` is the
// node's path in the snapshot, for errors.
Result<DumpResult> DumpArchive(repo::BlobLoader& repo, const model::Node& node,
                               const std::string& name, const std::string& path,
                               const DumpOptions& options);

}  // namespace efs2s3::restorer
