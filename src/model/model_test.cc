#include <gtest/gtest.h>

#include "base/testing/mutate.h"
#include "model/node.h"
#include "model/snapshot.h"

namespace efs2s3::model {
namespace {

Node SampleFile(std::string name) {
  Node n;
  n.name = std::move(name);
  n.type = NodeType::kFile;
  n.mode = 04755;
  n.uid = 1234;
  n.gid = 5678;
  n.mtime = {1700000000, 123456789};
  n.atime = {-5, 1};
  n.ctime = {1700000001, 999999999};
  n.size = 42;
  n.inode = 77;
  n.links = 2;
  Id a;
  a.bytes[0] = 1;
  n.content = {a, a};
  n.xattrs = {{"user.bin", std::string("\0\xff", 2)}};
  return n;
}

TEST(TreeTest, RoundTripWithRawNames) {
  Tree t;
  t.nodes.push_back(SampleFile(std::string("\xff\xfe\nname", 7)));
  Node link;
  link.name = "link";
  link.type = NodeType::kSymlink;
  link.link_target = std::string("../\x80x", 5);
  t.nodes.push_back(link);
  Node dir;
  dir.name = std::string(255, 'd');
  dir.type = NodeType::kDir;
  dir.subtree = Id{};
  t.nodes.push_back(dir);
  Bytes enc = EncodeTree(t);
  auto back = DecodeTree(enc);
  ASSERT_TRUE(back) << back.error().message;
  // Encoding sorts entries by name.
  std::sort(t.nodes.begin(), t.nodes.end(),
            [](auto& a, auto& b) { return a.name < b.name; });
  EXPECT_EQ(*back, t);
  EXPECT_EQ(EncodeTree(*back), enc);  // deterministic
}

TEST(TreeTest, RejectsUnsafeNamesAndGarbage) {
  for (std::string bad : {"..", ".", "a/b", ""}) {
    Tree t;
    t.nodes.push_back(SampleFile(bad));
    auto r = DecodeTree(EncodeTree(t));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  }
  EXPECT_FALSE(DecodeTree(AsBytes("not msgpack at all")));
  Tree dup;
  dup.nodes = {SampleFile("x"), SampleFile("x")};
  EXPECT_FALSE(DecodeTree(EncodeTree(dup)));
}

TEST(TreeTest, AnyBytesDecodeToATreeOrAnErrorNeverACrash) {
  // Given mutations of a valid tree, then DecodeTree returns a tree that
  // encodes again, or kCorruption; never a crash or an unbounded allocation.
  Tree t;
  t.nodes.push_back(SampleFile("a"));
  Node dir;
  dir.name = "d";
  dir.type = NodeType::kDir;
  dir.subtree = Id{};
  t.nodes.push_back(dir);
  Bytes valid = EncodeTree(t);
  for (std::uint64_t i = 0; i < testing::kMutations; ++i) {
    Bytes b = testing::Mutate(valid, 1, i);
    auto r = DecodeTree(b);
    if (r) {
      EXPECT_TRUE(DecodeTree(EncodeTree(*r))) << "mutation " << i;
    } else {
      EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << "mutation " << i;
    }
  }
}

TEST(SnapshotTest, AnyTextDecodesToASnapshotOrAnErrorNeverACrash) {
  Snapshot s;
  s.time_ns = 1700000000123456789;
  s.hostname = "h";
  s.paths = {"/a"};
  s.tags = {"t"};
  std::string enc = EncodeSnapshot(s);
  Bytes valid(enc.begin(), enc.end());
  for (std::uint64_t i = 0; i < testing::kMutations; ++i) {
    Bytes b = testing::Mutate(valid, 2, i);
    auto r = DecodeSnapshot(AsString(b));
    if (r) {
      EXPECT_TRUE(DecodeSnapshot(EncodeSnapshot(*r))) << "mutation " << i;
    }
  }
}

TEST(SnapshotTest, RoundTrip) {
  Snapshot s;
  s.time_ns = 1764255845123456789;
  s.hostname = "h";
  s.paths = {"/a", "/b"};
  s.tags = {"t"};
  s.tree.bytes[5] = 9;
  s.summary.files_new = 3;
  s.summary.duration_seconds = 1.5;
  auto back = DecodeSnapshot(EncodeSnapshot(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->time_ns, s.time_ns);
  EXPECT_EQ(back->paths, s.paths);
  EXPECT_EQ(back->tree, s.tree);
  EXPECT_EQ(back->summary.files_new, 3u);
  EXPECT_FALSE(DecodeSnapshot("{}"));
  EXPECT_FALSE(DecodeSnapshot("nonsense"));
}

TEST(SnapshotTest, TimeParsing) {
  EXPECT_EQ(*ParseTime("2020-01-02T03:04:05Z"), 1577934245LL * 1000000000);
  EXPECT_EQ(*ParseTime("2020-01-02T03:04:05.5+01:00"),
            (1577934245LL - 3600) * 1000000000 + 500000000);
  EXPECT_EQ(FormatTime(1577934245LL * 1000000000 + 7),
            "2020-01-02T03:04:05.000000007Z");
  EXPECT_FALSE(ParseTime("yesterday"));
}

}  // namespace
}  // namespace efs2s3::model
