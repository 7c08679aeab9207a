#include "crypto/crypto.h"

#include <gtest/gtest.h>

namespace efs2s3::crypto {
namespace {

TEST(CryptoTest, Sha256KnownAnswer) {
  EXPECT_EQ(HexEncode(Sha256(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Stream s;
  s.Update(AsBytes("a"));
  s.Update(AsBytes("bc"));
  EXPECT_EQ(s.Finish(), Sha256(AsBytes("abc")));
}

TEST(CryptoTest, HmacKnownAnswerRfc4231Case2) {
  EXPECT_EQ(HexEncode(HmacSha256(AsBytes("Jefe"),
                                 AsBytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CryptoTest, SealOpenRoundTripAndNonceIsFresh) {
  Key k{};
  k[0] = 1;
  Bytes a = Seal(k, AsBytes("hello"));
  Bytes b = Seal(k, AsBytes("hello"));
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 5 + kSealOverhead);
  EXPECT_EQ(*Open(k, a), ToBytes("hello"));
  EXPECT_EQ(*Open(k, Seal(k, {})), Bytes{});
}

TEST(CryptoTest, TamperingIsDetected) {
  // Given a sealed message, then flipping any single bit fails authentication.
  Key k{};
  Bytes sealed = Seal(k, AsBytes("some secret data"), AsBytes("aad"));
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes t = sealed;
    t[i] ^= 0x01;
    auto r = Open(k, t, AsBytes("aad"));
    ASSERT_FALSE(r) << "byte " << i;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  }
  EXPECT_FALSE(Open(k, sealed, AsBytes("other")));
  Key wrong{};
  wrong[31] = 9;
  EXPECT_FALSE(Open(wrong, sealed, AsBytes("aad")));
  EXPECT_FALSE(Open(k, Bytes(10)));
}

TEST(CryptoTest, ScryptKnownAnswerRfc7914) {
  // RFC 7914 section 12, second vector (truncated to 32 bytes).
  auto k = DeriveKeyScrypt("password", AsBytes("NaCl"), {1024, 8, 16});
  ASSERT_TRUE(k);
  EXPECT_EQ(HexEncode(*k),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162");
}

}  // namespace
}  // namespace efs2s3::crypto
