#include "drill/drill.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

#include "base/fd.h"
#include "base/file_util.h"
#include "base/io.h"
#include "base/test_hooks.h"
#include "restorer/restorer.h"
#include "storage/storage_class.h"
#include "trees/trees.h"

namespace efs2s3::drill {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kBlock = 1 << 20;

struct Candidate {
  std::string path;
  model::Node node;
};

bool Cancelled(const DrillOptions& o) { return o.cancel && o.cancel->load(); }

// The storage class of the pack holding `id`, "STANDARD" when not known.
std::string ClassOf(repo::BlobLoader& repo, const DrillOptions& o,
                    const Id& id) {
  auto loc = repo.Lookup(id);
  if (!loc) return "STANDARD";
  auto it = o.packs.find(loc->pack);
  if (it == o.packs.end() || it->second.storage_class.empty())
    return "STANDARD";
  return it->second.storage_class;
}

// Whether any of the file's blobs is in a cold pack.
bool InColdStorage(repo::BlobLoader& repo, const DrillOptions& o,
                   const model::Node& n) {
  return std::any_of(n.content.begin(), n.content.end(), [&](const Id& id) {
    return IsColdStorageClass(ClassOf(repo, o, id));
  });
}

// Calls fn for every regular file of the snapshot that may be restored
// (counting those left out as cold).
Result<void> ForEachCandidate(
    repo::BlobLoader& repo, const model::Snapshot& snap, const DrillOptions& o,
    std::uint64_t* cold,
    const std::function<void(const std::string&, const model::Node&)>& fn) {
  bool any_cold =
      !o.allow_cold &&
      std::any_of(o.packs.begin(), o.packs.end(), [](const auto& p) {
        return IsColdStorageClass(p.second.storage_class);
      });
  return trees::Walk(
      repo, snap.tree, "",
      [&](const std::string& path, const model::Node& n) -> Result<void> {
        if (Cancelled(o))
          return MakeError(ErrorCode::kCancelled, "interrupted");
        if (n.type != model::NodeType::kFile) return Ok();
        if (any_cold && InColdStorage(repo, o, n)) {
          ++*cold;
          return Ok();
        }
        fn(path, n);
        return Ok();
      });
}

// Compares the restored file at `file` with the node: its size, then its
// bytes blob by blob against the content IDs. "" when they match.
std::string CompareWithNode(repo::BlobLoader& repo, const std::string& file,
                            const model::Node& node) {
  struct stat st {};
  if (::lstat(file.c_str(), &st) != 0)
    return std::string("restored file missing: ") + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "restored entry is not a regular file";
  if (static_cast<std::uint64_t>(st.st_size) != node.size)
    return "restored size " + std::to_string(st.st_size) +
           " differs from the snapshot's " + std::to_string(node.size);
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd)
    return std::string("cannot open restored file: ") + std::strerror(errno);
  std::uint64_t offset = 0;
  Bytes buf;
  for (size_t i = 0; i < node.content.size(); ++i) {
    const Id& id = node.content[i];
    auto loc = repo.Lookup(id);
    if (!loc) return "blob " + id.Hex() + " is not in the index";
    buf.resize(loc->raw_length);
    auto read = PreadExact(fd.get(), buf, offset, file);
    if (!read) return "restored file is shorter than its blobs";
    if (repo.BlobId(buf) != id)
      return "content differs from blob " + id.Short() + " at offset " +
             std::to_string(offset);
    offset += loc->raw_length;
  }
  if (offset != node.size)
    return "the snapshot's blobs hold " + std::to_string(offset) +
           " bytes, its size is " + std::to_string(node.size);
  return "";
}

enum class SourceState { kSame, kDiffers, kChanged, kMissing };

// Compares the restored file with the source at `path` when the source is
// unchanged since the snapshot (same size, mtime and ctime).
SourceState CompareWithSource(const std::string& path, const std::string& file,
                              const model::Node& node, std::string* what) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return SourceState::kMissing;
  // A file stored while it kept changing (or cut short) may hold what the
  // source never held at once: only the snapshot vouches for it.
  if (node.flags != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_size) != node.size ||
      st.st_mtim.tv_sec != node.mtime.sec ||
      static_cast<std::uint32_t>(st.st_mtim.tv_nsec) != node.mtime.nsec ||
      st.st_ctim.tv_sec != node.ctime.sec ||
      static_cast<std::uint32_t>(st.st_ctim.tv_nsec) != node.ctime.nsec)
    return SourceState::kChanged;
  Fd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  Fd got(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!src) return SourceState::kMissing;  // unreadable: nothing to compare
  if (!got) {
    *what = "cannot open restored file";
    return SourceState::kDiffers;
  }
  Bytes a(kBlock), b(kBlock);
  for (std::uint64_t off = 0; off < node.size; off += kBlock) {
    auto na = PreadFull(src.get(), a, off, path);
    if (!na) return SourceState::kMissing;
    auto nb = PreadFull(got.get(), b, off, file);
    if (!nb || *na != *nb || std::memcmp(a.data(), b.data(), *na) != 0) {
      *what =
          "differs from the source file (unchanged since the snapshot) "
          "in the block at offset " +
          std::to_string(off);
      return SourceState::kDiffers;
    }
    if (*na < kBlock) break;
  }
  return SourceState::kSame;
}

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  ::remove(path);
  return 0;
}

// Removes a directory tree (the scratch copy), depth first.
void RemoveTree(const std::string& dir) {
  ::nftw(dir.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
}

}  // namespace

bool IsColdStorageClass(const std::string& storage_class) {
  return storage::IsArchiveClass(storage_class);
}

std::string Stratum(std::uint64_t size, std::int64_t age_seconds,
                    const std::string& pack_class) {
  const char* s = size == 0            ? "empty"
                  : size < (64u << 10) ? "small"
                  : size < (16u << 20) ? "medium"
                                       : "large";
  constexpr std::int64_t kDay = 86400;
  const char* a = age_seconds < kDay         ? "day"
                  : age_seconds < 31 * kDay  ? "month"
                  : age_seconds < 366 * kDay ? "year"
                                             : "older";
  return std::string(s) + "/" + a + "/" + pack_class;
}

Result<DrillResult> RunDrill(repo::BlobLoader& repo,
                             const model::Snapshot& snapshot,
                             const DrillOptions& o) {
  const Clock::time_point start = Clock::now();
  DrillResult result;
  std::uint64_t want = o.sample_files;
  if (o.sample_percent > 0) {
    std::uint64_t cold = 0;
    RETURN_IF_ERROR(ForEachCandidate(
        repo, snapshot, o, &cold,
        [&](const std::string&, const model::Node&) { ++result.candidates; }));
    want = std::max<std::uint64_t>(
        1,
        static_cast<std::uint64_t>(std::ceil(
            static_cast<double>(result.candidates) * o.sample_percent / 100)));
    result.candidates = 0;
  }
  StratifiedSample<Candidate> sample(want, o.seed);
  const std::int64_t snap_sec = snapshot.time_ns / 1000000000;
  RETURN_IF_ERROR(ForEachCandidate(
      repo, snapshot, o, &result.skipped_cold,
      [&](const std::string& path, const model::Node& n) {
        ++result.candidates;
        std::string cls =
            n.content.empty() ? "none" : ClassOf(repo, o, n.content.front());
        sample.Add(Stratum(n.size, snap_sec - n.mtime.sec, cls),
                   Candidate{path, n});
      }));
  auto chosen = sample.Take(want);
  result.sampled = chosen.size();

  RETURN_IF_ERROR(MakeDirs(o.target, 0700));
  std::string tmpl = o.target + "/efs2s3-drill-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    return PosixError(o.target + ": creating the drill's scratch directory",
                      errno);
  const std::string scratch = tmpl;
  const Clock::time_point deadline = start + o.max_duration;
  Result<void> stopped = Ok();
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (Cancelled(o)) {
      stopped = MakeError(ErrorCode::kCancelled, "interrupted");
      break;
    }
    if (o.max_duration.count() > 0 && Clock::now() >= deadline) {
      result.time_limit_reached = true;
      break;
    }
    const auto& [stratum, c] = chosen[i];
    ++result.strata[stratum];
    const std::string dir = scratch + "/" + std::to_string(i);
    restorer::RestoreOptions ro;
    ro.target = dir;
    ro.subpath = c.path;
    ro.workers = o.workers;
    ro.cancel = o.cancel;
    std::mutex mu;
    std::vector<std::string> errors;
    ro.on_error = [&](const std::string&, const Error& e) -> Result<void> {
      std::lock_guard lock(mu);
      errors.push_back(e.message);
      return Ok();
    };
    auto restored = restorer::RunRestore(repo, snapshot, ro);
    if (!restored && restored.error().code == ErrorCode::kCancelled) {
      stopped = restored.error();
      break;
    }
    ++result.checked;
    if (!restored) errors.push_back(restored.error().message);
    if (!errors.empty()) {
      // The restorer's messages start with the path already.
      std::string why = errors.front();
      if (why.starts_with(c.path + ": ")) why.erase(0, c.path.size() + 2);
      result.mismatches.push_back({c.path, "not restored: " + why});
      RemoveTree(dir);
      continue;
    }
    result.bytes += restored->bytes;
    const std::string file = dir + "/" + c.node.name;
    std::string what = CompareWithNode(repo, file, c.node);
    if (what.empty() && o.compare_source) {
      switch (CompareWithSource(c.path, file, c.node, &what)) {
        case SourceState::kSame:
        case SourceState::kDiffers:
          ++result.source_compared;
          break;
        case SourceState::kChanged:
          ++result.source_changed;
          break;
        case SourceState::kMissing:
          ++result.source_missing;
          break;
      }
    }
    if (!what.empty()) result.mismatches.push_back({c.path, what});
    RemoveTree(dir);
    // A test holds the drill here to pass its --max-duration.
    test_hooks::Gate("DRILL_FILE_CHECKED");
  }
  RemoveTree(scratch);
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  RETURN_IF_ERROR(stopped);
  return result;
}

}  // namespace efs2s3::drill
