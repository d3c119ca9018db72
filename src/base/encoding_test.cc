#include "base/encoding.h"

#include <gtest/gtest.h>

#include <random>

namespace braid {
namespace {

TEST(EncodingTest, Base64UrlKnownVectors) {
  // RFC 4648 test vectors, without padding.
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(*Base64UrlDecode("Zm9vYmE"), "fooba");
}

TEST(EncodingTest, Base64UrlRoundTripsAndRejects) {
  std::mt19937 rng(3);
  for (int n = 0; n < 64; ++n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(s)), s);
  }
  EXPECT_FALSE(Base64UrlDecode("Zm9v=").has_value());  // padding
  EXPECT_FALSE(Base64UrlDecode("Zm+v").has_value());   // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Z").has_value());      // impossible length
  EXPECT_FALSE(Base64UrlDecode("Zh").has_value());     // non-zero leftover bits
}

TEST(EncodingTest, Base64PaddedKnownVectorsAndRejects) {
  // RFC 4648 section 10, and the RFC 7617 example of Basic credentials.
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(Base64Decode("QWxhZGRpbjpvcGVuIHNlc2FtZQ=="), "Aladdin:open sesame");
  EXPECT_EQ(Base64Decode("Zm8="), "fo");
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(Base64Decode("+/8="), "\xfb\xff");
  EXPECT_FALSE(Base64Decode("Zm8").has_value());   // padding missing
  EXPECT_FALSE(Base64Decode("Zg=A").has_value());  // padding inside
  EXPECT_FALSE(Base64Decode("-_8=").has_value());  // the URL alphabet
  EXPECT_FALSE(Base64Decode("Zh==").has_value());  // leftover bits set
  EXPECT_FALSE(Base64Decode("Z===").has_value());
}

TEST(EncodingTest, Fnv1a32) {
  EXPECT_EQ(Fnv1a32(""), 2166136261u);
  EXPECT_EQ(Fnv1a32("a"), 0xe40c292cu);
  EXPECT_EQ(Fnv1a32("foobar"), 0xbf9cf968u);
}

}  // namespace
}  // namespace braid
