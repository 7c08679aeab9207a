#include "repo/index_cache.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file_util.h"
#include "crypto/crypto.h"

namespace efs2s3::repo {

using json = nlohmann::json;

namespace {

// Merge the cached runs when there are more than this many.
constexpr size_t kMaxRuns = 16;

struct RunInfo {
  std::string file;
  std::string sha256;  // of the run file, checked before it is used
  std::vector<std::string> covers;
  std::vector<std::string> supersedes;
  std::unique_ptr<IndexRun> run;
};

// The runs the manifest lists (not yet mapped); none if it is missing or
// malformed.
std::vector<RunInfo> ReadManifest(const std::string& manifest_path) {
  std::vector<RunInfo> runs;
  auto m = ReadFile(manifest_path);
  if (!m) return runs;
  json j = json::parse(AsString(*m), nullptr, false);
  if (!j.is_object() || !j.contains("runs") || !j["runs"].is_array())
    return runs;
  // A damaged manifest (wrong types included) is an empty cache: every run
  // is fetched again.
  try {
    for (const auto& r : j["runs"]) {
      RunInfo ri;
      ri.file = r.value("file", "");
      ri.sha256 = r.value("sha256", "");
      ri.covers = r.value("covers", std::vector<std::string>{});
      ri.supersedes = r.value("supersedes", std::vector<std::string>{});
      if (ri.file.empty() || ri.file.find('/') != std::string::npos) continue;
      runs.push_back(std::move(ri));
    }
  } catch (const json::exception&) {
    return {};
  }
  return runs;
}

// Maps the cached runs that cover only present index files, each covered
// once; adds what they cover to `covered`.
std::vector<RunInfo> MapCachedRuns(std::vector<RunInfo> runs,
                                   const std::set<std::string>& present,
                                   const std::string& run_dir,
                                   std::set<std::string>& covered) {
  std::vector<RunInfo> valid;
  for (auto& r : runs) {
    bool ok = !r.covers.empty() && std::all_of(r.covers.begin(), r.covers.end(),
                                               [&](const std::string& c) {
                                                 return present.count(c) &&
                                                        !covered.count(c);
                                               });
    if (!ok) continue;
    // A cached run is checked before use: a damaged one (a flipped bit on
    // the local disk) would make blobs "not in the index" or point at wrong
    // offsets. It is dropped, and its index files are fetched again.
    auto mapped = IndexRun::MapFile(run_dir + "/" + r.file);
    if (!mapped || r.sha256.empty() ||
        HexEncode(crypto::Sha256((*mapped)->bytes())) != r.sha256)
      continue;
    r.run = std::move(*mapped);
    for (const auto& c : r.covers) covered.insert(c);
    valid.push_back(std::move(r));
  }
  return valid;
}

struct Fetched {
  Bytes plain;
  std::unique_ptr<IndexRun> run;
};

// Fetches and parses index file `name`.
Result<Fetched> Fetch(const std::string& name, const IndexFetcher& fetch) {
  // The fetch names the object in its errors; the parse does not.
  ASSIGN_OR_RETURN(Bytes plain, fetch(name));
  auto run = IndexRun::FromBytes(plain);
  if (!run) return run.error().Wrap("index/" + name);
  return Fetched{std::move(plain), std::move(*run)};
}

// Caches a fetched index file as a run of its own.
Result<RunInfo> CacheRun(const std::string& name, Fetched fetched,
                         const std::string& run_dir) {
  std::string file = name + ".run";
  RETURN_IF_ERROR(
      WriteFileAtomic(run_dir + "/" + file, fetched.plain, false, false));
  RunInfo ri{file,
             HexEncode(crypto::Sha256(fetched.plain)),
             {name},
             {},
             std::move(fetched.run)};
  for (const Id& s : ri.run->supersedes()) ri.supersedes.push_back(s.Hex());
  return ri;
}

// Fetches the present index files no cached run covers.
Result<void> FetchUncovered(const std::set<std::string>& present,
                            std::set<std::string>& covered,
                            const IndexFetcher& fetch, bool skip_unreadable,
                            const std::string& run_dir,
                            std::vector<RunInfo>& valid, CachedIndex& out) {
  for (const std::string& name : present) {
    if (covered.count(name)) continue;
    auto fetched = Fetch(name, fetch);
    if (!fetched && skip_unreadable &&
        fetched.error().code != ErrorCode::kTransient &&
        fetched.error().code != ErrorCode::kNotFound) {
      out.unreadable.emplace_back(name, fetched.error());
      continue;
    }
    if (!fetched) return fetched.error();
    ASSIGN_OR_RETURN(RunInfo ri, CacheRun(name, std::move(*fetched), run_dir));
    valid.push_back(std::move(ri));
    covered.insert(name);
  }
  return Ok();
}

// Drops the runs holding superseded index files; their other index files are
// fetched again (this happens only after prune).
Result<std::vector<RunInfo>> DropSuperseded(std::vector<RunInfo> valid,
                                            const IndexFetcher& fetch,
                                            const std::string& run_dir) {
  std::set<std::string> superseded;
  for (const auto& r : valid)
    for (const auto& s : r.supersedes) superseded.insert(s);
  std::vector<RunInfo> kept;
  std::vector<std::string> refetch;
  for (auto& r : valid) {
    bool stale =
        std::any_of(r.covers.begin(), r.covers.end(),
                    [&](const std::string& c) { return superseded.count(c); });
    if (!stale) {
      kept.push_back(std::move(r));
      continue;
    }
    for (const auto& c : r.covers)
      if (!superseded.count(c)) refetch.push_back(c);
  }
  for (const std::string& name : refetch) {
    ASSIGN_OR_RETURN(Fetched fetched, Fetch(name, fetch));
    ASSIGN_OR_RETURN(RunInfo ri, CacheRun(name, std::move(fetched), run_dir));
    kept.push_back(std::move(ri));
  }
  return kept;
}

// Too many runs: merges them all into one (k-way, streaming).
Result<void> MergeIfTooMany(std::vector<RunInfo>& kept,
                            const std::string& run_dir) {
  if (kept.size() <= kMaxRuns) return Ok();
  std::vector<const IndexRun*> inputs;
  RunInfo merged;
  for (auto& r : kept) {
    inputs.push_back(r.run.get());
    merged.covers.insert(merged.covers.end(), r.covers.begin(), r.covers.end());
    merged.supersedes.insert(merged.supersedes.end(), r.supersedes.begin(),
                             r.supersedes.end());
  }
  merged.file = "merged-" + HexEncode(RandomBytes(16)) + ".run";
  RETURN_IF_ERROR(MergeRuns(inputs, run_dir + "/" + merged.file));
  ASSIGN_OR_RETURN(merged.run, IndexRun::MapFile(run_dir + "/" + merged.file));
  merged.sha256 = HexEncode(crypto::Sha256(merged.run->bytes()));
  kept.clear();
  kept.push_back(std::move(merged));
  return Ok();
}

// Publishes the manifest, then removes the run files it no longer names.
Result<void> PublishManifest(const std::vector<RunInfo>& kept,
                             const std::string& manifest_path,
                             const std::string& run_dir) {
  json jr = json::array();
  std::set<std::string> live;
  for (const auto& r : kept) {
    jr.push_back({{"file", r.file},
                  {"sha256", r.sha256},
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
  return Ok();
}

}  // namespace

Result<CachedIndex> SyncIndexCache(const std::string& cache_dir,
                                   const std::set<std::string>& present,
                                   const IndexFetcher& fetch,
                                   bool skip_unreadable) {
  std::string run_dir = cache_dir + "/index";
  std::string manifest_path = cache_dir + "/index-manifest.json";
  CachedIndex out;
  std::set<std::string> covered;
  std::vector<RunInfo> valid =
      MapCachedRuns(ReadManifest(manifest_path), present, run_dir, covered);
  RETURN_IF_ERROR(FetchUncovered(present, covered, fetch, skip_unreadable,
                                 run_dir, valid, out));
  ASSIGN_OR_RETURN(std::vector<RunInfo> kept,
                   DropSuperseded(std::move(valid), fetch, run_dir));
  RETURN_IF_ERROR(MergeIfTooMany(kept, run_dir));
  RETURN_IF_ERROR(PublishManifest(kept, manifest_path, run_dir));
  for (auto& r : kept) {
    out.runs.push_back(std::move(r.run));
    out.names.insert(out.names.end(), r.covers.begin(), r.covers.end());
  }
  return out;
}

}  // namespace efs2s3::repo
