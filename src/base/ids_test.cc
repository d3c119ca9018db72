#include "base/ids.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "braid/instance_id.h"

namespace braid {
namespace {

TEST(IdsTest, InstanceIdsAreRandomAndRoundTripThroughHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const InstanceId id = InstanceId::Random();
    EXPECT_FALSE(id.IsZero());
    const std::string hex = id.Hex();
    EXPECT_EQ(hex.size(), 32u);
    EXPECT_TRUE(seen.insert(hex).second);
    EXPECT_EQ(*InstanceId::FromHex(hex), id);
  }
  EXPECT_FALSE(InstanceId::FromHex("abc").ok());
  EXPECT_FALSE(InstanceId::FromHex(std::string(32, 'g')).ok());
  EXPECT_TRUE(InstanceId::FromHex(std::string(32, 'A')).ok());
  EXPECT_FALSE(InstanceId::FromBytes("short").ok());
}

// Ids compare as their bytes do, first byte first (the order of version
// vectors and of every stream of a replication session), though compared
// as two 64-bit words.
TEST(IdsTest, InstanceIdsCompareInByteOrder) {
  std::vector<InstanceId> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(InstanceId::Random());
  // Ids that differ in one byte only, in each half.
  for (const int at : {0, 7, 8, 15}) {
    InstanceId a = ids[0], b = ids[0];
    a.bytes[at] = 0x01;
    b.bytes[at] = 0xfe;
    ids.push_back(a);
    ids.push_back(b);
  }
  for (const auto& a : ids) {
    for (const auto& b : ids) {
      const int bytes = std::memcmp(a.bytes.data(), b.bytes.data(), 16);
      EXPECT_EQ(a == b, bytes == 0);
      EXPECT_EQ(a < b, bytes < 0);
      EXPECT_EQ(a > b, bytes > 0);
    }
  }
}

TEST(IdsTest, UuidV7IsTimeOrderedAndWellFormed) {
  FakeClock clock(1'700'000'000'000);
  const std::string a = NewUuidV7(clock);
  clock.Advance(1);
  const std::string b = NewUuidV7(clock);
  EXPECT_LT(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[8], '-');
  EXPECT_EQ(a[14], '7');                                                      // version
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');  // variant
  EXPECT_EQ(a.substr(0, 8), "018bcfe5");  // 1700000000000 ms = 0x18bcfe56800
}

TEST(IdsTest, HexEncode) { EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10"); }

}  // namespace
}  // namespace braid
