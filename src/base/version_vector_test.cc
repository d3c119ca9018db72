#include "braid/version_vector.h"

#include <gtest/gtest.h>

namespace braid {
namespace {

using VV = BasicVersionVector<int>;

VV Of(std::initializer_list<std::pair<int, uint64_t>> entries) {
  VV v;
  for (auto [k, c] : entries) v.Set(k, c);
  return v;
}

TEST(VersionVectorTest, ComparesByThePartialOrder) {
  EXPECT_EQ(Of({{1, 2}}).Compare(Of({{1, 2}})), Ordering::kEqual);
  EXPECT_EQ(Of({{1, 3}}).Compare(Of({{1, 2}})), Ordering::kAfter);
  EXPECT_EQ(Of({{1, 2}}).Compare(Of({{1, 2}, {2, 1}})), Ordering::kBefore);
  EXPECT_EQ(Of({{1, 3}}).Compare(Of({{1, 2}, {2, 1}})), Ordering::kConcurrent);
  EXPECT_EQ(VV().Compare(VV()), Ordering::kEqual);
  EXPECT_EQ(VV().Compare(Of({{5, 1}})), Ordering::kBefore);
  EXPECT_TRUE(Of({{1, 1}}).IsIncludedIn(Of({{1, 1}, {2, 2}})));
  EXPECT_FALSE(Of({{1, 3}}).IsIncludedIn(Of({{1, 1}, {2, 2}})));
}

TEST(VersionVectorTest, SetKeepsEntriesSortedAndDropsZeros) {
  VV v = Of({{3, 1}, {1, 5}, {2, 2}});
  ASSERT_EQ(v.entries().size(), 3u);
  EXPECT_EQ(v.entries()[0].first, 1);
  EXPECT_EQ(v.entries()[2].first, 3);
  v.Set(2, 0);
  EXPECT_EQ(v.entries().size(), 2u);
  EXPECT_EQ(v.Get(2), 0u);
  EXPECT_EQ(v, Of({{1, 5}, {3, 1}}));
}

TEST(VersionVectorTest, MergeIsThePointwiseMaximum) {
  VV a = Of({{1, 5}, {2, 1}});
  a.MergeFrom(Of({{2, 4}, {3, 1}}));
  EXPECT_EQ(a, Of({{1, 5}, {2, 4}, {3, 1}}));
}

TEST(VersionVectorTest, TextFormRoundTripsAndRejectsJunk) {
  VersionVector vv;
  auto a = InstanceId::FromHex("0123456789abcdef0123456789abcdef");
  auto b = InstanceId::FromHex("ffffffffffffffffffffffffffffffff");
  ASSERT_TRUE(a.ok() && b.ok());
  vv.Set(*b, 7);
  vv.Set(*a, 18446744073709551ULL);
  const std::string text = VersionVectorToJson(vv);
  EXPECT_EQ(text, R"({"0123456789abcdef0123456789abcdef":18446744073709551,)"
                  R"("ffffffffffffffffffffffffffffffff":7})");
  auto back = VersionVectorFromJson(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, vv);
  for (const char* bad :
       {"", "[]", "{\"zz\":1}", R"({"0123456789abcdef0123456789abcdef":0})",
        R"({"0123456789abcdef0123456789abcdef":-1})", R"({"0123456789abcdef0123456789abcdef":1.5})",
        R"({"0123456789abcdef0123456789abcdef":1,"0123456789ABCDEF0123456789ABCDEF":2})"}) {
    EXPECT_EQ(VersionVectorFromJson(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace braid
