#include "copier/copier.h"

#include <cstring>
#include <future>

#include "base/file_util.h"
#include "base/test_hooks.h"
#include "base/thread_pool.h"
#include "crypto/crypto.h"

namespace efs2s3::copier {

namespace {

// The map file: records of 64 bytes (source ID, destination ID), then the
// SHA-256 of the records.
constexpr size_t kRecord = 64;

}  // namespace

IdMap IdMap::Load(const std::string& path) {
  IdMap m;
  m.path_ = path;
  if (path.empty()) return m;
  auto data = ReadFile(path);
  if (!data || data->size() < 32 || (data->size() - 32) % kRecord != 0)
    return m;
  const size_t n = data->size() - 32;
  crypto::Digest sum = crypto::Sha256(ByteSpan(data->data(), n));
  if (std::memcmp(sum.data(), data->data() + n, 32) != 0) return m;
  for (size_t off = 0; off < n; off += kRecord)
    m.map_[Id::FromSpan(ByteSpan(data->data() + off, 32))] =
        Id::FromSpan(ByteSpan(data->data() + off + 32, 32));
  return m;
}

std::optional<Id> IdMap::Find(const Id& from) const {
  std::lock_guard lock(mu_);
  auto it = map_.find(from);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

void IdMap::Insert(const Id& from, const Id& to) {
  std::lock_guard lock(mu_);
  map_[from] = to;
}

size_t IdMap::size() const {
  std::lock_guard lock(mu_);
  return map_.size();
}

Result<void> IdMap::Save() const {
  if (path_.empty()) return Ok();
  Bytes out;
  {
    std::lock_guard lock(mu_);
    out.reserve(map_.size() * kRecord + 32);
    for (const auto& [from, to] : map_) {
      out.insert(out.end(), from.bytes.begin(), from.bytes.end());
      out.insert(out.end(), to.bytes.begin(), to.bytes.end());
    }
  }
  crypto::Digest sum = crypto::Sha256(out);
  out.insert(out.end(), sum.begin(), sum.end());
  return WriteFileAtomic(path_, out, false);
}

namespace {

class Copier {
 public:
  Copier(repo::Repository& from, repo::Repository& to, IdMap& map,
         const CopyOptions& o)
      : from_(from), to_(to), map_(map), opts_(o), pool_(o.workers, 256) {}

  Result<Id> CopyTree(const Id& src);
  void Fill(CopyResult& r) const {
    r.blobs_read = blobs_read_;
    r.trees_read = trees_read_;
    r.blobs_added = blobs_added_;
    r.bytes_added = bytes_added_;
    r.trees_written = trees_written_;
  }

 private:
  bool Cancelled() const { return opts_.cancel && opts_.cancel->load(); }
  // The destination's ID of a source blob copied before, if it still has it.
  std::optional<Id> Mapped(const Id& src) {
    auto m = map_.Find(src);
    if (m && to_.HasBlob(*m)) return m;
    return std::nullopt;
  }
  Result<Id> CopyData(const Id& src);

  repo::Repository& from_;
  repo::Repository& to_;
  IdMap& map_;
  const CopyOptions& opts_;
  ThreadPool pool_;
  std::atomic<std::uint64_t> blobs_read_{0}, trees_read_{0}, blobs_added_{0},
      bytes_added_{0}, trees_written_{0};
};

Result<Id> Copier::CopyData(const Id& src) {
  if (Cancelled()) return MakeError(ErrorCode::kCancelled, "interrupted");
  if (auto m = Mapped(src)) return *m;
  ASSIGN_OR_RETURN(Bytes plain, from_.LoadBlob(src));
  ++blobs_read_;
  ASSIGN_OR_RETURN(repo::SaveBlobResult saved,
                   to_.SaveBlob(repo::BlobType::kData, plain));
  if (saved.added) {
    ++blobs_added_;
    bytes_added_ += plain.size();
  }
  map_.Insert(src, saved.id);
  return saved.id;
}

// The tree and everything below it, bottom up. The data blobs of its files
// are copied on the pool while its subdirectories are walked on this thread.
Result<Id> Copier::CopyTree(const Id& src) {
  if (Cancelled()) return MakeError(ErrorCode::kCancelled, "interrupted");
  if (auto m = Mapped(src)) return *m;
  ASSIGN_OR_RETURN(model::Tree tree, from_.LoadTree(src));
  ++trees_read_;
  struct Pending {
    Id* slot;
    std::future<Result<Id>> id;
  };
  std::vector<Pending> pending;
  for (model::Node& node : tree.nodes)
    for (Id& id : node.content) {
      if (auto m = Mapped(id)) {
        id = *m;
        continue;
      }
      pending.push_back(
          {&id, pool_.Submit([this, from = id] { return CopyData(from); })});
    }
  std::optional<Error> failed;
  for (model::Node& node : tree.nodes) {
    if (failed || !node.subtree) continue;
    Result<Id> sub = CopyTree(*node.subtree);
    if (sub)
      node.subtree = *sub;
    else
      failed = sub.error();
  }
  for (Pending& p : pending) {  // every task ends before `tree` goes away
    Result<Id> id = p.id.get();
    if (id)
      *p.slot = *id;
    else if (!failed)
      failed = id.error();
  }
  if (failed) return *failed;
  ASSIGN_OR_RETURN(Id dst, to_.SaveTree(tree));
  ++trees_written_;
  map_.Insert(src, dst);
  return dst;
}

}  // namespace

Result<CopyResult> Copy(repo::Repository& from, repo::Repository& to,
                        IdMap& map, const CopyOptions& opts) {
  // A snapshot and its copies share a key: the original's ID.
  auto key = [](const std::pair<Id, model::Snapshot>& s) {
    return s.second.original.value_or(s.first);
  };
  std::unordered_map<Id, Id, IdHash> held;  // key -> destination snapshot
  for (const auto& d : opts.destination) held.emplace(key(d), d.first);
  std::unordered_map<Id, Id, IdHash> source_key;  // source ID -> key
  for (const auto& s : opts.all_source) source_key.emplace(s.first, key(s));
  for (const auto& s : opts.snapshots) source_key.emplace(s.first, key(s));

  to.SetUploadConcurrency(to.PreferredUploadConcurrency());
  CopyResult result;
  Copier copier(from, to, map, opts);
  for (const auto& s : opts.snapshots) {
    const Id k = key(s);
    if (held.count(k)) {
      ++result.skipped;
      continue;
    }
    Result<Id> tree = copier.CopyTree(s.second.tree);
    if (!tree) {
      // Index what was uploaded, so that the next run reuses it.
      (void)to.Flush();
      return tree.error().Wrap("snapshot " + s.first.Short());
    }
    // Lets a test kill a copy whose data is uploaded (or uploading) but not
    // yet indexed, and whose snapshot is not saved.
    test_hooks::Gate("COPY_TREE_COPIED");
    model::Snapshot copy = s.second;
    copy.tree = *tree;
    copy.original = k;
    copy.parent.reset();
    if (s.second.parent) {
      auto pk = source_key.find(*s.second.parent);
      if (pk != source_key.end()) {
        auto p = held.find(pk->second);
        if (p != held.end()) copy.parent = p->second;
      }
    }
    RETURN_IF_ERROR(to.Flush());
    ASSIGN_OR_RETURN(Id id, to.SaveSnapshot(copy));
    held.emplace(k, id);
    result.copied.emplace_back(s.first, id);
    if (opts.on_copied) opts.on_copied(s.first, id);
  }
  copier.Fill(result);
  return result;
}

}  // namespace efs2s3::copier
