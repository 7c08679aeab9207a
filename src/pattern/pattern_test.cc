#include "pattern/pattern.h"

#include <gtest/gtest.h>

#include "base/file_util.h"

namespace efs2s3::pattern {
namespace {

TEST(PatternTest, ComponentPatternsMatchAtAnyDepthPathPatternsTheWholePath) {
  EXPECT_TRUE(Matches("*.tmp", "/a/b/c.tmp"));
  EXPECT_TRUE(Matches("node_modules", "/srv/app/node_modules"));
  EXPECT_FALSE(Matches("node_modules", "/srv/app/node_modules2"));
  EXPECT_TRUE(Matches("/home/*/cache", "/home/ann/cache"));
  EXPECT_FALSE(Matches("/home/*/cache", "/srv/home/ann/cache"));
  EXPECT_FALSE(Matches("", "/a"));
  EXPECT_TRUE(IsExcluded({"", "*.o"}, "/x/y.o"));
  EXPECT_FALSE(IsExcluded({}, "/x/y.o"));
}

TEST(PatternTest, FileSkipsCommentsBlankLinesAndCarriageReturns) {
  char tmpl[] = "/tmp/efs2s3-pattern-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_TRUE(
      WriteFileAtomic(tmpl, AsBytes("# c\n*.tmp\r\n\n/a/b\nlast"), false));
  auto p = ReadPatternFile(tmpl);
  ::unlink(tmpl);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, (std::vector<std::string>{"*.tmp", "/a/b", "last"}));
  EXPECT_FALSE(ReadPatternFile("/nonexistent/patterns"));
}

}  // namespace
}  // namespace efs2s3::pattern
