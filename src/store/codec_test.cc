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

}  // namespace
}  // namespace braid
