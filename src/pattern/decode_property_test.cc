// Property test of pattern files (--exclude-file, a job's exclude_file): any
// bytes read as patterns, one per line, and any pattern matches or not,
// never a crash or an escaped exception (base/testing/mutate.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/file_util.h"
#include "base/testing/mutate.h"
#include "pattern/pattern.h"

namespace efs2s3::pattern {
namespace {

TEST(DecodePropertyTest, AnyFileReadsAsPatternsThatMatchOrNot) {
  char tmpl[] = "/tmp/efs2s3-patterns-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const std::string path = tmpl;
  auto read = [&](const Bytes& b) {
    EFS2S3_CHECK(WriteFileAtomic(path, b, false, false).has_value());
    return ReadPatternFile(path);
  };
  const std::string valid =
      "# comment\n*.tmp\r\n\n/home/*/cache\nnode_modules\n[a-";
  auto patterns = read(ToBytes(valid));
  ASSERT_TRUE(patterns);
  EXPECT_EQ(*patterns, (std::vector<std::string>{"*.tmp", "/home/*/cache",
                                                 "node_modules", "[a-"}));
  testing::ForEachVariant({ToBytes(valid)}, 801, [&](const Bytes& b) {
    auto r = read(b);
    ASSERT_TRUE(r);
    for (const std::string& p : *r) {
      EXPECT_FALSE(p.empty());
      EXPECT_EQ(p.find('\n'), std::string::npos);
      EXPECT_NE(p[0], '#');
      (void)Matches(p, "/home/u/cache/x.tmp");
      (void)Matches("*", p);
    }
    (void)IsExcluded(*r, "/data/" + std::string(b.begin(), b.end()));
  });
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace efs2s3::pattern
