#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>

#include "base/file_util.h"
#include "codec/compress.h"
#include "fs/file_system.h"
#include "sync/local_fs.h"
#include "sync/manifest.h"
#include "sync/names.h"
#include "sync/plan.h"

namespace efs2s3::sync {
namespace {

TEST(KeyEscapeTest, Utf8IsKeptAndOtherBytesAreEscapedReversibly) {
  // Given names with valid UTF-8, invalid bytes, control characters and the
  // quote character itself, then keys are valid UTF-8 and decode exactly.
  EXPECT_EQ(EscapeName("dir/caf\xc3\xa9 1+2%.txt"), "dir/caf\xc3\xa9 1+2%.txt");
  EXPECT_EQ(EscapeName("a\xff"
                       "b"),
            "a\xe2\x80\x9b"
            "FFb");
  EXPECT_EQ(EscapeName("a\rb\x01"),
            "a\xe2\x80\x9b"
            "0Db\xe2\x80\x9b"
            "01");
  EXPECT_EQ(EscapeName("tab\tnl\n"), "tab\tnl\n");
  EXPECT_EQ(EscapeName("q\xe2\x80\x9b"
                       "FF"),
            "q\xe2\x80\x9b\xe2\x80\x9b"
            "FF");
  EXPECT_EQ(UnescapeKey("q\xe2\x80\x9b\xe2\x80\x9b"
                        "FF"),
            "q\xe2\x80\x9b"
            "FF");
  // A foreign key with a lone quote keeps it.
  EXPECT_EQ(UnescapeKey("x\xe2\x80\x9bzz"), "x\xe2\x80\x9bzz");
  // Overlong encodings and surrogates are not valid UTF-8.
  EXPECT_EQ(EscapeName("\xc0\xaf"),
            "\xe2\x80\x9b"
            "C0\xe2\x80\x9b"
            "AF");
  EXPECT_EQ(EscapeName("\xed\xa0\x80").substr(0, 5),
            "\xe2\x80\x9b"
            "ED");
}

TEST(KeyEscapeTest, RandomNamesRoundTrip) {
  // Given 20,000 random byte strings (seed logged), then Unescape(Escape(x))
  // == x and the key is valid UTF-8.
  unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 24, '\0');
    for (char& c : s) {
      unsigned v = rng() % 8 == 0 ? 0xe2 : rng() % 256;
      c = static_cast<char>(v == '/' || v == 0 ? 'x' : v);
    }
    std::string k = EscapeName(s);
    ASSERT_TRUE(IsValidUtf8(k));
    ASSERT_EQ(UnescapeKey(k), s);
  }
}

TEST(KeyEscapeTest, UnsafeRelativePathsAreRefused) {
  EXPECT_TRUE(IsSafeRelativePath("a/b/c"));
  EXPECT_TRUE(IsSafeRelativePath("..a/b.."));
  for (const char* bad : {"", "/a", "a//b", "a/", "./a", "a/../b", "..", "a/."})
    EXPECT_FALSE(IsSafeRelativePath(bad)) << bad;
}

TEST(MetadataTest, RcloneTimeFormat) {
  // Then times are written as signed decimals, as rclone reads them, also
  // before 1970.
  EXPECT_EQ(FormatRcloneTime({1700000000, 5}), "1700000000.000000005");
  EXPECT_EQ(FormatRcloneTime({-2, 500000000}), "-1.500000000");
  EXPECT_EQ(FormatRcloneTime({-2, 0}), "-2.000000000");
  EXPECT_EQ(ParseRcloneTime("-1.5"), (Time{-2, 500000000}));
  EXPECT_EQ(ParseRcloneTime("-0.25"), (Time{-1, 750000000}));
  EXPECT_EQ(ParseRcloneTime("-2"), (Time{-2, 0}));
  EXPECT_EQ(ParseRcloneTime("1700000000"), (Time{1700000000, 0}));
  EXPECT_EQ(ParseRcloneTime("1.1234567899"), (Time{1, 123456789}));
  EXPECT_FALSE(ParseRcloneTime("x1"));
  EXPECT_FALSE(ParseRcloneTime(""));
  EXPECT_EQ(FormatRfc3339({0, 1}), "1970-01-01T00:00:00.000000001Z");
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:01.5Z"), (Time{1, 500000000}));
  EXPECT_EQ(ParseRfc3339("2024-01-02T03:04:05.000Z"), (Time{1704164645, 0}));
  EXPECT_EQ(ParseRfc3339("2024-01-02T04:04:05+01:00"), (Time{1704164645, 0}));
  EXPECT_EQ(ParseHttpDate("Tue, 02 Jan 2024 03:04:05 GMT"),
            (Time{1704164645, 0}));
}

TEST(MetadataTest, AttributesRoundTripThroughUserMetadata) {
  Attributes a;
  a.kind = Kind::kSymlink;
  a.mtime = {-1000, 999999999};
  a.atime = Time{4200000001, 7};
  a.mode = 0777;
  a.uid = 4294967294u;
  a.gid = 0;
  auto meta = ToMetadata(a, false);
  std::map<std::string, std::string> m(meta.begin(), meta.end());
  EXPECT_EQ(m["mode"], "120777");
  auto back = FromMetadata(m);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, Kind::kSymlink);
  EXPECT_EQ(back->mtime, a.mtime);
  EXPECT_EQ(back->atime, a.atime);
  EXPECT_EQ(back->mode, a.mode);
  EXPECT_EQ(back->uid, a.uid);
  EXPECT_EQ(back->gid, a.gid);
  // An object written by another tool has no attributes.
  EXPECT_FALSE(FromMetadata({{"foo", "bar"}}));
  // rclone's own: mtime only.
  auto r = FromMetadata({{"mtime", "1700000000.25"}});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->mode);
  EXPECT_EQ(r->mtime, (Time{1700000000, 250000000}));
}

TEST(ManifestTest, RoundTripAndCorruption) {
  // Given entries with odd keys, with and without attributes, then they
  // decode as encoded; damaged data is kCorruption.
  Manifest m;
  Attributes a;
  a.mtime = {-5, 1};
  a.mode = 04755;
  a.uid = 1;
  a.md5 = "d41d8cd98f00b204e9800998ecf8427e";
  m["tab\there\nnl\\x"] = {12, "abc-2", a};
  Attributes noperm;
  noperm.kind = Kind::kDir;
  noperm.mtime = {3, 0};
  m["d/"] = {0, "e", noperm};
  m["foreign"] = {7, "x", std::nullopt};
  Bytes enc = EncodeManifest(m);
  auto dec = DecodeManifest(enc);
  ASSERT_TRUE(dec) << dec.error().message;
  ASSERT_EQ(dec->size(), 3u);
  const auto& e = dec->at("tab\there\nnl\\x");
  EXPECT_EQ(e.size, 12u);
  EXPECT_EQ(e.etag, "abc-2");
  ASSERT_TRUE(e.attrs);
  EXPECT_EQ(e.attrs->mode, 04755u);
  EXPECT_EQ(e.attrs->uid, 1u);
  EXPECT_FALSE(e.attrs->gid);
  EXPECT_FALSE(e.attrs->atime);
  EXPECT_EQ(e.attrs->mtime, (Time{-5, 1}));
  EXPECT_EQ(e.attrs->md5, a.md5);
  EXPECT_EQ(dec->at("d/").attrs->kind, Kind::kDir);
  EXPECT_FALSE(dec->at("d/").attrs->mode);
  EXPECT_FALSE(dec->at("foreign").attrs);
  EXPECT_EQ(EncodeManifest(*dec), enc);
  Bytes bad = enc;
  bad.back() ^= 1;
  EXPECT_FALSE(DecodeManifest(bad));
  EXPECT_FALSE(DecodeManifest(ToBytes("short")));
  // Sizes strtoull would take ("-1" as 2^64-1, " 5", "+5") are malformed.
  auto encoded = [](const std::string& size) {
    std::string text =
        "efs2s3-sync-manifest 1\nk\t" + size + "\te\t-\t-\t-\t-\t-\t-\n";
    Bytes out;
    PutU64(out, text.size());
    Bytes z = codec::Compress(AsBytes(text), 3);
    out.insert(out.end(), z.begin(), z.end());
    return out;
  };
  ASSERT_TRUE(DecodeManifest(encoded("5")));
  for (const char* size : {"-1", " 5", "+5", "99999999999999999999"})
    EXPECT_FALSE(DecodeManifest(encoded(size))) << size;
}

Entry File(std::string rel, std::uint64_t size, std::int64_t mtime) {
  Entry e;
  e.rel = std::move(rel);
  e.size = size;
  e.mtime = {mtime, 0};
  e.mode = 0644;
  e.uid = 1;
  e.gid = 1;
  return e;
}

TEST(PlanTest, DefaultComparesSizeMtimeAndMetadata) {
  // Given source and destination lists, then new, resized, retimed and
  // re-moded files are copied, equal ones are not, and --delete removes
  // what the source lacks.
  std::vector<Entry> src = {File("a", 1, 10), File("b", 2, 10),
                            File("c", 3, 10), File("d", 4, 10),
                            File("e", 5, 10)};
  std::vector<Entry> dst = {File("b", 2, 10), File("c", 9, 10),
                            File("d", 4, 11), File("e", 5, 10),
                            File("z", 1, 1)};
  dst[3].mode = 0600;
  PlanOptions o;
  Plan p = MakePlan(src, dst, o);
  ASSERT_EQ(p.copies.size(), 4u);
  EXPECT_EQ(p.copies[0].why, "new");
  EXPECT_EQ(p.copies[1].why, "size");
  EXPECT_EQ(p.copies[2].why, "mtime");
  EXPECT_EQ(p.copies[3].why, "mode");
  EXPECT_EQ(p.unchanged, 1u);
  EXPECT_EQ(p.copy_bytes, 1u + 3 + 4 + 5);
  EXPECT_TRUE(p.deletes.empty());
  o.delete_extra = true;
  p = MakePlan(src, dst, o);
  ASSERT_EQ(p.deletes.size(), 1u);
  EXPECT_EQ(dst[p.deletes[0].index].rel, "z");
  o.compare = CompareMode::kSizeOnly;
  p = MakePlan(src, dst, o);
  EXPECT_EQ(p.copies.size(), 2u);  // a (new), c (size)
}

TEST(PlanTest, InexactTimesCompareLikeAwsAndChecksumsDecideWhenAsked) {
  // Given a destination object without attributes (Last-Modified only), then
  // it is replaced only by a newer source; with --checksum, known MD5s decide
  // and one unknown side becomes a check.
  Entry remote = File("a", 5, 100);
  remote.exact = false;
  remote.mode.reset();
  remote.md5 = "00";
  std::vector<Entry> dst = {remote};
  PlanOptions o;
  EXPECT_TRUE(MakePlan({File("a", 5, 99)}, dst, o).copies.empty());
  EXPECT_EQ(MakePlan({File("a", 5, 101)}, dst, o).copies.at(0).why, "newer");
  o.compare = CompareMode::kChecksum;
  Plan p = MakePlan({File("a", 5, 99)}, dst, o);
  ASSERT_EQ(p.copies.size(), 1u);
  EXPECT_EQ(p.copies[0].type, Action::Type::kCheck);
  EXPECT_EQ(p.copies[0].md5, "00");
  Entry known = File("a", 5, 1);
  known.md5 = "00";
  EXPECT_TRUE(MakePlan({known}, dst, o).copies.empty());
}

TEST(PlanTest, WhatTheWalkCouldNotReadIsNeverDeleted) {
  // Given a destination with entries under a subtree the walk could not read
  // ("locked"), one that vanished ("gone") and elsewhere ("old"), then --delete
  // keeps the first two always, and "old" only while errors withhold deletes.
  std::vector<Entry> src = {File("a", 1, 10)};
  std::vector<Entry> dst = {File("a", 1, 10),
                            File("gone/x", 1, 1),
                            File("locked/deep/y", 1, 1),
                            File("locked/", 0, 1),
                            File("lockedness", 1, 1),
                            File("old", 1, 1)};
  PlanOptions o;
  o.delete_extra = true;
  o.keep = {"locked", "gone"};
  Plan p = MakePlan(src, dst, o);
  std::vector<std::string> deleted, kept;
  for (const Action& a : p.deletes) deleted.push_back(dst[a.index].rel);
  for (const Action& a : p.withheld) kept.push_back(dst[a.index].rel);
  EXPECT_EQ(deleted, (std::vector<std::string>{"lockedness", "old"}));
  EXPECT_EQ(kept,
            (std::vector<std::string>{"gone/x", "locked/deep/y", "locked/"}));
  EXPECT_EQ(p.withheld[1].why, "not read completely: locked");
  o.withhold_deletes = true;
  p = MakePlan(src, dst, o);
  EXPECT_TRUE(p.deletes.empty());
  ASSERT_EQ(p.withheld.size(), 5u);
  EXPECT_EQ(p.withheld[4].why, "walk errors");
  // The root itself unread: nothing is deleted, with or without errors.
  o.withhold_deletes = false;
  o.keep = {""};
  EXPECT_TRUE(MakePlan(src, dst, o).deletes.empty());
}

TEST(PlanTest, CoveringPathMatchesWholeComponents) {
  std::set<std::string> paths = {"a/b", "c"};
  EXPECT_EQ(*CoveringPath(paths, "a/b"), "a/b");
  EXPECT_EQ(*CoveringPath(paths, "a/b/c/d"), "a/b");
  EXPECT_EQ(*CoveringPath(paths, "a/b/"), "a/b");
  EXPECT_EQ(*CoveringPath(paths, "c/x"), "c");
  EXPECT_EQ(CoveringPath(paths, "a/bc"), nullptr);
  EXPECT_EQ(CoveringPath(paths, "a"), nullptr);
  EXPECT_EQ(CoveringPath(paths, "cc"), nullptr);
  EXPECT_EQ(CoveringPath({}, "a"), nullptr);
  EXPECT_EQ(*CoveringPath({""}, "x/y"), "");
}

TEST(FilterTest, ExcludesIncludesAndParents) {
  Filter f({"*.tmp", "/build/*", "cache"}, {});
  EXPECT_TRUE(f.Excluded("x/y.tmp"));
  EXPECT_TRUE(f.Excluded("build/out/z"));
  EXPECT_FALSE(f.Excluded("src/build/z"));
  EXPECT_TRUE(f.Excluded("a/cache/b/c"));
  EXPECT_FALSE(f.Excluded("a/cached"));
  Filter g({"*.log"}, {"*.txt", "docs"});
  EXPECT_TRUE(g.Included("a/b.txt"));
  EXPECT_TRUE(g.Included("docs/x.bin"));
  EXPECT_FALSE(g.Included("a/b.bin"));
  EXPECT_FALSE(g.Included("docs/x.log"));
}

TEST(WalkTest, FindsFilesSymlinksAndEmptyDirsAndHonoursFilters) {
  // Given a small tree, then the walk reports files with their stat data,
  // symlinks only with links, empty directories only when asked, and skips
  // excluded subtrees and the manifest name at the root.
  std::string root = std::filesystem::temp_directory_path() /
                     ("sync-walk-" + HexEncode(RandomBytes(6)));
  ASSERT_TRUE(MakeDirs(root + "/d/e", 0755));
  ASSERT_TRUE(MakeDirs(root + "/skip", 0755));
  ASSERT_TRUE(MakeDirs(root + "/empty", 0755));
  for (const char* f :
       {"/f1", "/d/f2", "/d/e/f3", "/skip/f4", "/.efs2s3-sync-manifest"})
    ASSERT_TRUE(WriteFileAtomic(root + f, AsBytes("abc"), false, false));
  ASSERT_EQ(::symlink("f1", (root + "/l").c_str()), 0);
  Filter filter({"skip"}, {});
  WalkOptions o;
  o.filter = &filter;
  o.reserved_name = kManifestName;
  std::vector<std::string> warnings;
  std::mutex mu;
  o.on_warning = [&](const std::string& t) {
    std::lock_guard lock(mu);
    warnings.push_back(t);
  };
  auto r = WalkTree(root, o);
  ASSERT_TRUE(r);
  std::vector<std::string> rels;
  for (const Entry& e : r->entries) rels.push_back(e.rel);
  EXPECT_EQ(rels, (std::vector<std::string>{"d/e/f3", "d/f2", "f1"}));
  EXPECT_EQ(r->entries[2].size, 3u);
  EXPECT_EQ(warnings.size(), 2u);  // the symlink, the manifest name
  o.links = true;
  o.keep_empty_dirs = true;
  r = WalkTree(root, o);
  ASSERT_TRUE(r);
  rels.clear();
  for (const Entry& e : r->entries) rels.push_back(e.rel);
  EXPECT_EQ(rels,
            (std::vector<std::string>{"d/e/f3", "d/f2", "empty/", "f1", "l"}));
  EXPECT_EQ(r->entries[4].kind, Kind::kSymlink);
  std::filesystem::remove_all(root);
}

TEST(WalkTest, UnreadableDirectoriesAreReportedAsIncomplete) {
  // Given a directory the walk may not open (mode 000, as a user other than
  // root), then the walk reports it as incomplete and as an error, and lists
  // the rest.
  if (::geteuid() == 0) GTEST_SKIP() << "root reads mode-000 directories";
  std::string root = std::filesystem::temp_directory_path() /
                     ("sync-unread-" + HexEncode(RandomBytes(6)));
  ASSERT_TRUE(MakeDirs(root + "/locked/sub", 0755));
  ASSERT_TRUE(WriteFileAtomic(root + "/f", AsBytes("x"), false));
  ASSERT_EQ(::chmod((root + "/locked").c_str(), 0), 0);
  WalkOptions o;
  std::vector<std::string> errors;
  std::mutex mu;
  o.on_error = [&](const std::string& rel, const Error&) -> Result<void> {
    std::lock_guard lock(mu);
    errors.push_back(rel);
    return Ok();
  };
  auto r = WalkTree(root, o);
  ::chmod((root + "/locked").c_str(), 0755);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->incomplete, (std::vector<std::string>{"locked"}));
  EXPECT_EQ(errors, (std::vector<std::string>{"locked"}));
  ASSERT_EQ(r->entries.size(), 1u);
  EXPECT_EQ(r->entries[0].rel, "f");
  std::filesystem::remove_all(root);
}

// A file system on which the directories "a1" and "a2" cannot be opened
// (EACCES), as mode 000 does to anyone but root.
class LockedDirFileSystem : public fs::FileSystem {
 public:
  int OpenDirAt(int dirfd, const std::string& name,
                const std::string& path) override {
    if (path == "a1" || path == "a2") return -EACCES;
    return FileSystem::OpenDirAt(dirfd, name, path);
  }
};

TEST(WalkTest, AnErrorTheCallerRefusesStopsTheWalk) {
  // Given two directories the walk cannot open, when the error callback
  // accepts errors, then both are incomplete; when it refuses the first, then
  // the walk stops: at most one more error arrives (from a reader already
  // running), and what was not read is not claimed complete.
  std::string root = std::filesystem::temp_directory_path() /
                     ("sync-refuse-" + HexEncode(RandomBytes(6)));
  ASSERT_TRUE(MakeDirs(root + "/a1/sub", 0755));
  ASSERT_TRUE(MakeDirs(root + "/a2/sub", 0755));
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(MakeDirs(root + "/d" + std::to_string(i) + "/x", 0755));
  LockedDirFileSystem files;
  WalkOptions o;
  o.files = &files;
  o.threads = 1;
  o.keep_empty_dirs = true;
  std::atomic<int> calls{0};
  o.on_error = [&](const std::string&, const Error&) -> Result<void> {
    ++calls;
    return Ok();
  };
  auto all = WalkTree(root, o);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->incomplete, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(all->entries.size(), 50u);
  EXPECT_EQ(calls.load(), 2);
  calls = 0;
  o.on_error = [&](const std::string& rel, const Error&) -> Result<void> {
    ++calls;
    return MakeError(ErrorCode::kIo, "stop at " + rel);
  };
  auto stopped = WalkTree(root, o);
  ASSERT_TRUE(stopped);
  EXPECT_LE(calls.load(), 2);
  EXPECT_LT(stopped->entries.size(), all->entries.size());
  std::filesystem::remove_all(root);
}

TEST(LocalFsTest, OpenBeneathRefusesSymlinksAndEscapes) {
  std::string root = std::filesystem::temp_directory_path() /
                     ("sync-beneath-" + HexEncode(RandomBytes(6)));
  ASSERT_TRUE(MakeDirs(root + "/a", 0755));
  ASSERT_EQ(::symlink("/tmp", (root + "/link").c_str()), 0);
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  EXPECT_LT(OpenBeneath(fd, "link/x", O_RDONLY), 0);
  EXPECT_LT(OpenBeneath(fd, "../x", O_RDONLY), 0);
  EXPECT_FALSE(MakeDirsBeneath(fd, "link/sub"));
  EXPECT_TRUE(MakeDirsBeneath(fd, "a/b/c"));
  EXPECT_TRUE(std::filesystem::is_directory(root + "/a/b/c"));
  ::close(fd);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace efs2s3::sync
