#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "archiver/archiver.h"
#include "base/file_util.h"
#include "repo/repository.h"
#include "shard/merge.h"
#include "shard/plan.h"
#include "shard/weights.h"
#include "storage/mem/mem_backend.h"

namespace efs2s3::shard {
namespace {

using model::Node;
using model::NodeType;
using model::Tree;

WeightTree File(const std::string& name, std::uint64_t w) {
  return {name, false, w, {}};
}
WeightTree Dir(const std::string& name, std::vector<WeightTree> children) {
  WeightTree d{name, true, kEntryWeight, std::move(children)};
  for (const auto& c : d.children) d.weight += c.weight;
  return d;
}

// "/" with /data below it holding `dirs` directories of `files` files each.
WeightTree Uniform(int dirs, int files) {
  std::vector<WeightTree> ds;
  for (int d = 0; d < dirs; ++d) {
    std::vector<WeightTree> fs;
    for (int f = 0; f < files; ++f)
      fs.push_back(File("f" + std::to_string(100 + f), 1000000));
    ds.push_back(Dir("d" + std::to_string(100 + d), std::move(fs)));
  }
  return Dir("", {Dir("data", std::move(ds))});
}

TEST(PlanTest, PathsAreOrderedAsTheWalkVisitsThem) {
  // A directory comes before everything below it, and components compare
  // bytewise: "/a/b" < "/a-c" although '-' < '/' as characters.
  EXPECT_LT(ComparePaths(Components("/a"), Components("/a/b")), 0);
  EXPECT_LT(ComparePaths(Components("/a/b"), Components("/a-c")), 0);
  EXPECT_LT(ComparePaths(Components("/a/z"), Components("/b")), 0);
  EXPECT_EQ(ComparePaths(Components("/a//b/"), Components("/a/b")), 0);
}

TEST(PlanTest, BalancedAndDeterministic) {
  // Given 8 equal directories and 4 shards, each shard gets two whole
  // directories, and the same tree always gives the same plan.
  WeightTree t = Uniform(8, 10);
  Plan p = MakePlan(t, 4);
  ASSERT_EQ(p.cuts.size(), 3u);
  EXPECT_EQ(p.cuts, (std::vector<std::string>{"/data/d102", "/data/d104",
                                              "/data/d106"}));
  EXPECT_EQ(EncodePlan(MakePlan(t, 4)), EncodePlan(p));
  std::vector<int> per(4, 0);
  for (int d = 0; d < 8; ++d) {
    const std::string dir = "/data/d" + std::to_string(100 + d);
    EXPECT_FALSE(p.Split(dir)) << dir;  // never split: a quarter each
    ++per[p.Owner(dir)];
    EXPECT_EQ(p.Owner(dir + "/f105"), p.Owner(dir));
  }
  EXPECT_EQ(per, (std::vector<int>{2, 2, 2, 2}));
  EXPECT_TRUE(p.Split("/"));
  EXPECT_TRUE(p.Split("/data"));
  EXPECT_EQ(p.Owner("/"), 0);
}

TEST(PlanTest, NameRangesCoverNamesCreatedAfterPlanning) {
  // Every path has exactly one owner, also names the plan never saw; a
  // name's owner is the range its name falls into.
  Plan p = MakePlan(Uniform(8, 10), 4);
  EXPECT_EQ(p.Owner("/data/a-new"), 0);  // before d100
  EXPECT_EQ(p.Owner("/data/d103x"), 1);  // between d103 and d104
  EXPECT_EQ(p.Owner("/data/zzz"), 3);    // after the last
  EXPECT_EQ(p.Owner("/other"), 3);       // after /data
  EXPECT_EQ(p.Owner("/data/d104/new"), 2);
}

TEST(PlanTest, HugeDirectoryIsSplitByNameRanges) {
  // Given one directory of 1000 files beside a small one, with 3 shards the
  // big directory's files are split (it outweighs a share) and the small
  // one stays whole.
  std::vector<WeightTree> files;
  for (int f = 0; f < 1000; ++f)
    files.push_back(File("f" + std::to_string(1000 + f), 100000));
  WeightTree t = Dir("", {Dir("big", std::move(files)),
                          Dir("small", {File("x", 10), File("y", 10)})});
  Plan p = MakePlan(t, 3);
  ASSERT_EQ(p.cuts.size(), 2u);
  EXPECT_TRUE(p.Split("/big"));
  EXPECT_FALSE(p.Split("/small"));
  std::vector<int> per(3, 0);
  for (int f = 0; f < 1000; ++f)
    ++per[p.Owner("/big/f" + std::to_string(1000 + f))];
  for (int n : per) EXPECT_NEAR(n, 333, 5);
}

TEST(PlanTest, MoreShardsThanUnits) {
  // Given a tree of one file and 4 shards, the plan is still valid: cuts in
  // walk order, one owner per path, some shards owning nothing.
  Plan p = MakePlan(Dir("", {File("only", 5)}), 4);
  ASSERT_LE(p.cuts.size(), 3u);
  EXPECT_TRUE(DecodePlan(EncodePlan(p)));
  std::set<int> owners{p.Owner("/"), p.Owner("/only")};
  EXPECT_EQ(owners.size(), 2u);
}

TEST(PlanTest, EncodingRoundTripsAndRejectsDamage) {
  Plan p = MakePlan(Uniform(4, 3), 3);
  p.run_id = "nightly-1";
  p.paths = {"/data", std::string("/r\xff\x01", 4)};
  auto back = DecodePlan(EncodePlan(p));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->cuts, p.cuts);
  EXPECT_EQ(back->paths, p.paths);
  EXPECT_EQ(back->Identity(), p.Identity());
  p.shards = 4;
  EXPECT_NE(p.Identity(), back->Identity());
  EXPECT_FALSE(DecodePlan("{\"version\":1}"));
  EXPECT_FALSE(DecodePlan("not json"));
}

TEST(PlanTest, ShardSpecs) {
  auto s = ParseShardSpec("2/4");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 2);
  EXPECT_EQ(s->count, 4);
  EXPECT_FALSE(ParseShardSpec("4/4"));
  EXPECT_FALSE(ParseShardSpec("1"));
  EXPECT_FALSE(ParseShardSpec("-1/4"));
  ::unsetenv("JOB_COMPLETION_INDEX");
  ::setenv("AWS_BATCH_JOB_ARRAY_INDEX", "3", 1);
  auto a = ParseShardSpec("auto/4");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->index, 3);
  ::setenv("JOB_COMPLETION_INDEX", "1", 1);
  EXPECT_EQ(ParseShardSpec("auto/4")->index, 1);
  ::unsetenv("JOB_COMPLETION_INDEX");
  ::unsetenv("AWS_BATCH_JOB_ARRAY_INDEX");
  auto none = ParseShardSpec("auto/4");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kUsage);
  EXPECT_TRUE(ValidateRunId("2026-12-03T0100_nightly"));
  EXPECT_FALSE(ValidateRunId("a:b"));
  EXPECT_FALSE(ValidateRunId(""));
}

// ---- Merge, on a real repository in memory and real trees on disk.

class MergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/efs2s3-shardtest-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    repo::InitOptions init;
    init.kdf = {1024, 8, 1};
    auto r = repo::Repository::Init(storage::NewMemBackend(), "pw", init,
                                    {dir_ + "/cache"});
    ASSERT_TRUE(r) << r.error().message;
    repo_ = std::move(*r);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& rel, const std::string& data) {
    std::filesystem::path p = dir_ + "/src/" + rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
  }

  // A backup of dir_/src, all of it or one shard's share.
  model::Snapshot Backup(const Plan* plan, int shard) {
    archiver::BackupOptions o;
    o.paths = {dir_ + "/src"};
    o.checkpoint_interval = std::chrono::milliseconds(0);
    o.time_ns = 1;
    o.on_error = [](const std::string&, const Error& e) -> Result<void> {
      ADD_FAILURE() << e.message;
      return Ok();
    };
    if (plan)
      o.share = [plan, shard](const std::string& p) {
        return archiver::ShardShare{plan->Owner(p) == shard, plan->Split(p)};
      };
    auto r = archiver::RunBackup(*repo_, o);
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->snapshot : model::Snapshot{};
  }

  // The tree of dir_/src in the snapshot whose root is `root` (the
  // directories above it, /tmp among them, change while the test runs).
  Id SrcTree(const Id& root) {
    Id id = root;
    for (const std::string& c : Components(dir_ + "/src")) {
      auto t = repo_->LoadTree(id);
      EXPECT_TRUE(t);
      if (!t) return {};
      for (const Node& n : t->nodes)
        if (n.name == c && n.subtree) id = *n.subtree;
    }
    return id;
  }

  std::string dir_;
  std::unique_ptr<repo::Repository> repo_;
};

TEST_F(MergeTest, UnionOfShardsHasTheSingleProcessTreeIds) {
  // Given a tree with a big directory that gets split and small ones that do
  // not, for 2, 3 and 4 shards: the merged root tree is the tree of one
  // backup of it, and each shard alone is not.
  for (int d = 0; d < 6; ++d)
    for (int f = 0; f < 5; ++f)
      Write("d" + std::to_string(d) + "/f" + std::to_string(f),
            std::string(100 + d * 7 + f, 'a' + static_cast<char>(d)));
  for (int f = 0; f < 60; ++f)
    Write("big/g" + std::to_string(f), std::string(50 + f, 'x'));
  Write("top", "file at the top");
  const Id single = SrcTree(Backup(nullptr, 0).tree);
  auto weights = WeightsFromScan({dir_ + "/src"}, 3);
  ASSERT_TRUE(weights);
  for (int n : {2, 3, 4}) {
    Plan plan = MakePlan(*weights, n);
    std::vector<Id> roots;
    for (int i = 0; i < n; ++i) {
      roots.push_back(Backup(&plan, i).tree);
      EXPECT_NE(SrcTree(roots.back()), single) << "shard " << i << " of " << n;
    }
    MergeStats stats;
    auto merged = MergeTrees(*repo_, *repo_, plan, roots, std::nullopt, &stats);
    ASSERT_TRUE(merged) << merged.error().message;
    ASSERT_TRUE(repo_->Flush());
    EXPECT_EQ(SrcTree(*merged), single) << n << " shards";
    EXPECT_GT(stats.trees_merged, 0u);
  }
}

TEST_F(MergeTest, SameWeightsFromTheParentSnapshot) {
  for (int d = 0; d < 4; ++d)
    Write("d" + std::to_string(d) + "/f",
          std::string((1u << 20) * (d + 1), 'q'));
  const Id single = Backup(nullptr, 0).tree;
  auto w = WeightsFromSnapshot(*repo_, single);
  ASSERT_TRUE(w);
  Plan plan = MakePlan(*w, 2);
  ASSERT_EQ(plan.cuts.size(), 1u);
  // d3 weighs as much as d0..d2: the cut is before it.
  EXPECT_EQ(plan.cuts[0], dir_ + "/src/d3");
}

TEST_F(MergeTest, ANameInTwoShardsThatIsNotADirectoryIsAConflict) {
  Tree a, b;
  Node f;
  f.name = "same";
  f.type = NodeType::kFile;
  a.nodes = {f};
  f.size = 1;
  b.nodes = {f};
  auto ia = repo_->SaveTree(a), ib = repo_->SaveTree(b);
  ASSERT_TRUE(ia && ib);
  ASSERT_TRUE(repo_->Flush());
  Plan plan;
  plan.shards = 2;
  plan.cuts = {"/same"};
  auto merged = MergeTrees(*repo_, *repo_, plan, {*ia, *ib}, std::nullopt);
  ASSERT_FALSE(merged);
  EXPECT_EQ(merged.error().code, ErrorCode::kCorruption);
  EXPECT_NE(merged.error().message.find("/same: in shards 0 and 1"),
            std::string::npos)
      << merged.error().message;
}

}  // namespace
}  // namespace efs2s3::shard
