// In-process backup -> restore round trip, so the sanitizer builds exercise the
// parallel pipeline (walkers, readers, read-ahead, uploads, pack-grouped
// restore).
#include "archiver/archiver.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "base/file_util.h"
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
  repo::InitOptions init;
  init.kdf = {1024, 8, 1};
  init.chunker = {16 << 10, 64 << 10, 256 << 10};
  init.pack_size = 256 << 10;
  auto repo = repo::Repository::Init(storage::NewLocalBackend(dir + "/repo"),
                                     "pw", init, {dir + "/cache"});
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

}  // namespace
}  // namespace efs2s3::archiver
