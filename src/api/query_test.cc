#include "api/query.h"

#include <gtest/gtest.h>

namespace braid::api {
namespace {

TEST(QueryTest, ParsesDecodesAndReadsTypedValues) {
  auto q = Query::Parse("cursor=a%2Bb&limit=20&collection=x+y&wait",
                        {"cursor", "limit", "collection", "wait"});
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->Get("cursor"), "a+b");
  EXPECT_EQ(q->Get("collection"), "x y");
  EXPECT_EQ(q->Get("wait"), "");
  EXPECT_EQ(q->Get("parent"), std::nullopt);
  EXPECT_EQ(*q->GetInt("limit", 1, 1000), 20);
  EXPECT_EQ(*q->GetInt("parent", 1, 1000), std::nullopt);
  EXPECT_TRUE(*q->GetBool("wait", false));
}

TEST(QueryTest, RefusesWhatItDoesNotKnow) {
  EXPECT_EQ(Query::Parse("curser=x", {"cursor"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Query::Parse("a=1&a=2", {"a"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Query::Parse("a=%zz", {"a"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Query::Parse("x=1", {}).status().code(), Code::kInvalidArgument);
  auto q = Query::Parse("limit=0&big=99999999999999999999&neg=-1&word=ten&b=maybe",
                        {"limit", "big", "neg", "word", "b"});
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q->GetInt("limit", 1, 1000).ok());
  EXPECT_FALSE(q->GetInt("big", 1, 1000).ok());
  EXPECT_FALSE(q->GetInt("neg", 0, 10).ok());
  EXPECT_FALSE(q->GetInt("word", 0, 10).ok());
  EXPECT_FALSE(q->GetBool("b", false).ok());
  EXPECT_TRUE(Query::Parse("", {}).ok());
  EXPECT_TRUE(Query::Parse("&&", {}).ok());
}

TEST(ByteRangeTest, OneRangeOfABody) {
  using R = std::optional<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(ParseByteRange("bytes=0-9", 100), R({0, 10}));
  EXPECT_EQ(ParseByteRange("bytes=90-200", 100), R({90, 10}));  // clipped to the end
  EXPECT_EQ(ParseByteRange("bytes=95-", 100), R({95, 5}));
  EXPECT_EQ(ParseByteRange("bytes=-10", 100), R({90, 10}));
  EXPECT_EQ(ParseByteRange("bytes=-1000", 100), R({0, 100}));
  // Unsatisfiable: 416.
  EXPECT_EQ(ParseByteRange("bytes=100-", 100), R({100, 0}));
  EXPECT_EQ(ParseByteRange("bytes=-0", 100), R({100, 0}));
  // Ignored: the whole body.
  for (const char* h : {"", "bytes=", "bytes=a-b", "bytes=5-1", "bytes=0-1,5-6", "items=0-1",
                        "bytes=+1-2", "bytes= 1-2", "bytes=1-2-3", "bytes=99999999999999999999-"}) {
    EXPECT_EQ(ParseByteRange(h, 100), std::nullopt) << h;
  }
}

}  // namespace
}  // namespace braid::api
