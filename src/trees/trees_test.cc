#include "trees/trees.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

namespace efs2s3::trees {
namespace {

using model::Node;
using model::NodeType;
using model::Tree;

// Trees in memory; counts the loads.
class FakeTrees : public repo::TreeLoader {
 public:
  Id Add(Tree t) {
    std::sort(t.nodes.begin(), t.nodes.end(),
              [](const Node& a, const Node& b) { return a.name < b.name; });
    Id id;
    id.bytes[0] = static_cast<std::uint8_t>(trees_.size() + 1);
    trees_[id] = std::move(t);
    return id;
  }
  Result<Tree> LoadTree(const Id& id) override {
    ++loads;
    auto it = trees_.find(id);
    if (it == trees_.end())
      return MakeError(ErrorCode::kNotFound, "tree " + id.Short());
    return it->second;
  }
  int loads = 0;

 private:
  std::map<Id, Tree> trees_;
};

Node File(const std::string& name, std::uint8_t blob,
          std::uint32_t mode = 0644) {
  Node n;
  n.name = name;
  n.type = NodeType::kFile;
  n.mode = mode;
  Id b;
  b.bytes[31] = blob;
  n.content = {b};
  return n;
}

Node Dir(const std::string& name, const Id& subtree,
         std::uint32_t mode = 0755) {
  Node n;
  n.name = name;
  n.type = NodeType::kDir;
  n.mode = mode;
  n.subtree = subtree;
  return n;
}

std::vector<std::string> DiffOf(FakeTrees& t, const std::optional<Id>& a,
                                const std::optional<Id>& b) {
  std::vector<std::string> out;
  auto r = Diff(t, a, b, "", [&](char op, const std::string& p, const Node&) {
    out.push_back(std::string(1, op) + " " + p);
  });
  EXPECT_TRUE(r) << r.error().message;
  return out;
}

TEST(DiffTest, IdenticalTreesAreNotLoaded) {
  FakeTrees t;
  Id a = t.Add({{File("f", 1)}});
  EXPECT_TRUE(DiffOf(t, a, a).empty());
  EXPECT_EQ(t.loads, 0);
}

TEST(DiffTest, AddedRemovedModifiedAndMetadata) {
  // Given a file added, one removed, one with new content and one with a new
  // mode, then each is reported once, in name order, with its kind.
  FakeTrees t;
  Id a = t.Add({{File("gone", 1), File("same", 2), File("content", 3),
                 File("mode", 4)}});
  Id b = t.Add({{File("new", 5), File("same", 2), File("content", 6),
                 File("mode", 4, 0600)}});
  EXPECT_EQ(DiffOf(t, a, b), (std::vector<std::string>{"M /content", "- /gone",
                                                       "U /mode", "+ /new"}));
}

TEST(DiffTest, MtimeIsMetadataForFilesOnly) {
  FakeTrees t;
  Id sub = t.Add({});
  Node f1 = File("f", 1), f2 = File("f", 1);
  f2.mtime.sec = 99;
  Node d1 = Dir("d", sub), d2 = Dir("d", sub);
  d2.mtime.sec = 99;
  Id a = t.Add({{f1, d1}});
  Id b = t.Add({{f2, d2}});
  EXPECT_EQ(DiffOf(t, a, b), (std::vector<std::string>{"U /f"}));
}

TEST(DiffTest, AFlagChangeIsReportedAfterAnyOtherChange) {
  // Given a file flagged changed-while-read that is then stored clean with new
  // content, one whose flag alone goes away, and a directory that becomes
  // incomplete, then each flag change is an 'F' (after the 'M' of the first).
  FakeTrees t;
  Id sub = t.Add({});
  Node reread1 = File("reread", 1), reread2 = File("reread", 2);
  reread1.flags = model::kFlagChangedWhileRead;
  Node cleared1 = File("cleared", 3), cleared2 = File("cleared", 3);
  cleared1.flags = model::kFlagChangedWhileRead;
  Node d1 = Dir("d", sub), d2 = Dir("d", sub);
  d2.flags = model::kFlagIncomplete;
  Id a = t.Add({{cleared1, d1, reread1, File("same", 4)}});
  Id b = t.Add({{cleared2, d2, reread2, File("same", 4)}});
  EXPECT_EQ(DiffOf(t, a, b),
            (std::vector<std::string>{"F /cleared", "F /d", "M /reread",
                                      "F /reread"}));
}

TEST(DiffTest, EverythingBelowAnAddedOrRemovedDirectory) {
  FakeTrees t;
  Id inner = t.Add({{File("x", 1)}});
  Id sub = t.Add({{File("a", 2), Dir("inner", inner)}});
  Id empty = t.Add({});
  Id with = t.Add({{Dir("d", sub)}});
  EXPECT_EQ(DiffOf(t, empty, with),
            (std::vector<std::string>{"+ /d", "+ /d/a", "+ /d/inner",
                                      "+ /d/inner/x"}));
  EXPECT_EQ(DiffOf(t, with, empty),
            (std::vector<std::string>{"- /d", "- /d/a", "- /d/inner",
                                      "- /d/inner/x"}));
  EXPECT_EQ(DiffOf(t, std::nullopt, inner), (std::vector<std::string>{"+ /x"}));
}

TEST(DiffTest, ChangedTypeIsRemovedAndAdded) {
  FakeTrees t;
  Id sub = t.Add({{File("in", 1)}});
  Id a = t.Add({{File("p", 1)}});
  Id b = t.Add({{Dir("p", sub)}});
  EXPECT_EQ(DiffOf(t, a, b),
            (std::vector<std::string>{"- /p", "+ /p", "+ /p/in"}));
}

TEST(DiffTest, ChangesInsideAChangedDirectory) {
  // Given a directory whose mode and one file changed, then the directory is
  // 'U' and the file below it 'M'; an unchanged sibling subtree is not
  // loaded.
  FakeTrees t;
  Id same = t.Add({{File("s", 9)}});
  Id s1 = t.Add({{File("f", 1)}});
  Id s2 = t.Add({{File("f", 2)}});
  Id a = t.Add({{Dir("d", s1), Dir("keep", same)}});
  Id b = t.Add({{Dir("d", s2, 0700), Dir("keep", same)}});
  EXPECT_EQ(DiffOf(t, a, b), (std::vector<std::string>{"U /d", "M /d/f"}));
  EXPECT_EQ(t.loads, 4);  // a, b, s1, s2
}

TEST(DiffTest, AMissingTreeIsAnError) {
  FakeTrees t;
  Id a = t.Add({});
  Id missing;
  missing.bytes[0] = 0xee;
  auto r =
      Diff(t, a, missing, "", [](char, const std::string&, const Node&) {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST(WalkTest, DepthFirstInNameOrder) {
  FakeTrees t;
  Id inner = t.Add({{File("z", 1)}});
  Id root = t.Add({{File("b", 2), Dir("a", inner), File("c", 3)}});
  std::vector<std::string> seen;
  auto r = Walk(t, root, "/base",
                [&](const std::string& p, const Node&) -> Result<void> {
                  seen.push_back(p);
                  return Ok();
                });
  ASSERT_TRUE(r);
  EXPECT_EQ(seen, (std::vector<std::string>{"/base/a", "/base/a/z", "/base/b",
                                            "/base/c"}));
}

TEST(WalkTest, AnErrorOfTheCallbackStops) {
  FakeTrees t;
  Id root = t.Add({{File("a", 1), File("b", 2)}});
  int calls = 0;
  auto r =
      Walk(t, root, "", [&](const std::string&, const Node&) -> Result<void> {
        ++calls;
        return MakeError(ErrorCode::kCancelled, "stop");
      });
  ASSERT_FALSE(r);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace efs2s3::trees
