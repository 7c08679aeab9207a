#include "archiver/parent.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace efs2s3::archiver {
namespace {

Id IdOf(std::uint8_t n) {
  Id id;
  id.bytes[0] = n;
  return id;
}

struct ListBuilder {
  repo::SnapshotList all;
  // Appends a snapshot (the list stays sorted by time) and returns its ID.
  Id Add(const std::string& host, std::vector<std::string> paths,
         std::vector<std::string> tags = {}) {
    model::Snapshot s;
    s.time_ns = static_cast<std::int64_t>(all.size() + 1) * 1000;
    s.hostname = host;
    s.paths = std::move(paths);
    s.tags = std::move(tags);
    Id id = IdOf(static_cast<std::uint8_t>(0x10 + all.size()));
    all.emplace_back(id, s);
    return id;
  }
};

TEST(SelectParentTest, NoSnapshotsMeansNoParent) {
  auto c = SelectParent({}, "h", {"/data"}, "");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->parent);
  EXPECT_FALSE(c->fallback);
}

TEST(SelectParentTest, LatestOfTheSameHostAndPaths) {
  // Given older and newer snapshots of the same host and paths, and newer ones
  // of another host and of other paths, then the newest matching one is the
  // parent and there is no fallback.
  ListBuilder b;
  b.Add("h", {"/data"});
  Id want = b.Add("h", {"/data"});
  b.Add("other", {"/data"});
  b.Add("h", {"/data", "/more"});
  b.Add("h", {"/elsewhere"});
  auto c = SelectParent(b.all, "h", {"/data"}, "");
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->parent);
  EXPECT_EQ(c->parent->first, want);
  EXPECT_FALSE(c->fallback);
}

TEST(SelectParentTest, NeverAShardSnapshot) {
  // Given a complete snapshot and, after it, shard snapshots of a sharded run
  // (a complete one and a worker's checkpoint), then the complete snapshot is
  // the parent: a shard holds only its worker's share.
  ListBuilder b;
  Id want = b.Add("h", {"/data"});
  b.Add("h", {"/data"}, {"shard:r1:0/2", "shard-plan:0123456789abcdef"});
  b.Add("h", {"/data"}, {"shard:r1:1/2", "partial"});
  auto c = SelectParent(b.all, "h", {"/data"}, "");
  ASSERT_TRUE(c && c->parent);
  EXPECT_EQ(c->parent->first, want);
  EXPECT_FALSE(c->fallback);
  EXPECT_TRUE(model::IsShardSnapshot(b.all[1].second));
  EXPECT_FALSE(model::IsShardSnapshot(b.all[0].second));
}

TEST(SelectParentTest, PathOrderDoesNotMatter) {
  ListBuilder b;
  Id want = b.Add("h", {"/b", "/a"});
  auto c = SelectParent(b.all, "h", {"/a", "/b"}, "");
  ASSERT_TRUE(c && c->parent);
  EXPECT_EQ(c->parent->first, want);
}

TEST(SelectParentTest, OtherHostOrPathsOnlyMeansNoParent) {
  ListBuilder b;
  b.Add("other", {"/data"});
  b.Add("h", {"/elsewhere"});
  auto c = SelectParent(b.all, "h", {"/data"}, "");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->parent);
}

TEST(SelectParentTest, PartialParentFallsBackOnLastCompleteOne) {
  // Given complete snapshots, then a partial one (an interrupted run), then
  // the partial one is the parent and the newest complete one of its host and
  // paths the fallback; complete snapshots of other hosts or paths and older
  // partial ones are not.
  ListBuilder b;
  b.Add("h", {"/data"});
  Id complete = b.Add("h", {"/data"});
  b.Add("h", {"/data"}, {"nightly", "partial"});
  b.Add("other", {"/data"});
  b.Add("h", {"/elsewhere"});
  Id partial = b.Add("h", {"/data"}, {"partial"});
  auto c = SelectParent(b.all, "h", {"/data"}, "");
  ASSERT_TRUE(c && c->parent);
  EXPECT_EQ(c->parent->first, partial);
  ASSERT_TRUE(c->fallback);
  EXPECT_EQ(c->fallback->first, complete);
}

TEST(SelectParentTest, PartialParentWithoutCompleteOne) {
  ListBuilder b;
  Id partial = b.Add("h", {"/data"}, {"partial"});
  auto c = SelectParent(b.all, "h", {"/data"}, "");
  ASSERT_TRUE(c && c->parent);
  EXPECT_EQ(c->parent->first, partial);
  EXPECT_FALSE(c->fallback);
}

TEST(SelectParentTest, ExplicitParentIgnoresHostAndPaths) {
  // Given --parent as a unique prefix of a snapshot of another host and paths,
  // then it is the parent all the same.
  ListBuilder b;
  Id want = b.Add("other", {"/x"});
  b.Add("h", {"/data"});
  auto c = SelectParent(b.all, "h", {"/data"}, want.Hex().substr(0, 6));
  ASSERT_TRUE(c && c->parent);
  EXPECT_EQ(c->parent->first, want);
}

TEST(SelectParentTest, ExplicitPartialParentGetsAFallback) {
  ListBuilder b;
  Id complete = b.Add("other", {"/x"});
  Id partial = b.Add("other", {"/x"}, {"partial"});
  b.Add("h", {"/data"});
  auto c = SelectParent(b.all, "h", {"/data"}, partial.Hex());
  ASSERT_TRUE(c && c->parent && c->fallback);
  EXPECT_EQ(c->parent->first, partial);
  EXPECT_EQ(c->fallback->first, complete);
}

TEST(SelectParentTest, ExplicitParentThatDoesNotResolveIsAnError) {
  ListBuilder b;
  b.Add("h", {"/data"});
  b.Add("h", {"/data"});
  auto missing = SelectParent(b.all, "h", {"/data"}, "ff");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  // Both IDs start with "1".
  auto ambiguous = SelectParent(b.all, "h", {"/data"}, "1");
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().code, ErrorCode::kInvalidArgument);
}

TEST(NormalizeBackupPathTest, AbsoluteNormalWithoutTrailingSlash) {
  EXPECT_EQ(NormalizeBackupPath("/data/"), "/data");
  EXPECT_EQ(NormalizeBackupPath("/data//a/../b///"), "/data/b");
  EXPECT_EQ(NormalizeBackupPath("/"), "/");
  std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(NormalizeBackupPath("x/./y"), cwd + "/x/y");
}

TEST(HostOrThisTest, GivenHostWins) {
  EXPECT_EQ(HostOrThis("given"), "given");
  EXPECT_FALSE(HostOrThis("").empty());
}

}  // namespace
}  // namespace efs2s3::archiver
