#include "repo/index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <queue>

#include "base/file_util.h"

namespace efs2s3::repo {

static constexpr char kMagic[4] = {'E', 'I', 'X', '1'};
static constexpr size_t kEntry = 48;
static constexpr std::uint32_t kTreeBit = 1u << 31;
static constexpr std::uint32_t kCompressedBit = 1u << 31;

static void PutEntry(Bytes& out, const Id& id, std::uint32_t pack_no,
                     const BlobLocation& loc) {
  out.insert(out.end(), id.bytes.begin(), id.bytes.end());
  PutU32(out, pack_no | (loc.type == BlobType::kTree ? kTreeBit : 0));
  PutU32(out, loc.offset);
  PutU32(out, loc.length);
  PutU32(out, loc.raw_length | (loc.compressed ? kCompressedBit : 0));
}

void IndexBuilder::AddPack(const Id& pack,
                           const std::vector<PackEntry>& entries) {
  packs_.emplace_back(pack, entries);
  count_ += entries.size();
}

Bytes IndexBuilder::Finish() {
  struct Item {
    Id id;
    std::uint32_t pack_no;
    BlobLocation loc;
  };
  std::vector<Item> items;
  items.reserve(count_);
  for (size_t p = 0; p < packs_.size(); ++p) {
    for (const PackEntry& e : packs_[p].second) {
      items.push_back({e.id,
                       static_cast<std::uint32_t>(p),
                       {packs_[p].first, e.type, e.compressed, e.offset,
                        e.length, e.raw_length}});
    }
  }
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.id < b.id; });
  items.erase(
      std::unique(items.begin(), items.end(),
                  [](const Item& a, const Item& b) { return a.id == b.id; }),
      items.end());
  Bytes out(kMagic, kMagic + 4);
  PutU32(out, static_cast<std::uint32_t>(supersedes_.size()));
  for (const Id& s : supersedes_)
    out.insert(out.end(), s.bytes.begin(), s.bytes.end());
  PutU32(out, static_cast<std::uint32_t>(packs_.size()));
  for (const auto& p : packs_)
    out.insert(out.end(), p.first.bytes.begin(), p.first.bytes.end());
  PutU64(out, items.size());
  for (const Item& it : items) PutEntry(out, it.id, it.pack_no, it.loc);
  return out;
}

Result<std::unique_ptr<IndexRun>> IndexRun::FromBytes(Bytes data) {
  std::unique_ptr<IndexRun> r(new IndexRun);
  r->owned_ = std::move(data);
  r->base_ = r->owned_.data();
  r->len_ = r->owned_.size();
  RETURN_IF_ERROR(r->Parse());
  return r;
}

Result<std::unique_ptr<IndexRun>> IndexRun::MapFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError(path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return PosixError(path, err);
  }
  std::unique_ptr<IndexRun> r(new IndexRun);
  r->len_ = static_cast<size_t>(st.st_size);
  if (r->len_ > 0) {
    void* p = ::mmap(nullptr, r->len_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return PosixError(path, err);
    }
    r->base_ = static_cast<const std::uint8_t*>(p);
    r->mapped_ = true;
  }
  ::close(fd);
  auto parsed = r->Parse();
  if (!parsed) return parsed.error().Wrap(path);
  return r;
}

IndexRun::~IndexRun() {
  if (mapped_) ::munmap(const_cast<std::uint8_t*>(base_), len_);
}

Result<void> IndexRun::Parse() {
  auto bad = [](const char* what) {
    return MakeError(ErrorCode::kCorruption, what);
  };
  size_t p = 0;
  if (len_ < 12 || std::memcmp(base_, kMagic, 4) != 0)
    return bad("index: bad magic");
  p = 4;
  std::uint32_t ns = GetU32(base_ + p);
  p += 4;
  if (len_ - p < ns * 32ULL + 4) return bad("index: truncated");
  for (std::uint32_t i = 0; i < ns; ++i)
    supersedes_.push_back(Id::FromSpan({base_ + p + 32 * i, 32}));
  p += ns * 32ULL;
  n_packs_ = GetU32(base_ + p);
  p += 4;
  if (len_ - p < n_packs_ * 32ULL + 8) return bad("index: truncated");
  packs_ = base_ + p;
  p += n_packs_ * 32;
  std::uint64_t n = GetU64(base_ + p);
  p += 8;
  // Divided, not multiplied: a count near 2^64 must not wrap to the size.
  if ((len_ - p) % kEntry != 0 || n != (len_ - p) / kEntry)
    return bad("index: entry table has the wrong size");
  entries_ = base_ + p;
  n_entries_ = static_cast<size_t>(n);
  for (size_t i = 0; i < n_entries_; ++i) {
    const std::uint8_t* e = entries_ + i * kEntry;
    if ((GetU32(e + 32) & ~kTreeBit) >= n_packs_)
      return bad("index: pack number out of range");
    if (i > 0 && std::memcmp(e - kEntry, e, 32) >= 0)
      return bad("index: entries not sorted");
  }
  return Ok();
}

Id IndexRun::PackAt(size_t i) const {
  return Id::FromSpan({packs_ + 32 * i, 32});
}

BlobLocation IndexRun::At(size_t i, Id* id) const {
  const std::uint8_t* e = entries_ + i * kEntry;
  if (id) *id = Id::FromSpan({e, 32});
  std::uint32_t pack_no = GetU32(e + 32);
  std::uint32_t raw = GetU32(e + 44);
  BlobLocation loc;
  loc.pack = PackAt(pack_no & ~kTreeBit);
  loc.type = (pack_no & kTreeBit) ? BlobType::kTree : BlobType::kData;
  loc.offset = GetU32(e + 36);
  loc.length = GetU32(e + 40);
  loc.raw_length = raw & ~kCompressedBit;
  loc.compressed = (raw & kCompressedBit) != 0;
  return loc;
}

std::optional<BlobLocation> IndexRun::Find(const Id& id) const {
  size_t lo = 0, hi = n_entries_;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = std::memcmp(entries_ + mid * kEntry, id.bytes.data(), 32);
    if (c == 0) return At(mid, nullptr);
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return std::nullopt;
}

Result<void> MergeRuns(const std::vector<const IndexRun*>& runs,
                       const std::string& path) {
  // Pack tables are small (one entry per ~16 MiB pack): merge them in memory.
  std::map<Id, std::uint32_t> pack_no;
  std::vector<Id> packs;
  for (const IndexRun* r : runs)
    for (size_t i = 0; i < r->pack_count(); ++i) {
      Id p = r->PackAt(i);
      if (pack_no.emplace(p, static_cast<std::uint32_t>(packs.size())).second)
        packs.push_back(p);
    }
  std::uint64_t total = 0;
  for (const IndexRun* r : runs) total += r->size();
  std::string tmp = path + ".tmp-" + HexEncode(RandomBytes(8));
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return PosixError(tmp, errno);
  Bytes head(kMagic, kMagic + 4);
  PutU32(head, 0);
  PutU32(head, static_cast<std::uint32_t>(packs.size()));
  for (const Id& p : packs)
    head.insert(head.end(), p.bytes.begin(), p.bytes.end());
  // The entry count is patched in after the merge (duplicates are dropped).
  size_t count_pos = head.size();
  PutU64(head, total);
  // Every write is checked: a short write (a full disk) must not publish a
  // truncated index.
  bool written_ok = std::fwrite(head.data(), 1, head.size(), f) == head.size();
  using Cursor = std::pair<Id, size_t>;  // (current id, run index)
  std::priority_queue<Cursor, std::vector<Cursor>, std::greater<>> heap;
  std::vector<size_t> pos(runs.size(), 0);
  for (size_t r = 0; r < runs.size(); ++r) {
    if (runs[r]->size()) {
      Id id;
      runs[r]->At(0, &id);
      heap.push({id, r});
    }
  }
  std::uint64_t written = 0;
  std::optional<Id> last;
  Bytes buf;
  while (!heap.empty()) {
    auto [id, r] = heap.top();
    heap.pop();
    if (!last || *last != id) {
      BlobLocation loc = runs[r]->At(pos[r], nullptr);
      buf.clear();
      PutEntry(buf, id, pack_no[loc.pack], loc);
      written_ok =
          std::fwrite(buf.data(), 1, buf.size(), f) == buf.size() && written_ok;
      ++written;
      last = id;
    }
    if (++pos[r] < runs[r]->size()) {
      Id next;
      runs[r]->At(pos[r], &next);
      heap.push({next, r});
    }
  }
  Bytes cnt;
  PutU64(cnt, written);
  written_ok = std::fseek(f, static_cast<long>(count_pos), SEEK_SET) == 0 &&
               std::fwrite(cnt.data(), 1, 8, f) == 8 && written_ok;
  bool ok = written_ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return PosixError(path, err);
  }
  return Ok();
}

}  // namespace efs2s3::repo
