#include "repo/repository.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/fd.h"
#include "base/file_util.h"
#include "base/io.h"
#include "base/test_hooks.h"
#include "codec/compress.h"
#include "repo/index_cache.h"
#include "repo/read_checked.h"

namespace efs2s3::repo {

using json = nlohmann::json;
using storage::Handle;
using storage::ObjectType;

namespace {
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

std::string Repository::ConfigJson() const { return EncodeRepoConfig(config_); }

std::string EncodeRepoConfig(const RepoConfig& config) {
  json j = {{"version", config.version},
            {"id", config.id},
            {"chunker",
             {{"min_size", config.chunker.min_size},
              {"avg_size", config.chunker.avg_size},
              {"max_size", config.chunker.max_size},
              {"gear_seed", Base64Encode(config.gear_seed)}}},
            {"pack_size", config.pack_size},
            {"compression", "zstd"},
            {"zstd_level", config.zstd_level}};
  if (!config.lock_mode.empty())
    j["object_lock"] = {{"mode", config.lock_mode}, {"days", config.lock_days}};
  return j.dump(2);
}

std::int64_t LockSeconds(const RepoConfig& config) {
  if (test_hooks::Enabled())
    if (const char* s = std::getenv("EFS2S3_TEST_LOCK_SECONDS"))
      return std::atoll(s);
  return std::int64_t{config.lock_days} * 86400;
}

Result<RepoConfig> ParseRepoConfig(std::string_view text) {
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
    if (j.contains("object_lock")) {
      const json& l = j.at("object_lock");
      c.lock_mode = l.at("mode").get<std::string>();
      c.lock_days = l.at("days").get<int>();
      if ((c.lock_mode != "GOVERNANCE" && c.lock_mode != "COMPLIANCE") ||
          c.lock_days < 1 || c.lock_days > kMaxLockDays)
        return MakeError(ErrorCode::kCorruption,
                         "config: invalid object_lock " + l.dump());
    }
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
  if (exists.error().code != ErrorCode::kNotFound &&
      exists.error().code != ErrorCode::kNoRepository)
    return exists.error();
  if (!options.lock_mode.empty()) {
    if ((options.lock_mode != "GOVERNANCE" &&
         options.lock_mode != "COMPLIANCE") ||
        options.lock_days < 1 || options.lock_days > kMaxLockDays)
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("object lock: mode GOVERNANCE or "
                                   "COMPLIANCE and 1 to {} days",
                                   kMaxLockDays));
    RepoConfig probe;
    probe.lock_days = options.lock_days;
    RETURN_IF_ERROR(
        backend->SetLockPolicy({options.lock_mode, LockSeconds(probe)}));
  }
  RETURN_IF_ERROR(backend->Create());
  std::unique_ptr<Repository> repo(new Repository(std::move(backend), open));
  repo->key_ = NewMasterKey();
  RepoConfig& c = repo->config_;
  c.lock_mode = options.lock_mode;
  c.lock_days = options.lock_mode.empty() ? 0 : options.lock_days;
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
  if (!repo->config_.lock_mode.empty())
    RETURN_IF_ERROR(repo->backend_->SetLockPolicy(
        {repo->config_.lock_mode, LockSeconds(repo->config_)}));
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
  std::vector<std::string> damaged, foreign;
  bool opened = false;
  Bytes plain;
  for (const auto& k : keys) {
    auto text = LoadKeyFile(k.name);
    if (!text) {
      if (text.error().code == ErrorCode::kCorruption)
        damaged.push_back("keys/" + k.name);
      else
        last = text.error();
      continue;
    }
    auto m = OpenKeyFile(*text, password);
    if (!m) {
      if (m.error().code == ErrorCode::kCorruption)
        damaged.push_back("keys/" + k.name);
      else if (m.error().code != ErrorCode::kWrongPassword)
        last = m.error().Wrap("keys/" + k.name);
      continue;
    }
    // A key file the password opens may still belong to another master key:
    // one left by an `init` that died before writing the config, before a
    // second `init` wrote its own. The key is the one that opens the config.
    auto config = ReadChecked(
        [&] {
          return backend_->Load({ObjectType::kConfig, "config"});
        },
        [&](Bytes& sealed) -> Result<void> {
          auto p = crypto::Open(m->encrypt, sealed);
          if (!p)
            return MakeError(ErrorCode::kCorruption,
                             "config: authentication failed");
          plain = std::move(*p);
          return Ok();
        },
        "config");
    if (!config && config.error().code != ErrorCode::kCorruption)
      return config.error();
    if (!config) {
      foreign.push_back("keys/" + k.name);
      continue;
    }
    key_ = *m;
    key_name_ = k.name;
    opened = true;
    break;
  }
  if (!opened) {
    if (last) return *last;
    if (!foreign.empty())
      return MakeError(
          ErrorCode::kCorruption,
          fmt::format("config: authentication failed with the key of {} (the "
                      "config is damaged, or those key files were left by an "
                      "init that did not finish)",
                      fmt::join(foreign, ", ")));
    // Only damaged key files: say so, not "wrong password".
    if (damaged.size() == keys.size())
      return MakeError(ErrorCode::kCorruption,
                       backend_->Location() + ": damaged key file(s) " +
                           fmt::format("{}", fmt::join(damaged, ", ")) +
                           "; no intact key file to open");
    return MakeError(
        ErrorCode::kWrongPassword,
        backend_->Location() + ": wrong password (no key file opens with it)" +
            (damaged.empty()
                 ? std::string()
                 : fmt::format("; damaged: {}", fmt::join(damaged, ", "))));
  }
  ASSIGN_OR_RETURN(config_, ParseRepoConfig(AsString(plain)));
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
  ASSIGN_OR_RETURN(auto names, ListKeyNames());
  for (const auto& n : names) {
    ASSIGN_OR_RETURN(std::string text, LoadKeyFile(n));
    auto info = ParseKeyFileInfo(text);
    if (!info) return info.error().Wrap("keys/" + n);
    out.emplace_back(n, *info);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) {
    return a.second.created < b.second.created;
  });
  return out;
}

Result<std::vector<std::string>> Repository::ListKeyNames() {
  std::vector<std::string> names;
  RETURN_IF_ERROR(backend_->List(
      ObjectType::kKey, [&](const storage::ObjectInfo& i) -> Result<void> {
        names.push_back(i.name);
        return Ok();
      }));
  return names;
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

Result<std::string> Repository::ChangePassword(
    std::string_view password, const crypto::ScryptParams& params) {
  ASSIGN_OR_RETURN(std::string name, AddKey(password, params));
  // The old key is removed only after the new one is stored.
  RETURN_IF_ERROR(backend_->Remove({ObjectType::kKey, key_name_}));
  key_name_ = name;
  return name;
}

// A key file is named by the SHA-256 of its bytes (docs/FORMAT.md): one whose
// content does not match its name is damaged (or edited), whatever it says.
Result<std::string> Repository::LoadKeyFile(const std::string& name) {
  std::string text;
  RETURN_IF_ERROR(ReadChecked(
      [&] {
        return backend_->Load({ObjectType::kKey, name});
      },
      [&](Bytes& data) -> Result<void> {
        if (HexEncode(crypto::Sha256(data)) != name)
          return MakeError(ErrorCode::kCorruption,
                           "keys/" + name +
                               ": damaged key file (its content does not "
                               "match its name)");
        text.assign(AsString(data));
        return Ok();
      },
      "keys/" + name));
  return text;
}

Result<void> Repository::PrepareCacheDir() {
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
  RETURN_IF_ERROR(MakeDirs(cache_dir_ + "/index"));
  // Packs wait for their upload in unnamed temporary files here.
  if (MakeDirs(cache_dir_ + "/tmp")) spool_dir_ = cache_dir_ + "/tmp";
  return Ok();
}

Result<void> Repository::LoadIndexOnce() {
  RETURN_IF_ERROR(PrepareCacheDir());
  std::set<std::string> present;
  RETURN_IF_ERROR(backend_->List(
      ObjectType::kIndex, [&](const storage::ObjectInfo& i) -> Result<void> {
        present.insert(i.name);
        return Ok();
      }));
  ASSIGN_OR_RETURN(CachedIndex cached, SyncIndexCache(
                                           cache_dir_, present,
                                           [&](const std::string& name) {
                                             return LoadObject(
                                                 ObjectType::kIndex, name);
                                           },
                                           open_.skip_unreadable_index));
  std::lock_guard lock(mu_);
  unreadable_index_ = std::move(cached.unreadable);
  runs_ = std::move(cached.runs);
  index_names_ = std::move(cached.names);
  return Ok();
}

Result<void> Repository::LoadIndex() {
  // An index file listed but gone when fetched was deleted meanwhile by a prune
  // or repair that superseded it (before this process held a lock, or without
  // one): list again. Nothing is published until an attempt succeeds.
  for (int attempt = 1;; ++attempt) {
    auto r = LoadIndexOnce();
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

std::string Repository::TreePackCachePath(const Id& pack) const {
  return cache_dir_ + "/packs/" + pack.Hex().substr(0, 2) + "/" + pack.Hex();
}

Result<Bytes> Repository::LoadWholePack(const Id& pack, Bytes* damaged) {
  Bytes out;
  RETURN_IF_ERROR(ReadChecked(
      [&] {
        return backend_->Load({ObjectType::kPack, pack.Hex()});
      },
      [&](Bytes& data) -> Result<void> {
        if (Id::FromSpan(crypto::Sha256(data)) != pack)
          return MakeError(ErrorCode::kCorruption,
                           "pack " + pack.Hex() +
                               ": content does not match its name (damaged)");
        out = std::move(data);
        return Ok();
      },
      "pack " + pack.Hex(), damaged));
  return out;
}

std::optional<Bytes> Repository::LoadCachedTreeBlob(const Id& id,
                                                    const BlobLocation& loc) {
  // Tree packs are cached whole (sealed, named by their SHA-256) in the local
  // cache, so walking a parent snapshot or `ls` does not fetch trees again on
  // every run. Only the blob's range is read from the cached file, and
  // authenticated like any read: a damaged entry is dropped, and the caller
  // reads the repository.
  std::string path = TreePackCachePath(loc.pack);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  Bytes sealed(loc.length);
  if (PreadExact(fd.get(), sealed, loc.offset, path)) {
    if (auto blob = DecodeBlob(id, loc, sealed)) return std::move(*blob);
  }
  ::unlink(path.c_str());
  return std::nullopt;
}

std::optional<Result<Bytes>> Repository::FetchTreePack(
    const Id& id, const BlobLocation& loc) {
  std::string where = "blob " + id.Short() + " in pack " + loc.pack.Hex();
  // Fetch the whole pack for the cache; a pack that is not intact is not
  // cached, and the blob is read by itself.
  auto pack = LoadWholePack(loc.pack);
  if (!pack) {
    if (pack.error().code == ErrorCode::kCorruption) return std::nullopt;
    return pack.error().Wrap(where);
  }
  std::string path = TreePackCachePath(loc.pack);
  if (MakeDirs(path.substr(0, path.rfind('/'))))
    (void)WriteFileAtomic(path, *pack, false, false);
  if (std::uint64_t{loc.offset} + loc.length > pack->size())
    return MakeError(ErrorCode::kCorruption,
                     where + ": beyond the end of the pack");
  return DecodeBlob(id, loc, ByteSpan(*pack).subspan(loc.offset, loc.length));
}

std::optional<Result<Bytes>> Repository::LoadTreeBlobCached(
    const Id& id, const BlobLocation& loc) {
  if (auto blob = LoadCachedTreeBlob(id, loc)) return std::move(*blob);
  {
    std::unique_lock lock(tree_fetch_mu_);
    if (tree_fetches_.contains(loc.pack)) {
      // Another thread is fetching this pack: wait for the cache.
      tree_fetched_.wait(lock,
                         [&] { return !tree_fetches_.contains(loc.pack); });
      lock.unlock();
      if (auto blob = LoadCachedTreeBlob(id, loc)) return std::move(*blob);
      return std::nullopt;
    }
    if (tree_fetches_.size() >= kMaxWholeTreePacks) return std::nullopt;
    tree_fetches_.insert(loc.pack);
  }
  struct Done {
    Repository& r;
    const Id& pack;
    ~Done() {
      {
        std::lock_guard lock(r.tree_fetch_mu_);
        r.tree_fetches_.erase(pack);
      }
      r.tree_fetched_.notify_all();
    }
  } done{*this, loc.pack};
  // A fetch that ended between the miss above and this one's start has
  // cached the pack already.
  if (auto blob = LoadCachedTreeBlob(id, loc)) return std::move(*blob);
  return FetchTreePack(id, loc);
}

Result<Bytes> Repository::LoadBlob(const Id& id) {
  auto loc = Lookup(id);
  if (!loc)
    return MakeError(ErrorCode::kNotFound,
                     "blob " + id.Hex() + ": not in the index");
  std::string where = "blob " + id.Short() + " in pack " + loc->pack.Hex();
  if (loc->type == BlobType::kTree && !temp_cache_) {
    if (auto blob = LoadTreeBlobCached(id, *loc)) return std::move(*blob);
  }
  Bytes out;
  auto r = ReadChecked(
      [&]() -> Result<Bytes> {
        auto sealed = backend_->Load({ObjectType::kPack, loc->pack.Hex()},
                                     loc->offset, loc->length);
        if (!sealed) return sealed.error().Wrap(where);
        return sealed;
      },
      [&](Bytes& sealed) -> Result<void> {
        ASSIGN_OR_RETURN(out, DecodeBlob(id, *loc, sealed));
        return Ok();
      },
      where);
  if (!r) return r.error();
  return out;
}

Result<Bytes> Repository::OpenSealedBlob(const PackEntry& entry,
                                         ByteSpan sealed,
                                         BlobFault* fault) const {
  auto plain = crypto::Open(key_.encrypt, sealed);
  if (!plain) {
    *fault = BlobFault::kAuthentication;
    return MakeError(ErrorCode::kCorruption, "authentication failed");
  }
  Bytes data;
  if (entry.compressed) {
    auto d = codec::Decompress(*plain, entry.raw_length);
    if (!d) {
      *fault = BlobFault::kDecompression;
      return d.error();
    }
    data = std::move(*d);
  } else {
    data = std::move(*plain);
  }
  if (data.size() != entry.raw_length || BlobId(data) != entry.id) {
    *fault = BlobFault::kContent;
    return MakeError(ErrorCode::kCorruption, "content does not match its ID");
  }
  return data;
}

Result<Bytes> Repository::DecodeBlob(const Id& id, const BlobLocation& loc,
                                     ByteSpan sealed) const {
  std::string where = "blob " + id.Short() + " in pack " + loc.pack.Hex();
  PackEntry entry{id,         loc.type,   loc.compressed,
                  loc.offset, loc.length, loc.raw_length};
  BlobFault fault{};
  auto data = OpenSealedBlob(entry, sealed, &fault);
  if (!data && fault == BlobFault::kDecompression)
    return data.error().Wrap(where);
  if (!data)
    return MakeError(ErrorCode::kCorruption,
                     where + ": " + data.error().message);
  return data;
}

Result<Bytes> Repository::LoadPackRange(const Id& pack, std::uint64_t offset,
                                        std::uint64_t length) {
  return backend_->Load({ObjectType::kPack, pack.Hex()}, offset, length);
}

bool Repository::HasArchiveClasses() const {
  return backend_->HasArchiveClasses();
}

size_t Repository::PackCountHint() {
  std::lock_guard lock(mu_);
  size_t n = 0;  // a pack named by two index runs counts twice: a hint
  for (const auto& run : runs_) n += run->pack_count();
  return n;
}

Result<void> Repository::ListPackClasses(
    const std::function<Result<void>(const Id&, const storage::ObjectInfo&)>&
        fn) {
  return backend_->List(ObjectType::kPack,
                        [&](const storage::ObjectInfo& i) -> Result<void> {
                          auto id = Id::FromHex(i.name);
                          return id ? fn(*id, i) : Ok();
                        });
}

Result<storage::ArchiveStatus> Repository::PackArchiveStatus(const Id& pack) {
  return backend_->GetArchiveStatus({ObjectType::kPack, pack.Hex()});
}

Result<void> Repository::RequestPackRestore(const Id& pack, int days,
                                            const std::string& tier) {
  return backend_->RequestRestore({ObjectType::kPack, pack.Hex()}, days, tier);
}

int Repository::PreferredUploadConcurrency() const {
  return backend_->Concurrency();
}

Result<std::vector<PackEntry>> Repository::PackHeader(const std::string& name) {
  ASSIGN_OR_RETURN(auto info, backend_->Stat({ObjectType::kPack, name}));
  return ReadPackHeader(name, info.size);
}

Result<std::vector<PackEntry>> Repository::ReadPackHeader(
    const std::string& name, std::uint64_t size) {
  // Most headers (42 bytes per blob) fit in the first guess.
  std::uint64_t want = std::min<std::uint64_t>(size, 16 * 1024);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (want == 0) break;
    std::vector<PackEntry> entries;
    size_t needed = 0;
    auto r = ReadChecked(
        [&] {
          return backend_->Load({ObjectType::kPack, name}, size - want, want);
        },
        [&](Bytes& tail) -> Result<void> {
          ASSIGN_OR_RETURN(entries, repo::ParsePackHeader(key_.encrypt, tail,
                                                          size, &needed));
          return Ok();
        },
        "pack " + name);
    if (r) return entries;
    if (r.error().code != ErrorCode::kNotFound || needed <= want)
      return r.error().code == ErrorCode::kTransient
                 ? r.error()
                 : r.error().Wrap("pack " + name);
    want = needed;
  }
  return MakeError(ErrorCode::kCorruption,
                   "pack " + name + ": header unreadable");
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

static std::string RunObjectName(const std::string& run_id) {
  return HexEncode(crypto::Sha256(AsBytes(run_id)));
}

Result<void> Repository::SaveRunObject(const std::string& run_id,
                                       ByteSpan plaintext) {
  Bytes sealed = crypto::Seal(key_.encrypt, plaintext);
  return backend_->Save({ObjectType::kRun, RunObjectName(run_id)}, sealed,
                        {.create_only = true});
}

Result<Bytes> Repository::LoadRunObject(const std::string& run_id) {
  return LoadObject(ObjectType::kRun, RunObjectName(run_id));
}

Result<void> Repository::RemoveRunObject(const std::string& run_id) {
  return backend_->Remove({ObjectType::kRun, RunObjectName(run_id)});
}

Result<Bytes> Repository::LoadObject(ObjectType type, const std::string& name) {
  Handle h{type, name};
  std::string key = storage::ObjectKey(h);
  Bytes out;
  RETURN_IF_ERROR(ReadChecked(
      [&] { return backend_->Load(h); },
      [&](Bytes& sealed) -> Result<void> {
        if (type != ObjectType::kLock && type != ObjectType::kRun &&
            HexEncode(crypto::Sha256(sealed)) != name)
          return MakeError(ErrorCode::kCorruption,
                           key + ": content does not match its name (damaged)");
        auto plain = crypto::Open(key_.encrypt, sealed);
        if (!plain)
          return MakeError(ErrorCode::kCorruption,
                           key + ": authentication failed");
        out = std::move(*plain);
        return Ok();
      },
      key));
  return out;
}

}  // namespace efs2s3::repo
