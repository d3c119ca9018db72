#include "http/address.h"

#include <gtest/gtest.h>

namespace braid::http {
namespace {

TEST(AddressTest, HostOfARemoteAddress) {
  EXPECT_EQ(HostOf("127.0.0.1:53122"), "127.0.0.1");
  EXPECT_EQ(HostOf("[::1]:53122"), "::1");
  EXPECT_EQ(HostOf("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(HostOf("fe80::1"), "fe80::1");
  EXPECT_EQ(HostOf(""), "");
}

TEST(AddressTest, Loopback) {
  EXPECT_TRUE(IsLoopback("127.0.0.1"));
  EXPECT_TRUE(IsLoopback("127.1.2.3"));
  EXPECT_TRUE(IsLoopback("::1"));
  EXPECT_TRUE(IsLoopback("::ffff:127.0.0.1"));
  EXPECT_TRUE(IsLoopback("localhost"));
  EXPECT_FALSE(IsLoopback("0.0.0.0"));
  EXPECT_FALSE(IsLoopback("10.0.0.1"));
  EXPECT_FALSE(IsLoopback("::ffff:10.0.0.1"));
  EXPECT_FALSE(IsLoopback("128.0.0.1"));
  EXPECT_FALSE(IsLoopback(""));
}

}  // namespace
}  // namespace braid::http
