// Tests of restores from archived packs (restorer/cold.h) on a real local
// repository, behind a stand-in archive: every pack is in DEEP_ARCHIVE, and a
// requested one becomes readable after a number of polls. A read of a pack
// before then fails the test.
#include "restorer/cold.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "base/file_util.h"
#include "repo/repository.h"
#include "storage/local/local_backend.h"

namespace efs2s3::restorer {
namespace {

namespace fs = std::filesystem;

// Pack states as S3 would report them; the loader refuses early reads.
class FakeArchive : public repo::PackArchive, public repo::BlobLoader {
 public:
  FakeArchive(repo::Repository& repo, int polls) : repo_(repo), polls_(polls) {}

  bool HasArchiveClasses() const override { return true; }
  Result<void> ListPackClasses(
      const std::function<Result<void>(const Id&, const storage::ObjectInfo&)>&
          fn) override {
    {
      std::lock_guard lock(mu_);
      ++lists_;
    }
    return repo_.ListPackClasses(
        [&](const Id& id, const storage::ObjectInfo& i) -> Result<void> {
          storage::ObjectInfo c = i;
          c.storage_class = list_class_;
          return fn(id, c);
        });
  }
  size_t PackCountHint() override { return pack_hint_; }
  Result<storage::ArchiveStatus> PackArchiveStatus(const Id& pack) override {
    std::lock_guard lock(mu_);
    ++heads_;
    storage::ArchiveStatus st;
    st.storage_class = "DEEP_ARCHIVE";
    st.size = 1000;
    st.archived = !tree_packs_.count(pack);
    auto it = left_.find(pack);
    if (it != left_.end()) {
      if (it->second > 0) {
        --it->second;
        st.restore_ongoing = true;
      } else {
        st.restored_until = 1;
      }
    }
    return st;
  }
  Result<void> RequestPackRestore(const Id& pack, int days,
                                  const std::string& tier) override {
    std::lock_guard lock(mu_);
    EXPECT_EQ(days, 7);
    EXPECT_EQ(tier, "Bulk");
    ++requests_[pack];
    // Staggered: the n-th request takes polls * (1 + n % 2) polls.
    if (!left_.count(pack))
      left_[pack] = polls_ * (1 + static_cast<int>(left_.size() % 2));
    return Ok();
  }
  bool Readable(const Id& pack) {
    std::lock_guard lock(mu_);
    if (tree_packs_.count(pack)) return true;
    auto it = left_.find(pack);
    return it != left_.end() && it->second <= 0;
  }

  // BlobLoader: the repository's, with early reads refused and counted.
  Result<model::Tree> LoadTree(const Id& id) override {
    return repo_.LoadTree(id);
  }
  std::optional<repo::BlobLocation> Lookup(const Id& id) override {
    return repo_.Lookup(id);
  }
  Id BlobId(ByteSpan b) const override { return repo_.BlobId(b); }
  Result<Bytes> LoadPackRange(const Id& pack, std::uint64_t off,
                              std::uint64_t len) override {
    if (!Readable(pack)) {
      std::lock_guard lock(mu_);
      ++early_reads_;
      return MakeError(ErrorCode::kIo, "pack " + pack.Hex() + " is archived");
    }
    return repo_.LoadPackRange(pack, off, len);
  }
  Result<Bytes> LoadBlob(const Id& id) override { return repo_.LoadBlob(id); }
  Result<Bytes> DecodeBlob(const Id& id, const repo::BlobLocation& loc,
                           ByteSpan sealed) const override {
    return repo_.DecodeBlob(id, loc, sealed);
  }

  repo::Repository& repo_;
  int polls_;
  std::mutex mu_;
  std::map<Id, int> left_;
  std::map<Id, int> requests_;
  std::set<Id> tree_packs_;
  int heads_ = 0;
  int lists_ = 0;
  int early_reads_ = 0;
  size_t pack_hint_ = 0;                     // PackCountHint(): 0 = unknown
  std::string list_class_ = "DEEP_ARCHIVE";  // every pack's class in listings
};

class ColdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("efs2s3-cold-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    repo::InitOptions o;
    o.kdf = {1024, 8, 1};
    o.pack_size = 64 * 1024;  // a pack per file or so
    repo::OpenOptions open;
    open.cache_dir = (dir_ / "cache").string();
    auto r = repo::Repository::Init(
        storage::NewLocalBackend((dir_ / "repo").string()), "pw", o, open);
    ASSERT_TRUE(r) << r.error().message;
    repo_ = std::move(*r);
    // /a/f0../a/f3 (distinct, 100 KB each), /b/g = a copy of /a/f0 (dedup),
    // /b/h small.
    model::Tree a, b, root;
    for (int i = 0; i < 4; ++i)
      a.nodes.push_back(File("f" + std::to_string(i), i, 100000));
    b.nodes.push_back(File("g", 0, 100000));
    b.nodes.push_back(File("h", 9, 100));
    auto ta = repo_->SaveTree(a), tb = repo_->SaveTree(b);
    ASSERT_TRUE(ta && tb);
    root.nodes.push_back(Dir("a", *ta));
    root.nodes.push_back(Dir("b", *tb));
    auto tr = repo_->SaveTree(root);
    ASSERT_TRUE(tr);
    ASSERT_TRUE(repo_->Flush());
    snap_.tree = *tr;
    snap_.paths = {"/"};
    snap_.time_ns = 1;
    archive_ = std::make_unique<FakeArchive>(*repo_, 2);
    for (const Id& t : {*ta, *tb, *tr})
      archive_->tree_packs_.insert(repo_->Lookup(t)->pack);
  }
  void TearDown() override {
    archive_.reset();
    repo_.reset();
    fs::remove_all(dir_);
  }

  Bytes Content(int seed, size_t size) {
    Bytes b(size);
    std::uint32_t x = 2463534242u + static_cast<std::uint32_t>(seed);
    for (auto& c : b) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      c = static_cast<std::uint8_t>(x);
    }
    return b;
  }
  model::Node File(const std::string& name, int seed, size_t size) {
    model::Node n;
    n.name = name;
    n.type = model::NodeType::kFile;
    n.mode = 0644;
    n.size = size;
    n.mtime = {1000 + seed, 0};
    Bytes data = Content(seed, size);
    auto r = repo_->SaveBlob(repo::BlobType::kData, data);
    EXPECT_TRUE(r);
    n.content.push_back(r->id);
    contents_[name] = data;
    return n;
  }
  model::Node Dir(const std::string& name, const Id& tree) {
    model::Node n;
    n.name = name;
    n.type = model::NodeType::kDir;
    n.mode = 0755;
    n.subtree = tree;
    return n;
  }
  RestoreOptions Opts(const std::string& sub = "") {
    RestoreOptions o;
    o.target = (dir_ / "target").string();
    o.subpath = sub;
    o.workers = 2;
    o.on_error = [this](const std::string& p, const Error& e) -> Result<void> {
      errors_.push_back(p + ": " + e.message);
      return Ok();
    };
    return o;
  }
  ColdOptions Cold() {
    ColdOptions c;
    c.tier = "Bulk";
    c.first_poll = std::chrono::milliseconds(1);
    c.max_poll = std::chrono::milliseconds(2);
    c.state_file = (dir_ / "state.json").string();
    return c;
  }
  Bytes Read(const std::string& rel) {
    auto b = ReadFile((dir_ / "target" / rel).string());
    return b ? *b : Bytes{};
  }

  fs::path dir_;
  std::unique_ptr<repo::Repository> repo_;
  std::unique_ptr<FakeArchive> archive_;
  model::Snapshot snap_;
  std::map<std::string, Bytes> contents_;
  std::vector<std::string> errors_;
};

TEST_F(ColdTest, PlanCountsEachPackOnceAndOnlyTheSelection) {
  ColdOptions c = Cold();
  c.plan_only = true;
  auto all = RunColdRestore(*archive_, *archive_, snap_, Opts(), c, {});
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->plan.files, 6u);
  // /b/g shares /a/f0's blob: its pack is counted once.
  std::set<Id> packs;
  for (const auto& [name, data] : contents_)
    packs.insert(repo_->Lookup(repo_->BlobId(data))->pack);
  EXPECT_EQ(all->plan.packs, packs.size());
  EXPECT_EQ(all->plan.request_packs, packs.size());
  EXPECT_EQ(all->plan.by_class.at("DEEP_ARCHIVE").first, packs.size());
  EXPECT_TRUE(archive_->requests_.empty());  // a plan requests nothing
  EXPECT_FALSE(fs::exists(dir_ / "target"));

  auto sub = RunColdRestore(*archive_, *archive_, snap_, Opts("/b"), c, {});
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->plan.files, 2u);
  std::set<Id> b_packs = {repo_->Lookup(repo_->BlobId(contents_["g"]))->pack,
                          repo_->Lookup(repo_->BlobId(contents_["h"]))->pack};
  EXPECT_EQ(sub->plan.packs, b_packs.size());
  EXPECT_LT(sub->plan.packs, all->plan.packs);
  // Bulk for DEEP_ARCHIVE: $0.0025/GB + $0.025 per 1000 + the copy.
  ASSERT_EQ(all->plan.tiers.size(), 2u);
  EXPECT_EQ(all->plan.tiers[1].tier, "Bulk");
  double gb = static_cast<double>(all->plan.request_bytes) / (1 << 30);
  EXPECT_NEAR(all->plan.tiers[1].usd,
              gb * 0.0025 + packs.size() / 1000.0 * 0.025 + gb * 0.023 * 7 / 30,
              1e-12);
}

TEST_F(ColdTest, AListingReplacesAHeadPerPackWhenItAsksLess) {
  ColdOptions c = Cold();
  c.plan_only = true;
  // Unknown pack count: a HEAD per needed pack.
  auto heads = RunColdRestore(*archive_, *archive_, snap_, Opts(), c, {});
  ASSERT_TRUE(heads) << heads.error().message;
  EXPECT_EQ(archive_->heads_, static_cast<int>(heads->plan.packs));
  EXPECT_EQ(archive_->lists_, 0);
  // The index's count (a page of listing) against more needed packs than
  // that: one listing, and HEADs of the archived packs only (none here).
  archive_->heads_ = 0;
  archive_->pack_hint_ = repo_->PackCountHint();
  ASSERT_GT(heads->plan.packs, 1u);
  archive_->list_class_ = "STANDARD";
  auto listed = RunColdRestore(*archive_, *archive_, snap_, Opts(), c, {});
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(archive_->lists_, 1);
  EXPECT_EQ(archive_->heads_, 0);
  EXPECT_EQ(listed->plan.packs, heads->plan.packs);
  EXPECT_EQ(listed->plan.hot_packs, listed->plan.packs);
  EXPECT_EQ(listed->plan.request_packs, 0u);
  // Archived in the listing: HEADs of those, for their restore state.
  archive_->list_class_ = "DEEP_ARCHIVE";
  auto cold = RunColdRestore(*archive_, *archive_, snap_, Opts(), c, {});
  ASSERT_TRUE(cold);
  EXPECT_EQ(archive_->lists_, 2);
  EXPECT_EQ(archive_->heads_, static_cast<int>(cold->plan.packs));
  EXPECT_EQ(cold->plan.request_packs, cold->plan.packs);
}

TEST_F(ColdTest, RequestsOncePerPackReadsNothingEarlyAndRestoresProgressively) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> passes;
  ColdEvents ev;
  ev.on_pass = [&](int, const RestoreResult& r, std::uint64_t, std::uint64_t) {
    passes.emplace_back(r.files, r.deferred);
  };
  auto r = RunColdRestore(*archive_, *archive_, snap_, Opts(), Cold(), ev);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(errors_.empty()) << errors_[0];
  EXPECT_EQ(archive_->early_reads_, 0);
  for (const auto& [pack, n] : archive_->requests_) EXPECT_EQ(n, 1);
  EXPECT_EQ(r->requested, archive_->requests_.size());
  EXPECT_EQ(r->restored.files, 6u);
  EXPECT_FALSE(r->pending);
  for (const char* f : {"a/f0", "a/f1", "a/f2", "a/f3"})
    EXPECT_EQ(Read(f), contents_[std::string(f).substr(2)]) << f;
  EXPECT_EQ(Read("b/g"), contents_["g"]);
  // Some pass wrote files while others waited.
  bool progressive = false;
  for (auto [files, waiting] : passes) progressive |= files > 0 && waiting > 0;
  EXPECT_TRUE(progressive);
  EXPECT_FALSE(fs::exists(dir_ / "state.json"));  // done: forgotten
}

TEST_F(ColdTest, ARerunNeverRequestsWhatTheStateFileRecords) {
  ColdOptions c = Cold();
  c.wait = false;
  auto first = RunColdRestore(*archive_, *archive_, snap_, Opts(), c, {});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->pending);
  EXPECT_GT(first->restored.deferred, 0u);
  EXPECT_TRUE(fs::exists(dir_ / "state.json"));
  // The stand-in forgets the restores are under way (as a HEAD that lags
  // might): the state file still says they were asked for.
  archive_->left_.clear();
  auto second = RunColdRestore(*archive_, *archive_, snap_, Opts(), c, {});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->requested, 0u);
  EXPECT_EQ(second->plan.ongoing_packs, first->plan.request_packs);
  for (const auto& [pack, n] : archive_->requests_) EXPECT_EQ(n, 1);
}

TEST_F(ColdTest, ARerunAfterPartOfTheFilesSkipsThemAndAsksNothingTwice) {
  // /b/h's pack is hot: the first run restores it at once.
  archive_->tree_packs_.insert(
      repo_->Lookup(repo_->BlobId(contents_["h"]))->pack);
  ColdOptions c = Cold();
  c.wait = false;
  auto first = RunColdRestore(*archive_, *archive_, snap_, Opts(), c, {});
  ASSERT_TRUE(first);
  const auto asked = archive_->requests_;
  auto second = RunColdRestore(*archive_, *archive_, snap_, Opts(), Cold(), {});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->plan.resumed);
  EXPECT_EQ(second->requested, 0u);
  EXPECT_EQ(archive_->requests_, asked);
  EXPECT_GE(first->restored.files, 1u);
  EXPECT_EQ(first->restored.files + second->restored.files, 6u);
  EXPECT_EQ(Read("b/h"), contents_["h"]);
  EXPECT_EQ(archive_->early_reads_, 0);
}

}  // namespace
}  // namespace efs2s3::restorer
