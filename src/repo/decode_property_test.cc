// Property tests of the repository's decoders of stored bytes: index files,
// pack headers (ParsePackHeader, FindPackHeader), key files and the config.
// Valid encodings round-trip; every flip, truncation, seeded mutation and
// random input decodes to a value or to an error, never to a crash, an escaped
// exception or an unbounded allocation (base/testing/mutate.h,
// base/testing/alloc_limit.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/testing/mutate.h"
#include "repo/index.h"
#include "repo/keys.h"
#include "repo/pack.h"
#include "repo/repository.h"

namespace efs2s3::repo {
namespace {

Id IdOf(std::uint8_t a, std::uint8_t b = 0) {
  Id id;
  id.bytes[0] = a;
  id.bytes[31] = b;
  return id;
}

// Index files ---------------------------------------------------------------

Bytes SampleIndex(int packs, int per_pack, bool supersede) {
  IndexBuilder b;
  for (int p = 0; p < packs; ++p) {
    std::vector<PackEntry> entries(static_cast<size_t>(per_pack));
    for (int i = 0; i < per_pack; ++i) {
      PackEntry& e = entries[static_cast<size_t>(i)];
      e.id = IdOf(static_cast<std::uint8_t>(p * 16 + i), 1);
      e.type = i % 2 ? BlobType::kTree : BlobType::kData;
      e.compressed = i % 3 == 0;
      e.offset = static_cast<std::uint32_t>(i * 100);
      e.length = 100;
      e.raw_length = 80;
    }
    b.AddPack(IdOf(200, static_cast<std::uint8_t>(p)), entries);
  }
  if (supersede) b.Supersede(IdOf(7, 7));
  return b.Finish();
}

TEST(DecodePropertyTest, IndexFilesRoundTrip) {
  auto r = IndexRun::FromBytes(SampleIndex(2, 3, true));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ((*r)->size(), 6u);
  ASSERT_EQ((*r)->supersedes(), std::vector<Id>{IdOf(7, 7)});
  for (int p = 0; p < 2; ++p)
    for (int i = 0; i < 3; ++i) {
      auto loc = (*r)->Find(IdOf(static_cast<std::uint8_t>(p * 16 + i), 1));
      ASSERT_TRUE(loc);
      EXPECT_EQ(loc->pack, IdOf(200, static_cast<std::uint8_t>(p)));
      EXPECT_EQ(loc->offset, static_cast<std::uint32_t>(i * 100));
      EXPECT_EQ(loc->type, i % 2 ? BlobType::kTree : BlobType::kData);
      EXPECT_EQ(loc->compressed, i % 3 == 0);
      EXPECT_EQ(loc->raw_length, 80u);
    }
}

TEST(DecodePropertyTest, AnyBytesParseToAnIndexOrCorruption) {
  std::vector<Bytes> valid = {SampleIndex(2, 3, true), SampleIndex(1, 1, false),
                              SampleIndex(0, 0, false)};
  testing::ForEachVariant(valid, 401, [](const Bytes& b) {
    auto r = IndexRun::FromBytes(b);
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << r.error().message;
      return;
    }
    // Every entry of an index that parsed can be read and found again, and
    // names one of its packs.
    const IndexRun& run = **r;
    for (size_t k = 0; k < run.size(); ++k) {
      Id id;
      BlobLocation loc = run.At(k, &id);
      auto found = run.Find(id);
      ASSERT_TRUE(found);
      EXPECT_EQ(found->pack, loc.pack);
      bool known = false;
      for (size_t p = 0; p < run.pack_count() && !known; ++p)
        known = run.PackAt(p) == loc.pack;
      EXPECT_TRUE(known);
    }
  });
}

// Packs ----------------------------------------------------------------------

// A pack of blobs of 40, 41 and 42 bytes.
Bytes SamplePack(const crypto::Key& k, int blobs) {
  PackWriter w;
  for (int i = 0; i < blobs; ++i) {
    PackEntry e;
    e.id = IdOf(static_cast<std::uint8_t>(i));
    e.raw_length = 10;
    e.compressed = i == 1;
    EFS2S3_CHECK(w.Add(e, Bytes(40 + static_cast<size_t>(i), 7)).has_value());
  }
  auto finished = w.Finish(k);
  EFS2S3_CHECK(finished.has_value());
  return *ReadAll(**finished);
}

// The header entries must describe the blobs before the header exactly.
void ExpectEntriesFit(const std::vector<PackEntry>& entries,
                      std::uint64_t blobs_end) {
  std::uint64_t offset = 0;
  for (const PackEntry& e : entries) {
    EXPECT_EQ(e.offset, offset);
    offset += e.length;
  }
  EXPECT_EQ(offset, blobs_end);
}

TEST(DecodePropertyTest, PackHeadersRoundTrip) {
  crypto::Key k{};
  Bytes pack = SamplePack(k, 3);
  size_t needed = 0;
  auto entries = ParsePackHeader(k, pack, pack.size(), &needed);
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[1].id, IdOf(1));
  EXPECT_TRUE((*entries)[1].compressed);
  ExpectEntriesFit(*entries, 40 + 41 + 42);
  auto found = FindPackHeader(k, pack, 1 << 20);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->size(), 3u);
}

TEST(DecodePropertyTest, AnyPackTailParsesToAHeaderOrAnError) {
  crypto::Key k{};
  std::vector<Bytes> valid = {SamplePack(k, 3), SamplePack(k, 1)};
  std::uint64_t n = 0;
  testing::ForEachVariant(valid, 402, [&](const Bytes& b) {
    // The whole pack as the tail, or its last bytes of a pack of that size.
    ByteSpan tail = b;
    if (n++ % 2 && b.size() > 20) tail = tail.last(20);
    size_t needed = 0;
    auto r = ParsePackHeader(k, tail, b.size(), &needed);
    if (r) {
      std::uint32_t hlen = 0;
      std::memcpy(&hlen, b.data() + b.size() - 4, 4);
      ExpectEntriesFit(*r, b.size() - 4 - hlen);
      return;
    }
    if (r.error().code == ErrorCode::kNotFound) {
      // Asks for more of the tail, never for more than the pack.
      EXPECT_GT(needed, tail.size());
      EXPECT_LE(needed, b.size());
    } else {
      EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << r.error().message;
    }
  });
}

TEST(DecodePropertyTest, AnyPackIsSearchedForItsHeaderWithinTheBudget) {
  crypto::Key k{};
  std::vector<Bytes> valid = {SamplePack(k, 3), SamplePack(k, 2)};
  testing::ForEachVariant(valid, 403, [&](const Bytes& b) {
    auto r = FindPackHeader(k, b, 4096);
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
      return;
    }
    std::uint64_t end = 0;
    for (const PackEntry& e : *r) end += e.length;
    EXPECT_LE(end, b.size());
    ExpectEntriesFit(*r, end);
  });
}

// The decoding of header plaintexts behind the authentication: mutated
// plaintexts sealed with the right key, as a writer with a bug (or with the
// key) could store them.
TEST(DecodePropertyTest, AnyAuthenticatedHeaderParsesOrIsCorruption) {
  crypto::Key k{};
  Bytes plain = {'E', 'P', 'K', '1'};
  for (std::uint8_t i = 0; i < 3; ++i) {
    Bytes entry(42, 0);
    entry[0] = i % 2;
    entry[1] = i == 1;
    entry[2] = static_cast<std::uint8_t>(40 + i);  // length
    entry[6] = 10;                                 // raw length
    entry[10] = i;                                 // id
    plain.insert(plain.end(), entry.begin(), entry.end());
  }
  const Bytes blobs(40 + 41 + 42, 7);
  testing::ForEachVariant({plain}, 404, [&](const Bytes& header) {
    Bytes pack = blobs;
    Bytes sealed = crypto::Seal(k, header);
    pack.insert(pack.end(), sealed.begin(), sealed.end());
    auto len = static_cast<std::uint32_t>(sealed.size());
    for (int s = 0; s < 4; ++s)
      pack.push_back(static_cast<std::uint8_t>(len >> (8 * s)));
    size_t needed = 0;
    auto r = ParsePackHeader(k, pack, pack.size(), &needed);
    if (r) {
      ExpectEntriesFit(*r, blobs.size());
    } else {
      EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << r.error().message;
    }
  });
}

// Key files ------------------------------------------------------------------

MasterKey SampleMaster() {
  MasterKey m;
  m.encrypt[0] = 1;
  m.id_key[31] = 2;
  return m;
}

// Cheap scrypt parameters, so that thousands of opens take milliseconds.
std::string SampleKeyFile() {
  KeyFileInfo info;
  info.created = "2024-05-01T12:00:00Z";
  info.hostname = "host";
  info.username = "user";
  return MakeKeyFile(SampleMaster(), "pw", {16, 1, 1}, info);
}

TEST(DecodePropertyTest, KeyFilesRoundTrip) {
  std::string text = SampleKeyFile();
  auto info = ParseKeyFileInfo(text);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->hostname, "host");
  EXPECT_EQ(info->params.n, 16u);
  auto m = OpenKeyFile(text, "pw");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->encrypt, SampleMaster().encrypt);
  EXPECT_EQ(m->id_key, SampleMaster().id_key);
  EXPECT_EQ(OpenKeyFile(text, "other").error().code, ErrorCode::kWrongPassword);
}

TEST(DecodePropertyTest, AnyKeyFileOpensToItsKeyOrAnError) {
  // Regression: fields of the wrong JSON type ("kdf": 1, "salt": 1, a number
  // for the host name) threw out of the decoder.
  nlohmann::json typed = nlohmann::json::parse(SampleKeyFile());
  std::vector<std::string> valid = {SampleKeyFile()};
  for (const char* field : {"kdf", "salt", "data", "hostname", "created"}) {
    nlohmann::json j = typed;
    j[field] = 1;
    valid.push_back(j.dump());
  }
  testing::ForEachTextVariant(valid, 405, [](const std::string& text) {
    auto info = ParseKeyFileInfo(text);
    if (!info) {
      EXPECT_EQ(info.error().code, ErrorCode::kCorruption);
    }
    auto m = OpenKeyFile(text, "pw");
    if (m) {
      // Authenticated: only the key that was sealed can come out.
      EXPECT_EQ(m->encrypt, SampleMaster().encrypt);
      EXPECT_EQ(m->id_key, SampleMaster().id_key);
      EXPECT_TRUE(info);
    } else {
      EXPECT_TRUE(m.error().code == ErrorCode::kCorruption ||
                  m.error().code == ErrorCode::kWrongPassword)
          << m.error().message;
    }
  });
}

// Config
// -----------------------------------------------------------------------

RepoConfig SampleConfig(bool lock) {
  RepoConfig c;
  c.id = std::string(64, 'a');
  c.gear_seed = Bytes(32, 9);
  c.chunker = {1024, 4096, 16384};
  c.pack_size = 1 << 20;
  if (lock) {
    c.lock_mode = "GOVERNANCE";
    c.lock_days = 30;
  }
  return c;
}

TEST(DecodePropertyTest, ConfigsRoundTrip) {
  for (bool lock : {false, true}) {
    RepoConfig c = SampleConfig(lock);
    auto back = ParseRepoConfig(EncodeRepoConfig(c));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(EncodeRepoConfig(*back), EncodeRepoConfig(c));
  }
}

TEST(DecodePropertyTest, AnyConfigParsesToAValidConfigOrAnError) {
  testing::ForEachTextVariant(
      {EncodeRepoConfig(SampleConfig(false)),
       EncodeRepoConfig(SampleConfig(true))},
      406, [](const std::string& text) {
        auto r = ParseRepoConfig(text);
        if (!r) {
          EXPECT_TRUE(r.error().code == ErrorCode::kCorruption ||
                      r.error().code == ErrorCode::kUnsupported)
              << r.error().message;
          return;
        }
        const codec::ChunkerParams& ch = r->chunker;
        EXPECT_TRUE(ch.min_size > 0 && ch.min_size <= ch.avg_size &&
                    ch.avg_size <= ch.max_size);
        EXPECT_TRUE(ParseRepoConfig(EncodeRepoConfig(*r)));
      });
}

}  // namespace
}  // namespace efs2s3::repo
