#include "storage/counting_backend.h"

#include <gtest/gtest.h>

#include "storage/mem/mem_backend.h"
#include "storage/testing/backend_conformance.h"

namespace efs2s3::storage {
namespace {

std::atomic<std::uint64_t> g_conformance_count{0};

std::unique_ptr<Backend> FreshCounting() {
  return NewCountingBackend(NewMemBackend(), &g_conformance_count);
}

INSTANTIATE_TEST_SUITE_P(Counting, BackendConformanceTest,
                         ::testing::Values(BackendUnderTest{"counting",
                                                            FreshCounting}),
                         BackendName);

TEST(CountingBackendTest, CountsEachCallThatReachesTheStore) {
  std::atomic<std::uint64_t> n{0};
  auto b = NewCountingBackend(NewMemBackend(), &n);
  ASSERT_TRUE(b->Create());
  EXPECT_EQ(n.load(), 0u);
  const Handle h{ObjectType::kIndex, "ab"};
  const Bytes data = {1, 2, 3};
  ASSERT_TRUE(b->Save(h, data, {}));
  ASSERT_TRUE(b->Load(h, 0, 0));
  ASSERT_TRUE(b->Stat(h));
  int listed = 0;
  ASSERT_TRUE(b->List(ObjectType::kIndex, [&](const ObjectInfo&) {
    ++listed;
    return Ok();
  }));
  EXPECT_EQ(listed, 1);
  ASSERT_TRUE(b->Remove(h));
  EXPECT_FALSE(b->Load(h, 0, 0));  // a failed request is a request too
  EXPECT_EQ(n.load(), 6u);
  EXPECT_EQ(b->Location(), NewMemBackend()->Location());
}

}  // namespace
}  // namespace efs2s3::storage
