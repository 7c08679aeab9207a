// Files of a restore: created, written pack by pack in batches, verified and
// given their metadata.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/io.h"
#include "fs/meta.h"
#include "fs/open.h"
#include "restorer/restorer_impl.h"

namespace efs2s3::restorer::detail {

Result<void> Restorer::VerifyFile(int fd, const Node& node,
                                  const std::string& snap_path) {
  std::uint64_t offset = 0;
  std::uint64_t total = 0;
  for (const Id& id : node.content) {
    auto loc = repo_.Lookup(id);
    if (!loc)
      return MakeError(ErrorCode::kNotFound,
                       snap_path + ": blob " + id.Short() + " not indexed");
    Bytes buf(loc->raw_length);
    ASSIGN_OR_RETURN(size_t n, PreadFull(fd, buf, offset, snap_path));
    if (n < buf.size())
      return MakeError(ErrorCode::kCorruption,
                       snap_path + ": verify: file is short");
    offset += n;
    if (repo_.BlobId(buf) != id)
      return MakeError(ErrorCode::kCorruption,
                       snap_path + ": verify: content differs at offset " +
                           std::to_string(total));
    total += buf.size();
  }
  std::uint8_t extra;
  if (::pread(fd, &extra, 1, static_cast<off_t>(offset)) != 0)
    return MakeError(ErrorCode::kCorruption,
                     snap_path + ": verify: file is longer than the snapshot");
  return Ok();
}

Result<void> Restorer::CreateFile(FileJob& f) {
  const int flags = O_RDWR | O_CREAT | O_EXCL;
  int fd = OpenBeneath(target_fd_, f.rel, flags, 0600);
  if (fd < 0 && errno == EEXIST) {
    int dfd = OpenBeneath(target_fd_, Parent(f.rel), O_RDONLY | O_DIRECTORY);
    if (dfd < 0) return PosixError(f.snap_path, errno);
    int r = ::unlinkat(dfd, f.node.name.c_str(), 0);
    int err = errno;
    ::close(dfd);
    if (r != 0) return PosixError(f.snap_path, err);
    fd = OpenBeneath(target_fd_, f.rel, flags, 0600);
  }
  if (fd < 0) return PosixError(f.snap_path, errno);
  f.fd = fd;
  return Ok();
}

Result<void> Restorer::WriteAt(FileJob& f, std::uint64_t offset,
                               ByteSpan data) {
  const int fd = f.fd;
  // With --sparse, 4 KiB blocks (aligned in the file) that are all zero are not
  // written; the final ftruncate leaves them as holes.
  const size_t kBlock = 4096;
  Result<void> status = Ok();
  size_t pos = 0;
  while (pos < data.size() && status) {
    size_t end = data.size();
    if (opts_.sparse) {
      size_t next = kBlock - static_cast<size_t>((offset + pos) % kBlock);
      end = std::min(data.size(), pos + next);
      if (AllZero(data.subspan(pos, end - pos))) {
        pos = end;
        continue;
      }
      while (end < data.size()) {  // extend over following non-zero blocks
        size_t stop = std::min(data.size(), end + kBlock);
        if (AllZero(data.subspan(end, stop - end))) break;
        end = stop;
      }
    }
    status =
        PwriteFull(fd, data.subspan(pos, end - pos), offset + pos, f.snap_path);
    pos = end;
  }
  return status;
}

void Restorer::FailFile(FileJob& f, const Error& e) {
  std::lock_guard lock(mu_);
  if (!f.error) f.error = e;
  f.failed = true;
}

void Restorer::FailPack(const Id& pack, const Error& e,
                        const std::string& file) {
  std::lock_guard lock(mu_);
  auto [it, added] = failed_packs_.try_emplace(pack, FailedPack{e, {}});
  if (added) ++result_.packs_failed;
  it->second.files.insert(file);
}

void Restorer::ReportFailedPacks() {
  std::map<Id, FailedPack> packs;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, p] : failed_packs_) {
      if (p.files.empty()) continue;
      packs.emplace(id, FailedPack{p.error, std::move(p.files)});
      p.files.clear();
    }
  }
  // One line per pack, naming the files it took (the first kMaxNamed).
  constexpr size_t kMaxNamed = 1000;
  for (auto& [id, p] : packs) {
    std::string names;
    size_t n = 0;
    for (const std::string& f : p.files) {
      if (n++ == kMaxNamed) break;
      names += (names.empty() ? "" : ", ") + f;
    }
    if (p.files.size() > kMaxNamed)
      names += " and " + std::to_string(p.files.size() - kMaxNamed) + " more";
    Error named = p.error;
    named.message += " (" + std::to_string(p.files.size()) +
                     " files with data in this pack not restored: " + names +
                     ")";
    errors_.Report("pack " + id.Hex(), named);
  }
}

void Restorer::PieceDone(FileJob& f) {
  if (f.remaining.fetch_sub(1) == 1) FinishFile(f);
}

void Restorer::FinishFile(FileJob& f) {
  auto remove = [&] {
    // Never leave a silently damaged file behind.
    int dfd = OpenBeneath(target_fd_, Parent(f.rel), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      ::unlinkat(dfd, f.node.name.c_str(), 0);
      ::close(dfd);
    }
  };
  const int fd = std::exchange(f.fd, -1);
  if (f.failed) {
    if (fd >= 0) ::close(fd);
    if (f.pack_failed) {
      // Named once with its pack (FailPack); counted here.
      std::lock_guard lock(mu_);
      ++result_.errors;
      if (opts_.progress) ++opts_.progress->errors;
    } else if (f.error && f.error->code != ErrorCode::kCancelled) {
      ReportError(f.snap_path, *f.error);
    }
    remove();
    return;
  }
  Result<void> status = Ok();
  if (fd < 0) status = MakeError(ErrorCode::kIo, f.snap_path + ": not created");
  std::uint64_t size = f.bytes.load();
  if (status && ::ftruncate(fd, static_cast<off_t>(size)) != 0)
    status = PosixError(f.snap_path, errno);
  if (status && opts_.verify) {
    status = VerifyFile(fd, f.node, f.snap_path);
    if (status) {
      std::lock_guard lock(mu_);
      ++result_.verified;
    }
  }
  if (!status) {
    if (fd >= 0) ::close(fd);
    ReportError(f.snap_path, status.error());
    remove();
    return;
  }
  ApplyMeta(fd, -1, f.node.name, f.node, f.snap_path);
  ::close(fd);
  std::lock_guard lock(mu_);
  ++result_.files;
  result_.bytes += size;
  if (opts_.progress) ++opts_.progress->files;
}

std::vector<std::pair<size_t, size_t>> Restorer::PlanRanges(
    std::vector<Piece>& pieces) {
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return a.loc.offset < b.loc.offset;
  });
  // Neighbouring blobs with small gaps are read in one request, of up to
  // 4 MiB: a pack holding thousands of small files is then restored by
  // several workers at once, and each of its bytes is still fetched once.
  constexpr std::uint64_t kMaxGap = 1 << 20, kMaxRange = 4 << 20;
  std::vector<std::pair<size_t, size_t>> ranges;
  size_t i = 0;
  while (i < pieces.size()) {
    std::uint64_t begin = pieces[i].loc.offset;
    std::uint64_t end = begin + pieces[i].loc.length;
    size_t j = i + 1;
    while (j < pieces.size() && pieces[j].loc.offset <= end + kMaxGap &&
           pieces[j].loc.offset + pieces[j].loc.length - begin <= kMaxRange) {
      end = std::max<std::uint64_t>(
          end, pieces[j].loc.offset + pieces[j].loc.length);
      ++j;
    }
    ranges.emplace_back(i, j);
    i = j;
  }
  return ranges;
}

void Restorer::RestoreRange(const Id& pack, std::vector<Piece>& pieces,
                            size_t i, size_t j) {
  std::uint64_t begin = pieces[i].loc.offset, end = begin;
  for (size_t p = i; p < j; ++p)
    end = std::max<std::uint64_t>(end,
                                  pieces[p].loc.offset + pieces[p].loc.length);
  Result<Bytes> range = MakeError(ErrorCode::kCancelled, "interrupted");
  if (!Cancelled()) {
    range = repo_.LoadPackRange(pack, begin, end - begin);
    if (!range) range = range.error().Wrap("pack " + pack.Hex());
  }
  // A pack that cannot be read at all (missing, archived, denied): one error
  // for the pack, not one per blob or file.
  const bool whole_pack = !range &&
                          range.error().code != ErrorCode::kCancelled &&
                          range.error().code != ErrorCode::kCorruption &&
                          range.error().code != ErrorCode::kTransient;
  if (whole_pack) {
    for (size_t p = i; p < j; ++p) {
      FileJob& f = *pieces[p].file;
      FailPack(pack, range.error(), f.snap_path);
      f.pack_failed = true;
      FailFile(f, range.error());
      PieceDone(f);
    }
    return;
  }
  if (!range && range.error().code != ErrorCode::kCancelled &&
      pieces[i].id != pieces[j - 1].id) {
    // A damaged (e.g. truncated) pack: read blob by blob to save what is
    // intact.
    while (i < j) {
      size_t m = i;
      while (m < j && pieces[m].id == pieces[i].id) ++m;
      RestoreRange(pack, pieces, i, m);
      i = m;
    }
    return;
  }
  // Pieces of the same blob are adjacent after sorting: decode each blob once.
  size_t k = i;
  while (k < j) {
    size_t m = k;
    while (m < j && pieces[m].id == pieces[k].id) ++m;
    Result<Bytes> blob =
        range ? repo_.DecodeBlob(
                    pieces[k].id, pieces[k].loc,
                    ByteSpan(*range).subspan(pieces[k].loc.offset - begin,
                                             pieces[k].loc.length))
              : Result<Bytes>(range.error());
    // One failed check is inconclusive (a byte flipped in transit): the blob
    // is read again by itself before the file is called damaged.
    if (!blob && blob.error().code == ErrorCode::kCorruption && !Cancelled())
      blob = repo_.LoadBlob(pieces[k].id);
    for (size_t p = k; p < m; ++p) {
      FileJob& f = *pieces[p].file;
      if (!blob) {
        FailFile(f, blob.error().Wrap(f.snap_path));
      } else if (!f.failed) {
        auto w = WriteAt(f, pieces[p].offset, *blob);
        if (!w)
          FailFile(f, w.error());
        else if (opts_.progress)
          opts_.progress->bytes += blob->size();
      }
      PieceDone(f);
    }
    k = m;
  }
}

void Restorer::RunBatch() {
  if (batch_.empty()) return;
  // One batch runs while the walk assembles the next (loading trees, making
  // directories): the walk waits only when a second batch is ready.
  WaitBatch();
  running_ = batch_runner_.Submit([this, batch = std::move(batch_)]() mutable {
    ExecuteBatch(std::move(batch));
  });
  batch_.clear();
  batch_bytes_ = 0;
}

void Restorer::WaitBatch() {
  if (running_.valid()) running_.get();
}

void Restorer::ExecuteBatch(std::vector<std::unique_ptr<FileJob>> batch) {
  // Create all files in parallel (on a network file system each create is a
  // round trip).
  std::vector<std::future<void>> creates;
  for (auto& f : batch) {
    FileJob* fp = f.get();
    creates.push_back(pool_.Submit([this, fp] {
      auto r = CreateFile(*fp);
      if (!r) FailFile(*fp, r.error());
    }));
  }
  for (auto& c : creates) c.get();
  // Plan: which pieces each pack provides.
  std::map<Id, std::vector<Piece>> by_pack;
  std::vector<FileJob*> ready;
  for (auto& f : batch) {
    f->remaining = f->node.content.size() + 1;  // +1: released after planning
    std::uint64_t offset = 0;
    for (const Id& id : f->node.content) {
      auto loc = repo_.Lookup(id);
      if (!loc) {
        FailFile(*f, MakeError(ErrorCode::kNotFound,
                               f->snap_path + ": blob " + id.Hex() +
                                   " is not in the index"));
        f->remaining.fetch_sub(1);
        continue;
      }
      by_pack[loc->pack].push_back({id, *loc, f.get(), offset});
      offset += loc->raw_length;
    }
    f->bytes = offset;
    ready.push_back(f.get());
  }
  std::vector<std::future<void>> packs;
  for (auto& [pack, pieces] : by_pack) {
    for (auto [i, j] : PlanRanges(pieces)) {
      packs.push_back(pool_.Submit([this, p = pack, pcs = &pieces, i, j] {
        RestoreRange(p, *pcs, i, j);
      }));
    }
  }
  for (FileJob* f : ready) PieceDone(*f);  // files with no pieces finish here
  for (auto& p : packs) p.get();
  ReportFailedPacks();
}

}  // namespace efs2s3::restorer::detail
