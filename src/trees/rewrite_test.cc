#include "trees/rewrite.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace efs2s3::trees {
namespace {

using model::Node;
using model::NodeType;
using model::Tree;

// Trees in memory; SaveTree stores a tree under a new ID and counts it.
class FakeRepo : public repo::TreeLoader,
                 public repo::BlobSaver,
                 public repo::SnapshotStore {
 public:
  Id Add(Tree t) {
    Id id;
    ++next_;
    id.bytes[0] = static_cast<std::uint8_t>(next_);
    trees_[id] = std::move(t);
    return id;
  }
  Result<Tree> LoadTree(const Id& id) override {
    auto it = trees_.find(id);
    if (it == trees_.end())
      return MakeError(ErrorCode::kNotFound, "tree " + id.Short());
    return it->second;
  }
  Result<Id> SaveTree(const Tree& t) override {
    ++saved;
    return Add(t);
  }
  const codec::Chunker& chunker() const override { std::abort(); }
  Id BlobId(ByteSpan) const override { return Id{}; }
  Result<repo::SaveBlobResult> SaveBlob(repo::BlobType, ByteSpan) override {
    return MakeError(ErrorCode::kUnsupported, "not in this fake");
  }
  bool HasBlob(const Id&) override { return false; }
  void SetUploadConcurrency(int) override {}
  int PreferredUploadConcurrency() const override { return 0; }
  Result<void> Checkpoint() override { return Ok(); }
  Result<void> Flush() override { return Ok(); }

  Result<Id> SaveSnapshot(const model::Snapshot&) override {
    Id id;
    ++next_;
    id.bytes[1] = static_cast<std::uint8_t>(next_);
    ops.push_back("save " + id.Short());
    return id;
  }
  Result<model::Snapshot> LoadSnapshot(const Id&) override {
    return MakeError(ErrorCode::kUnsupported, "not in this fake");
  }
  Result<void> RemoveSnapshot(const Id& id) override {
    ops.push_back("remove " + id.Short());
    return Ok();
  }

  int saved = 0;
  std::vector<std::string> ops;

 private:
  int next_ = 0;
  std::map<Id, Tree> trees_;
};

Node File(const std::string& name, std::uint64_t size = 10) {
  Node n;
  n.name = name;
  n.type = NodeType::kFile;
  n.size = size;
  return n;
}

Node Dir(const std::string& name, const Id& subtree) {
  Node n;
  n.name = name;
  n.type = NodeType::kDir;
  n.subtree = subtree;
  return n;
}

TEST(RewriteTreeTest, OnlyTheTreesAboveADroppedEntryAreSaved) {
  FakeRepo r;
  Id untouched = r.Add({{File("keep")}});
  Id deep = r.Add({{File("x.tmp", 7), File("y")}});
  Id mid = r.Add({{Dir("deep", deep), File("z")}});
  Id root = r.Add({{Dir("mid", mid), Dir("other", untouched)}});
  RewriteCounts counts;
  auto got = RewriteTree(
      r, r, root,
      [](const std::string& p, const Node&) { return p == "/mid/deep/x.tmp"; },
      &counts);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_NE(*got, root);
  EXPECT_EQ(r.saved, 3);  // deep, mid, root
  EXPECT_EQ(counts.removed, 1u);
  EXPECT_EQ(counts.removed_bytes, 7u);
  auto new_root = r.LoadTree(*got);
  ASSERT_TRUE(new_root);
  ASSERT_EQ(new_root->nodes.size(), 2u);
  // The untouched directory keeps its tree.
  EXPECT_EQ(new_root->nodes[1].subtree, untouched);
  auto new_mid = r.LoadTree(*new_root->nodes[0].subtree);
  ASSERT_TRUE(new_mid);
  auto new_deep = r.LoadTree(*new_mid->nodes[0].subtree);
  ASSERT_TRUE(new_deep);
  ASSERT_EQ(new_deep->nodes.size(), 1u);
  EXPECT_EQ(new_deep->nodes[0].name, "y");
}

TEST(RewriteTreeTest, NothingDroppedKeepsTheRootAndSavesNothing) {
  FakeRepo r;
  Id root = r.Add({{Dir("d", r.Add({{File("f")}}))}});
  auto got = RewriteTree(
      r, r, root, [](const std::string&, const Node&) { return false; },
      nullptr);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, root);
  EXPECT_EQ(r.saved, 0);
}

TEST(RewriteTreeTest, ADroppedDirectoryCountsTheFilesBelowIt) {
  FakeRepo r;
  Id sub = r.Add({{File("a", 3), File("b", 4)}});
  Id root = r.Add({{Dir("cache", sub), File("keep")}});
  RewriteCounts counts;
  auto got = RewriteTree(
      r, r, root,
      [](const std::string& p, const Node&) { return p == "/cache"; }, &counts);
  ASSERT_TRUE(got);
  EXPECT_EQ(counts.removed, 1u);
  EXPECT_EQ(counts.removed_files, 2u);
  EXPECT_EQ(counts.removed_bytes, 7u);
}

TEST(ReplaceSnapshotTest, TheNewSnapshotIsSavedBeforeTheOldIsRemoved) {
  FakeRepo r;
  Id old_id;
  old_id.bytes[5] = 1;
  model::Snapshot s;
  s.tags = {"new"};
  auto got = ReplaceSnapshot(r, old_id, s, {}, true);
  ASSERT_TRUE(got);
  ASSERT_EQ(r.ops.size(), 2u);
  EXPECT_EQ(r.ops[0], "save " + got->Short());
  EXPECT_EQ(r.ops[1], "remove " + old_id.Short());
}

TEST(ReplaceSnapshotTest, ASnapshotWithTheSameContentIsTakenInsteadOfSaved) {
  // After a crash between the two steps the replacement exists already.
  FakeRepo r;
  Id old_id, done;
  old_id.bytes[5] = 1;
  done.bytes[5] = 2;
  model::Snapshot old_snap, s;
  old_snap.tags = {"old"};
  s.tags = {"new"};
  auto got =
      ReplaceSnapshot(r, old_id, s, {{old_id, old_snap}, {done, s}}, true);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, done);
  ASSERT_EQ(r.ops.size(), 1u);
  EXPECT_EQ(r.ops[0], "remove " + old_id.Short());
}

}  // namespace
}  // namespace efs2s3::trees
