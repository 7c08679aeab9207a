// The version of a key current at a point in time (SelectVersionAt): the
// rule the point-in-time view of a repository rests on.
#include "aws/s3_versions.h"

#include <gtest/gtest.h>

#include <vector>

namespace efs2s3::aws {
namespace {

ObjectVersion V(const char* id, std::int64_t t) {
  ObjectVersion v;
  v.key = "repo/config";
  v.version_id = id;
  v.last_modified_ns = t;
  v.size = 100;
  return v;
}
ObjectVersion Marker(const char* id, std::int64_t t) {
  ObjectVersion v = V(id, t);
  v.delete_marker = true;
  v.size = 0;
  return v;
}
// The ID selected at `at`, or "-" when the object did not exist then.
std::string At(const std::vector<ObjectVersion>& entries, std::int64_t at) {
  const ObjectVersion* v = SelectVersionAt(entries, at);
  return v ? v->version_id : "-";
}

TEST(SelectVersionAtTest, TheNewestVersionAtOrBeforeTheTime) {
  // Newest first, as S3 lists them.
  std::vector<ObjectVersion> e = {V("c", 300), V("b", 200), V("a", 100)};
  EXPECT_EQ(At(e, 99), "-");   // nothing yet
  EXPECT_EQ(At(e, 100), "a");  // written exactly at the time: current
  EXPECT_EQ(At(e, 199), "a");
  EXPECT_EQ(At(e, 200), "b");
  EXPECT_EQ(At(e, 250), "b");  // the later version is ignored
  EXPECT_EQ(At(e, 1000), "c");
  EXPECT_EQ(At({}, 1000), "-");
}

TEST(SelectVersionAtTest, DeleteMarkers) {
  // Written, deleted, written again, deleted again (the attack).
  std::vector<ObjectVersion> e = {Marker("m2", 400), V("b", 300),
                                  Marker("m1", 200), V("a", 100)};
  EXPECT_EQ(At(e, 150), "a");
  EXPECT_EQ(At(e, 200), "-");  // deleted at the time
  EXPECT_EQ(At(e, 299), "-");
  EXPECT_EQ(At(e, 300), "b");
  EXPECT_EQ(At(e, 399), "b");  // the later delete marker is ignored
  EXPECT_EQ(At(e, 400), "-");
  // A delete marker before any version.
  EXPECT_EQ(At({V("a", 200), Marker("m", 100)}, 150), "-");
}

TEST(SelectVersionAtTest, EqualTimesAreDecidedByListingOrder) {
  // S3 lists newest first: of two entries of the same time the first listed
  // is the newer one.
  EXPECT_EQ(At({V("new", 100), V("old", 100)}, 100), "new");
  EXPECT_EQ(At({V("new", 100), V("old", 100)}, 200), "new");
  EXPECT_EQ(At({Marker("m", 100), V("a", 100)}, 100), "-");
  EXPECT_EQ(At({V("a", 100), Marker("m", 100)}, 100), "a");
  // The order decides only between equal times: a newer time wins wherever
  // it is listed (a server whose listing is not sorted by time).
  EXPECT_EQ(At({V("a", 100), V("b", 200)}, 300), "b");
  EXPECT_EQ(At({V("x", 200), V("a", 100), V("y", 200)}, 250), "x");
}

TEST(SelectVersionAtTest, NullVersionIdsAreVersionsLikeAnyOther) {
  // "null": written before versioning was enabled (or while suspended).
  std::vector<ObjectVersion> e = {V("v2", 300), V("null", 100)};
  EXPECT_EQ(At(e, 200), "null");
  EXPECT_EQ(At(e, 300), "v2");
  EXPECT_EQ(At({Marker("null", 200), V("v1", 100)}, 250), "-");
  EXPECT_EQ(At({Marker("null", 200), V("v1", 100)}, 150), "v1");
}

TEST(SelectVersionAtTest, ReturnsTheEntryItself) {
  std::vector<ObjectVersion> e = {V("b", 200), V("a", 100)};
  e[1].size = 42;
  e[1].storage_class = "GLACIER_IR";
  const ObjectVersion* v = SelectVersionAt(e, 150);
  ASSERT_EQ(v, &e[1]);
  EXPECT_EQ(v->size, 42u);
}

}  // namespace
}  // namespace efs2s3::aws
