#include "copier/copier.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <random>

#include "base/file_util.h"
#include "storage/mem/mem_backend.h"

namespace efs2s3::copier {
namespace {

using model::Node;
using model::NodeType;
using model::Tree;

std::unique_ptr<repo::Repository> NewRepo() {
  repo::InitOptions init;
  init.kdf = {1024, 8, 1};
  init.chunker = {16 << 10, 64 << 10, 256 << 10};
  init.pack_size = 256 << 10;
  auto r = repo::Repository::Init(storage::NewMemBackend(), "pw", init, {});
  EFS2S3_CHECK(r.has_value());
  return std::move(*r);
}

std::string Random(size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A snapshot of /d/<name> for each of `files` (name, content; each content
// one blob), saved in `repo`.
std::pair<Id, model::Snapshot> Snap(
    repo::Repository& repo,
    const std::vector<std::pair<std::string, std::string>>& files,
    std::int64_t time) {
  Tree inner;
  for (const auto& [name, data] : files) {
    Node n;
    n.name = name;
    n.mode = 0644;
    n.size = data.size();
    auto saved = repo.SaveBlob(repo::BlobType::kData, AsBytes(data));
    EFS2S3_CHECK(saved.has_value());
    n.content.push_back(saved->id);
    inner.nodes.push_back(n);
  }
  Node d;
  d.name = "d";
  d.type = NodeType::kDir;
  auto sub = repo.SaveTree(inner);
  EFS2S3_CHECK(sub.has_value());
  d.subtree = *sub;
  auto root = repo.SaveTree(Tree{{d}});
  EFS2S3_CHECK(root.has_value());
  EFS2S3_CHECK(repo.Flush().has_value());
  model::Snapshot s;
  s.time_ns = time;
  s.hostname = "h";
  s.paths = {"/d"};
  s.tree = *root;
  auto id = repo.SaveSnapshot(s);
  EFS2S3_CHECK(id.has_value());
  return {*id, s};
}

// The files of /d in a snapshot's tree, by name, read back.
std::map<std::string, std::string> Files(repo::Repository& repo,
                                         const Id& tree) {
  std::map<std::string, std::string> out;
  auto root = repo.LoadTree(tree);
  EFS2S3_CHECK(root.has_value());
  auto inner = repo.LoadTree(*root->nodes.at(0).subtree);
  EFS2S3_CHECK(inner.has_value());
  for (const Node& n : inner->nodes) {
    std::string data;
    for (const Id& id : n.content) {
      auto b = repo.LoadBlob(id);
      EFS2S3_CHECK(b.has_value());
      data += AsString(*b);
    }
    out[n.name] = data;
  }
  return out;
}

CopyOptions Options(repo::Repository& from, repo::Repository& to) {
  CopyOptions o;
  auto all = from.ListSnapshots();
  EFS2S3_CHECK(all.has_value());
  o.snapshots = *all;
  o.all_source = *all;
  auto dst = to.ListSnapshots();
  EFS2S3_CHECK(dst.has_value());
  o.destination = *dst;
  o.workers = 4;
  return o;
}

TEST(CopierTest, CopiesOnlyWhatIsMissingAndIsIdempotent) {
  auto a = NewRepo();
  auto b = NewRepo();
  const std::string x = Random(50000, 1), y = Random(60000, 2),
                    z = Random(70000, 3);
  auto s1 = Snap(*a, {{"x", x}, {"y", y}}, 1);
  IdMap map;
  auto first = Copy(*a, *b, map, Options(*a, *b));
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_EQ(first->copied.size(), 1u);
  EXPECT_EQ(first->blobs_added, 2u);
  EXPECT_EQ(first->bytes_added, x.size() + y.size());
  auto copy = b->LoadSnapshot(first->copied[0].second);
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->original, s1.first);
  EXPECT_EQ(copy->paths, s1.second.paths);
  // Keyed IDs: the same content has another tree ID in b.
  EXPECT_NE(copy->tree, s1.second.tree);
  EXPECT_EQ(Files(*b, copy->tree),
            (std::map<std::string, std::string>{{"x", x}, {"y", y}}));

  // Again: nothing is read or written.
  auto again = Copy(*a, *b, map, Options(*a, *b));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->copied.empty());
  EXPECT_EQ(again->skipped, 1u);
  EXPECT_EQ(again->blobs_read + again->trees_read, 0u);

  // A new snapshot sharing x: only z is read (the map knows x).
  auto s2 = Snap(*a, {{"x", x}, {"z", z}}, 2);
  auto second = Copy(*a, *b, map, Options(*a, *b));
  ASSERT_TRUE(second);
  ASSERT_EQ(second->copied.size(), 1u);
  EXPECT_EQ(second->blobs_read, 1u);
  EXPECT_EQ(second->blobs_added, 1u);
  auto copy2 = b->LoadSnapshot(second->copied[0].second);
  ASSERT_TRUE(copy2);
  EXPECT_EQ(Files(*b, copy2->tree),
            (std::map<std::string, std::string>{{"x", x}, {"z", z}}));

  // Without the map of earlier runs, the same copy reads every blob again
  // (x once: the run maps it too) but stores nothing new.
  auto c = NewRepo();
  IdMap none;
  ASSERT_TRUE(Copy(*a, *c, none, Options(*a, *c)));
  IdMap fresh;
  auto o = Options(*a, *c);
  o.destination.clear();  // as if c held no copies: both are copied again
  auto redo = Copy(*a, *c, fresh, o);
  ASSERT_TRUE(redo);
  EXPECT_EQ(redo->copied.size(), 2u);
  EXPECT_EQ(redo->blobs_read, 3u);
  EXPECT_EQ(redo->blobs_added, 0u);

  // Back from b to a: a holds the originals, nothing is copied.
  IdMap back;
  auto home = Copy(*b, *a, back, Options(*b, *a));
  ASSERT_TRUE(home);
  EXPECT_TRUE(home->copied.empty());
  EXPECT_EQ(home->skipped, 2u);
}

TEST(CopierTest, MapSurvivesSaveAndLoadAndDamageEmptiesIt) {
  char tmpl[] = "/tmp/efs2s3-copiertest-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/map";
  IdMap m = IdMap::Load(path);
  EXPECT_EQ(m.size(), 0u);
  Id from, to;
  from.bytes[0] = 1;
  to.bytes[0] = 2;
  m.Insert(from, to);
  ASSERT_TRUE(m.Save());
  IdMap back = IdMap::Load(path);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back.Find(from), to);
  auto data = ReadFile(path);
  ASSERT_TRUE(data);
  (*data)[5] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(path, *data, false));
  EXPECT_EQ(IdMap::Load(path).size(), 0u);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace efs2s3::copier
