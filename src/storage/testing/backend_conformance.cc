#include "storage/testing/backend_conformance.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "base/file_util.h"

namespace efs2s3::storage {

void BackendConformanceTest::SetUp() {
  backend_ = GetParam().create();
  if (!backend_) GTEST_SKIP() << GetParam().name << " is not configured";
}

namespace {

std::string RandomName() { return HexEncode(RandomBytes(32)); }

TEST_P(BackendConformanceTest, LoadMissingIsNotFound) {
  // Given an empty repository, then every read of a missing object is
  // kNotFound.
  Handle h{ObjectType::kPack, RandomName()};
  auto r = backend_->Load(h);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound) << r.error().message;
  auto s = backend_->Stat(h);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  auto rm = backend_->Remove({ObjectType::kSnapshot, RandomName()});
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().code, ErrorCode::kNotFound);
}

TEST_P(BackendConformanceTest, SaveThenLoadWholeAndRanges) {
  Bytes data = RandomBytes(100000);
  Handle h{ObjectType::kPack, RandomName()};
  ASSERT_TRUE(backend_->Save(h, data, {}));
  auto all = backend_->Load(h);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(*all, data);
  auto part = backend_->Load(h, 1000, 5000);
  ASSERT_TRUE(part);
  EXPECT_EQ(*part, Bytes(data.begin() + 1000, data.begin() + 6000));
  auto tail = backend_->Load(h, 99990, 0);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->size(), 10u);
  auto st = backend_->Stat(h);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, data.size());
}

// A Source that fails after `good` bytes, like a temporary file that cannot
// be read back.
class FailingSource final : public Source {
 public:
  FailingSource(std::uint64_t size, std::uint64_t good)
      : size_(size), good_(good) {}
  std::uint64_t size() const override { return size_; }
  Result<void> ReadAt(std::uint64_t offset,
                      std::span<std::uint8_t> out) const override {
    if (offset + out.size() > good_)
      return MakeError(ErrorCode::kIo, "test source: read error");
    std::fill(out.begin(), out.end(), 0x5a);
    return Ok();
  }

 private:
  std::uint64_t size_, good_;
};

TEST_P(BackendConformanceTest, SaveFromFileStreamsItsBytes) {
  // Given 3 MiB + 17 bytes at offset 5 of an unnamed temporary file, when
  // saved from it, then the object holds exactly those bytes.
  Bytes data = RandomBytes((3 << 20) + 17);
  auto fd = OpenTempFile("/tmp");
  ASSERT_TRUE(fd) << fd.error().message;
  Bytes file = RandomBytes(5);
  file.insert(file.end(), data.begin(), data.end());
  file.push_back(0xff);
  ASSERT_EQ(::pwrite(*fd, file.data(), file.size(), 0),
            static_cast<ssize_t>(file.size()));
  Handle h{ObjectType::kPack, RandomName()};
  auto saved = backend_->SaveFrom(h, FileSource(*fd, 5, data.size(), "tmp"),
                                  {.create_only = true});
  ::close(*fd);
  ASSERT_TRUE(saved) << saved.error().message;
  auto all = backend_->Load(h);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(*all, data);
}

TEST_P(BackendConformanceTest, SaveFromUnreadableSourceStoresNothing) {
  Handle h{ObjectType::kPack, RandomName()};
  auto saved = backend_->SaveFrom(h, FailingSource(2 << 20, 1 << 20), {});
  ASSERT_FALSE(saved);
  auto st = backend_->Stat(h);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
}

TEST_P(BackendConformanceTest, EmptyObject) {
  Handle h{ObjectType::kLock, RandomName()};
  ASSERT_TRUE(backend_->Save(h, {}, {}));
  auto r = backend_->Load(h);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

TEST_P(BackendConformanceTest, RangePastEndIsPermanentError) {
  Handle h{ObjectType::kIndex, RandomName()};
  ASSERT_TRUE(backend_->Save(h, RandomBytes(100), {}));
  auto r = backend_->Load(h, 50, 100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << r.error().message;
}

TEST_P(BackendConformanceTest, CreateOnlyNeverReplaces) {
  Handle h{ObjectType::kSnapshot, RandomName()};
  Bytes first = ToBytes("first");
  ASSERT_TRUE(backend_->Save(h, first, {.create_only = true}));
  auto again = backend_->Save(h, ToBytes("second"), {.create_only = true});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists)
      << again.error().message;
  EXPECT_EQ(*backend_->Load(h), first);
  // A plain save replaces.
  ASSERT_TRUE(backend_->Save(h, ToBytes("third"), {}));
  EXPECT_EQ(*backend_->Load(h), ToBytes("third"));
}

TEST_P(BackendConformanceTest, ConfigObject) {
  Handle h{ObjectType::kConfig, "config"};
  EXPECT_EQ(backend_->Stat(h).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(backend_->Save(h, ToBytes("cfg"), {.create_only = true}));
  int seen = 0;
  ASSERT_TRUE(backend_->List(ObjectType::kConfig,
                             [&](const ObjectInfo&) -> Result<void> {
                               ++seen;
                               return Ok();
                             }));
  EXPECT_EQ(seen, 1);
}

TEST_P(BackendConformanceTest, ListReturnsEachObjectOnceByType) {
  std::set<std::string> packs, snaps;
  // The config beside the packs is no pack (a local directory's listing of
  // "data/.." once found it).
  ASSERT_TRUE(
      backend_->Save({ObjectType::kConfig, "config"}, RandomBytes(7), {}));
  for (int i = 0; i < 25; ++i) {
    std::string n = RandomName();
    ASSERT_TRUE(
        backend_->Save({ObjectType::kPack, n}, RandomBytes(10 + i), {}));
    packs.insert(n);
  }
  for (int i = 0; i < 3; ++i) {
    std::string n = RandomName();
    ASSERT_TRUE(backend_->Save({ObjectType::kSnapshot, n}, RandomBytes(5), {}));
    snaps.insert(n);
  }
  std::multiset<std::string> listed;
  ASSERT_TRUE(backend_->List(ObjectType::kPack,
                             [&](const ObjectInfo& info) -> Result<void> {
                               listed.insert(info.name);
                               return Ok();
                             }));
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), packs);
  EXPECT_EQ(listed.size(), packs.size());
  std::set<std::string> listed_snaps;
  ASSERT_TRUE(backend_->List(ObjectType::kSnapshot,
                             [&](const ObjectInfo& info) -> Result<void> {
                               listed_snaps.insert(info.name);
                               EXPECT_EQ(info.size, 5u);
                               return Ok();
                             }));
  EXPECT_EQ(listed_snaps, snaps);
}

TEST_P(BackendConformanceTest, ListStopsOnCallbackError) {
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(
        backend_->Save({ObjectType::kIndex, RandomName()}, RandomBytes(5), {}));
  int calls = 0;
  auto r = backend_->List(ObjectType::kIndex,
                          [&](const ObjectInfo&) -> Result<void> {
                            ++calls;
                            return MakeError(ErrorCode::kCancelled, "stop");
                          });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

TEST_P(BackendConformanceTest, RemoveThenStatIsNotFound) {
  Handle h{ObjectType::kKey, RandomName()};
  ASSERT_TRUE(backend_->Save(h, RandomBytes(64), {}));
  ASSERT_TRUE(backend_->Remove(h));
  EXPECT_EQ(backend_->Stat(h).error().code, ErrorCode::kNotFound);
}

TEST_P(BackendConformanceTest, ConcurrentSaves) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::vector<std::string> names(32);
  for (auto& n : names) n = RandomName();
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 32; i += 8) {
        Bytes d = ToBytes(names[static_cast<size_t>(i)]);
        if (!backend_->Save({ObjectType::kPack, names[static_cast<size_t>(i)]},
                            d, {}))
          ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (const auto& n : names)
    EXPECT_EQ(*backend_->Load({ObjectType::kPack, n}), ToBytes(n));
}

TEST_P(BackendConformanceTest, ConcurrentCreateOnlyHasOneWinner) {
  Handle h{ObjectType::kLock, RandomName()};
  std::atomic<int> wins{0}, exists{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      auto r =
          backend_->Save(h, ToBytes(std::to_string(t)), {.create_only = true});
      if (r)
        ++wins;
      else if (r.error().code == ErrorCode::kAlreadyExists)
        ++exists;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(exists.load(), 5);
}

}  // namespace
}  // namespace efs2s3::storage
