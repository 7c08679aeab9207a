#include "base/bytes.h"

#include <gtest/gtest.h>

#include "base/result.h"

namespace efs2s3 {
namespace {

TEST(BytesTest, HexRoundTrip) {
  Bytes b = {0x00, 0x7f, 0xff, 0x10};
  EXPECT_EQ(HexEncode(b), "007fff10");
  EXPECT_EQ(*HexDecode("007FFF10"), b);
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
}

TEST(BytesTest, EscapeMarkup) {
  EXPECT_EQ(EscapeMarkup("a<b>&\"'c"), "a&lt;b&gt;&amp;&quot;&apos;c");
  EXPECT_EQ(EscapeMarkup(""), "");
}

TEST(BytesTest, Base64RoundTrip) {
  for (size_t n = 0; n < 20; ++n) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 37 + 1);
    auto d = Base64Decode(Base64Encode(b));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, b) << n;
  }
}

TEST(BytesTest, ParseUintRefusesWhatIsNotOnePlainNumber) {
  EXPECT_EQ(ParseUint("0"), 0u);
  EXPECT_EQ(ParseUint("18446744073709551615"), 18446744073709551615u);
  for (const char* bad : {"", "18446744073709551616", "-1", "+1", " 1", "1 ",
                          "0x10", "1e3", "12a"})
    EXPECT_EQ(ParseUint(bad), std::nullopt) << bad;
  EXPECT_EQ(ParseUint("4755", 8), 04755u);
  EXPECT_EQ(ParseUint("8", 8), std::nullopt);
}

TEST(BytesTest, LittleEndian) {
  Bytes b;
  PutU32(b, 0x01020304);
  PutU64(b, 0x1122334455667788ULL);
  EXPECT_EQ(b[0], 0x04);
  EXPECT_EQ(GetU32(b.data()), 0x01020304u);
  EXPECT_EQ(GetU64(b.data() + 4), 0x1122334455667788ULL);
}

Result<int> Half(int x) {
  if (x % 2) return MakeError(ErrorCode::kInvalidArgument, "odd");
  return x / 2;
}
Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(ResultTest, PropagatesErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace efs2s3
