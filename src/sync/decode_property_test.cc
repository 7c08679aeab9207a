// Property tests of sync's decoders of what a mirror holds: the manifest
// object, the user metadata of synced objects (times, modes, MD5) and the
// escaping of names in keys. Valid encodings round-trip; every flip,
// truncation, seeded mutation and random input decodes to a value or an
// error, never to a crash, an escaped exception or an unbounded allocation
// (base/testing/mutate.h, base/testing/alloc_limit.cc).
#include <gtest/gtest.h>

#include "base/testing/mutate.h"
#include "sync/manifest.h"
#include "sync/names.h"

namespace efs2s3::sync {
namespace {

Attributes SampleAttributes() {
  Attributes a;
  a.mtime = {1700000000, 5};
  a.atime = Time{-2, 999999999};
  a.mode = 04755;
  a.uid = 1000;
  a.gid = 0;
  a.md5 = "9e107d9d372bb6826bd81d3542a419d6";
  return a;
}

TEST(DecodePropertyTest, AnyBytesDecodeToAManifestOrCorruption) {
  Manifest m;
  m["k"] = {12, "abc", SampleAttributes()};
  Attributes dir;
  dir.kind = Kind::kDir;
  m["d/"] = {0, "", dir};
  m["tab\there\nnl\\x"] = {7, "x-2", std::nullopt};
  std::vector<Bytes> valid = {EncodeManifest(m), EncodeManifest({})};
  ASSERT_EQ(EncodeManifest(*DecodeManifest(valid[0])), valid[0]);
  testing::ForEachVariant(valid, 601, [](const Bytes& b) {
    auto r = DecodeManifest(b);
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << r.error().message;
      return;
    }
    auto again = DecodeManifest(EncodeManifest(*r));
    ASSERT_TRUE(again);
    EXPECT_EQ(EncodeManifest(*again), EncodeManifest(*r));
  });
}

// Metadata as "name=value" lines, so that names and values are mutated alike.
std::string MetadataText(const Attributes& a) {
  std::string out;
  for (const auto& [k, v] : ToMetadata(a, true)) out += k + "=" + v + "\n";
  return out;
}

std::map<std::string, std::string> MetadataOf(const std::string& text) {
  std::map<std::string, std::string> meta;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = std::min(text.find('\n', pos), text.size());
    std::string line = text.substr(pos, end - pos);
    size_t eq = line.find('=');
    if (eq != std::string::npos) meta[line.substr(0, eq)] = line.substr(eq + 1);
    pos = end + 1;
  }
  return meta;
}

TEST(DecodePropertyTest, AnyMetadataGivesAttributesThatRoundTripOrNone) {
  Attributes link;
  link.kind = Kind::kSymlink;
  link.mtime = {0, 0};
  std::vector<std::string> valid = {MetadataText(SampleAttributes()),
                                    MetadataText(link),
                                    "mtime=2006-01-02T15:04:05.123456789Z\n"};
  auto a = FromMetadata(MetadataOf(valid[0]));
  ASSERT_TRUE(a);
  EXPECT_EQ(MetadataText(*a), valid[0]);
  testing::ForEachTextVariant(valid, 602, [](const std::string& text) {
    auto r = FromMetadata(MetadataOf(text));
    if (!r) return;
    EXPECT_LT(r->mtime.nsec, 1000000000u);
    if (r->mode) {
      EXPECT_EQ(*r->mode & ~07777u, 0u);
    }
    auto again = FromMetadata(MetadataOf(MetadataText(*r)));
    ASSERT_TRUE(again);
    EXPECT_EQ(MetadataText(*again), MetadataText(*r));
  });
}

TEST(DecodePropertyTest, TimesRoundTripOrAreRejected) {
  testing::ForEachTextVariant(
      {"1700000000.000000005", "-1.500000000", "0.000000000"}, 603,
      [](const std::string& text) {
        auto t = ParseRcloneTime(text);
        if (!t) return;
        EXPECT_LT(t->nsec, 1000000000u);
        EXPECT_EQ(ParseRcloneTime(FormatRcloneTime(*t)), t);
      });
  testing::ForEachTextVariant(
      {"2006-01-02T15:04:05.123456789Z", "1969-12-31T23:59:59Z"}, 604,
      [](const std::string& text) {
        auto t = ParseRfc3339(text);
        if (!t) return;
        EXPECT_LT(t->nsec, 1000000000u);
        EXPECT_EQ(ParseRfc3339(FormatRfc3339(*t)), t);
      });
  testing::ForEachTextVariant({"Tue, 02 Jan 2024 03:04:05 GMT"}, 605,
                              [](const std::string& text) {
                                auto t = ParseHttpDate(text);
                                if (t) {
                                  EXPECT_EQ(t->nsec, 0u);
                                }
                              });
}

TEST(DecodePropertyTest, NamesRoundTripThroughKeys) {
  // Any bytes escape to valid UTF-8 that unescapes to the same bytes; any key
  // (a foreign one too) unescapes without failing.
  testing::ForEachTextVariant(
      {"plain/name.txt", std::string("\xff\x01\r\xe2\x80\x9b\xe2\x82\xac", 9),
       "\xe2\x80\x9b"
       "FF"},
      606, [](const std::string& raw) {
        std::string key = EscapeName(raw);
        EXPECT_TRUE(IsValidUtf8(key));
        EXPECT_EQ(UnescapeKey(key), raw);
        (void)UnescapeKey(raw);
        (void)IsSafeRelativePath(raw);
      });
}

}  // namespace
}  // namespace efs2s3::sync
