#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "base/file_util.h"
#include "base/testing/mutate.h"
#include "base/thread_pool.h"
#include "repo/lock.h"
#include "repo/maintenance_access.h"
#include "repo/read_checked.h"
#include "repo/repository.h"
#include "storage/local/local_backend.h"
#include "storage/mem/mem_backend.h"

namespace efs2s3::repo {
namespace {

InitOptions FastInit() {
  InitOptions o;
  o.kdf = {1024, 8, 1};  // cheap KDF for tests
  o.pack_size = 64 * 1024;
  return o;
}

std::string TempDir() {
  char tmpl[] = "/tmp/efs2s3-repotest-XXXXXX";
  EFS2S3_CHECK(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}

// A finished pack of three blobs of 40, 41 and 42 bytes (IDs 0, 1, 2).
Bytes SamplePack(const crypto::Key& k, Id* name = nullptr) {
  PackWriter w;
  for (int i = 0; i < 3; ++i) {
    PackEntry e;
    e.id.bytes[0] = static_cast<std::uint8_t>(i);
    e.raw_length = 10;
    EFS2S3_CHECK(w.Add(e, Bytes(40 + static_cast<size_t>(i), 7)).has_value());
  }
  auto finished = w.Finish(k);
  EFS2S3_CHECK(finished.has_value());
  if (name) *name = (*finished)->name;
  return *ReadAll(**finished);
}

TEST(PackTest, RoundTripAndTamper) {
  crypto::Key k{};
  Id name;
  Bytes bytes = SamplePack(k, &name);
  EXPECT_EQ(name, Id::FromSpan(crypto::Sha256(bytes)));
  size_t needed = 0;
  auto parsed = ParsePackHeader(k, bytes, bytes.size(), &needed);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[2].offset, 81u);
  EXPECT_EQ((*parsed)[1].length, 41u);
  // A short tail asks for more.
  auto part =
      ParsePackHeader(k, ByteSpan(bytes).last(10), bytes.size(), &needed);
  ASSERT_FALSE(part);
  EXPECT_EQ(part.error().code, ErrorCode::kNotFound);
  EXPECT_GT(needed, 10u);
  Bytes bad = bytes;
  bad[bad.size() - 10] ^= 1;
  EXPECT_EQ(ParsePackHeader(k, bad, bad.size(), &needed).error().code,
            ErrorCode::kCorruption);
}

TEST(PackTest, SpooledPackLivesInATemporaryFile) {
  crypto::Key k{};
  std::string dir = TempDir();
  PackWriter w = PackWriter::Spooled(dir);
  Bytes blob = RandomBytes(100000);
  for (int i = 0; i < 20; ++i) {
    PackEntry e;
    e.id.bytes[0] = static_cast<std::uint8_t>(i);
    e.raw_length = 10;
    ASSERT_TRUE(w.Add(e, blob));
  }
  EXPECT_EQ(w.size(), 20u * blob.size());
  auto finished = w.Finish(k);
  ASSERT_TRUE(finished) << finished.error().message;
  const FinishedPack& pack = **finished;
  EXPECT_EQ(pack.Memory(), nullptr);  // not in memory
  auto bytes = ReadAll(pack);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->size(), pack.size());
  EXPECT_EQ(pack.name, Id::FromSpan(crypto::Sha256(*bytes)));
  EXPECT_TRUE(std::equal(blob.begin(), blob.end(), bytes->begin() + 300000));
  size_t needed = 0;
  auto parsed = ParsePackHeader(k, *bytes, bytes->size(), &needed);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->size(), 20u);
  // The file is unnamed: nothing is left in the directory.
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  // The writer starts over, empty.
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.size(), 0u);
}

TEST(IndexTest, BuildFindMerge) {
  IndexBuilder a, b;
  std::vector<PackEntry> ea, eb;
  for (int i = 0; i < 100; ++i) {
    PackEntry e;
    e.id.bytes[0] = static_cast<std::uint8_t>(i * 2);
    e.offset = static_cast<std::uint32_t>(i);
    e.raw_length = 5;
    e.compressed = i % 2;
    (i % 2 ? ea : eb).push_back(e);
  }
  Id pa, pb;
  pa.bytes[31] = 1;
  pb.bytes[31] = 2;
  a.AddPack(pa, ea);
  b.AddPack(pb, eb);
  auto ra = IndexRun::FromBytes(a.Finish());
  auto rb = IndexRun::FromBytes(b.Finish());
  ASSERT_TRUE(ra && rb);
  // Given id 2*i for i odd in pack A and even in pack B, then lookups find the
  // right pack.
  Id probe;
  probe.bytes[0] = 2;  // i = 1: pack A, compressed, offset 1
  EXPECT_FALSE((*rb)->Find(probe));
  auto loc = (*ra)->Find(probe);
  ASSERT_TRUE(loc);
  EXPECT_EQ(loc->pack, pa);
  EXPECT_EQ(loc->offset, 1u);
  EXPECT_TRUE(loc->compressed);
  std::string dir = TempDir();
  ASSERT_TRUE(MergeRuns({ra->get(), rb->get()}, dir + "/m.run"));
  auto m = IndexRun::MapFile(dir + "/m.run");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ((*m)->size(), 100u);
  auto l2 = (*m)->Find(probe);
  ASSERT_TRUE(l2);
  EXPECT_EQ(l2->pack, pa);
  EXPECT_TRUE(l2->compressed);
  probe.bytes[0] = 4;  // i = 2: pack B
  auto l3 = (*m)->Find(probe);
  ASSERT_TRUE(l3);
  EXPECT_FALSE(l3->compressed);
  EXPECT_EQ(l3->pack, pb);
  probe.bytes[0] = 3;
  EXPECT_FALSE((*m)->Find(probe));
  EXPECT_FALSE(IndexRun::FromBytes(ToBytes("garbage")));
}

TEST(IndexTest, AnyBytesParseToAnIndexOrAnErrorNeverACrash) {
  // Given mutations of a valid index file, then FromBytes returns a run whose
  // every entry can be read, or kCorruption.
  IndexBuilder b;
  Id pack;
  pack.bytes[0] = 9;
  std::vector<PackEntry> entries(3);
  for (int i = 0; i < 3; ++i) {
    entries[i].id.bytes[0] = static_cast<std::uint8_t>(i + 1);
    entries[i].offset = static_cast<std::uint32_t>(i * 100);
    entries[i].length = 100;
    entries[i].raw_length = 80;
  }
  b.AddPack(pack, entries);
  Id old;
  old.bytes[1] = 7;
  b.Supersede(old);
  Bytes valid = b.Finish();
  for (std::uint64_t i = 0; i < testing::kMutations; ++i) {
    auto r = IndexRun::FromBytes(testing::Mutate(valid, 4, i));
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << "mutation " << i;
      continue;
    }
    for (size_t k = 0; k < (*r)->size(); ++k) {
      Id id;
      BlobLocation loc = (*r)->At(k, &id);
      EXPECT_TRUE((*r)->Find(id)) << "mutation " << i;
      (void)loc;
    }
  }
}

TEST(PackTest, AnyTailParsesToAHeaderOrAnErrorNeverACrash) {
  // Given mutations of a pack's tail, then ParsePackHeader authenticates and
  // parses it, asks for more bytes, or reports corruption.
  crypto::Key k{};
  Bytes valid = SamplePack(k);
  for (std::uint64_t i = 0; i < testing::kMutations; ++i) {
    Bytes b = testing::Mutate(valid, 5, i);
    size_t needed = 0;
    auto r = ParsePackHeader(k, b, b.size(), &needed);
    if (!r) {
      EXPECT_TRUE(r.error().code == ErrorCode::kCorruption ||
                  r.error().code == ErrorCode::kNotFound)
          << "mutation " << i << ": " << r.error().message;
      if (r.error().code == ErrorCode::kNotFound) {
        EXPECT_GT(needed, b.size());
      }
    }
  }
}

TEST(ReadCheckedTest, OneBadReadIsReadAgainAndOnlyStableDamageIsCorruption) {
  auto reject_odd = [](Bytes& b) -> Result<void> {
    if (b[0] % 2) return MakeError(ErrorCode::kCorruption, "bad");
    return Ok();
  };
  // A flipped byte in transit, then the stored bytes.
  std::vector<Bytes> reads = {{1}, {2}};
  size_t n = 0;
  auto read = [&]() -> Result<Bytes> { return reads[n++]; };
  EXPECT_TRUE(ReadChecked(read, reject_odd, "x"));
  EXPECT_EQ(n, 2u);
  // The same bad bytes twice: damaged, and the bytes are handed back.
  reads = {{3}, {3}, {2}};
  n = 0;
  Bytes damaged;
  auto r = ReadChecked(read, reject_odd, "x", &damaged);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(damaged, Bytes{3});
  EXPECT_EQ(n, 2u);
  // Reads that never agree: a transient fault, not damage.
  reads = {{1}, {3}, {5}, {7}, {2}};
  n = 0;
  r = ReadChecked(read, reject_odd, "pack p");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTransient);
  EXPECT_NE(r.error().message.find("pack p"), std::string::npos);
  EXPECT_EQ(n, size_t{kMaxCheckedReads});
  // Other errors are not read again.
  n = 0;
  reads = {{1}};
  r = ReadChecked(
      read,
      [](Bytes&) -> Result<void> {
        return MakeError(ErrorCode::kInvalidArgument, "no");
      },
      "x");
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(n, 1u);
}

// A backend whose next `flips` loads come back with one byte flipped, at a
// different place each time (a network that corrupts data in transit).
class FlippingBackend : public storage::Backend {
 public:
  explicit FlippingBackend(std::unique_ptr<storage::Backend> inner)
      : inner_(std::move(inner)) {}
  std::string Location() const override { return inner_->Location(); }
  Result<void> Create() override { return inner_->Create(); }
  Result<void> Save(const storage::Handle& h, ByteSpan data,
                    const storage::SaveOptions& o) override {
    return inner_->Save(h, data, o);
  }
  Result<Bytes> Load(const storage::Handle& h, std::uint64_t offset,
                     std::uint64_t length) override {
    ASSIGN_OR_RETURN(Bytes b, inner_->Load(h, offset, length));
    ++loads;
    if (flips > 0 && !b.empty()) {
      --flips;
      b[(loads * 7919) % b.size()] ^= 0x10;
    }
    return b;
  }
  Result<storage::ObjectInfo> Stat(const storage::Handle& h) override {
    return inner_->Stat(h);
  }
  Result<void> Remove(const storage::Handle& h) override {
    if (deny_delete)
      return MakeError(ErrorCode::kPermission, "AccessDenied (test)");
    return inner_->Remove(h);
  }
  Result<void> List(
      storage::ObjectType t,
      const std::function<Result<void>(const storage::ObjectInfo&)>& fn)
      override {
    return inner_->List(t, fn);
  }
  std::atomic<bool> deny_delete{false};
  std::atomic<int> flips{0};
  std::atomic<size_t> loads{0};

 private:
  std::unique_ptr<storage::Backend> inner_;
};

class RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    auto r = Repository::Init(storage::NewLocalBackend(dir_ + "/repo"), "pw",
                              FastInit(), {dir_ + "/cache"});
    ASSERT_TRUE(r) << r.error().message;
    repo_ = std::move(*r);
  }
  Result<std::unique_ptr<Repository>> Reopen(std::string pw = "pw") {
    return Repository::Open(storage::NewLocalBackend(dir_ + "/repo"), pw,
                            {dir_ + "/cache"});
  }
  // Opens the repository through a FlippingBackend (kept in *flipper).
  Result<std::unique_ptr<Repository>> ReopenFlipping(FlippingBackend** flipper,
                                                     int flips,
                                                     std::string cache = "") {
    auto b = std::make_unique<FlippingBackend>(
        storage::NewLocalBackend(dir_ + "/repo"));
    *flipper = b.get();
    b->flips = flips;
    return Repository::Open(std::move(b), "pw", {cache});
  }
  std::string dir_;
  std::unique_ptr<Repository> repo_;
};

TEST_F(RepositoryTest, AByteFlippedInTransitIsReadAgainNotCalledDamage) {
  // Given a repository with a data blob, a tree and a snapshot, opened
  // through a network that flips one byte in every read while `flips` > 0,
  // then each object is read again and loads intact; only a byte flipped in
  // every read ends as a transient error, never as damage.
  auto data = repo_->SaveBlob(BlobType::kData, RandomBytes(3000));
  model::Tree t;
  model::Node n;
  n.name = "f";
  n.content = {data->id};
  t.nodes.push_back(n);
  auto tree = repo_->SaveTree(t);
  ASSERT_TRUE(repo_->Flush());
  model::Snapshot s;
  s.tree = *tree;
  auto snap = repo_->SaveSnapshot(s);
  ASSERT_TRUE(snap);
  auto loc = repo_->Lookup(data->id);

  FlippingBackend* net = nullptr;
  // Every first read flipped: key file, config, index.
  auto r = ReopenFlipping(&net, 1);
  ASSERT_TRUE(r) << r.error().message;
  for (int i = 0; i < 4; ++i) {
    net->flips = 1;
    Result<void> ok;
    switch (i) {
      case 0: {
        auto b = (*r)->LoadBlob(data->id);
        ok = b ? Ok() : Result<void>(b.error());
        break;
      }
      case 1: {
        auto b = (*r)->LoadTree(*tree);
        ok = b ? Ok() : Result<void>(b.error());
        break;
      }
      case 2: {
        auto b = (*r)->LoadSnapshot(*snap);
        ok = b ? Ok() : Result<void>(b.error());
        break;
      }
      case 3: {
        auto b = MaintenanceAccess(**r).LoadPack(loc->pack);
        ok = b ? Ok() : Result<void>(b.error());
        break;
      }
    }
    EXPECT_TRUE(ok) << i << ": " << ok.error().message;
    EXPECT_EQ(net->flips, 0) << i;
  }
  net->flips = 1000;
  auto b = (*r)->LoadBlob(data->id);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::kTransient) << b.error().message;
  net->flips = 1;
  auto h = MaintenanceAccess(**r).ReadPackHeader(
      loc->pack,
      *ReadFile(
           dir_ + "/repo/" +
           storage::ObjectKey({storage::ObjectType::kPack, loc->pack.Hex()}))
           .transform([](const Bytes& pack) { return pack.size(); }));
  EXPECT_TRUE(h) << h.error().message;
}

TEST_F(RepositoryTest, DamagedIndexCacheRunsAreFetchedAgain) {
  // Given three index files, cached as runs by a reopen, then every cached
  // run damaged by one flipped byte (in the blob IDs, the sort order or the
  // locations), a reopen finds every blob where it is.
  std::vector<Id> ids;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 20; ++j)
      ids.push_back(repo_->SaveBlob(BlobType::kData, RandomBytes(500))->id);
    ASSERT_TRUE(repo_->Flush());
  }
  ASSERT_TRUE(Reopen());
  std::string runs = dir_ + "/cache/" + repo_->config().id + "/index";
  int damaged = 0;
  for (const auto& e : std::filesystem::directory_iterator(runs)) {
    Bytes b = *ReadFile(e.path().string());
    b[b.size() / 2 + static_cast<size_t>(damaged)] ^= 0x01;
    ASSERT_TRUE(WriteFileAtomic(e.path().string(), b, false));
    ++damaged;
  }
  EXPECT_EQ(damaged, 3);
  auto r = Reopen();
  ASSERT_TRUE(r) << r.error().message;
  for (const Id& id : ids) {
    auto b = (*r)->LoadBlob(id);
    ASSERT_TRUE(b) << b.error().message;
  }
}

TEST_F(RepositoryTest, AKeyFileLeftByAnInitThatDiedDoesNotBlockTheNextInit) {
  // Given three inits that died after writing their key files (no config),
  // then a fourth init with the same password: the repository opens with the
  // key that opens its config, whatever the order of the key files.
  repo_.reset();
  std::string last;
  for (int i = 0; i < 3; ++i) {
    std::filesystem::remove(dir_ + "/repo/config");
    auto again = Repository::Init(storage::NewLocalBackend(dir_ + "/repo"),
                                  "pw", FastInit(), {dir_ + "/cache2"});
    ASSERT_TRUE(again) << again.error().message;
    last = (*again)->key_name();
  }
  size_t keys = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/repo/keys"))
    keys += e.is_regular_file();
  EXPECT_EQ(keys, 4u);
  auto r = Reopen();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->key_name(), last);
}

TEST_F(RepositoryTest, BlobsSurviveReopenAndDedup) {
  std::vector<Id> ids;
  for (int i = 0; i < 50; ++i) {
    Bytes data = RandomBytes(4000);
    auto r = repo_->SaveBlob(BlobType::kData, data);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->added);
    ids.push_back(r->id);
    auto again = repo_->SaveBlob(BlobType::kData, data);
    EXPECT_FALSE(again->added);
  }
  ASSERT_TRUE(repo_->Flush());
  auto r2 = Reopen();
  ASSERT_TRUE(r2) << r2.error().message;
  for (const Id& id : ids) {
    auto b = (*r2)->LoadBlob(id);
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ((*r2)->BlobId(*b), id);
  }
}

TEST_F(RepositoryTest, WrongPasswordAndMissingRepository) {
  auto r = Reopen("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kWrongPassword);
  auto m = Repository::Open(storage::NewLocalBackend(dir_ + "/none"), "pw", {});
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ErrorCode::kNoRepository);
}

TEST_F(RepositoryTest, SecondKeyOpensAndCanBeRemoved) {
  auto name = repo_->AddKey("second", {1024, 8, 1});
  ASSERT_TRUE(name);
  auto r2 = Reopen("second");
  ASSERT_TRUE(r2);
  EXPECT_EQ((*r2)->key_name(), *name);
  EXPECT_FALSE((*r2)->RemoveKey(*name));  // in use
  ASSERT_TRUE(repo_->RemoveKey(*name));
  EXPECT_EQ(Reopen("second").error().code, ErrorCode::kWrongPassword);
}

TEST(RepositoryKdfTest, NewKeysTakeHalfTheMemoryAndOldKeysStillOpen) {
  // The default key derivation: 16 MiB (128 * N * r), and no weaker than
  // the previous default (N = 2^15, r = 8, p = 1) by memory x mixes.
  crypto::ScryptParams d;
  EXPECT_EQ(128 * d.n * d.r, 16u << 20);
  double before = 128.0 * (1 << 15) * 8 * (1 << 15) * 1;
  EXPECT_GE(128.0 * d.n * d.r * d.n * d.p, before);
  // A key made with the previous default still opens the repository, and a
  // new repository's key records the parameters it was made with.
  std::string dir = TempDir();
  repo::InitOptions o = FastInit();
  o.kdf = {1 << 15, 8, 1};
  auto r = Repository::Init(storage::NewLocalBackend(dir + "/repo"), "old", o,
                            {dir + "/cache"});
  ASSERT_TRUE(r) << r.error().message;
  auto keys = (*r)->ListKeys();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].second.params.n, 1u << 15);
  EXPECT_EQ((*keys)[0].second.params.p, 1u);
  auto name = (*r)->AddKey("new", d);
  ASSERT_TRUE(name) << name.error().message;
  for (const char* pw : {"old", "new"}) {
    auto again = Repository::Open(storage::NewLocalBackend(dir + "/repo"), pw,
                                  {dir + "/cache"});
    ASSERT_TRUE(again) << pw << ": " << again.error().message;
  }
  keys = (*r)->ListKeys();
  ASSERT_TRUE(keys);
  bool found = false;
  for (const auto& [n, info] : *keys)
    if (n == *name) {
      found = true;
      EXPECT_EQ(info.params.n, d.n);
      EXPECT_EQ(info.params.p, d.p);
    }
  EXPECT_TRUE(found);
}

TEST_F(RepositoryTest, DamagedPackIsReportedNamingBlobAndPack) {
  auto r = repo_->SaveBlob(BlobType::kData, RandomBytes(1000));
  ASSERT_TRUE(repo_->Flush());
  auto loc = repo_->Lookup(r->id);
  ASSERT_TRUE(loc);
  std::string path =
      dir_ + "/repo/" +
      storage::ObjectKey({storage::ObjectType::kPack, loc->pack.Hex()});
  Bytes b = *ReadFile(path);
  b[loc->offset + 20] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(path, b, false));
  auto l = repo_->LoadBlob(r->id);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, ErrorCode::kCorruption);
  EXPECT_NE(l.error().message.find(loc->pack.Hex()), std::string::npos)
      << l.error().message;
}

TEST_F(RepositoryTest, AnUnreadableSnapshotFailsTheListingOrIsSetAside) {
  // Given two snapshots, one of them damaged, then ListSnapshots() fails (prune
  // and forget must not go on without it), and ListSnapshots(&unreadable)
  // returns the other one and names the damaged one.
  model::Snapshot a, b;
  a.time_ns = 1;
  b.time_ns = 2;
  auto ida = repo_->SaveSnapshot(a);
  auto idb = repo_->SaveSnapshot(b);
  ASSERT_TRUE(ida && idb);
  std::string path =
      dir_ + "/repo/" +
      storage::ObjectKey({storage::ObjectType::kSnapshot, idb->Hex()});
  Bytes bytes = *ReadFile(path);
  bytes[bytes.size() / 2] ^= 1;
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(WriteFileAtomic(path, bytes, false));
  auto all = repo_->ListSnapshots();
  ASSERT_FALSE(all);
  EXPECT_NE(all.error().message.find(idb->Hex()), std::string::npos)
      << all.error().message;
  std::vector<UnreadableSnapshot> unreadable;
  auto some = repo_->ListSnapshots(&unreadable);
  ASSERT_TRUE(some) << some.error().message;
  ASSERT_EQ(some->size(), 1u);
  EXPECT_EQ(some->front().first, *ida);
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_EQ(unreadable[0].id, *idb);
  // The reason without the object's name (callers name it once).
  EXPECT_EQ(unreadable[0].reason.find("snapshots/"), std::string::npos)
      << unreadable[0].reason;
  EXPECT_FALSE(unreadable[0].reason.empty());

  // Then "latest" is the newest readable one, with the damaged one skipped;
  // the intact one by full ID skips nothing; the damaged one by ID is an
  // error naming it.
  std::vector<UnreadableSnapshot> skipped;
  auto latest = repo_->FindSnapshot("latest", "", {}, &skipped);
  ASSERT_TRUE(latest) << latest.error().message;
  EXPECT_EQ(latest->first, *ida);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].id, *idb);
  skipped.clear();
  auto by_id = repo_->FindSnapshot(ida->Hex(), "", {}, &skipped);
  ASSERT_TRUE(by_id) << by_id.error().message;
  EXPECT_TRUE(skipped.empty());
  auto damaged = repo_->FindSnapshot(idb->Hex(), "", {}, &skipped);
  ASSERT_FALSE(damaged);
  EXPECT_EQ(damaged.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(damaged.error().message.rfind(
                "snapshots/" + idb->Hex() + ": unreadable: ", 0),
            0u)
      << damaged.error().message;
  // Without `skipped`, FindSnapshot fails as ListSnapshots() does.
  EXPECT_FALSE(repo_->FindSnapshot(ida->Hex()));
}

TEST(FindSnapshotInTest, UnreadableSnapshotsAreSkippedOnlyWhereTheyMatter) {
  // Given readable snapshots A (older) and B and an unreadable one U whose ID
  // shares its first digit with A's only.
  auto make_id = [](char first, char fill) {
    std::string hex(64, fill);
    hex[0] = first;
    return *Id::FromHex(hex);
  };
  model::Snapshot a, b;
  a.time_ns = 1;
  a.hostname = "h1";
  b.time_ns = 2;
  b.hostname = "h2";
  SnapshotList all = {{make_id('a', '1'), a}, {make_id('b', '2'), b}};
  std::vector<UnreadableSnapshot> bad = {
      {make_id('a', '3'), "authentication failed"}};
  std::vector<UnreadableSnapshot> skipped;

  // Then "latest" (also for a host) is the newest readable match, and U is
  // skipped: it could be newer.
  auto latest = FindSnapshotIn(all, bad, "latest", "h1", {}, &skipped);
  ASSERT_TRUE(latest) << latest.error().message;
  EXPECT_EQ(latest->first, all[0].first);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].id, bad[0].id);

  // A prefix that only a readable one has skips nothing.
  skipped.clear();
  auto pb = FindSnapshotIn(all, bad, "b2", "", {}, &skipped);
  ASSERT_TRUE(pb);
  EXPECT_EQ(pb->first, all[1].first);
  EXPECT_TRUE(skipped.empty());

  // A prefix shared by A and U is ambiguous, naming U; U's own is an error
  // naming it and why.
  auto pa = FindSnapshotIn(all, bad, "a", "", {}, &skipped);
  ASSERT_FALSE(pa);
  EXPECT_EQ(pa.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(pa.error().message.find("unreadable " + bad[0].id.Hex()),
            std::string::npos)
      << pa.error().message;
  auto pu = FindSnapshotIn(all, bad, "a3", "", {}, &skipped);
  ASSERT_FALSE(pu);
  EXPECT_EQ(pu.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(pu.error().message, "snapshots/" + bad[0].id.Hex() +
                                    ": unreadable: authentication failed");
  EXPECT_TRUE(skipped.empty());
}

TEST_F(RepositoryTest, ADamagedIndexFileIsNamedOnce) {
  // Given an index file damaged in the repository and not yet in the cache,
  // then opening fails with a message that names it once ("index/X: ...",
  // not "index/X: index/X: ...").
  ASSERT_TRUE(repo_->SaveBlob(BlobType::kData, RandomBytes(100)));
  ASSERT_TRUE(repo_->Flush());
  std::vector<std::string> names = repo_->IndexNames();
  ASSERT_EQ(names.size(), 1u);
  std::string key =
      storage::ObjectKey({storage::ObjectType::kIndex, names.front()});
  std::string path = dir_ + "/repo/" + key;
  Bytes bytes = *ReadFile(path);
  bytes[bytes.size() / 2] ^= 1;
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(WriteFileAtomic(path, bytes, false));
  auto r = Repository::Open(storage::NewLocalBackend(dir_ + "/repo"), "pw",
                            {dir_ + "/fresh-cache"});
  ASSERT_FALSE(r);
  const std::string& m = r.error().message;
  size_t first = m.find(key);
  ASSERT_NE(first, std::string::npos) << m;
  EXPECT_EQ(m.find(key, first + 1), std::string::npos) << m;
}

TEST_F(RepositoryTest, ManyIndexFilesAreMergedInCache) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(repo_->SaveBlob(BlobType::kData, RandomBytes(100)));
    ASSERT_TRUE(repo_->Flush());
  }
  auto r2 = Reopen();
  ASSERT_TRUE(r2);
  EXPECT_EQ((*r2)->IndexNames().size(), 20u);
  size_t n = 0;
  ASSERT_TRUE((*r2)->ForEachIndexed(
      [&](const Id&, const BlobLocation&) -> Result<void> {
        ++n;
        return Ok();
      }));
  EXPECT_EQ(n, 20u);
}

TEST_F(RepositoryTest, TreePacksAreCachedLocally) {
  // Given a tree read once, then it is read from the cache after its pack is
  // gone from the repository; data blobs are not cached.
  model::Tree t;
  model::Node n;
  n.name = "f";
  n.type = model::NodeType::kFile;
  t.nodes.push_back(n);
  auto id = repo_->SaveTree(t);
  ASSERT_TRUE(id);
  auto data = repo_->SaveBlob(BlobType::kData, RandomBytes(100));
  ASSERT_TRUE(repo_->Flush());
  ASSERT_TRUE(repo_->LoadTree(*id));
  ASSERT_TRUE(repo_->LoadBlob(data->id));
  for (const Id& blob : {*id, data->id}) {
    auto loc = repo_->Lookup(blob);
    ASSERT_TRUE(MaintenanceAccess(*repo_).Remove(storage::ObjectType::kPack,
                                                 loc->pack.Hex()));
  }
  auto again = repo_->LoadTree(*id);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, t);
  EXPECT_FALSE(repo_->LoadBlob(data->id));
}

// Counts the whole-object loads of packs, each held up for a moment so that
// loads of the same pack from several threads overlap.
class SlowPackBackend : public FlippingBackend {
 public:
  using FlippingBackend::FlippingBackend;
  Result<Bytes> Load(const storage::Handle& h, std::uint64_t offset,
                     std::uint64_t length) override {
    if (h.type == storage::ObjectType::kPack && offset == 0 && length == 0) {
      ++whole_pack_loads;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return FlippingBackend::Load(h, offset, length);
  }
  std::atomic<int> whole_pack_loads{0};
};

TEST_F(RepositoryTest, ATreePackIsFetchedOnceByManyReadersOfItsTrees) {
  // Given 40 trees in one pack and a cold tree-pack cache, when 16 threads
  // load them at once, then the pack is fetched whole once (the others wait
  // for the cache instead of each holding a copy) and every tree loads.
  std::vector<Id> ids;
  std::vector<model::Tree> trees;
  for (int i = 0; i < 40; ++i) {
    model::Tree t;
    model::Node n;
    n.name = "f" + std::to_string(i);
    n.type = model::NodeType::kFile;
    t.nodes.push_back(n);
    auto id = repo_->SaveTree(t);
    ASSERT_TRUE(id);
    ids.push_back(*id);
    trees.push_back(t);
  }
  ASSERT_TRUE(repo_->Flush());
  auto b = std::make_unique<SlowPackBackend>(
      storage::NewLocalBackend(dir_ + "/repo"));
  SlowPackBackend* slow = b.get();
  auto r = Repository::Open(std::move(b), "pw", {dir_ + "/cold-cache"});
  ASSERT_TRUE(r) << r.error().message;
  std::atomic<int> bad{0};
  ParallelFor(ids.size(), 16, [&](size_t i) {
    auto t = (*r)->LoadTree(ids[i]);
    if (!t || *t != trees[i]) ++bad;
  });
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(slow->whole_pack_loads, 1);
}

TEST_F(RepositoryTest, ExclusiveLockConflicts) {
  auto shared = AcquireLock(*repo_, false);
  ASSERT_TRUE(shared);
  auto shared2 = AcquireLock(*repo_, false);
  ASSERT_TRUE(shared2);
  auto ex = AcquireLock(*repo_, true);
  ASSERT_FALSE(ex);
  EXPECT_EQ(ex.error().code, ErrorCode::kLocked);
  shared->reset();
  shared2->reset();
  EXPECT_TRUE(AcquireLock(*repo_, true));
}

TEST_F(RepositoryTest, ALockWithFieldsOfTheWrongTypeIsDamagedNotACrash) {
  // Given authenticated lock objects whose fields have the wrong JSON types,
  // then each is listed as damaged (exclusive), nothing throws.
  for (const char* text : {R"({"time_ns":"x","pid":1})", R"({"hostname":7})",
                           R"({"released":[1,2]})", R"({"released":"abc"})",
                           R"({"exclusive":"yes"})"}) {
    auto id = repo_->SaveObject(storage::ObjectType::kLock, AsBytes(text));
    ASSERT_TRUE(id) << id.error().message;
  }
  auto locks = ListLocks(*repo_);
  ASSERT_TRUE(locks) << locks.error().message;
  ASSERT_EQ(locks->size(), 5u);
  for (const auto& l : *locks) {
    EXPECT_TRUE(l.damaged) << l.name;
    EXPECT_TRUE(l.exclusive);
  }
}

TEST_F(RepositoryTest, LocksOfAHolderThatMayNotDeleteAreReleasedByARecord) {
  // Given credentials that may write but not delete (a backup-only role),
  // then a shared lock taken and released stays as an object, but a release
  // record names it: both are stale, an exclusive lock is granted at once, and
  // unlock (with delete rights) removes both.
  FlippingBackend* b = nullptr;
  auto repo = ReopenFlipping(&b, 0);
  ASSERT_TRUE(repo) << repo.error().message;
  b->deny_delete = true;
  {
    auto lock = AcquireLock(**repo, false);
    ASSERT_TRUE(lock) << lock.error().message;
  }
  auto locks = ListLocks(**repo);
  ASSERT_TRUE(locks) << locks.error().message;
  ASSERT_EQ(locks->size(), 2u);
  int records = 0;
  for (const auto& l : *locks) {
    EXPECT_TRUE(l.stale) << l.name;
    records += l.release_record;
  }
  EXPECT_EQ(records, 1);
  auto exclusive = AcquireLock(**repo, true);
  ASSERT_TRUE(exclusive) << exclusive.error().message;
  exclusive->reset();
  b->deny_delete = false;
  auto removed = RemoveLocks(**repo, false);
  ASSERT_TRUE(removed) << removed.error().message;
  // Each lock and its release record.
  EXPECT_EQ(*removed, 4);
  locks = ListLocks(**repo);
  ASSERT_TRUE(locks);
  EXPECT_TRUE(locks->empty());
}

}  // namespace
}  // namespace efs2s3::repo

namespace efs2s3::repo {
namespace {

TEST_F(RepositoryTest, ADamagedLockIsHeldUntilRemovedAndSaysSo) {
  // Given a lock object that does not authenticate, then every lock is
  // refused naming it and the way out, and unlock --remove-all removes it.
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/repo/locks/" + std::string(64, 'b'),
                              Bytes(80, 7), false));
  auto shared = AcquireLock(*repo_, false);
  ASSERT_FALSE(shared);
  EXPECT_EQ(shared.error().code, ErrorCode::kLocked);
  EXPECT_NE(shared.error().message.find("damaged lock, locks/" +
                                        std::string(64, 'b')),
            std::string::npos)
      << shared.error().message;
  EXPECT_NE(shared.error().message.find("unlock --remove-all"),
            std::string::npos);
  auto stale_only = RemoveLocks(*repo_, false);
  ASSERT_TRUE(stale_only);
  EXPECT_EQ(*stale_only, 0);
  auto removed = RemoveLocks(*repo_, true);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(*removed, 1);
  EXPECT_TRUE(AcquireLock(*repo_, false));
}

}  // namespace
}  // namespace efs2s3::repo
