#include "jobs/identity.h"

#include <gtest/gtest.h>

namespace efs2s3::jobs {
namespace {

Job EfsJob() {
  Job j;
  j.name = "nightly";
  EfsSource e;
  e.file_system_id = "fs-12345678";
  j.efs = e;
  return j;
}

TEST(IdentityTest, EfsJobIsTheFileSystemAtItsMountPoint) {
  Job j = EfsJob();
  EXPECT_EQ(BackupPaths(j), std::vector<std::string>{"/mnt/efs/fs-12345678"});
  EXPECT_EQ(SnapshotHost(j), "fs-12345678");
  j.host = "prod-share";
  j.efs->mount_point = "/srv/share";
  EXPECT_EQ(BackupPaths(j), std::vector<std::string>{"/srv/share"});
  EXPECT_EQ(SnapshotHost(j), "prod-share");
}

TEST(IdentityTest, PathsJobKeepsItsPathsAndTheHostname) {
  Job j;
  j.paths = {"/srv/a", "/srv/b"};
  EXPECT_EQ(BackupPaths(j), j.paths);
  EXPECT_EQ(SnapshotHost(j), "");
}

TEST(IdentityTest, ExcludeThatCanNeverMatchIsNamed) {
  Job j = EfsJob();
  j.excludes = {"*.tmp",                           // names: anywhere
                "/mnt/efs/fs-12345678/scratch/*",  // under the path
                "/mnt/efs/scratch/*",              // another mount point
                "/mnt/*/cache",                    // may match
                "*/cache/*",                       // may match
                "/mnt/efs/fs-123456789/x",         // a sibling, not below
                "scratch/*"};  // relative: never matches an absolute path
  const auto w = ExcludeWarnings(j, BackupPaths(j));
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0],
            "job nightly: exclude '/mnt/efs/scratch/*' can never match: the "
            "backup reads /mnt/efs/fs-12345678 (a pattern with '/' is "
            "matched against the whole path)");
  EXPECT_NE(w[1].find("'/mnt/efs/fs-123456789/x'"), std::string::npos);
  EXPECT_NE(w[2].find("'scratch/*'"), std::string::npos);
  // Any of several paths will do; "/" holds everything absolute.
  EXPECT_EQ(ExcludeWarnings(j, {"/other", "/mnt/efs"}).size(), 1u);
  EXPECT_EQ(ExcludeWarnings(j, {"/"}).size(), 1u);  // only the relative one
}

}  // namespace
}  // namespace efs2s3::jobs
