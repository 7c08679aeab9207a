// Property test of AES-256-GCM Open on stored bytes: what Seal wrote opens to
// the plaintext; every flip, truncation, mutation and random input is
// kCorruption (authentication), never a crash or an escaped exception
// (base/testing/mutate.h).
#include <gtest/gtest.h>

#include "base/testing/mutate.h"
#include "crypto/crypto.h"

namespace efs2s3::crypto {
namespace {

TEST(DecodePropertyTest, SealedBytesOpenAndAnyChangeIsCorruption) {
  Key key{};
  key[0] = 7;
  const Bytes aad = {1, 2, 3};
  std::vector<Bytes> plain = {{}, Bytes(1, 0x41), Bytes(300, 0x5a)};
  std::vector<Bytes> valid;
  for (const Bytes& p : plain) {
    Bytes sealed = Seal(key, p, aad);
    auto back = Open(key, sealed, aad);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, p);
    valid.push_back(std::move(sealed));
  }
  testing::ForEachVariant(valid, 201, [&](const Bytes& b) {
    auto r = Open(key, b, aad);
    bool is_valid = std::find(valid.begin(), valid.end(), b) != valid.end();
    if (is_valid) {
      EXPECT_TRUE(r);
    } else {
      ASSERT_FALSE(r) << "a changed ciphertext authenticated";
      EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
    }
  });
}

}  // namespace
}  // namespace efs2s3::crypto
