#include "repo/repository.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/file_util.h"
#include "codec/compress.h"

namespace efs2s3::repo {

using json = nlohmann::json;
using storage::Handle;
using storage::ObjectType;

namespace {
// Write an index checkpoint after this many blobs (the entries wait in memory:
// 250,000 are about 64 packs of 4 KiB files), this many packs (16 GiB of large
// files) or this much time, so that an interrupted backup can reuse what it
// already uploaded. Counting blobs, not packs, keeps a repository of large
// files from gathering an index file per GiB.
constexpr size_t kCheckpointBlobs = 250000;
constexpr size_t kCheckpointPacks = 1024;
constexpr auto kCheckpointInterval = std::chrono::minutes(5);
// Merge the cached runs when there are more than this many.
constexpr size_t kMaxRuns = 16;

std::string HostName() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}
std::string UserName() {
  if (passwd* pw = ::getpwuid(::getuid())) return pw->pw_name;
  return std::to_string(::getuid());
}
std::string NowRfc3339() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return model::FormatTime(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
}
}  // namespace

std::string DefaultCacheDir() {
  if (const char* x = ::getenv("XDG_CACHE_HOME"); x && *x)
    return std::string(x) + "/efs2s3";
  if (const char* h = ::getenv("HOME"); h && *h)
    return std::string(h) + "/.cache/efs2s3";
  return "/tmp/efs2s3-cache-" + std::to_string(::getuid());
}

Repository::Repository(std::unique_ptr<storage::Backend> backend,
                       const OpenOptions& open)
    : backend_(std::move(backend)),
      open_(open),
      last_index_write_(std::chrono::steady_clock::now()) {}

Repository::~Repository() {
  if (temp_cache_ && !cache_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(cache_dir_, ec);
  }
}

std::string Repository::ConfigJson() const {
  json j = {{"version", config_.version},
            {"id", config_.id},
            {"chunker",
             {{"min_size", config_.chunker.min_size},
              {"avg_size", config_.chunker.avg_size},
              {"max_size", config_.chunker.max_size},
              {"gear_seed", Base64Encode(config_.gear_seed)}}},
            {"pack_size", config_.pack_size},
            {"compression", "zstd"},
            {"zstd_level", config_.zstd_level}};
  return j.dump(2);
}

static Result<RepoConfig> ParseConfig(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return MakeError(ErrorCode::kCorruption, "config: not JSON");
  RepoConfig c;
  try {
    c.version = j.at("version").get<int>();
    if (c.version != 1)
      return MakeError(ErrorCode::kUnsupported,
                       "config: repository format version " +
                           std::to_string(c.version) +
                           " is not supported by this efs2s3");
    c.id = j.at("id").get<std::string>();
    const json& ch = j.at("chunker");
    c.chunker.min_size = ch.at("min_size").get<std::uint32_t>();
    c.chunker.avg_size = ch.at("avg_size").get<std::uint32_t>();
    c.chunker.max_size = ch.at("max_size").get<std::uint32_t>();
    auto seed = Base64Decode(ch.at("gear_seed").get<std::string>());
    if (!seed)
      return MakeError(ErrorCode::kCorruption, "config: bad gear seed");
    c.gear_seed = *seed;
    c.pack_size = j.at("pack_size").get<std::uint32_t>();
    c.zstd_level = j.value("zstd_level", 3);
  } catch (const json::exception& e) {
    return MakeError(ErrorCode::kCorruption,
                     std::string("config: ") + e.what());
  }
  if (c.chunker.min_size == 0 || c.chunker.min_size > c.chunker.avg_size ||
      c.chunker.avg_size > c.chunker.max_size ||
      (c.chunker.avg_size & (c.chunker.avg_size - 1)) ||
      c.chunker.max_size > (64u << 20))
    return MakeError(ErrorCode::kCorruption,
                     "config: invalid chunker parameters");
  return c;
}

Result<std::unique_ptr<Repository>> Repository::Init(
    std::unique_ptr<storage::Backend> backend, std::string_view password,
    const InitOptions& options, const OpenOptions& open) {
  if (password.empty())
    return MakeError(ErrorCode::kInvalidArgument,
                     "an empty password is not allowed");
  auto exists = backend->Stat({ObjectType::kConfig, "config"});
  if (exists)
    return MakeError(
        ErrorCode::kAlreadyExists,
        backend->Location() + ": a repository already exists here");
  RETURN_IF_ERROR(backend->Create());
  std::unique_ptr<Repository> repo(new Repository(std::move(backend), open));
  repo->key_ = NewMasterKey();
  RepoConfig& c = repo->config_;
  c.id = HexEncode(RandomBytes(32));
  c.chunker = options.chunker;
  c.gear_seed = RandomBytes(32);
  c.pack_size = options.pack_size;
  c.zstd_level = options.zstd_level;
  // The key file first: a config without a key would be unreadable.
  ASSIGN_OR_RETURN(repo->key_name_, repo->AddKey(password, options.kdf));
  Bytes sealed = crypto::Seal(repo->key_.encrypt, AsBytes(repo->ConfigJson()));
  RETURN_IF_ERROR(repo->backend_->Save({ObjectType::kConfig, "config"}, sealed,
                                       {.create_only = true}));
  repo->gear_ = codec::MakeGearTable(c.gear_seed);
  repo->chunker_ = std::make_unique<codec::Chunker>(c.chunker, repo->gear_);
  RETURN_IF_ERROR(repo->LoadIndex());
  return repo;
}

Result<std::unique_ptr<Repository>> Repository::Open(
    std::unique_ptr<storage::Backend> backend, std::string_view password,
    const OpenOptions& open) {
  auto st = backend->Stat({ObjectType::kConfig, "config"});
  if (!st) {
    if (st.error().code == ErrorCode::kNotFound)
      return MakeError(ErrorCode::kNoRepository,
                       backend->Location() +
                           ": no repository here (config not found; run init)");
    return st.error();
  }
  std::unique_ptr<Repository> repo(new Repository(std::move(backend), open));
  RETURN_IF_ERROR(repo->LoadConfig(password));
  RETURN_IF_ERROR(repo->LoadIndex());
  return repo;
}

Result<void> Repository::LoadConfig(std::string_view password) {
  std::vector<storage::ObjectInfo> keys;
  RETURN_IF_ERROR(backend_->List(
      ObjectType::kKey, [&](const storage::ObjectInfo& i) -> Result<void> {
        keys.push_back(i);
        return Ok();
      }));
  if (keys.empty())
    return MakeError(ErrorCode::kCorruption,
                     backend_->Location() + ": repository has no key files");
  std::optional<Error> last;
  bool opened = false;
  for (const auto& k : keys) {
    auto text = backend_->Load({ObjectType::kKey, k.name});
    if (!text) {
      last = text.error();
      continue;
    }
    auto m = OpenKeyFile(AsString(*text), password);
    if (m) {
      key_ = *m;
      key_name_ = k.name;
      opened = true;
      break;
    }
    if (m.error().code != ErrorCode::kWrongPassword)
      last = m.error().Wrap("keys/" + k.name);
  }
  if (!opened) {
    if (last && last->code != ErrorCode::kCorruption) return *last;
    return MakeError(
        ErrorCode::kWrongPassword,
        backend_->Location() + ": wrong password (no key file opens with it)");
  }
  ASSIGN_OR_RETURN(Bytes sealed,
                   backend_->Load({ObjectType::kConfig, "config"}));
  auto plain = crypto::Open(key_.encrypt, sealed);
  if (!plain)
    return MakeError(ErrorCode::kCorruption, "config: authentication failed");
  ASSIGN_OR_RETURN(config_, ParseConfig(AsString(*plain)));
  gear_ = codec::MakeGearTable(config_.gear_seed);
  chunker_ = std::make_unique<codec::Chunker>(config_.chunker, gear_);
  return Ok();
}

Result<std::string> Repository::AddKey(std::string_view password,
                                       const crypto::ScryptParams& params) {
  if (password.empty())
    return MakeError(ErrorCode::kInvalidArgument,
                     "an empty password is not allowed");
  KeyFileInfo info{NowRfc3339(), HostName(), UserName(), params};
  std::string text = MakeKeyFile(key_, password, params, info);
  std::string name = HexEncode(crypto::Sha256(AsBytes(text)));
  RETURN_IF_ERROR(backend_->Save({ObjectType::kKey, name}, AsBytes(text),
                                 {.create_only = true}));
  return name;
}

Result<std::vector<std::pair<std::string, KeyFileInfo>>>
Repository::ListKeys() {
  std::vector<std::pair<std::string, KeyFileInfo>> out;
  std::vector<std::string> names;
  RETURN_IF_ERROR(backend_->List(
      ObjectType::kKey, [&](const storage::ObjectInfo& i) -> Result<void> {
        names.push_back(i.name);
        return Ok();
      }));
  for (const auto& n : names) {
    ASSIGN_OR_RETURN(Bytes text, backend_->Load({ObjectType::kKey, n}));
    auto info = ParseKeyFileInfo(AsString(text));
    if (!info) return info.error().Wrap("keys/" + n);
    out.emplace_back(n, *info);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) {
    return a.second.created < b.second.created;
  });
  return out;
}

Result<void> Repository::RemoveKey(const std::string& name) {
  if (name == key_name_)
    return MakeError(
        ErrorCode::kInvalidArgument,
        "keys/" + name +
            ": refusing to remove the key in use (open with another password)");
  return backend_->Remove({ObjectType::kKey, name});
}

// ---- Index
// --------------------------------------------------------------------

Result<void> Repository::LoadIndex() {
  // An index file listed but gone when fetched was deleted meanwhile by a prune
  // or repair that superseded it (before this process held a lock, or without
  // one): list again. Nothing is published until an attempt succeeds.
  auto once = [&]() -> Result<void> {
    if (cache_dir_.empty()) {
      if (open_.cache_dir.empty()) {
        char tmpl[] = "/tmp/efs2s3-cache-XXXXXX";
        if (!::mkdtemp(tmpl)) return PosixError("temporary cache", errno);
        cache_dir_ = tmpl;
        temp_cache_ = true;
      } else {
        cache_dir_ = open_.cache_dir + "/" + config_.id;
      }
    }
    std::string run_dir = cache_dir_ + "/index";
    RETURN_IF_ERROR(MakeDirs(run_dir));
    // Packs wait for their upload in unnamed temporary files here.
    if (MakeDirs(cache_dir_ + "/tmp")) spool_dir_ = cache_dir_ + "/tmp";

    std::set<std::string> present;
    RETURN_IF_ERROR(backend_->List(
        ObjectType::kIndex, [&](const storage::ObjectInfo& i) -> Result<void> {
          present.insert(i.name);
          return Ok();
        }));

    struct RunInfo {
      std::string file;
      std::vector<std::string> covers;
      std::vector<std::string> supersedes;
      std::unique_ptr<IndexRun> run;
    };
    std::vector<RunInfo> runs;
    // The manifest lists the cached runs and which index files each covers.
    std::string manifest_path = cache_dir_ + "/index-manifest.json";
    if (auto m = ReadFile(manifest_path)) {
      json j = json::parse(AsString(*m), nullptr, false);
      if (j.is_object() && j.contains("runs") && j["runs"].is_array()) {
        for (const auto& r : j["runs"]) {
          RunInfo ri;
          ri.file = r.value("file", "");
          ri.covers = r.value("covers", std::vector<std::string>{});
          ri.supersedes = r.value("supersedes", std::vector<std::string>{});
          if (ri.file.empty() || ri.file.find('/') != std::string::npos)
            continue;
          runs.push_back(std::move(ri));
        }
      }
    }
    std::set<std::string> covered;
    std::set<std::string> superseded;
    std::vector<RunInfo> valid;
    for (auto& r : runs) {
      bool ok = !r.covers.empty() &&
                std::all_of(r.covers.begin(), r.covers.end(),
                            [&](const std::string& c) {
                              return present.count(c) && !covered.count(c);
                            });
      if (!ok) continue;
      auto mapped = IndexRun::MapFile(run_dir + "/" + r.file);
      if (!mapped) continue;
      r.run = std::move(*mapped);
      for (const auto& c : r.covers) covered.insert(c);
      valid.push_back(std::move(r));
    }
    // Fetch the index files no cached run covers.
    std::vector<std::pair<std::string, Error>> unreadable;
    for (const std::string& name : present) {
      if (covered.count(name)) continue;
      auto loaded = LoadObject(ObjectType::kIndex, name);
      Result<std::unique_ptr<IndexRun>> run =
          loaded ? IndexRun::FromBytes(*loaded)
                 : Result<std::unique_ptr<IndexRun>>(loaded.error());
      if (!run && open_.skip_unreadable_index &&
          run.error().code != ErrorCode::kTransient &&
          run.error().code != ErrorCode::kNotFound) {
        unreadable.emplace_back(name, run.error());
        continue;
      }
      if (!run) return run.error().Wrap("index/" + name);
      Bytes& plain = *loaded;
      std::string file = name + ".run";
      RETURN_IF_ERROR(
          WriteFileAtomic(run_dir + "/" + file, plain, false, false));
      RunInfo ri;
      ri.file = file;
      ri.covers = {name};
      for (const Id& s : (*run)->supersedes()) ri.supersedes.push_back(s.Hex());
      ri.run = std::move(*run);
      valid.push_back(std::move(ri));
      covered.insert(name);
    }
    for (const auto& r : valid)
      for (const auto& s : r.supersedes) superseded.insert(s);
    // Runs holding superseded index files are dropped; their other index files
    // are fetched again (this happens only after prune).
    std::vector<RunInfo> kept;
    std::vector<std::string> refetch;
    for (auto& r : valid) {
      bool stale = std::any_of(
          r.covers.begin(), r.covers.end(),
          [&](const std::string& c) { return superseded.count(c); });
      if (!stale) {
        kept.push_back(std::move(r));
        continue;
      }
      for (const auto& c : r.covers)
        if (!superseded.count(c)) refetch.push_back(c);
    }
    for (const std::string& name : refetch) {
      ASSIGN_OR_RETURN(Bytes plain, LoadObject(ObjectType::kIndex, name));
      ASSIGN_OR_RETURN(auto run, IndexRun::FromBytes(plain));
      std::string file = name + ".run";
      RETURN_IF_ERROR(
          WriteFileAtomic(run_dir + "/" + file, plain, false, false));
      RunInfo ri{file, {name}, {}, std::move(run)};
      for (const Id& s : ri.run->supersedes()) ri.supersedes.push_back(s.Hex());
      kept.push_back(std::move(ri));
    }
    // Too many runs: merge them all into one (k-way, streaming).
    if (kept.size() > kMaxRuns) {
      std::vector<const IndexRun*> inputs;
      RunInfo merged;
      for (auto& r : kept) {
        inputs.push_back(r.run.get());
        merged.covers.insert(merged.covers.end(), r.covers.begin(),
                             r.covers.end());
        merged.supersedes.insert(merged.supersedes.end(), r.supersedes.begin(),
                                 r.supersedes.end());
      }
      merged.file = "merged-" + HexEncode(RandomBytes(16)) + ".run";
      RETURN_IF_ERROR(MergeRuns(inputs, run_dir + "/" + merged.file));
      ASSIGN_OR_RETURN(merged.run,
                       IndexRun::MapFile(run_dir + "/" + merged.file));
      kept.clear();
      kept.push_back(std::move(merged));
    }
    // Publish the manifest, then remove run files it no longer names.
    json jr = json::array();
    std::set<std::string> live;
    for (const auto& r : kept) {
      jr.push_back({{"file", r.file},
                    {"covers", r.covers},
                    {"supersedes", r.supersedes}});
      live.insert(r.file);
    }
    json manifest = {{"runs", jr}};
    RETURN_IF_ERROR(
        WriteFileAtomic(manifest_path, AsBytes(manifest.dump()), false, false));
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(run_dir, ec)) {
      std::string f = e.path().filename().string();
      if (!live.count(f) && f.size() > 4 && f.substr(f.size() - 4) == ".run")
        std::filesystem::remove(e.path(), ec);
    }
    std::lock_guard lock(mu_);
    unreadable_index_ = std::move(unreadable);
    runs_.clear();
    index_names_.clear();
    for (auto& r : kept) {
      runs_.push_back(std::move(r.run));
      index_names_.insert(index_names_.end(), r.covers.begin(), r.covers.end());
    }
    return Ok();
  };
  for (int attempt = 1;; ++attempt) {
    auto r = once();
    if (r || r.error().code != ErrorCode::kNotFound || attempt == 5) return r;
  }
}

Result<void> Repository::ReloadIndex() { return LoadIndex(); }

Result<void> Repository::ForEachIndexed(
    const std::function<Result<void>(const Id&, const BlobLocation&)>& fn) {
  for (const auto& run : runs_) {
    for (size_t i = 0; i < run->size(); ++i) {
      Id id;
      BlobLocation loc = run->At(i, &id);
      RETURN_IF_ERROR(fn(id, loc));
    }
  }
  return Ok();
}

std::optional<BlobLocation> Repository::LookupLocked(const Id& id) {
  if (auto it = pending_.find(id); it != pending_.end()) return it->second;
  for (const auto& run : runs_)
    if (auto loc = run->Find(id)) return loc;
  return std::nullopt;
}

std::optional<BlobLocation> Repository::Lookup(const Id& id) {
  std::lock_guard lock(mu_);
  return LookupLocked(id);
}

bool Repository::HasBlob(const Id& id) {
  std::lock_guard lock(mu_);
  return inflight_.count(id) || LookupLocked(id).has_value();
}

// ---- Blobs
// --------------------------------------------------------------------

Id Repository::BlobId(ByteSpan plaintext) const {
  crypto::Digest d = crypto::HmacSha256(key_.id_key, plaintext);
  return Id::FromSpan(d);
}

Result<SaveBlobResult> Repository::SaveBlob(BlobType type, ByteSpan plaintext) {
  return SaveBlobWithId(type, BlobId(plaintext), plaintext);
}

Result<SaveBlobResult> Repository::SaveBlobWithId(BlobType type, const Id& id,
                                                  ByteSpan plaintext) {
  {
    std::unique_lock lock(mu_);
    sealed_.wait(lock, [&] { return !sealing_.count(id); });
    if (inflight_.count(id) || LookupLocked(id))
      return SaveBlobResult{id, false, 0};
    inflight_.insert(id);
    sealing_.insert(id);
  }
  Bytes compressed;
  if (!codec::LooksIncompressible(plaintext))
    compressed = codec::Compress(plaintext, config_.zstd_level);
  bool use_compressed =
      !compressed.empty() && compressed.size() < plaintext.size();
  Bytes sealed = crypto::Seal(
      key_.encrypt, use_compressed ? ByteSpan(compressed) : plaintext);
  std::uint64_t stored = sealed.size();
  PackEntry e;
  e.id = id;
  e.type = type;
  e.compressed = use_compressed;
  e.raw_length = static_cast<std::uint32_t>(plaintext.size());
  std::optional<PackWriter> full;
  std::uint64_t seq = 0;
  {
    std::lock_guard lock(mu_);
    PackWriter& w = writers_[static_cast<int>(type)];
    if (w.empty() && !spool_dir_.empty()) w = PackWriter::Spooled(spool_dir_);
    auto added = w.Add(e, sealed);
    sealing_.erase(id);
    sealed_.notify_all();
    if (!added) {
      inflight_.erase(id);
      return added.error();
    }
    if (w.size() >= config_.pack_size) {
      full.emplace(std::move(w));
      w = PackWriter();
      // Registered as running in the same step that takes it out of writers_:
      // a Checkpoint() in between would neither upload this pack nor wait for
      // it, while other files already deduplicate against its blobs (their
      // checkpoint would name blobs no index holds yet).
      seq = next_upload_seq_++;
      running_uploads_.insert(seq);
      if (uploads_) ++uploads_in_flight_;
    }
  }
  if (full) {
    if (uploads_) {
      // Submit blocks while the upload queue is full: backpressure on the
      // readers.
      auto pack = std::make_shared<PackWriter>(std::move(*full));
      (void)uploads_->Submit([this, pack, seq] {
        auto r = UploadPack(std::move(*pack));
        std::lock_guard lock(mu_);
        if (!r && !upload_error_) upload_error_ = r.error();
        --uploads_in_flight_;
        running_uploads_.erase(seq);
        uploads_done_.notify_all();
      });
    } else {
      auto r = UploadPack(std::move(*full));
      {
        std::lock_guard lock(mu_);
        running_uploads_.erase(seq);
        uploads_done_.notify_all();
      }
      RETURN_IF_ERROR(r);
    }
  }
  {
    std::lock_guard lock(mu_);
    if (upload_error_) return *upload_error_;
  }
  return SaveBlobResult{id, true, stored};
}

Result<void> Repository::UploadPack(PackWriter writer) {
  auto finished = writer.Finish(key_.encrypt);
  if (!finished) {
    std::lock_guard lock(mu_);
    for (const PackEntry& e : writer.entries()) inflight_.erase(e.id);
    return finished.error();
  }
  const FinishedPack& pack = **finished;
  const Id& name = pack.name;
  const std::vector<PackEntry>& entries = pack.entries;
  bool tree_pack = !entries.empty() && entries[0].type == BlobType::kTree;
  // A pack is named by its SHA-256, computed as it was written.
  auto saved =
      backend_->SaveFrom({ObjectType::kPack, name.Hex()}, pack,
                         {.metadata = tree_pack, .sha256_hex = name.Hex()});
  std::optional<IndexBuilder> checkpoint;
  {
    std::lock_guard lock(mu_);
    for (const PackEntry& e : entries) {
      inflight_.erase(e.id);
      if (saved)
        pending_[e.id] = BlobLocation{name,     e.type,   e.compressed,
                                      e.offset, e.length, e.raw_length};
    }
    if (!saved) return saved.error();
    pending_index_.AddPack(name, entries);
    ++stats_.packs_uploaded;
    stats_.bytes_uploaded += pack.size();
    auto now = std::chrono::steady_clock::now();
    if (pending_index_.blob_count() >= kCheckpointBlobs ||
        pending_index_.pack_count() >= kCheckpointPacks ||
        now - last_index_write_ >= kCheckpointInterval) {
      checkpoint.emplace(std::move(pending_index_));
      pending_index_ = IndexBuilder();
      last_index_write_ = now;
    }
  }
  if (checkpoint) RETURN_IF_ERROR(WriteIndex(std::move(*checkpoint)));
  return Ok();
}

Result<void> Repository::WriteIndex(IndexBuilder builder) {
  if (builder.pack_count() == 0) return Ok();
  Bytes plain = builder.Finish();
  ASSIGN_OR_RETURN(Id name, SaveObject(ObjectType::kIndex, plain));
  ++stats_.index_files_written;
  // The new index file becomes a cached run right away, so `pending_` stays
  // small.
  std::string file = name.Hex() + ".run";
  RETURN_IF_ERROR(
      WriteFileAtomic(cache_dir_ + "/index/" + file, plain, false, false));
  ASSIGN_OR_RETURN(auto run, IndexRun::FromBytes(std::move(plain)));
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < run->size(); ++i) {
    Id id;
    run->At(i, &id);
    pending_.erase(id);
  }
  runs_.push_back(std::move(run));
  index_names_.push_back(name.Hex());
  return Ok();
}

void Repository::SetUploadConcurrency(int n) {
  uploads_.reset();
  if (n > 0)
    uploads_ = std::make_unique<ThreadPool>(n, static_cast<size_t>(n / 2 + 1));
}

Result<void> Repository::Flush() {
  // With no other thread saving blobs, a checkpoint covers everything: the
  // packs being filled and every upload submitted so far.
  return Checkpoint();
}

Result<void> Repository::Checkpoint() {
  PackWriter taken[2];
  std::uint64_t watermark;
  {
    std::lock_guard lock(mu_);
    for (int t = 0; t < 2; ++t) {
      if (writers_[t].empty()) continue;
      taken[t] = std::move(writers_[t]);
      writers_[t] = PackWriter();
    }
    watermark = next_upload_seq_;
  }
  for (PackWriter& w : taken)
    if (!w.empty()) RETURN_IF_ERROR(UploadPack(std::move(w)));
  IndexBuilder b;
  {
    std::unique_lock lock(mu_);
    uploads_done_.wait(lock, [&] {
      return upload_error_ || running_uploads_.empty() ||
             *running_uploads_.begin() >= watermark;
    });
    if (upload_error_) return *upload_error_;
    b = std::move(pending_index_);
    pending_index_ = IndexBuilder();
    last_index_write_ = std::chrono::steady_clock::now();
  }
  return WriteIndex(std::move(b));
}

Result<Bytes> Repository::LoadTreePackRange(const BlobLocation& loc) {
  // Tree packs are cached whole (sealed, named by their SHA-256) in the local
  // cache, so walking a parent snapshot or `ls` does not fetch trees again on
  // every run. Only the blob's range is read from the cached file.
  std::string dir = cache_dir_ + "/packs/" + loc.pack.Hex().substr(0, 2);
  std::string path = dir + "/" + loc.pack.Hex();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    Bytes out(loc.length);
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                          static_cast<off_t>(loc.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    if (done == out.size()) return out;
    ::unlink(path.c_str());  // short: a damaged cache entry, fetch again
  }
  ASSIGN_OR_RETURN(Bytes pack,
                   backend_->Load({ObjectType::kPack, loc.pack.Hex()}));
  if (Id::FromSpan(crypto::Sha256(pack)) != loc.pack)
    return MakeError(ErrorCode::kCorruption,
                     "pack " + loc.pack.Hex() +
                         ": content does not match its name (damaged)");
  if (MakeDirs(dir)) (void)WriteFileAtomic(path, pack, false, false);
  if (loc.offset + static_cast<std::uint64_t>(loc.length) > pack.size())
    return MakeError(
        ErrorCode::kCorruption,
        "pack " + loc.pack.Hex() + ": shorter than its index says");
  return Bytes(pack.begin() + loc.offset,
               pack.begin() + loc.offset + loc.length);
}

Result<Bytes> Repository::LoadBlob(const Id& id) {
  auto loc = Lookup(id);
  if (!loc)
    return MakeError(ErrorCode::kNotFound,
                     "blob " + id.Hex() + ": not in the index");
  auto sealed = loc->type == BlobType::kTree && !temp_cache_
                    ? LoadTreePackRange(*loc)
                    : backend_->Load({ObjectType::kPack, loc->pack.Hex()},
                                     loc->offset, loc->length);
  if (!sealed)
    return sealed.error().Wrap("blob " + id.Short() + " in pack " +
                               loc->pack.Hex());
  auto blob = DecodeBlob(id, *loc, *sealed);
  if (!blob && loc->type == BlobType::kTree && !temp_cache_) {
    // A damaged cache entry must not hide a good pack: drop it and read again.
    std::string path = cache_dir_ + "/packs/" + loc->pack.Hex().substr(0, 2) +
                       "/" + loc->pack.Hex();
    if (::unlink(path.c_str()) == 0) {
      auto again = backend_->Load({ObjectType::kPack, loc->pack.Hex()},
                                  loc->offset, loc->length);
      if (again) return DecodeBlob(id, *loc, *again);
    }
  }
  return blob;
}

Result<Bytes> Repository::DecodeBlob(const Id& id, const BlobLocation& loc,
                                     ByteSpan sealed) const {
  std::string where = "blob " + id.Short() + " in pack " + loc.pack.Hex();
  auto plain = crypto::Open(key_.encrypt, sealed);
  if (!plain)
    return MakeError(ErrorCode::kCorruption, where + ": authentication failed");
  Bytes data;
  if (loc.compressed) {
    auto d = codec::Decompress(*plain, loc.raw_length);
    if (!d) return d.error().Wrap(where);
    data = std::move(*d);
  } else {
    data = std::move(*plain);
  }
  if (data.size() != loc.raw_length || BlobId(data) != id)
    return MakeError(ErrorCode::kCorruption,
                     where + ": content does not match its ID");
  return data;
}

Result<Id> Repository::SaveTree(const model::Tree& tree) {
  Bytes enc = model::EncodeTree(tree);
  ASSIGN_OR_RETURN(SaveBlobResult r, SaveBlob(BlobType::kTree, enc));
  return r.id;
}

Result<model::Tree> Repository::LoadTree(const Id& id) {
  ASSIGN_OR_RETURN(Bytes data, LoadBlob(id));
  auto t = model::DecodeTree(data);
  if (!t) return t.error().Wrap("tree " + id.Hex());
  return t;
}

// ---- Whole objects
// ------------------------------------------------------------

Result<Id> Repository::SaveObject(ObjectType type, ByteSpan plaintext) {
  Bytes sealed = crypto::Seal(key_.encrypt, plaintext);
  Id hash = Id::FromSpan(crypto::Sha256(sealed));
  Id name = type == ObjectType::kLock ? Id::FromSpan(RandomBytes(32)) : hash;
  RETURN_IF_ERROR(
      backend_->Save({type, name.Hex()}, sealed,
                     {.create_only = true, .sha256_hex = hash.Hex()}));
  return name;
}

Result<Bytes> Repository::LoadObject(ObjectType type, const std::string& name) {
  Handle h{type, name};
  std::string key = storage::ObjectKey(h);
  ASSIGN_OR_RETURN(Bytes sealed, backend_->Load(h));
  if (type != ObjectType::kLock && HexEncode(crypto::Sha256(sealed)) != name)
    return MakeError(ErrorCode::kCorruption,
                     key + ": content does not match its name (damaged)");
  auto plain = crypto::Open(key_.encrypt, sealed);
  if (!plain)
    return MakeError(ErrorCode::kCorruption, key + ": authentication failed");
  return plain;
}

Result<Id> Repository::SaveSnapshot(const model::Snapshot& snapshot) {
  return SaveObject(ObjectType::kSnapshot,
                    AsBytes(model::EncodeSnapshot(snapshot)));
}

Result<model::Snapshot> Repository::LoadSnapshot(const Id& id) {
  ASSIGN_OR_RETURN(Bytes plain, LoadObject(ObjectType::kSnapshot, id.Hex()));
  auto s = model::DecodeSnapshot(AsString(plain));
  if (!s) return s.error().Wrap("snapshots/" + id.Hex());
  return s;
}

Result<std::vector<std::pair<Id, model::Snapshot>>> Repository::ListSnapshots(
    std::vector<Error>* unreadable) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(backend_->List(
      ObjectType::kSnapshot, [&](const storage::ObjectInfo& i) -> Result<void> {
        names.push_back(i.name);
        return Ok();
      }));
  std::vector<std::pair<Id, model::Snapshot>> out;
  for (const auto& n : names) {
    auto id = Id::FromHex(n);
    if (!id) continue;
    auto s = LoadSnapshot(*id);
    if (!s) {
      if (!unreadable) return s.error();
      unreadable->push_back(s.error());
      continue;
    }
    out.emplace_back(*id, std::move(*s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.time_ns != b.second.time_ns
               ? a.second.time_ns < b.second.time_ns
               : a.first < b.first;
  });
  return out;
}

Result<std::pair<Id, model::Snapshot>> Repository::FindSnapshot(
    const std::string& spec, const std::string& host,
    const std::vector<std::string>& paths) {
  ASSIGN_OR_RETURN(auto all, ListSnapshots());
  if (spec == "latest") {
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (!host.empty() && it->second.hostname != host) continue;
      if (!paths.empty()) {
        auto a = it->second.paths, b = paths;
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        if (a != b) continue;
      }
      return *it;
    }
    return MakeError(ErrorCode::kNotFound,
                     "no snapshot matches 'latest'" +
                         (host.empty() ? "" : " for host " + host));
  }
  std::optional<std::pair<Id, model::Snapshot>> found;
  for (auto& s : all) {
    if (s.first.Hex().rfind(spec, 0) == 0) {
      if (found)
        return MakeError(ErrorCode::kInvalidArgument,
                         "snapshot ID prefix '" + spec + "' is ambiguous");
      found = s;
    }
  }
  if (!found || spec.empty())
    return MakeError(ErrorCode::kNotFound, "snapshot '" + spec + "' not found");
  return *found;
}

}  // namespace efs2s3::repo
