#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

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

// A small tree of every kind of field, clean (no flags).
Tree CleanSample() {
  Tree t;
  t.nodes.push_back(SampleFile("f"));
  Node dir;
  dir.name = "d";
  dir.type = NodeType::kDir;
  dir.mode = 0755;
  dir.mtime = {1700000002, 3};
  dir.subtree = Id{};
  t.nodes.push_back(dir);
  return t;
}

// EncodeTree(CleanSample()) as written by the encoder before nodes had flags
// (commit 54de789). Tree IDs are the HMAC of these bytes: dedup across
// versions and the parent snapshot's unchanged-tree reuse depend on them.
constexpr std::string_view kCleanSampleHex =
    "81a56e6f6465739289a56174696d65920000a56374696d65920000a367696400"
    "a46d6f6465cd01eda56d74696d6592ce6553f10203a46e616d65c40164a77375"
    "6274726565c42000000000000000000000000000000000000000000000000000"
    "00000000000000a474797065a3646972a3756964008da56174696d6592fb01a7"
    "636f6e74656e7492c42001000000000000000000000000000000000000000000"
    "00000000000000000000c4200100000000000000000000000000000000000000"
    "000000000000000000000000a56374696d6592ce6553f101ce3b9ac9ffa36769"
    "64cd162ea5696e6f64654da56c696e6b7302a46d6f6465cd09eda56d74696d65"
    "92ce6553f100ce075bcd15a46e616d65c40166a473697a652aa474797065a466"
    "696c65a3756964cd04d2a67861747472739192c408757365722e62696ec40200"
    "ff";

TEST(TreeTest, ACleanTreeEncodesExactlyAsBeforeFlags) {
  // Given a tree without flags, then it encodes to the bytes of the encoder
  // before the field existed, and those bytes decode to nodes without flags.
  Bytes enc = EncodeTree(CleanSample());
  EXPECT_EQ(HexEncode(enc), kCleanSampleHex);
  auto old = HexDecode(kCleanSampleHex);
  ASSERT_TRUE(old);
  auto back = DecodeTree(*old);
  ASSERT_TRUE(back) << back.error().message;
  for (const Node& n : back->nodes) EXPECT_EQ(n.flags, 0u) << n.name;
  EXPECT_EQ(EncodeTree(*back), *old);
}

TEST(TreeTest, FlagsRoundTripAndChangeTheEncoding) {
  // Given the same tree with a file changed while read and a directory
  // incomplete, then the flags survive a round trip and the bytes (so the
  // tree ID) differ from the clean tree's.
  Tree t = CleanSample();
  t.nodes[0].flags = kFlagChangedWhileRead;
  t.nodes[1].flags = kFlagIncomplete | (1u << 7);  // an unknown bit is kept
  Bytes enc = EncodeTree(t);
  EXPECT_NE(enc, EncodeTree(CleanSample()));
  auto back = DecodeTree(enc);
  ASSERT_TRUE(back) << back.error().message;
  std::sort(t.nodes.begin(), t.nodes.end(),
            [](auto& a, auto& b) { return a.name < b.name; });
  EXPECT_EQ(*back, t);
  EXPECT_EQ(EncodeTree(*back), enc);
  EXPECT_EQ(FlagsString(back->nodes[0].flags), "incomplete,flag-7");
  EXPECT_EQ(FlagsString(back->nodes[1].flags), "changed-while-read");
  EXPECT_EQ(FlagsString(0), "");
}

TEST(TreeTest, MalformedFlagsAreDamage) {
  // Given a node whose flags are not an unsigned 32-bit number, then the tree
  // is damaged (kCorruption), not read as clean.
  for (const char* bad : {R"("x")", "-1", "4294967296", "1.5"}) {
    nlohmann::json node = nlohmann::json::from_msgpack(
        EncodeTree(Tree{{SampleFile("f")}}))["nodes"][0];
    node["flags"] = nlohmann::json::parse(bad);
    nlohmann::json root = {{"nodes", nlohmann::json::array({node})}};
    auto r = DecodeTree(nlohmann::json::to_msgpack(root));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << bad;
  }
}

TEST(TreeTest, DecodingFollowsTheWholeDocument) {
  // Trees are decoded as they are parsed, one node at a time; the outcome is
  // that of the whole document: other root keys (with nested values) are
  // ignored, a repeated "nodes" counts as its last, nested node fields
  // (xattrs) survive, and invalid MessagePack wins over a bad node.
  using nlohmann::json;
  Node f = SampleFile("f");
  f.xattrs = {{"user.a", "1"}, {"user.b", std::string("\0x", 2)}};
  Tree t{{f, SampleFile("g")}};
  json doc = json::from_msgpack(EncodeTree(t));
  json root = {{"a", {{"x", json::array({1, 2, {{"y", 3}}})}}},
               {"nodes", json::array({1})},
               {"zz", json::array({json::object()})}};
  root["nodes"] = doc["nodes"];
  auto back = DecodeTree(json::to_msgpack(root));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, t);
  Bytes enc = EncodeTree(t);
  enc.resize(enc.size() - 1);
  EXPECT_FALSE(DecodeTree(enc));
  EXPECT_FALSE(DecodeTree(json::to_msgpack(json::array({doc}))));
  EXPECT_FALSE(DecodeTree(json::to_msgpack(json{{"nodes", 7}})));
  EXPECT_FALSE(DecodeTree(json::to_msgpack(json{{"other", doc["nodes"]}})));
  json bad = doc;
  bad["nodes"][1]["name"] = json::binary({'a', '/', 'b'});
  auto r = DecodeTree(json::to_msgpack(bad));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unsafe entry name"), std::string::npos);
  // Two "nodes" keys (MessagePack allows it; nlohmann's encoder does not make
  // it): the last counts.
  Bytes two = {0x82};  // map of 2
  Bytes key = json::to_msgpack(json("nodes"));
  Bytes empty_list = {0x90};
  Bytes list = json::to_msgpack(doc["nodes"]);
  two.insert(two.end(), key.begin(), key.end());
  two.insert(two.end(), empty_list.begin(), empty_list.end());
  two.insert(two.end(), key.begin(), key.end());
  two.insert(two.end(), list.begin(), list.end());
  auto last = DecodeTree(two);
  ASSERT_TRUE(last) << last.error().message;
  EXPECT_EQ(*last, t);
}

TEST(TreeTest, EncodingIsTheWholeDocumentsEncoding) {
  // Trees are encoded a node at a time; the bytes are those of the whole
  // document encoded at once (what nlohmann writes for it), at every size of
  // the array header: 0, 15 (fixarray), 16 and 65535 (array 16), 65536
  // (array 32) nodes.
  for (size_t n : {0, 1, 15, 16, 65535, 65536}) {
    Tree t;
    for (size_t i = 0; i < n; ++i)
      t.nodes.push_back(SampleFile(std::to_string(i)));
    Bytes enc = EncodeTree(t);
    EXPECT_EQ(nlohmann::json::to_msgpack(nlohmann::json::from_msgpack(enc)),
              enc)
        << n;
    auto back = DecodeTree(enc);
    ASSERT_TRUE(back) << n;
    EXPECT_EQ(back->nodes.size(), n);
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
  s.summary.changed_while_read = 2;
  s.summary.incomplete = 1;
  s.summary.duration_seconds = 1.5;
  auto back = DecodeSnapshot(EncodeSnapshot(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->time_ns, s.time_ns);
  EXPECT_EQ(back->paths, s.paths);
  EXPECT_EQ(back->tree, s.tree);
  EXPECT_EQ(back->summary.files_new, 3u);
  EXPECT_EQ(back->summary.changed_while_read, 2u);
  EXPECT_EQ(back->summary.incomplete, 1u);
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
