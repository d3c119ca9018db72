#include "store/codec.h"

#include <gtest/gtest.h>

#include <random>

namespace braid {
namespace {

TEST(CodecTest, LocalVectorsRoundTrip) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    LocalVector vv;
    const int n = static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) {
      vv.Set(static_cast<uint32_t>(rng() % 1000 + 1), rng() >> (rng() % 64));
    }
    auto back = DecodeLocalVector(EncodeLocalVector(vv));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, vv);
  }
  EXPECT_EQ(EncodeLocalVector(LocalVector()), "");
}

TEST(CodecTest, MalformedLocalVectorsAreCorruption) {
  LocalVector vv;
  vv.Set(1, 300);
  const std::string blob = EncodeLocalVector(vv);
  EXPECT_EQ(DecodeLocalVector(blob.substr(0, blob.size() - 1)).status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeLocalVector(std::string("\x02\x01\x01\x01", 4)).status().code(),
            Code::kCorruption);  // nums not ascending
  EXPECT_EQ(DecodeLocalVector(std::string("\x01\x00", 2)).status().code(), Code::kCorruption);
}

TEST(CodecTest, FieldClocksFollowEachField) {
  // Unchanged field keeps the old record clock; changed and new take the new one.
  EXPECT_EQ(NextFieldClocks(R"({"a":1,"b":2})", 10, "", R"({"a":1,"b":3,"c":4})", 20),
            R"({"a":10})");
  // A clock already recorded for an unchanged field is kept.
  EXPECT_EQ(NextFieldClocks(R"({"a":1,"b":2})", 10, R"({"a":5})", R"({"a":1,"b":3})", 20),
            R"({"a":5})");
  // Removed fields are listed with the removal time, and stay listed.
  EXPECT_EQ(NextFieldClocks(R"({"a":1,"b":2})", 10, "", R"({"a":1})", 20), R"({"a":10,"b":20})");
  EXPECT_EQ(NextFieldClocks(R"({"a":1})", 20, R"({"a":10,"b":20})", R"({"a":2})", 30),
            R"({"b":20})");
  // A removed field that comes back is written now.
  EXPECT_EQ(NextFieldClocks(R"({"a":1})", 20, R"({"b":20})", R"({"a":1,"b":0})", 30),
            R"({"a":20})");
  // Everything written now: nothing to list.
  EXPECT_EQ(NextFieldClocks(R"({"a":1})", 10, "", R"({"a":2})", 20), "");
  // Keys with escapes are compared unescaped and written canonically.
  EXPECT_EQ(NextFieldClocks(R"({"\u0061":1,"b":1})", 10, "", R"({"a":1,"b":2})", 20),
            R"({"a":10})");
}

}  // namespace
}  // namespace braid
