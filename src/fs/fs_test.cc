#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "base/fd.h"
#include "base/file_util.h"
#include "base/io.h"
#include "fs/meta.h"
#include "fs/open.h"
#include "fs/testing/recording_fs.h"
#include "fs/walk.h"

namespace efs2s3::fs {
namespace {

namespace stdfs = std::filesystem;

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = stdfs::temp_directory_path() /
            ("efs2s3-fs-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    stdfs::remove_all(root_);
    stdfs::create_directories(root_);
  }
  void TearDown() override {
    // chmod 000 directories of a test are made readable again first.
    // Only real directories: chmod follows symlinks, and tests make
    // symlinks to /tmp and /etc.
    for (auto it = stdfs::recursive_directory_iterator(
             root_, stdfs::directory_options::skip_permission_denied);
         it != stdfs::recursive_directory_iterator(); ++it)
      if (it->symlink_status().type() == stdfs::file_type::directory)
        ::chmod(it->path().c_str(), 0755);
    stdfs::remove_all(root_);
  }
  void Write(const std::string& rel, const std::string& data) {
    stdfs::create_directories((root_ / rel).parent_path());
    ASSERT_TRUE(
        WriteFileAtomic((root_ / rel).string(), AsBytes(data), false, false));
  }
  Fd OpenRoot() {
    return Fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  stdfs::path root_;
};

// Both ways of OpenBeneath give the same answer, whatever the kernel: the
// fallback is what runs where openat2 does not exist.
TEST_F(FsTest, OpenBeneathAndItsFallbackAgree) {
  Write("a/b/file", "x");
  stdfs::create_directory_symlink("/etc", root_ / "a/abs");
  stdfs::create_directory_symlink("b", root_ / "a/rel");
  stdfs::create_symlink("b/file", root_ / "a/filelink");
  Fd root = OpenRoot();
  ASSERT_TRUE(root);
  struct Case {
    std::string rel;
    int flags;
    bool ok;
  };
  const std::vector<Case> cases = {
      {"a/b/file", O_RDONLY, true},
      {"a/b", O_RDONLY | O_DIRECTORY, true},
      {"./a/b/file", O_RDONLY, true},
      {"a//b/file", O_RDONLY, true},
      {"../x", O_RDONLY, false},
      {"a/../a/b/file", O_RDONLY, false},
      {"/etc/passwd", O_RDONLY, false},
      {"a/abs/passwd", O_RDONLY, false},
      {"a/abs", O_RDONLY | O_DIRECTORY, false},
      {"a/rel/file", O_RDONLY, false},
      {"a/filelink", O_RDONLY, false},
      {"a/missing", O_RDONLY, false},
      {"a/b/file/x", O_RDONLY, false},
  };
  for (const Case& c : cases) {
    int a = OpenBeneath(root.get(), c.rel, c.flags);
    int b = OpenBeneathByComponents(root.get(), c.rel, c.flags);
    Fd fa(a >= 0 ? a : -1), fb(b >= 0 ? b : -1);
    EXPECT_EQ(a >= 0, c.ok) << c.rel << " " << a;
    EXPECT_EQ(b >= 0, c.ok) << c.rel << " " << b;
    if (a < 0 && b < 0) {
      EXPECT_EQ(a, b) << c.rel;
    }
  }
  EXPECT_EQ(OpenBeneath(root.get(), "../x", O_RDONLY), -EXDEV);
  EXPECT_EQ(OpenBeneath(root.get(), "a/abs/passwd", O_RDONLY), -ELOOP);
}

TEST_F(FsTest, MakeDirsBeneathNeverFollowsASymlink) {
  stdfs::create_directory_symlink("/tmp", root_ / "link");
  Fd root = OpenRoot();
  EXPECT_TRUE(MakeDirsBeneath(root.get(), "x/y/z"));
  EXPECT_TRUE(stdfs::is_directory(root_ / "x/y/z"));
  EXPECT_FALSE(MakeDirsBeneath(root.get(), "link/evil"));
  EXPECT_FALSE(stdfs::exists("/tmp/evil"));
  EXPECT_FALSE(MakeDirsBeneath(root.get(), "x/../../evil"));
}

TEST_F(FsTest, PreadFullReadsToTheEndAndPreadExactSaysShort) {
  Write("f", std::string(100000, 'q'));
  Fd fd(::open((root_ / "f").c_str(), O_RDONLY | O_CLOEXEC));
  Bytes buf(150000);
  auto n = PreadFull(fd.get(), buf, 0, "f");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 100000u);
  auto at = PreadFull(fd.get(), buf, 99990, "f");
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, 10u);
  auto exact = PreadExact(fd.get(), buf, 0, "f");
  ASSERT_FALSE(exact);
  EXPECT_NE(exact.error().message.find("f: shorter than expected"),
            std::string::npos);
  EXPECT_FALSE(PreadFull(-1, buf, 0, "closed"));
}

TEST_F(FsTest, ApplyMetadataSetsEachPartAndReportsEveryFailure) {
  Write("f", "data");
  Fd fd(::open((root_ / "f").c_str(), O_RDWR | O_CLOEXEC));
  Xattrs x = {{"user.note", "kept"}};
  Metadata m;
  m.mode = 0444;  // read-only: the xattr must still be set (it goes first)
  m.mtime = model::Timespec{1000000000, 5};
  m.atime = model::Timespec{1000000001, 7};
  m.xattrs = &x;
  bool xattrs = ::fsetxattr(fd.get(), "user.probe", "1", 1, 0) == 0;
  auto errors = ApplyMetadata(Target::Open(fd.get()), m, {}, "/f");
  EXPECT_TRUE(errors.empty()) << errors.front().message;
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 5);
  EXPECT_EQ(st.st_atim.tv_sec, 1000000001);
  if (xattrs) {
    auto got = ReadXattrs(-1, (root_ / "f").string());
    ASSERT_TRUE(got);
    EXPECT_NE(
        std::find(got->begin(), got->end(),
                  std::pair<std::string, std::string>("user.note", "kept")),
        got->end());
  }
  // A symlink's times, by name; its mode is not touched.
  stdfs::create_symlink("f", root_ / "l");
  Fd dir = OpenRoot();
  Metadata lm;
  lm.mode = 0600;
  lm.symlink = true;
  lm.mtime = model::Timespec{2000000000, 0};
  EXPECT_TRUE(ApplyMetadata(Target::At(dir.get(), "l"), lm, {}, "/l").empty());
  ASSERT_EQ(::lstat((root_ / "l").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000000000);
  // Every failure, each naming the file and the step.
  Metadata bad;
  bad.mode = 0644;
  bad.mtime = model::Timespec{1, 0};
  auto failed =
      ApplyMetadata(Target::At(dir.get(), "missing"), bad, {}, "/missing");
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_NE(failed[0].message.find("/missing: setting mode"),
            std::string::npos);
  EXPECT_NE(failed[1].message.find("/missing: setting times"),
            std::string::npos);
}

TEST_F(FsTest, NodeFromStatKeepsWhatTheSnapshotNeeds) {
  Write("f", std::string(10, 'x'));
  struct stat st {};
  ASSERT_EQ(::lstat((root_ / "f").c_str(), &st), 0);
  model::Node n = NodeFromStat("f", st);
  EXPECT_EQ(n.type, model::NodeType::kFile);
  EXPECT_EQ(n.size, 10u);
  EXPECT_EQ(n.inode, st.st_ino);
  EXPECT_EQ(n.mode, st.st_mode & 07777);
  EXPECT_EQ(n.mtime, FromTimespec(st.st_mtim));
  EXPECT_EQ(TypeOf(S_IFSOCK), model::NodeType::kSocket);
  EXPECT_FALSE(TypeOf(0));
}

// A visitor that records the walk: values are the paths below each entry.
struct Collect {
  struct Dir {
    std::string path;
  };
  using Value = std::vector<std::string>;

  bool Cancelled() const { return false; }
  bool Skip(const Dir&, const std::string&, const std::string& name) {
    return name == "skipped";
  }
  std::optional<Value> Visit(const Dir&, int, const Entry& e) {
    return Value{e.path};
  }
  std::optional<Dir> Enter(const Dir&, const Entry& e) { return Dir{e.path}; }
  std::optional<Value> Opened(Dir&, int, const Entry&) { return std::nullopt; }
  void Listed(Dir&, const Entry&, const std::vector<std::string>&) {}
  Result<std::optional<Value>> Leave(Dir& d, const Entry&,
                                     std::vector<Value> children) {
    Value all{d.path + "/"};
    for (auto& c : children) all.insert(all.end(), c.begin(), c.end());
    return all;
  }
  void Abandon(Dir& d, const Entry&) {
    std::lock_guard lock(mu);
    abandoned.insert(d.path);
  }
  void Unread(const std::string& path, const Error&, bool vanished) {
    std::lock_guard lock(mu);
    (vanished ? gone : unread).insert(path);
  }
  std::mutex mu;
  std::set<std::string> unread, gone, abandoned;
};

TEST_F(FsTest, WalkVisitsEachEntryOnceAndBuildsBottomUpInNameOrder) {
  for (int d = 0; d < 5; ++d)
    for (int f = 0; f < 20; ++f)
      Write("d" + std::to_string(d) + "/s/f" + std::to_string(f), "x");
  Write("skipped/f", "x");
  Write("top", "x");
  testing::RecordingFileSystem rec;
  Collect c;
  Walk<Collect> walk(c, {4, 3}, rec);
  Fd root = OpenRoot();
  Collect::Dir d{""};
  Entry self{"", "", {}};
  auto r = walk.Contents(d, root.get(), self);
  ASSERT_TRUE(r);
  ASSERT_TRUE(*r);
  const auto& v = **r;
  EXPECT_EQ(v.size(), 1u + 5 * (2 + 20) + 1);
  EXPECT_EQ(v[0], "/");
  EXPECT_EQ(v[1], "d0/");
  EXPECT_EQ(v[2], "d0/s/");
  EXPECT_EQ(v.back(), "top");
  EXPECT_TRUE(c.unread.empty());
  auto counts = rec.counts();
  EXPECT_EQ(counts.count("skipped"), 0u);  // not even stat'ed
  for (const auto& [path, n] : counts) {
    EXPECT_LE(n.stats, 1) << path;
    EXPECT_LE(n.lists, 1) << path;
    EXPECT_EQ(n.file_opens, 0) << path;  // the walk itself opens no file
  }
  EXPECT_EQ(rec.Total().stats, 5 * (2 + 20) + 1);
  EXPECT_EQ(rec.Total().lists, 1 + 5 * 2);
}

TEST_F(FsTest, WalkOfADeepTreeWithFewWalkersEnds) {
  std::string rel;
  for (int i = 0; i < 300; ++i) rel += "d/";
  Write(rel + "f", "x");
  Collect c;
  Walk<Collect> walk(c, {1, 2});
  Fd root = OpenRoot();
  Collect::Dir d{""};
  auto r = walk.Contents(d, root.get(), Entry{"", "", {}});
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->size(), 302u);
}

// A file system that fails where a test says.
class FailingFileSystem : public FileSystem {
 public:
  std::map<std::string, int> stat_errors, open_errors, list_errors;
  int StatAt(int dirfd, const std::string& name, const std::string& path,
             struct stat* st) override {
    auto it = stat_errors.find(path);
    if (it != stat_errors.end()) return it->second;
    return FileSystem::StatAt(dirfd, name, path, st);
  }
  int OpenDirAt(int dirfd, const std::string& name,
                const std::string& path) override {
    auto it = open_errors.find(path);
    if (it != open_errors.end()) return -it->second;
    return FileSystem::OpenDirAt(dirfd, name, path);
  }
  Result<std::vector<std::string>> ListDir(int fd,
                                           const std::string& path) override {
    auto it = list_errors.find(path);
    if (it != list_errors.end()) return PosixError(path, it->second);
    return FileSystem::ListDir(fd, path);
  }
};

TEST_F(FsTest, WalkReportsWhatItCouldNotReadAndWhatVanished) {
  for (const char* p : {"ok/f", "gone/f", "noopen/f", "nolist/f", "x/vanished",
                        "x/badstat", "x/fine"})
    Write(p, "x");
  FailingFileSystem f;
  f.stat_errors = {{"x/vanished", ENOENT}, {"x/badstat", EIO}};
  f.open_errors = {{"gone", ENOENT}, {"noopen", EACCES}};
  f.list_errors = {{"nolist", EIO}};
  Collect c;
  Walk<Collect> walk(c, {2, 2}, f);
  Fd root = OpenRoot();
  Collect::Dir d{""};
  auto r = walk.Contents(d, root.get(), Entry{"", "", {}});
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(c.gone, (std::set<std::string>{"gone", "x/vanished"}));
  EXPECT_EQ(c.unread, (std::set<std::string>{"noopen", "nolist", "x/badstat"}));
  EXPECT_EQ(c.abandoned, (std::set<std::string>{"gone", "noopen", "nolist"}));
  std::set<std::string> seen((*r)->begin(), (*r)->end());
  EXPECT_TRUE(seen.count("ok/f"));
  EXPECT_TRUE(seen.count("x/fine"));
  EXPECT_FALSE(seen.count("nolist/f"));
  // The walk's own start failing to list is the caller's to decide.
  f.list_errors[""] = EIO;
  EXPECT_FALSE(walk.Contents(d, root.get(), Entry{"", "", {}}));
}

}  // namespace
}  // namespace efs2s3::fs
