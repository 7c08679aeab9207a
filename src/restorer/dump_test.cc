#include "restorer/dump.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "restorer/pax.h"

namespace efs2s3::restorer {
namespace {

using model::Node;
using model::NodeType;
using model::Tree;

// Trees and blobs in memory. Trees are returned as stored, without the
// checks of model::DecodeTree: a tree can hold a name no decoder accepts.
class FakeRepo : public repo::BlobLoader {
 public:
  Id AddTree(Tree t) {
    Id id = NextId();
    trees_[id] = std::move(t);
    return id;
  }
  Id AddBlob(const std::string& content) {
    Id id = NextId();
    blobs_[id] = Bytes(content.begin(), content.end());
    return id;
  }
  Result<Tree> LoadTree(const Id& id) override {
    auto it = trees_.find(id);
    if (it == trees_.end())
      return MakeError(ErrorCode::kNotFound, "tree " + id.Short());
    return it->second;
  }
  std::optional<repo::BlobLocation> Lookup(const Id& id) override {
    auto it = blobs_.find(id);
    if (it == blobs_.end()) return std::nullopt;
    repo::BlobLocation loc;
    loc.raw_length = static_cast<std::uint32_t>(it->second.size());
    return loc;
  }
  Id BlobId(ByteSpan) const override { return Id{}; }
  Result<Bytes> LoadPackRange(const Id&, std::uint64_t,
                              std::uint64_t) override {
    return MakeError(ErrorCode::kUnsupported, "not in this fake");
  }
  Result<Bytes> LoadBlob(const Id& id) override {
    auto it = blobs_.find(id);
    if (it == blobs_.end())
      return MakeError(ErrorCode::kNotFound, "blob " + id.Short());
    return it->second;
  }
  Result<Bytes> DecodeBlob(const Id&, const repo::BlobLocation&,
                           ByteSpan) const override {
    return MakeError(ErrorCode::kUnsupported, "not in this fake");
  }

 private:
  Id NextId() {
    Id id;
    ++count_;
    id.bytes[0] = static_cast<std::uint8_t>(count_);
    id.bytes[1] = static_cast<std::uint8_t>(count_ >> 8);
    return id;
  }
  int count_ = 0;
  std::map<Id, Tree> trees_;
  std::map<Id, Bytes> blobs_;
};

Node FileNode(const std::string& name, std::vector<Id> content) {
  Node n;
  n.name = name;
  n.type = NodeType::kFile;
  n.mode = 0644;
  n.content = std::move(content);
  return n;
}

Node DirNode(const std::string& name, const Id& tree) {
  Node n;
  n.name = name;
  n.type = NodeType::kDir;
  n.mode = 0755;
  n.subtree = tree;
  return n;
}

// A tar archive read back: each entry's name (the pax path when there is
// one), type, content and pax records.
struct ReadEntry {
  std::string name;
  char type = 0;
  std::string content, link;
  std::map<std::string, std::string> records;
};

std::uint64_t Octal(const std::string& field) {
  std::uint64_t v = 0;
  for (char ch : field) {
    if (ch < '0' || ch > '7') break;
    v = v * 8 + static_cast<std::uint64_t>(ch - '0');
  }
  return v;
}

std::vector<ReadEntry> ReadTar(const std::string& tar) {
  std::vector<ReadEntry> out;
  std::map<std::string, std::string> pending;
  size_t pos = 0;
  while (pos + 512 <= tar.size()) {
    std::string h = tar.substr(pos, 512);
    if (h == std::string(512, '\0')) break;
    std::string name = h.substr(0, 100).c_str();
    std::string link = h.substr(157, 100).c_str();
    std::uint64_t size = Octal(h.substr(124, 12));
    char type = h[156];
    std::string data = tar.substr(pos + 512, size);
    pos += 512 + (size + 511) / 512 * 512;
    if (type == 'x') {
      size_t at = 0;
      while (at < data.size()) {
        size_t space = data.find(' ', at);
        size_t len = std::stoul(data.substr(at, space - at));
        std::string rec = data.substr(space + 1, len - (space + 1 - at) - 1);
        size_t eq = rec.find('=');
        pending[rec.substr(0, eq)] = rec.substr(eq + 1);
        at += len;
      }
      continue;
    }
    ReadEntry e;
    e.name = pending.count("path") ? pending["path"] : name;
    e.link = pending.count("linkpath") ? pending["linkpath"] : link;
    e.type = type;
    e.content = data;
    e.records = std::move(pending);
    pending.clear();
    out.push_back(std::move(e));
  }
  return out;
}

// Runs DumpArchive into a temporary file and returns what it wrote.
Result<std::string> DumpToString(FakeRepo& repo, const Node& node,
                                 const std::string& name,
                                 ArchiveFormat format = ArchiveFormat::kTar,
                                 int read_ahead = 8) {
  std::FILE* f = std::tmpfile();
  DumpOptions o;
  o.format = format;
  o.read_ahead = read_ahead;
  o.out_fd = fileno(f);
  auto r = DumpArchive(repo, node, name, "/" + name, o);
  std::string out;
  std::rewind(f);
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  if (!r) return r.error();
  return out;
}

TEST(PaxWriterTest, TimeTextPutsTheSignBeforeTheWholeValue) {
  EXPECT_EQ(PaxWriter::TimeText({.sec = 5, .nsec = 1}), "5.000000001");
  EXPECT_EQ(PaxWriter::TimeText({.sec = -2, .nsec = 750000000}),
            "-1.250000000");
  EXPECT_EQ(PaxWriter::TimeText({.sec = -1, .nsec = 500000000}),
            "-0.500000000");
  EXPECT_EQ(PaxWriter::TimeText({.sec = -3, .nsec = 0}), "-3");
}

TEST(PaxWriterTest, AclTextFromTheLinuxXattrValue) {
  // version 2; user::rw-, user:1000:r-x, group::r--, mask::r-x, other::---
  auto entry = [](std::uint16_t tag, std::uint16_t perm, std::uint32_t id) {
    std::string e(8, '\0');
    e[0] = static_cast<char>(tag);
    e[2] = static_cast<char>(perm);
    for (int i = 0; i < 4; ++i) e[4 + i] = static_cast<char>(id >> (8 * i));
    return e;
  };
  std::string v = std::string("\x02\0\0\0", 4) + entry(0x01, 6, ~0u) +
                  entry(0x02, 5, 1000) + entry(0x04, 4, ~0u) +
                  entry(0x10, 5, ~0u) + entry(0x20, 0, ~0u);
  EXPECT_EQ(PaxWriter::AclText(v),
            "user::rw-,user:1000:r-x,group::r--,mask::r-x,other::---");
  EXPECT_EQ(PaxWriter::AclText(v.substr(0, v.size() - 1)), std::nullopt);
  EXPECT_EQ(PaxWriter::AclText(std::string("\x01\0\0\0", 4)), std::nullopt);
}

TEST(PaxWriterTest, RecordLengthCountsItselfAcrossDigitBoundaries) {
  for (size_t n = 0; n < 1100; ++n) {
    std::string r = PaxWriter::Record("path", std::string(n, 'a'));
    EXPECT_EQ(std::stoul(r.substr(0, r.find(' '))), r.size()) << n;
    EXPECT_EQ(r.back(), '\n');
  }
}

TEST(DumpTest, TreeRoundTripsThroughTheTarReader) {
  FakeRepo repo;
  Id b1 = repo.AddBlob("hello "), b2 = repo.AddBlob("world\n");
  std::string long_name(150, 'n');
  Node f = FileNode("file", {b1, b2});
  f.xattrs = {{"user.nul\xc3\xa9", std::string("\0\0\0", 3)}};
  f.mtime = {.sec = -2, .nsec = 750000000};
  f.links = 2;
  f.device = 1;
  f.inode = 7;
  Node f2 = f;
  f2.name = long_name;
  Node link;
  link.name = "sym";
  link.type = NodeType::kSymlink;
  link.link_target = "../../elsewhere";
  Id sub = repo.AddTree(Tree{{f, link, f2}});
  auto tar = DumpToString(repo, DirNode("top", sub), "top");
  ASSERT_TRUE(tar) << tar.error().message;
  EXPECT_EQ(tar->size() % 10240, 0u);
  auto entries = ReadTar(*tar);
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].name, "top/");
  EXPECT_EQ(entries[0].type, '5');
  EXPECT_EQ(entries[1].name, "top/file");
  EXPECT_EQ(entries[1].content, "hello world\n");
  EXPECT_EQ(entries[1].records["mtime"], "-1.250000000");
  // The attribute name as it is, not URL-encoded; the value's NULs kept.
  EXPECT_EQ(entries[1].records["SCHILY.xattr.user.nul\xc3\xa9"],
            std::string("\0\0\0", 3));
  EXPECT_EQ(entries[2].name, "top/sym");
  EXPECT_EQ(entries[2].link, "../../elsewhere");
  // The second name of the inode is a hard link to the first.
  EXPECT_EQ(entries[3].name, "top/" + long_name);
  EXPECT_EQ(entries[3].type, '1');
  EXPECT_EQ(entries[3].link, "top/file");
  EXPECT_EQ(entries[3].content, "");
}

TEST(DumpTest, BlobsFetchedAheadAcrossFilesAndDirectoriesStayInOrder) {
  // Files of 0 to 4 blobs in nested directories, with read-ahead windows
  // smaller and larger than a file.
  FakeRepo repo;
  std::vector<Node> top;
  std::map<std::string, std::string> want;
  for (int d = 0; d < 3; ++d) {
    std::vector<Node> files;
    for (int f = 0; f < 5; ++f) {
      std::vector<Id> blobs;
      std::string content;
      for (int b = 0; b < (d + f) % 5; ++b) {
        std::string part = std::to_string(d) + "." + std::to_string(f) + "." +
                           std::to_string(b) + ";";
        blobs.push_back(repo.AddBlob(part));
        content += part;
      }
      std::string name = "f" + std::to_string(f);
      files.push_back(FileNode(name, blobs));
      want["top/d" + std::to_string(d) + "/" + name] = content;
    }
    top.push_back(DirNode("d" + std::to_string(d), repo.AddTree(Tree{files})));
  }
  Id root = repo.AddTree(Tree{top});
  for (int window : {1, 2, 3, 64}) {
    auto tar = DumpToString(repo, DirNode("top", root), "top",
                            ArchiveFormat::kTar, window);
    ASSERT_TRUE(tar) << tar.error().message;
    std::map<std::string, std::string> got;
    for (const auto& e : ReadTar(*tar))
      if (e.type == '0') got[e.name] = e.content;
    EXPECT_EQ(got, want) << "window " << window;
  }
}

TEST(DumpTest, NamesThatWouldEscapeTheExtractionDirectoryFailTheDump) {
  for (std::string bad : {"..", ".", "a/../../x", "/etc/passwd", ""}) {
    FakeRepo repo;
    Id b = repo.AddBlob("x");
    Id sub = repo.AddTree(Tree{{FileNode(bad, {b})}});
    auto tar = DumpToString(repo, DirNode("top", sub), "top");
    ASSERT_FALSE(tar) << "name '" << bad << "' was written";
    EXPECT_EQ(tar.error().code, ErrorCode::kCorruption);
    EXPECT_NE(tar.error().message.find("/top"), std::string::npos)
        << tar.error().message;
  }
}

TEST(DumpTest, AMissingBlobFailsTheDumpNamingTheFile) {
  FakeRepo repo;
  Id missing;
  missing.bytes[5] = 9;
  Id sub = repo.AddTree(Tree{{FileNode("f", {missing})}});
  auto tar = DumpToString(repo, DirNode("top", sub), "top");
  ASSERT_FALSE(tar);
  EXPECT_NE(tar.error().message.find("/top/f"), std::string::npos)
      << tar.error().message;
}

TEST(DumpTest, FileContentToTheDescriptor) {
  FakeRepo repo;
  Node f = FileNode("f", {repo.AddBlob("abc"), repo.AddBlob("def")});
  std::FILE* out = std::tmpfile();
  DumpOptions o;
  o.out_fd = fileno(out);
  auto r = DumpFile(repo, f, "/f", o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->bytes, 6u);
  std::rewind(out);
  char buf[16] = {};
  EXPECT_EQ(std::fread(buf, 1, sizeof buf, out), 6u);
  EXPECT_EQ(std::string(buf), "abcdef");
  std::fclose(out);
}

}  // namespace
}  // namespace efs2s3::restorer
