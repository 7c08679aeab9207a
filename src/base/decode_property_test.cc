// Property test of the base decoders every stored format uses (hex, base64,
// unsigned numbers, IDs): encodings round-trip, and any text decodes to a
// value or to nothing, never a crash or an escaped exception
// (base/testing/mutate.h).
#include <gtest/gtest.h>

#include "base/bytes.h"
#include "base/id.h"
#include "base/testing/mutate.h"

namespace efs2s3 {
namespace {

TEST(DecodePropertyTest, HexAndBase64RoundTripOrAreRejected) {
  const Bytes sample = {0x00, 0xff, 0x10, 0x7f, 0x80, 0x41};
  testing::ForEachVariant({sample, Bytes(32, 0xab)}, 1001, [](const Bytes& b) {
    EXPECT_EQ(HexDecode(HexEncode(b)), b);
    EXPECT_EQ(Base64Decode(Base64Encode(b)), b);
  });
  testing::ForEachTextVariant(
      {HexEncode(sample), Base64Encode(sample), Base64Encode(Bytes(32, 1)),
       std::string(64, 'a')},
      1002, [](const std::string& text) {
        if (auto h = HexDecode(text)) {
          EXPECT_EQ(h->size() * 2, text.size());
        }
        if (auto b = Base64Decode(text)) {
          EXPECT_LE(b->size(), text.size());
        }
        if (auto id = Id::FromHex(text)) {
          EXPECT_EQ(Id::FromHex(id->Hex()), id);
        }
      });
}

TEST(DecodePropertyTest, UnsignedNumbersRoundTripOrAreRejected) {
  testing::ForEachTextVariant(
      {"0", "18446744073709551615", "100644", "42"}, 1003,
      [](const std::string& text) {
        for (int base : {10, 8}) {
          auto n = ParseUint(text, base);
          if (!n) continue;
          EXPECT_FALSE(text.empty());
          EXPECT_EQ(text.find_first_not_of("0123456789"), std::string::npos);
          if (base == 10) {
            EXPECT_EQ(ParseUint(std::to_string(*n)), n);
          }
        }
      });
}

}  // namespace
}  // namespace efs2s3
