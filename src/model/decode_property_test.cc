// Property tests of the model's decoders of stored bytes (trees, snapshots,
// times): valid encodings round-trip, and every flip, truncation, seeded
// mutation and random input decodes to a value or to an error, never to a
// crash, an escaped exception or an unbounded allocation
// (base/testing/mutate.h, base/testing/alloc_limit.cc).
#include <gtest/gtest.h>

#include "base/testing/mutate.h"
#include "model/node.h"
#include "model/snapshot.h"

namespace efs2s3::model {
namespace {

Node File(std::string name) {
  Node n;
  n.name = std::move(name);
  n.mode = 04755;
  n.uid = 1234;
  n.gid = 5678;
  n.user = "u";
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
  n.flags = kFlagChangedWhileRead;
  return n;
}

std::vector<Tree> SampleTrees() {
  Tree files;
  files.nodes = {File("a"), File(std::string("\xff\xfe\nb", 4))};
  files.nodes[1].sparse = true;
  Tree mixed;
  Node dir;
  dir.name = "d";
  dir.type = NodeType::kDir;
  dir.subtree = Id{};
  dir.flags = kFlagIncomplete;
  Node link;
  link.name = "l";
  link.type = NodeType::kSymlink;
  link.link_target = std::string("../\x80x", 5);
  Node dev;
  dev.name = "z";
  dev.type = NodeType::kBlockDev;
  dev.rdev = 0x0801;
  mixed.nodes = {dir, link, dev};
  return {files, mixed, Tree{}};
}

TEST(DecodePropertyTest, TreesRoundTrip) {
  for (const Tree& t : SampleTrees()) {
    auto back = DecodeTree(EncodeTree(t));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, t);
  }
}

TEST(DecodePropertyTest, AnyBytesDecodeToATreeOrCorruption) {
  std::vector<Bytes> valid;
  for (const Tree& t : SampleTrees()) valid.push_back(EncodeTree(t));
  testing::ForEachVariant(valid, 101, [](const Bytes& b) {
    auto r = DecodeTree(b);
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << r.error().message;
      return;
    }
    // What decodes is a tree the encoder writes the same way again.
    auto again = DecodeTree(EncodeTree(*r));
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *r);
  });
}

std::vector<Snapshot> SampleSnapshots() {
  Snapshot s;
  s.time_ns = 1700000000123456789;
  s.hostname = "h";
  s.username = "u";
  s.paths = {"/a", "/b"};
  s.tags = {"t"};
  s.excludes = {"*.tmp"};
  s.tree.bytes[5] = 9;
  Id parent;
  parent.bytes[0] = 3;
  s.parent = parent;
  Id original;
  original.bytes[1] = 4;
  s.original = original;
  s.program_version = "efs2s3 0.1.0";
  s.summary.files_new = 3;
  s.summary.changed_while_read = 2;
  s.summary.duration_seconds = 1.5;
  Snapshot minimal;
  minimal.time_ns = -1;
  minimal.paths = {"/"};
  return {s, minimal};
}

TEST(DecodePropertyTest, SnapshotsRoundTrip) {
  for (const Snapshot& s : SampleSnapshots()) {
    auto back = DecodeSnapshot(EncodeSnapshot(s));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(EncodeSnapshot(*back), EncodeSnapshot(s));
  }
}

TEST(DecodePropertyTest, AnyTextDecodesToASnapshotOrCorruption) {
  std::vector<std::string> valid;
  for (const Snapshot& s : SampleSnapshots())
    valid.push_back(EncodeSnapshot(s));
  testing::ForEachTextVariant(valid, 102, [](const std::string& text) {
    auto r = DecodeSnapshot(text);
    if (!r) {
      EXPECT_TRUE(r.error().code == ErrorCode::kCorruption ||
                  r.error().code == ErrorCode::kUnsupported)
          << r.error().message;
      return;
    }
    auto again = DecodeSnapshot(EncodeSnapshot(*r));
    ASSERT_TRUE(again);
    EXPECT_EQ(EncodeSnapshot(*again), EncodeSnapshot(*r));
  });
}

TEST(DecodePropertyTest, TimesRoundTripAndAnyTextParsesOrFails) {
  for (std::int64_t ns : {std::int64_t{0}, std::int64_t{1700000000123456789},
                          std::int64_t{-86400} * 1000000000}) {
    auto back = ParseTime(FormatTime(ns));
    ASSERT_TRUE(back) << FormatTime(ns);
    EXPECT_EQ(*back, ns);
  }
  // Regression (UBSan): a year past 2262 overflowed the nanoseconds.
  // Regression (ASan): an offset of fewer digits read past the text's end.
  for (const char* far : {"3024-01-01T00:00:00Z", "1000-01-01T00:00:00Z",
                          "2026-11-27T15:04:05+1:2", "2026-11-27T15:04:05-1"}) {
    auto r = ParseTime(far);
    ASSERT_FALSE(r) << far;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  testing::ForEachTextVariant(
      {"2026-11-27T15:04:05.123456789Z", "2026-11-27T15:04:05+02:00",
       "2026-11-27 15:04:05", "2262-04-11T23:47:16Z"},
      103, [](const std::string& text) {
        auto r = ParseTime(text);
        if (r) {
          EXPECT_TRUE(ParseTime(FormatTime(*r))) << FormatTime(*r);
        }
      });
}

}  // namespace
}  // namespace efs2s3::model
