// In-process backup -> restore round trip, so the sanitizer builds exercise the
// parallel pipeline (walkers, readers, read-ahead, uploads, pack-grouped
// restore).
#include "archiver/archiver.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "archiver/stream.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/io.h"
#include "fs/testing/recording_fs.h"
#include "model/node.h"
#include "repo/repository.h"
#include "restorer/restorer.h"
#include "storage/local/local_backend.h"

namespace efs2s3::archiver {
namespace {

namespace fs = std::filesystem;

std::string TempDir() {
  char tmpl[] = "/tmp/efs2s3-archtest-XXXXXX";
  EFS2S3_CHECK(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}

void WriteRandom(const fs::path& p, size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string data(n, '\0');
  for (auto& c : data) c = static_cast<char>(rng() % 7);  // compressible
  std::ofstream(p, std::ios::binary) << data;
}

std::string Slurp(const fs::path& p) {
  auto b = ReadFile(p.string());
  EFS2S3_CHECK(b.has_value());
  return std::string(AsString(*b));
}

// A repository in dir/repo with small chunks and packs, so that a test tree
// makes many of both.
Result<std::unique_ptr<repo::Repository>> NewRepo(const std::string& dir,
                                                  std::uint32_t pack_size) {
  repo::InitOptions init;
  init.kdf = {1024, 8, 1};
  init.chunker = {16 << 10, 64 << 10, 256 << 10};
  init.pack_size = pack_size;
  return repo::Repository::Init(storage::NewLocalBackend(dir + "/repo"), "pw",
                                init, {dir + "/cache"});
}

TEST(ArchiverTest, ParallelBackupAndRestoreRoundTrip) {
  // Given a tree of many small files in nested directories and one large file,
  // when it is backed up twice and restored, then the contents are identical
  // and the second backup reads nothing.
  std::string dir = TempDir();
  fs::path src = fs::path(dir) / "src";
  for (int d = 0; d < 12; ++d) {
    fs::path sub = src / ("d" + std::to_string(d)) / "inner";
    fs::create_directories(sub);
    for (int f = 0; f < 20; ++f)
      WriteRandom(sub / ("f" + std::to_string(f)),
                  100 + static_cast<size_t>(f * 997),
                  static_cast<std::uint32_t>(d * 100 + f));
  }
  WriteRandom(src / "large", 3 << 20, 7);  // read ahead: >= 4 maximum chunks
  auto repo = NewRepo(dir, 256 << 10);
  ASSERT_TRUE(repo) << repo.error().message;
  BackupOptions opts;
  opts.paths = {src.string()};
  opts.readers = 8;
  opts.walkers = 4;
  opts.uploads = 3;
  auto first = RunBackup(**repo, opts);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->snapshot.summary.files_new, 241u);
  opts.parent = first->snapshot_id;
  auto second = RunBackup(**repo, opts);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->snapshot.summary.bytes_read, 0u);
  EXPECT_EQ(second->snapshot.summary.files_unchanged, 241u);

  restorer::RestoreOptions ropts;
  ropts.target = dir + "/out";
  ropts.subpath = src.string();
  ropts.workers = 6;
  ropts.verify = true;
  auto restored = restorer::RunRestore(**repo, second->snapshot, ropts);
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(restored->errors, 0u);
  EXPECT_EQ(restored->verified, 241u);
  size_t compared = 0;
  for (const auto& e : fs::recursive_directory_iterator(src)) {
    if (!e.is_regular_file()) continue;
    fs::path rel = fs::relative(e.path(), src);
    EXPECT_EQ(Slurp(e.path()), Slurp(fs::path(ropts.target) / rel)) << rel;
    ++compared;
  }
  EXPECT_EQ(compared, 241u);
  fs::remove_all(dir);
}

TEST(ArchiverTest, AnUnchangedFileCostsOneStatAndNoOpen) {
  // Given a backed-up tree where one file then changes, when it is backed up
  // again with the first snapshot as parent, then every entry is stat'ed once,
  // every directory listed once, and only the changed file is opened.
  std::string dir = TempDir();
  fs::path src = fs::path(dir) / "src";
  for (int d = 0; d < 4; ++d) {
    fs::create_directories(src / ("d" + std::to_string(d)));
    for (int f = 0; f < 10; ++f)
      WriteRandom(src / ("d" + std::to_string(d)) / ("f" + std::to_string(f)),
                  1000, static_cast<std::uint32_t>(d * 10 + f));
  }
  auto repo = NewRepo(dir, 256 << 10);
  ASSERT_TRUE(repo) << repo.error().message;
  efs2s3::fs::testing::RecordingFileSystem rec;
  BackupOptions opts;
  opts.paths = {src.string()};
  opts.files = &rec;
  auto first = RunBackup(**repo, opts);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(rec.Total().file_opens, 40);
  WriteRandom(src / "d2" / "f3", 1001, 99);
  rec.Clear();
  opts.parent = first->snapshot_id;
  auto second = RunBackup(**repo, opts);
  ASSERT_TRUE(second) << second.error().message;
  auto counts = rec.counts();
  std::string changed = (src / "d2" / "f3").string();
  for (const auto& [path, c] : counts) {
    EXPECT_LE(c.stats, 1) << path;
    EXPECT_LE(c.lists, 1) << path;
    EXPECT_EQ(c.file_opens, path == changed ? 1 : 0) << path;
  }
  // + the backup path and each directory above it
  const std::string sp = src.string();
  const int above = static_cast<int>(std::count(sp.begin(), sp.end(), '/'));
  EXPECT_EQ(rec.Total().stats, 4 + 40 + above);
  EXPECT_EQ(rec.Total().lists, 1 + 4);
  EXPECT_EQ(second->snapshot.summary.files_unchanged, 39u);
  EXPECT_EQ(second->snapshot.summary.files_changed, 1u);
  fs::remove_all(dir);
}

// A file system on which files named "bad" cannot be opened.
class BadFileSystem : public efs2s3::fs::FileSystem {
 public:
  int OpenFileAt(int dirfd, const std::string& name,
                 const std::string& path) override {
    if (name == "bad") return -EIO;
    return FileSystem::OpenFileAt(dirfd, name, path);
  }
};

TEST(ArchiverTest, AnErrorTheCallerRefusesStopsTheBackup) {
  // Given a tree with an unreadable file, when the error callback accepts it,
  // then the backup completes with one error; when the callback refuses it,
  // then the backup fails with the callback's error and saves no snapshot.
  std::string dir = TempDir();
  fs::path src = fs::path(dir) / "src";
  fs::create_directories(src / "a");
  WriteRandom(src / "a" / "bad", 100, 1);
  for (int f = 0; f < 20; ++f)
    WriteRandom(src / ("f" + std::to_string(f)), 1000,
                static_cast<std::uint32_t>(f));
  auto repo = NewRepo(dir, 256 << 10);
  ASSERT_TRUE(repo) << repo.error().message;
  BadFileSystem files;
  BackupOptions opts;
  opts.paths = {src.string()};
  opts.files = &files;
  std::atomic<int> calls{0};
  opts.on_error = [&](const std::string&, const Error&) -> Result<void> {
    ++calls;
    return Ok();
  };
  auto accepted = RunBackup(**repo, opts);
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(accepted->snapshot.summary.errors, 1u);
  EXPECT_EQ(calls.load(), 1);
  opts.on_error = [&](const std::string& path, const Error&) -> Result<void> {
    return MakeError(ErrorCode::kIo, "refused: " + path);
  };
  auto refused = RunBackup(**repo, opts);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "refused: " + (src / "a" / "bad").string());
  auto snaps = (*repo)->ListSnapshots();
  ASSERT_TRUE(snaps);
  EXPECT_EQ(snaps->size(), 1u);

  // The same for a restore: a directory in the target where the snapshot has
  // the file f3 cannot be replaced.
  restorer::RestoreOptions ropts;
  ropts.target = dir + "/out";
  ropts.subpath = src.string();
  fs::create_directories(fs::path(ropts.target) / "f3" / "keep");
  calls = 0;
  ropts.on_error = [&](const std::string&, const Error&) -> Result<void> {
    ++calls;
    return Ok();
  };
  auto restored = restorer::RunRestore(**repo, accepted->snapshot, ropts);
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(restored->errors, 1u);
  EXPECT_EQ(calls.load(), 1);
  ropts.on_error = [&](const std::string& path, const Error&) -> Result<void> {
    return MakeError(ErrorCode::kIo, "refused: " + path);
  };
  auto stopped = restorer::RunRestore(**repo, accepted->snapshot, ropts);
  ASSERT_FALSE(stopped);
  EXPECT_NE(stopped.error().message.find("refused: "), std::string::npos);
  EXPECT_NE(stopped.error().message.find("f3"), std::string::npos);
  fs::remove_all(dir);
}

// The blobs of a repository whose destination fails: after `good` blobs (or
// at once for trees, with fail_trees), every save returns the same error, as a
// repository does once one of its pack uploads failed.
class FailingBlobSaver : public repo::BlobSaver {
 public:
  FailingBlobSaver(repo::BlobSaver& real, int good, bool fail_trees)
      : real_(real), good_(good), fail_trees_(fail_trees) {}
  const codec::Chunker& chunker() const override { return real_.chunker(); }
  Id BlobId(ByteSpan plaintext) const override {
    return real_.BlobId(plaintext);
  }
  Result<repo::SaveBlobResult> SaveBlob(repo::BlobType type,
                                        ByteSpan plaintext) override {
    ++saves;
    if (good_.fetch_sub(1) <= 0) return Failure();
    return real_.SaveBlob(type, plaintext);
  }
  bool HasBlob(const Id& id) override { return real_.HasBlob(id); }
  Result<Id> SaveTree(const model::Tree& tree) override {
    if (fail_trees_) return Failure();
    return real_.SaveTree(tree);
  }
  void SetUploadConcurrency(int n) override { real_.SetUploadConcurrency(n); }
  int PreferredUploadConcurrency() const override {
    return real_.PreferredUploadConcurrency();
  }
  Result<void> Checkpoint() override { return Failure(); }
  Result<void> Flush() override { return Failure(); }
  static Error Failure() {
    return MakeError(ErrorCode::kIo,
                     "data/ab/pack.tmp-1: No space left on device");
  }
  std::atomic<int> saves{0};

 private:
  repo::BlobSaver& real_;
  std::atomic<int> good_;
  const bool fail_trees_;
};

TEST(ArchiverTest, AnErrorOfTheRepositoryStopsTheBackupOnceAndIsNoFilesError) {
  // Given a tree of 60 files and a repository that fails every save after its
  // third blob (a full disk, a failed upload), when it is backed up, then the
  // backup fails with the repository's error, and that error is handed to the
  // per-file error callback for no file: it is reported once, by the run. The
  // same when only saving a tree fails. An unreadable file is still a per-file
  // error before the repository fails.
  std::string dir = TempDir();
  fs::path src = fs::path(dir) / "src";
  for (int d = 0; d < 3; ++d) {
    fs::create_directories(src / ("d" + std::to_string(d)));
    for (int f = 0; f < 20; ++f)
      WriteRandom(src / ("d" + std::to_string(d)) / ("f" + std::to_string(f)),
                  3000, static_cast<std::uint32_t>(d * 20 + f));
  }
  auto repo = NewRepo(dir, 256 << 10);
  ASSERT_TRUE(repo) << repo.error().message;
  for (bool trees : {false, true}) {
    SCOPED_TRACE(trees ? "trees fail" : "blobs fail");
    FailingBlobSaver blobs(**repo, trees ? 1000000 : 3, trees);
    BackupOptions opts;
    opts.paths = {src.string()};
    opts.readers = 8;
    std::mutex mu;
    std::vector<std::string> reported;
    opts.on_error = [&](const std::string&, const Error& e) -> Result<void> {
      std::lock_guard lock(mu);
      reported.push_back(e.message);
      return Ok();
    };
    auto r = RunBackup({blobs, **repo, **repo}, opts);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, FailingBlobSaver::Failure().message);
    EXPECT_EQ(reported, std::vector<std::string>{});
    if (!trees) {
      EXPECT_GT(blobs.saves.load(), 3);  // it did fail
    }
  }
  auto snaps = (*repo)->ListSnapshots();
  ASSERT_TRUE(snaps);
  EXPECT_EQ(snaps->size(), 0u);

  // An unreadable file is still its own error, reported against it.
  WriteRandom(src / "bad", 100, 1);
  BadFileSystem files;
  BackupOptions opts;
  opts.paths = {src.string()};
  opts.files = &files;
  std::vector<std::string> paths;
  opts.on_error = [&](const std::string& path, const Error&) -> Result<void> {
    paths.push_back(path);
    return Ok();
  };
  auto ok = RunBackup(**repo, opts);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(paths, std::vector<std::string>{(src / "bad").string()});
  fs::remove_all(dir);
}

// A file system on which the file "moving" is rewritten in place (same size,
// new bytes, new mtime) the first time it is opened: after the walk's lstat,
// before its content is read.
class RewritingFileSystem : public efs2s3::fs::FileSystem {
 public:
  int OpenFileAt(int dirfd, const std::string& name,
                 const std::string& path) override {
    if (name == "moving" && !done_.exchange(true)) {
      std::ofstream(path, std::ios::binary | std::ios::in | std::ios::out)
          << std::string(4000, 'N');
      struct timespec t[2] = {{0, UTIME_OMIT}, {1700000000, 42}};
      ::utimensat(AT_FDCWD, path.c_str(), t, 0);
    }
    return FileSystem::OpenFileAt(dirfd, name, path);
  }

 private:
  std::atomic<bool> done_{false};
};

TEST(ArchiverTest, AFileThatChangesWhileReadIsReadAgainWithItsNewMetadata) {
  // Given a file rewritten between the walk's lstat and its read, when it is
  // backed up, then the snapshot holds the new content with the new mtime and
  // size (not the old metadata over new bytes), and no error.
  std::string dir = TempDir();
  fs::path src = fs::path(dir) / "src";
  fs::create_directories(src);
  std::ofstream(src / "moving", std::ios::binary) << std::string(4000, 'o');
  auto repo = NewRepo(dir, 256 << 10);
  ASSERT_TRUE(repo) << repo.error().message;
  RewritingFileSystem files;
  BackupOptions opts;
  opts.paths = {src.string()};
  opts.files = &files;
  auto r = RunBackup(**repo, opts);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->snapshot.summary.errors, 0u);
  restorer::RestoreOptions ropts;
  ropts.target = dir + "/out";
  ropts.subpath = src.string();
  auto restored = restorer::RunRestore(**repo, r->snapshot, ropts);
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(Slurp(fs::path(ropts.target) / "moving"), std::string(4000, 'N'));
  struct stat st {};
  ASSERT_EQ(::stat((fs::path(ropts.target) / "moving").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 42);
  fs::remove_all(dir);
}

// A file system on which every read of a file named "restless" ends with its
// metadata changed, as for a file written to during each read: the stat after
// each read alternates between the file's mtime plus 1 ns and its real one.
class RestlessFileSystem : public efs2s3::fs::testing::RecordingFileSystem {
 public:
  int StatOpen(int fd, const std::string& path, struct stat* st) override {
    int err = FileSystem::StatOpen(fd, path, st);
    if (err == 0 && fs::path(path).filename() == "restless" &&
        reads_.fetch_add(1) % 2 == 0)
      st->st_mtim.tv_nsec = (st->st_mtim.tv_nsec + 1) % 1000000000;
    return err;
  }
  int reads() const { return reads_.load(); }

 private:
  std::atomic<int> reads_{0};
};

TEST(ArchiverTest, AFileThatKeepsChangingIsFlaggedListedAndReadAgainNextTime) {
  // Given a file that changes during every read, when it is backed up, then it
  // is read 3 times, stored flagged "changed while read", counted, listed and
  // reported as an error; its neighbour and its directory are clean. When the
  // next backup (that file now still) takes that snapshot as its parent, then
  // the flagged file is read again although its size, mtime, ctime and inode
  // match its node, and stored clean; the clean neighbour is not opened.
  std::string dir = TempDir();
  fs::path src = fs::path(dir) / "src";
  fs::create_directories(src);
  WriteRandom(src / "restless", 4000, 1);
  WriteRandom(src / "calm", 4000, 2);
  auto repo = NewRepo(dir, 256 << 10);
  ASSERT_TRUE(repo) << repo.error().message;
  RestlessFileSystem restless;
  std::vector<std::string> reported;
  std::mutex mu;
  BackupOptions opts;
  opts.paths = {src.string()};
  opts.files = &restless;
  opts.on_error = [&](const std::string& path, const Error&) -> Result<void> {
    std::lock_guard lock(mu);
    reported.push_back(path);
    return Ok();
  };
  auto first = RunBackup(**repo, opts);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(restless.reads(), 3);
  const std::string restless_path = (src / "restless").string();
  EXPECT_EQ(reported, std::vector<std::string>{restless_path});
  const model::SnapshotSummary& m = first->snapshot.summary;
  EXPECT_EQ(m.errors, 1u);
  EXPECT_EQ(m.changed_while_read, 1u);
  EXPECT_EQ(m.incomplete, 0u);
  EXPECT_EQ(first->flagged_total, 1u);
  ASSERT_EQ(first->flagged.size(), 1u);
  EXPECT_EQ(first->flagged[0].path, restless_path);
  EXPECT_EQ(first->flagged[0].flags, model::kFlagChangedWhileRead);
  auto node = restorer::FindNode(**repo, first->snapshot.tree, restless_path);
  ASSERT_TRUE(node) << node.error().message;
  EXPECT_EQ(node->flags, model::kFlagChangedWhileRead);
  EXPECT_EQ(Slurp(src / "restless").size(), node->size);
  // The node's metadata is the file's: only the flag tells it apart.
  struct stat st {};
  ASSERT_EQ(::lstat(restless_path.c_str(), &st), 0);
  EXPECT_EQ(node->mtime.nsec, static_cast<std::uint32_t>(st.st_mtim.tv_nsec));
  EXPECT_EQ(node->ctime.nsec, static_cast<std::uint32_t>(st.st_ctim.tv_nsec));
  for (const std::string& clean : {(src / "calm").string(), src.string()}) {
    auto n = restorer::FindNode(**repo, first->snapshot.tree, clean);
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(n->flags, 0u) << clean;
  }

  // A restore names the flagged file and counts it.
  restorer::RestoreOptions ropts;
  ropts.target = dir + "/out";
  ropts.subpath = src.string();
  std::vector<std::string> warned;
  ropts.on_flagged = [&](const std::string& path, const model::Node& n) {
    warned.push_back(path + " " + model::FlagsString(n.flags));
  };
  auto restored = restorer::RunRestore(**repo, first->snapshot, ropts);
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(restored->flagged, 1u);
  EXPECT_EQ(restored->errors, 0u);
  EXPECT_EQ(warned,
            std::vector<std::string>{restless_path + " changed-while-read"});

  efs2s3::fs::testing::RecordingFileSystem rec;
  opts.files = &rec;
  opts.parent = first->snapshot_id;
  reported.clear();
  auto second = RunBackup(**repo, opts);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(reported.empty());
  auto counts = rec.counts();
  EXPECT_EQ(counts[restless_path].file_opens, 1);
  EXPECT_EQ(counts[(src / "calm").string()].file_opens, 0);
  EXPECT_EQ(second->snapshot.summary.files_unchanged, 1u);
  EXPECT_EQ(second->snapshot.summary.files_changed, 1u);
  EXPECT_EQ(second->snapshot.summary.changed_while_read, 0u);
  EXPECT_TRUE(second->flagged.empty());
  node = restorer::FindNode(**repo, second->snapshot.tree, restless_path);
  ASSERT_TRUE(node) << node.error().message;
  EXPECT_EQ(node->flags, 0u);
  fs::remove_all(dir);
}

// A file system on which directories named "locked" cannot be opened, files
// named "secret" cannot be opened, and entries named "gone" have vanished
// when stat'ed.
class HolesFileSystem : public efs2s3::fs::FileSystem {
 public:
  int StatAt(int dirfd, const std::string& name, const std::string& path,
             struct stat* st) override {
    if (name == "gone") return ENOENT;
    return FileSystem::StatAt(dirfd, name, path, st);
  }
  int OpenDirAt(int dirfd, const std::string& name,
                const std::string& path) override {
    if (name == "locked") return -EACCES;
    return FileSystem::OpenDirAt(dirfd, name, path);
  }
  int OpenFileAt(int dirfd, const std::string& name,
                 const std::string& path) override {
    if (name == "secret") return -EACCES;
    return FileSystem::OpenFileAt(dirfd, name, path);
  }
};

TEST(ArchiverTest, ADirectoryWithEntriesThatCouldNotBeReadIsFlaggedIncomplete) {
  // Given a tree where one directory holds a subdirectory that cannot be
  // opened, another a file that cannot be opened, and a third an entry that
  // vanishes, when it is backed up, then the first two directories are stored
  // flagged "incomplete" (and listed), the third and the backup path are
  // clean, and every problem is reported.
  std::string dir = TempDir();
  fs::path src = fs::path(dir) / "src";
  for (const char* d : {"a/locked", "b", "c"}) fs::create_directories(src / d);
  for (const char* f :
       {"a/locked/x", "a/ok", "b/secret", "b/ok", "c/gone", "c/ok"})
    WriteRandom(src / f, 100, 3);
  auto repo = NewRepo(dir, 256 << 10);
  ASSERT_TRUE(repo) << repo.error().message;
  HolesFileSystem holes;
  BackupOptions opts;
  opts.paths = {src.string()};
  opts.files = &holes;
  auto r = RunBackup(**repo, opts);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->snapshot.summary.errors, 3u);
  EXPECT_EQ(r->snapshot.summary.incomplete, 2u);
  EXPECT_EQ(r->snapshot.summary.changed_while_read, 0u);
  std::vector<std::string> listed;
  for (const FlaggedPath& f : r->flagged) {
    EXPECT_EQ(f.flags, model::kFlagIncomplete) << f.path;
    listed.push_back(f.path);
  }
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, (std::vector<std::string>{(src / "a").string(),
                                              (src / "b").string()}));
  for (auto [sub, flags] :
       {std::pair{"a", model::kFlagIncomplete},
        std::pair{"b", model::kFlagIncomplete}, std::pair{"c", 0u},
        std::pair{"a/ok", 0u}, std::pair{"b/ok", 0u}}) {
    auto n = restorer::FindNode(**repo, r->snapshot.tree, (src / sub).string());
    ASSERT_TRUE(n) << sub << ": " << n.error().message;
    EXPECT_EQ(n->flags, flags) << sub;
  }
  auto top = restorer::FindNode(**repo, r->snapshot.tree, src.string());
  ASSERT_TRUE(top) << top.error().message;
  EXPECT_EQ(top->flags, 0u);
  fs::remove_all(dir);
}

TEST(ArchiverTest, CheckpointsAreConsistentWhileTheWalkGoesOn) {
  // Given checkpoints every millisecond, when a tree is backed up, then each
  // checkpoint names only blobs that a second process would find in the
  // stored index, and only the final snapshot is left.
  std::string dir = TempDir();
  fs::path src = fs::path(dir) / "src";
  for (int d = 0; d < 30; ++d) {
    fs::path sub = src / ("d" + std::to_string(d));
    fs::create_directories(sub);
    for (int f = 0; f < 30; ++f)
      WriteRandom(sub / ("f" + std::to_string(f)),
                  200 + static_cast<size_t>(f * 1499),
                  static_cast<std::uint32_t>(d * 100 + f));
  }
  WriteRandom(src / "large", 2 << 20, 9);
  auto repo = NewRepo(dir, 128 << 10);
  ASSERT_TRUE(repo) << repo.error().message;
  BackupOptions opts;
  opts.paths = {src.string()};
  opts.readers = 4;
  opts.walkers = 2;
  opts.uploads = 2;
  opts.checkpoint_interval = std::chrono::milliseconds(1);
  std::mutex mu;
  std::vector<std::string> problems;
  int checked = 0;
  opts.on_checkpoint = [&](const Id& id) {
    // A second process: sees only what is stored.
    auto other = repo::Repository::Open(storage::NewLocalBackend(dir + "/repo"),
                                        "pw", {dir + "/cache2"});
    std::lock_guard lock(mu);
    if (!other) {
      problems.push_back(other.error().message);
      return;
    }
    auto snap = (*other)->LoadSnapshot(id);
    if (!snap) {
      problems.push_back(snap.error().message);
      return;
    }
    std::vector<Id> trees{snap->tree};
    while (!trees.empty()) {
      Id t = trees.back();
      trees.pop_back();
      auto tree = (*other)->LoadTree(t);
      if (!tree) {
        problems.push_back("tree " + t.Hex() + ": " + tree.error().message);
        continue;
      }
      for (const model::Node& n : tree->nodes) {
        if (n.subtree) trees.push_back(*n.subtree);
        for (const Id& b : n.content)
          if (!(*other)->Lookup(b))
            problems.push_back(n.name + ": blob " + b.Hex() + " not indexed");
      }
    }
    ++checked;
  };
  auto r = RunBackup(**repo, opts);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GE(r->checkpoints, 1);
  EXPECT_EQ(checked, r->checkpoints);
  EXPECT_TRUE(problems.empty()) << problems.front();
  auto all = (*repo)->ListSnapshots();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);  // each checkpoint removed the one before
  EXPECT_EQ(all->front().first, r->snapshot_id);
  fs::remove_all(dir);
}

TEST(StreamBackupTest, StreamPathIsAbsoluteAndNamesAFile) {
  EXPECT_EQ(*StreamPath("db.sql"), "/db.sql");
  EXPECT_EQ(*StreamPath("//a/./b/"), "/a/b");
  EXPECT_EQ(*StreamPath("../x"), "/x");
  for (const char* bad : {"", "/", "..", "a/..", "."}) {
    auto p = StreamPath(bad);
    ASSERT_FALSE(p) << bad;
    EXPECT_EQ(p.error().code, ErrorCode::kUsage) << bad;
  }
}

// Writes `data` into a pipe on a thread of its own; returns the read end.
Fd PipeOf(std::string data, std::thread& writer) {
  int fds[2];
  EFS2S3_CHECK(::pipe(fds) == 0);
  writer = std::thread([w = fds[1], d = std::move(data)] {
    (void)WriteFull(w, AsBytes(d), "pipe");
    ::close(w);
  });
  return Fd(fds[0]);
}

TEST(StreamBackupTest, StreamRoundTripAndFailedSourceKeepsNoSnapshot) {
  // Given a stream of several chunks, when it is backed up as "/d/s", then the
  // snapshot holds it as one file; when its source fails after the end, no
  // snapshot is saved.
  std::string dir = TempDir();
  auto repo = NewRepo(dir, 256 << 10);
  ASSERT_TRUE(repo) << repo.error().message;
  std::mt19937 rng(3);
  std::string data(1 << 20, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  BackupOptions opts;
  std::thread writer;
  Fd rd = PipeOf(data, writer);
  int finished_calls = 0;
  StreamSource src{rd.get(), "d/s", "test stream", [&]() -> Result<void> {
                     ++finished_calls;
                     return Ok();
                   }};
  auto r = RunStreamBackup(**repo, opts, src);
  writer.join();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(finished_calls, 1);
  EXPECT_EQ(r->snapshot.paths, std::vector<std::string>{"/d/s"});
  EXPECT_EQ(r->snapshot.summary.bytes_total, data.size());
  auto root = (*repo)->LoadTree(r->snapshot.tree);
  ASSERT_TRUE(root);
  ASSERT_EQ(root->nodes.size(), 1u);
  EXPECT_EQ(root->nodes[0].name, "d");
  auto sub = (*repo)->LoadTree(*root->nodes[0].subtree);
  ASSERT_TRUE(sub);
  ASSERT_EQ(sub->nodes.size(), 1u);
  const model::Node& file = sub->nodes[0];
  EXPECT_EQ(file.size, data.size());
  EXPECT_GT(file.content.size(), 1u);
  std::string back;
  for (const Id& id : file.content) {
    auto b = (*repo)->LoadBlob(id);
    ASSERT_TRUE(b);
    back += AsString(*b);
  }
  EXPECT_EQ(back, data);

  Fd rd2 = PipeOf(data + "tail", writer);
  src.fd = rd2.get();
  src.finished = [] {
    return Result<void>(MakeError(ErrorCode::kInvalidArgument, "it failed"));
  };
  auto failed = RunStreamBackup(**repo, opts, src);
  writer.join();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "it failed");
  auto snaps = (*repo)->ListSnapshots();
  ASSERT_TRUE(snaps);
  EXPECT_EQ(snaps->size(), 1u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace efs2s3::archiver
