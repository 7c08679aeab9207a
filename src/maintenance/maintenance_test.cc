// Tests for prune, check and repair on real local repositories in temporary
// directories (cheap KDF, small packs).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "base/file_util.h"
#include "maintenance/check.h"
#include "maintenance/id_set.h"
#include "maintenance/prune.h"
#include "maintenance/repair.h"
#include "maintenance/retention.h"
#include "maintenance/walk.h"
#include "storage/local/local_backend.h"

namespace efs2s3::maintenance {
namespace {

namespace fs = std::filesystem;
using repo::Repository;
using storage::ObjectType;

// Fails every Save and Remove after the first `budget` of them, like a process
// killed at that point (nothing after it happens).
class FailAfterBackend : public storage::Backend {
 public:
  FailAfterBackend(std::unique_ptr<storage::Backend> inner, int budget)
      : inner_(std::move(inner)), budget_(budget) {}
  std::string Location() const override { return inner_->Location(); }
  Result<void> Create() override { return inner_->Create(); }
  Result<void> Save(const storage::Handle& h, ByteSpan data,
                    const storage::SaveOptions& o) override {
    if (h.type != ObjectType::kLock && budget_-- <= 0) return Fail();
    return inner_->Save(h, data, o);
  }
  Result<Bytes> Load(const storage::Handle& h, std::uint64_t off,
                     std::uint64_t len) override {
    return inner_->Load(h, off, len);
  }
  Result<storage::ObjectInfo> Stat(const storage::Handle& h) override {
    return inner_->Stat(h);
  }
  Result<void> Remove(const storage::Handle& h) override {
    if (h.type != ObjectType::kLock && budget_-- <= 0) return Fail();
    return inner_->Remove(h);
  }
  Result<void> List(
      ObjectType t,
      const std::function<Result<void>(const storage::ObjectInfo&)>& fn)
      override {
    return inner_->List(t, fn);
  }
  bool tripped() const { return budget_ < 0; }

 private:
  static Error Fail() {
    return MakeError(ErrorCode::kIo, "injected failure (simulated crash)");
  }
  std::unique_ptr<storage::Backend> inner_;
  int budget_;
};

repo::InitOptions FastInit() {
  repo::InitOptions o;
  o.kdf = {1024, 8, 1};
  o.pack_size = 16 * 1024;
  return o;
}

CheckOptions ReadAll() {
  CheckOptions o;
  o.read_data = true;
  return o;
}
PruneOptions NoWaste() {
  PruneOptions o;
  o.max_unused = 0;
  return o;
}
RepairSnapshotsOptions DryRun() {
  RepairSnapshotsOptions o;
  o.dry_run = true;
  return o;
}

std::string TempDir() {
  auto d = MakeTempDir();
  EFS2S3_CHECK(d.has_value());
  return *d;
}

Bytes Content(int seed, size_t n) {
  Bytes b(n);
  std::uint32_t x = static_cast<std::uint32_t>(seed) * 2654435761u + 1;
  for (auto& c : b) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<std::uint8_t>(x);
  }
  return b;
}

class MaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    auto r = Repository::Init(storage::NewLocalBackend(dir_ + "/repo"), "pw",
                              FastInit(), {dir_ + "/cache"});
    ASSERT_TRUE(r) << r.error().message;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Repository> Open(int budget = -1,
                                   FailAfterBackend** fail = nullptr,
                                   bool tolerant = false) {
    std::unique_ptr<storage::Backend> b =
        storage::NewLocalBackend(dir_ + "/repo");
    if (budget >= 0) {
      auto f = std::make_unique<FailAfterBackend>(std::move(b), budget);
      if (fail) *fail = f.get();
      b = std::move(f);
    }
    repo::OpenOptions o{dir_ + "/cache", tolerant};
    auto r = Repository::Open(std::move(b), "pw", o);
    EFS2S3_CHECK(r.has_value());
    return std::move(*r);
  }

  // A snapshot of /dir/file-<i> for the given seeds: 3 KiB blobs, 2 per file.
  Id Snapshot(Repository& repo, const std::vector<int>& seeds,
              const std::string& host = "h") {
    model::Tree sub;
    for (int s : seeds) {
      model::Node n;
      n.name = "file-" + std::to_string(s);
      for (int part = 0; part < 2; ++part) {
        auto r =
            repo.SaveBlob(repo::BlobType::kData, Content(s * 10 + part, 3000));
        EFS2S3_CHECK(r.has_value());
        n.content.push_back(r->id);
      }
      sub.nodes.push_back(n);
    }
    auto sub_id = repo.SaveTree(sub);
    EFS2S3_CHECK(sub_id.has_value());
    model::Tree root;
    model::Node d;
    d.name = "dir";
    d.type = model::NodeType::kDir;
    d.subtree = *sub_id;
    root.nodes.push_back(d);
    auto root_id = repo.SaveTree(root);
    EFS2S3_CHECK(root_id.has_value());
    EFS2S3_CHECK(repo.Flush().has_value());
    model::Snapshot snap;
    snap.time_ns = ++clock_;
    snap.hostname = host;
    snap.paths = {"/src"};
    snap.tree = *root_id;
    auto sid = repo.SaveSnapshot(snap);
    EFS2S3_CHECK(sid.has_value());
    return *sid;
  }

  CheckReport Check(CheckOptions o = {}) {
    auto repo = Open(-1, nullptr, true);
    auto r = RunCheck(*repo, o);
    EFS2S3_CHECK(r.has_value());
    return std::move(*r);
  }
  static std::string Describe(const CheckReport& r) {
    std::string s;
    for (const auto& e : r.errors) s += e.kind + ": " + e.message + "\n";
    return s;
  }
  // Every file of every snapshot reads back.
  void ExpectAllReadable() {
    auto repo = Open();
    auto snaps = repo->ListSnapshots();
    ASSERT_TRUE(snaps);
    for (const auto& [id, s] : *snaps) {
      auto root = repo->LoadTree(s.tree);
      ASSERT_TRUE(root) << root.error().message;
      auto sub = repo->LoadTree(*root->nodes[0].subtree);
      ASSERT_TRUE(sub) << sub.error().message;
      for (const auto& n : sub->nodes)
        for (const Id& b : n.content) {
          auto data = repo->LoadBlob(b);
          EXPECT_TRUE(data) << data.error().message;
        }
    }
  }
  std::vector<std::string> Objects(const std::string& sub) {
    std::vector<std::string> out;
    if (!fs::exists(dir_ + "/repo/" + sub)) return out;
    for (const auto& e :
         fs::recursive_directory_iterator(dir_ + "/repo/" + sub))
      if (e.is_regular_file() &&
          e.path().filename().string().rfind(".tmp", 0) != 0)
        out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
  std::int64_t clock_ = 1'700'000'000'000'000'000;
};

TEST(IdSetTest, SpillsSortsAndDeduplicates) {
  // Given 10,000 IDs (each added twice) and a buffer of 700, then the set has
  // each once.
  std::string dir = TempDir();
  IdSetBuilder b(dir, 700);
  std::vector<Id> ids;
  for (int i = 0; i < 10000; ++i) {
    Id id;
    Bytes c = Content(i, 32);
    std::memcpy(id.bytes.data(), c.data(), 32);
    ids.push_back(id);
  }
  for (int round = 0; round < 2; ++round)
    for (const Id& id : ids) ASSERT_TRUE(b.Add(id));
  EXPECT_GT(b.spilled_runs(), 10u);
  auto set = b.Finish();
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ((*set)->size(), ids.size());
  for (const Id& id : ids) EXPECT_TRUE((*set)->Contains(id));
  Id absent;
  absent.bytes[0] = 1;
  EXPECT_FALSE((*set)->Contains(absent));
  for (size_t i = 1; i < (*set)->size(); ++i)
    EXPECT_LT((*set)->At(i - 1), (*set)->At(i));
  fs::remove_all(dir);
  // Given a small set, then it stays in memory and still answers.
  IdSetBuilder small("", 100);
  ASSERT_TRUE(small.Add(ids[0]));
  auto s2 = small.Finish();
  ASSERT_TRUE(s2);
  EXPECT_TRUE((*s2)->Contains(ids[0]));
  EXPECT_FALSE((*s2)->Contains(ids[1]));
}

TEST(DataSubsetTest, ParsesAndSlicesCoverEveryPackOnce) {
  EXPECT_EQ(ParseDataSubset("2/7")->kind, DataSubset::Kind::kSlice);
  EXPECT_EQ(ParseDataSubset("5%")->percent, 5.0);
  EXPECT_EQ(ParseDataSubset("12.5%")->percent, 12.5);
  for (const char* bad : {"0/3", "4/3", "x", "5", "0%", "101%", "/3", "1/"})
    EXPECT_FALSE(ParseDataSubset(bad)) << bad;
  for (int i = 0; i < 200; ++i) {
    Id p;
    Bytes c = Content(i, 32);
    std::memcpy(p.bytes.data(), c.data(), 32);
    int hits = 0;
    for (std::uint32_t n = 1; n <= 5; ++n) hits += InSlice(p, n, 5);
    EXPECT_EQ(hits, 1);
  }
}

TEST(PruneDecisionTest, DeletesUnusedRepacksWastefulKeepsTheRest) {
  PrunePlan::PackState p;
  p.size = 100000;
  p.indexed = 10;
  EXPECT_EQ(DecidePack(p, 0.05), PackAction::kDelete);
  p.used = 10;
  p.used_bytes = 100000 - 8 - 28 - 420;
  EXPECT_EQ(DecidePack(p, 0.05), PackAction::kKeep);
  p.used = 5;
  p.used_bytes = 50000;
  EXPECT_EQ(DecidePack(p, 0.05), PackAction::kRepack);
  EXPECT_EQ(DecidePack(p, 0.6), PackAction::kKeep);
}

TEST_F(MaintenanceTest, CleanRepositoryChecksClean) {
  {
    auto repo = Open();
    Snapshot(*repo, {1, 2, 3});
    Snapshot(*repo, {2, 3, 4});
  }
  CheckOptions o;
  o.read_data = true;
  CheckReport r = Check(o);
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r.snapshots, 2u);
  EXPECT_EQ(r.trees, 4u);
  EXPECT_GT(r.packs_read, 0u);
  EXPECT_EQ(r.blobs_read, r.indexed_blobs);
}

TEST_F(MaintenanceTest, PruneRemovesForgottenDataAndKeepsTheRest) {
  Id old_snap;
  {
    auto repo = Open();
    old_snap = Snapshot(*repo, {1, 2, 3, 4, 5, 6, 7, 8});
    Snapshot(*repo, {7, 8, 9});
    ASSERT_TRUE(repo->RemoveSnapshot(old_snap));
  }
  auto before = Objects("data");
  {
    auto repo = Open();
    auto plan = PlanPrune(*repo, {});
    ASSERT_TRUE(plan) << plan.error().message;
    EXPECT_FALSE(plan->nothing_to_do);
    EXPECT_EQ(plan->snapshots, 1u);
    EXPECT_EQ(plan->used_blobs,
              2u + 6u);  // two trees, three files of two blobs
    EXPECT_GT(plan->remove.packs + plan->repack.packs, 0u);
    // Given --dry-run (plan only), then nothing changed.
    EXPECT_EQ(Objects("data"), before);
    auto done = ExecutePrune(*repo, *plan, {});
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_GT(done->packs_deleted, 0u);
  }
  EXPECT_LT(Objects("data").size() + 0, before.size() + 1);
  CheckReport r = Check(ReadAll());
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(r.hints.empty());
  ExpectAllReadable();
  // Then a second prune has nothing to do.
  auto repo = Open();
  auto again = PlanPrune(*repo, {});
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->nothing_to_do);
  // And the blobs of file-1 are gone from the index.
  EXPECT_FALSE(repo->HasBlob(repo->BlobId(Content(10, 3000))));
  EXPECT_TRUE(repo->HasBlob(repo->BlobId(Content(90, 3000))));
}

TEST_F(MaintenanceTest,
       PruneWithSmallIndexFilesAndSpillingWritesSeveralIndexFiles) {
  {
    auto repo = Open();
    Id a = Snapshot(*repo, {1, 2, 3, 4, 5, 6});
    Snapshot(*repo, {5, 6, 7, 8, 9, 10, 11, 12});
    ASSERT_TRUE(repo->RemoveSnapshot(a));
  }
  auto repo = Open();
  PruneOptions o;
  o.id_buffer = 3;
  o.max_index_entries = 4;
  o.max_unused = 0;
  auto plan = PlanPrune(*repo, o);
  ASSERT_TRUE(plan) << plan.error().message;
  auto done = ExecutePrune(*repo, *plan, o);
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_GT(done->index_written, 1u);
  repo.reset();
  CheckReport r = Check(ReadAll());
  EXPECT_TRUE(r.ok()) << Describe(r);
  ExpectAllReadable();
}

TEST_F(MaintenanceTest, PruneInterruptedAtEveryStepLeavesACheckableRepository) {
  {
    auto repo = Open();
    Id a = Snapshot(*repo, {1, 2, 3, 4, 5, 6});
    Snapshot(*repo, {5, 6, 7});
    Snapshot(*repo, {7, 8});
    ASSERT_TRUE(repo->RemoveSnapshot(a));
  }
  std::string pristine = dir_ + "/pristine";
  fs::copy(dir_ + "/repo", pristine, fs::copy_options::recursive);
  int budget = 0;
  for (;; ++budget) {
    SCOPED_TRACE("interrupted after " + std::to_string(budget) + " writes");
    fs::remove_all(dir_ + "/repo");
    fs::remove_all(dir_ + "/cache");
    fs::copy(pristine, dir_ + "/repo", fs::copy_options::recursive);
    FailAfterBackend* fail = nullptr;
    bool tripped = false;
    {
      auto repo = Open(budget, &fail);
      auto plan = PlanPrune(*repo, NoWaste());
      ASSERT_TRUE(plan) << plan.error().message;
      auto done = ExecutePrune(*repo, *plan, NoWaste());
      tripped = fail->tripped();
      EXPECT_EQ(done.has_value(), !tripped);
    }
    CheckReport r = Check(ReadAll());
    ASSERT_TRUE(r.ok()) << Describe(r);
    ExpectAllReadable();
    // Then a second prune finishes the job, and a third has nothing to do.
    {
      auto repo = Open();
      auto plan = PlanPrune(*repo, NoWaste());
      ASSERT_TRUE(plan) << plan.error().message;
      ASSERT_TRUE(ExecutePrune(*repo, *plan, NoWaste()));
      auto third = PlanPrune(*repo, NoWaste());
      ASSERT_TRUE(third);
      EXPECT_TRUE(third->nothing_to_do);
    }
    CheckReport r2 = Check(ReadAll());
    ASSERT_TRUE(r2.ok()) << Describe(r2);
    EXPECT_TRUE(r2.hints.empty());
    if (!tripped) break;
  }
  EXPECT_GT(budget, 3);
}

TEST_F(MaintenanceTest, CheckReportsAMissingPackWithTheSnapshotPaths) {
  Id snap;
  {
    auto repo = Open();
    snap = Snapshot(*repo, {1});
  }
  // Given the data pack is deleted (the largest object), then check names it,
  // the blobs and the file that uses them.
  auto packs = Objects("data");
  std::string biggest = *std::max_element(
      packs.begin(), packs.end(),
      [](auto& a, auto& b) { return fs::file_size(a) < fs::file_size(b); });
  fs::remove(biggest);
  CheckReport r = Check();
  ASSERT_FALSE(r.ok());
  bool pack_reported = false, path_reported = false;
  for (const auto& e : r.errors) {
    if (e.kind == "missing_pack" &&
        e.id == fs::path(biggest).filename().string())
      pack_reported = true;
    if (e.kind == "missing_blob")
      for (const auto& p : e.paths)
        if (p.path == "/dir/file-1" && p.snapshot == snap.Hex())
          path_reported = true;
  }
  EXPECT_TRUE(pack_reported) << Describe(r);
  EXPECT_TRUE(path_reported) << Describe(r);
  // Prune refuses to run on it.
  auto repo = Open();
  auto plan = PlanPrune(*repo, {});
  EXPECT_FALSE(plan);
}

TEST_F(MaintenanceTest, CheckReadDataFindsAFlippedByte) {
  {
    auto repo = Open();
    Snapshot(*repo, {1, 2});
  }
  CheckReport clean = Check();
  ASSERT_TRUE(clean.ok());
  auto packs = Objects("data");
  std::string biggest = *std::max_element(
      packs.begin(), packs.end(),
      [](auto& a, auto& b) { return fs::file_size(a) < fs::file_size(b); });
  fs::permissions(biggest, fs::perms::owner_write, fs::perm_options::add);
  {
    std::fstream f(biggest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(100);
    f.write(&c, 1);
  }
  EXPECT_TRUE(Check().ok());  // structure is intact
  CheckReport r = Check(ReadAll());
  ASSERT_FALSE(r.ok());
  bool found = false;
  for (const auto& e : r.errors)
    if (e.kind == "damaged_blob" && !e.paths.empty() &&
        e.paths[0].path == "/dir/file-1")
      found = true;
  EXPECT_TRUE(found) << Describe(r);
  // A slice that excludes the pack does not see it; the slices together do.
  Id pack = *Id::FromHex(fs::path(biggest).filename().string());
  int seen = 0;
  for (std::uint32_t n = 1; n <= 3; ++n) {
    CheckOptions o;
    o.read_data = true;
    o.subset = *ParseDataSubset(std::to_string(n) + "/3");
    CheckReport s = Check(o);
    EXPECT_EQ(s.ok(), !InSlice(pack, n, 3));
    seen += !s.ok();
  }
  EXPECT_EQ(seen, 1);
}

TEST_F(MaintenanceTest, RepairIndexRebuildsADeletedIndex) {
  {
    auto repo = Open();
    Snapshot(*repo, {1, 2, 3});
    Snapshot(*repo, {3, 4});
  }
  for (const auto& f : Objects("index")) fs::remove(f);
  // Given a damaged extra index file too, then the repository still opens
  // tolerantly.
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/repo/index/" + std::string(64, 'a'),
                              Bytes(50, 1), false));
  fs::remove_all(dir_ + "/cache");
  CheckReport broken = Check();
  EXPECT_FALSE(broken.ok());
  {
    auto repo = Open(-1, nullptr, true);
    auto r = RepairIndex(*repo, {});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->salvaged.empty());
    EXPECT_EQ(r->index_deleted, 1u);
  }
  CheckReport r = Check(ReadAll());
  EXPECT_TRUE(r.ok()) << Describe(r);
  ExpectAllReadable();
}

// Damages the data pack of the first snapshot's files (the biggest pack):
// "truncate" cuts 3 bytes off its end (the header's length field), "header"
// flips a byte inside its sealed header, "both" also flips a byte of its
// first blob. Returns the pack's path.
std::string DamagePack(const std::vector<std::string>& packs,
                       const std::string& how) {
  std::string biggest = *std::max_element(
      packs.begin(), packs.end(),
      [](auto& a, auto& b) { return fs::file_size(a) < fs::file_size(b); });
  fs::permissions(biggest, fs::perms::owner_write, fs::perm_options::add);
  Bytes b = *ReadFile(biggest);
  if (how == "truncate") {
    b.resize(b.size() - 3);
  } else {
    b[b.size() - 20] ^= 0x08;
    if (how == "both") b[100] ^= 0x40;
  }
  EFS2S3_CHECK(WriteFileAtomic(biggest, b, false).has_value());
  return biggest;
}

TEST_F(MaintenanceTest, RepairIndexNeverMakesDataLessRestorable) {
  // Given a pack whose header is cut off or damaged while its blobs are
  // intact, then repair index keeps every blob (found by a header search or
  // by the old index, each authenticated), copies them to a new pack, and
  // every file still reads; with a damaged blob too, exactly that blob is
  // reported lost.
  for (std::string how : {"truncate", "header", "both"}) {
    SCOPED_TRACE(how);
    TearDown();
    SetUp();
    {
      auto repo = Open();
      Snapshot(*repo, {1, 2, 3});
    }
    DamagePack(Objects("data"), how);
    {
      auto repo = Open(-1, nullptr, true);
      auto r = RepairIndex(*repo, {});
      ASSERT_TRUE(r) << r.error().message;
      ASSERT_EQ(r->salvaged.size(), 1u);
      const SalvagedPack& p = r->salvaged[0];
      EXPECT_EQ(p.method,
                how == "truncate" ? "header found by search" : "old index");
      EXPECT_EQ(p.blobs_kept + p.lost.size(), 6u);
      EXPECT_EQ(p.lost.size(), how == "both" ? 1u : 0u);
      EXPECT_EQ(r->packs_written, 1u);
    }
    if (how == "both") continue;
    ExpectAllReadable();
    CheckReport c = Check(ReadAll());
    EXPECT_TRUE(c.ok()) << Describe(c);
  }
}

TEST_F(MaintenanceTest, RepairSnapshotsDropsFilesWithMissingData) {
  {
    auto repo = Open();
    Snapshot(*repo, {1});
  }
  // Given one more snapshot whose extra file lives in a pack of its own.
  std::set<std::string> before;
  for (const auto& p : Objects("data")) before.insert(p);
  {
    auto repo = Open();
    Snapshot(*repo, {1, 2});
  }
  std::string victim;
  for (const auto& p : Objects("data"))
    if (!before.count(p) &&
        (victim.empty() || fs::file_size(p) > fs::file_size(victim)))
      victim = p;
  ASSERT_FALSE(victim.empty());
  fs::remove(victim);
  {
    auto repo = Open(-1, nullptr, true);
    ASSERT_TRUE(RepairIndex(*repo, {}));
    auto dry = RepairSnapshots(*repo, DryRun());
    ASSERT_TRUE(dry) << dry.error().message;
    ASSERT_EQ(dry->changed.size(), 1u);
    auto r = RepairSnapshots(*repo, {});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->changed.size(), 1u);
    EXPECT_EQ(r->changed[0].action, "rewritten");
    EXPECT_EQ(r->changed[0].dropped, std::vector<std::string>{"/dir/file-2"});
  }
  CheckReport r = Check(ReadAll());
  EXPECT_TRUE(r.ok()) << Describe(r);
  ExpectAllReadable();
  auto repo = Open();
  auto snaps = repo->ListSnapshots();
  ASSERT_TRUE(snaps);
  ASSERT_EQ(snaps->size(), 2u);
  EXPECT_EQ(snaps->back().second.tags, std::vector<std::string>{"repaired"});
}

TEST_F(MaintenanceTest,
       AnUnreadableSnapshotStopsPruneAndRepairForgetRemovesIt) {
  // Given two snapshots and a snapshot object that opens but is not JSON.
  auto repo = Open();
  Snapshot(*repo, {1});
  Snapshot(*repo, {2});
  auto bad = repo->SaveObject(ObjectType::kSnapshot, AsBytes("not json"));
  ASSERT_TRUE(bad);
  std::string object = dir_ + "/repo/snapshots/" + bad->Hex();
  auto stored = ReadFile(object);
  ASSERT_TRUE(stored);
  std::vector<std::string> data = Objects("data");

  // Then prune refuses, naming it and the fix, and deletes nothing.
  auto plan = PlanPrune(*repo, {});
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::kCorruption);
  EXPECT_NE(plan.error().message.find("snapshots/" + bad->Hex() + " ("),
            std::string::npos)
      << plan.error().message;
  EXPECT_NE(plan.error().message.find("repair snapshots --forget"),
            std::string::npos);
  EXPECT_EQ(Objects("data"), data);

  // repair snapshots without --forget names it and leaves it.
  auto kept = RepairSnapshots(*repo, {});
  ASSERT_TRUE(kept) << kept.error().message;
  EXPECT_EQ(kept->snapshots, 3u);
  EXPECT_TRUE(kept->changed.empty());
  ASSERT_EQ(kept->unreadable.size(), 1u);
  EXPECT_EQ(kept->unreadable[0].id, bad->Hex());
  EXPECT_EQ(kept->unreadable[0].action, "unrepairable");
  EXPECT_TRUE(fs::exists(object));

  // A dry run with --forget only says so.
  RepairSnapshotsOptions o = DryRun();
  o.forget = true;
  o.keep_copies_in = dir_ + "/kept";
  auto dry = RepairSnapshots(*repo, o);
  ASSERT_TRUE(dry) << dry.error().message;
  ASSERT_EQ(dry->unreadable.size(), 1u);
  EXPECT_EQ(dry->unreadable[0].action, "removed");
  EXPECT_TRUE(dry->unreadable[0].copy.empty());
  EXPECT_TRUE(fs::exists(object));

  // With --forget it is removed after a copy of its stored bytes is kept; the
  // readable snapshots stay, and prune runs.
  o.dry_run = false;
  auto removed = RepairSnapshots(*repo, o);
  ASSERT_TRUE(removed) << removed.error().message;
  ASSERT_EQ(removed->unreadable.size(), 1u);
  EXPECT_EQ(removed->unreadable[0].action, "removed");
  EXPECT_EQ(removed->unreadable[0].copy, dir_ + "/kept/" + bad->Hex());
  EXPECT_FALSE(fs::exists(object));
  auto copy = ReadFile(dir_ + "/kept/" + bad->Hex());
  ASSERT_TRUE(copy);
  EXPECT_EQ(*copy, *stored);
  auto snaps = repo->ListSnapshots();
  ASSERT_TRUE(snaps) << snaps.error().message;
  EXPECT_EQ(snaps->size(), 2u);
  EXPECT_TRUE(PlanPrune(*repo, {}));
}

}  // namespace
}  // namespace efs2s3::maintenance

namespace efs2s3::maintenance {
namespace {

TEST(RetentionArithmeticTest, KnownDateAndWhenToExtend) {
  // Given the write time from the listing and the ledger's date, then the
  // known retention is the later of write + period and the ledger; an object
  // is extended only when that ends within min_remaining of now.
  const std::int64_t day = 86400, period = 30 * day, now = 1000 * day;
  EXPECT_EQ(KnownRetention(now - 20 * day, period, 0), now + 10 * day);
  EXPECT_EQ(KnownRetention(now - 20 * day, period, now + 25 * day),
            now + 25 * day);
  EXPECT_EQ(KnownRetention(0, period, 0), 0);  // unknown: always due
  EXPECT_TRUE(NeedsExtension(0, now, 15 * day));
  EXPECT_TRUE(NeedsExtension(now + 10 * day, now, 15 * day));
  EXPECT_FALSE(NeedsExtension(now + 15 * day, now, 15 * day));
  EXPECT_FALSE(NeedsExtension(now + 29 * day, now, 15 * day));
}

}  // namespace
}  // namespace efs2s3::maintenance
