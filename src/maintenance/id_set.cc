#include "maintenance/id_set.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <queue>

#include "base/file_util.h"

namespace efs2s3::maintenance {

namespace {

std::string DefaultTemp() {
  const char* t = ::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

// Reads IDs sequentially from a sorted run file, a block at a time.
class RunReader {
 public:
  explicit RunReader(FILE* f) : f_(f) {}
  ~RunReader() {
    if (f_) std::fclose(f_);
  }
  RunReader(const RunReader&) = delete;
  RunReader& operator=(const RunReader&) = delete;
  bool Next(Id* id) {
    if (pos_ == len_) {
      len_ = std::fread(buf_.data(), 32, buf_.size() / 32, f_) * 32;
      pos_ = 0;
      if (len_ == 0) return false;
    }
    std::memcpy(id->bytes.data(), buf_.data() + pos_, 32);
    pos_ += 32;
    return true;
  }

 private:
  FILE* f_;
  std::vector<std::uint8_t> buf_ = std::vector<std::uint8_t>(32 * 4096);
  size_t pos_ = 0, len_ = 0;
};

Result<void> WriteAll(FILE* f, const std::string& path, const void* data,
                      size_t n) {
  if (std::fwrite(data, 1, n, f) != n) return PosixError(path, errno);
  return Ok();
}

}  // namespace

Result<std::string> MakeTempDir(const std::string& parent) {
  std::string tmpl =
      (parent.empty() ? DefaultTemp() : parent) + "/efs2s3-maint-XXXXXX";
  if (!::mkdtemp(tmpl.data())) return PosixError(tmpl, errno);
  return tmpl;
}

IdSet::~IdSet() {
  if (map_len_) ::munmap(const_cast<std::uint8_t*>(base_), map_len_);
}

bool IdSet::Contains(const Id& id) const {
  size_t lo = 0, hi = count_;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = std::memcmp(base_ + mid * 32, id.bytes.data(), 32);
    if (c == 0) return true;
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return false;
}

Id IdSet::At(size_t i) const { return Id::FromSpan({base_ + i * 32, 32}); }

IdSetBuilder::IdSetBuilder(std::string temp_dir, size_t buffer_ids)
    : temp_dir_(temp_dir.empty() ? DefaultTemp() : std::move(temp_dir)),
      buffer_ids_(std::max<size_t>(buffer_ids, 1)) {}

IdSetBuilder::~IdSetBuilder() {
  for (const auto& r : runs_) ::unlink(r.c_str());
}

Result<void> IdSetBuilder::Add(const Id& id) {
  buffer_.push_back(id);
  if (buffer_.size() >= buffer_ids_) return Spill();
  return Ok();
}

Result<void> IdSetBuilder::Spill() {
  std::sort(buffer_.begin(), buffer_.end());
  buffer_.erase(std::unique(buffer_.begin(), buffer_.end()), buffer_.end());
  std::string path = temp_dir_ + "/ids-" + HexEncode(RandomBytes(8)) + ".run";
  FILE* f = std::fopen(path.c_str(), "wbx");
  if (!f) return PosixError(path, errno);
  runs_.push_back(path);
  auto w = WriteAll(f, path, buffer_.data(), buffer_.size() * 32);
  if (std::fclose(f) != 0 && w) return PosixError(path, errno);
  RETURN_IF_ERROR(w);
  buffer_.clear();
  buffer_.shrink_to_fit();
  return Ok();
}

Result<std::unique_ptr<IdSet>> IdSetBuilder::Finish() {
  std::unique_ptr<IdSet> set(new IdSet);
  if (runs_.empty()) {
    std::sort(buffer_.begin(), buffer_.end());
    buffer_.erase(std::unique(buffer_.begin(), buffer_.end()), buffer_.end());
    set->owned_ = std::move(buffer_);
    buffer_.clear();
    set->base_ = set->owned_.empty() ? nullptr : set->owned_[0].bytes.data();
    set->count_ = set->owned_.size();
    return set;
  }
  if (!buffer_.empty()) RETURN_IF_ERROR(Spill());
  // K-way merge of the sorted runs into one file, dropping duplicates.
  std::vector<std::unique_ptr<RunReader>> readers;
  for (const auto& r : runs_) {
    FILE* f = std::fopen(r.c_str(), "rb");
    if (!f) return PosixError(r, errno);
    readers.push_back(std::make_unique<RunReader>(f));
  }
  std::string out_path =
      temp_dir_ + "/ids-" + HexEncode(RandomBytes(8)) + ".set";
  FILE* out = std::fopen(out_path.c_str(), "w+bx");
  if (!out) return PosixError(out_path, errno);
  ::unlink(out_path.c_str());  // the open descriptor keeps it alive
  using Cursor = std::pair<Id, size_t>;
  std::priority_queue<Cursor, std::vector<Cursor>, std::greater<>> heap;
  for (size_t i = 0; i < readers.size(); ++i) {
    Id id;
    if (readers[i]->Next(&id)) heap.push({id, i});
  }
  size_t count = 0;
  std::optional<Id> last;
  Result<void> w = Ok();
  while (!heap.empty() && w) {
    auto [id, i] = heap.top();
    heap.pop();
    if (!last || *last != id) {
      w = WriteAll(out, out_path, id.bytes.data(), 32);
      ++count;
      last = id;
    }
    Id next;
    if (readers[i]->Next(&next)) heap.push({next, i});
  }
  readers.clear();
  for (const auto& r : runs_) ::unlink(r.c_str());
  runs_.clear();
  if (w && std::fflush(out) != 0) w = PosixError(out_path, errno);
  if (!w) {
    std::fclose(out);
    return w.error();
  }
  set->count_ = count;
  if (count > 0) {
    void* p =
        ::mmap(nullptr, count * 32, PROT_READ, MAP_SHARED, fileno(out), 0);
    if (p == MAP_FAILED) {
      int err = errno;
      std::fclose(out);
      return PosixError(out_path, err);
    }
    set->base_ = static_cast<const std::uint8_t*>(p);
    set->map_len_ = count * 32;
  }
  std::fclose(out);
  return set;
}

}  // namespace efs2s3::maintenance
