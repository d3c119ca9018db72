#include "base/validate.h"

#include <gtest/gtest.h>

namespace braid {
namespace {

TEST(ValidateTest, Collections) {
  for (const char* ok : {"a", "notes", "lab.samples", "a-b_c9", "z0"}) {
    EXPECT_TRUE(ValidateCollection(ok).ok()) << ok;
  }
  EXPECT_TRUE(ValidateCollection(std::string(64, 'a')).ok());
  for (const std::string& bad : {std::string(""), std::string("Notes"), std::string("1abc"),
                                 std::string("_x"), std::string("a b"), std::string("a/b"),
                                 std::string(65, 'a'), std::string("\xc3\xa9t\xc3\xa9")}) {
    const Status s = ValidateCollection(bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
  }
}

TEST(ValidateTest, RecordIds) {
  for (const std::string& ok : {std::string("n1"), std::string("a/b c"), std::string("\xc3\xa9"),
                                std::string("\xf0\x9f\x98\x80"), std::string(255, 'x')}) {
    EXPECT_TRUE(ValidateRecordId(ok).ok()) << ok;
  }
  for (const std::string& bad :
       {std::string(""), std::string(256, 'x'), std::string("a\nb"), std::string("a\x7f"),
        std::string("\xc2\x85"), std::string("\xff"), std::string("\xc3"),
        std::string("\xed\xa0\x80"), std::string("\xc0\xaf"), std::string("a\0b", 3)}) {
    EXPECT_EQ(ValidateRecordId(bad).code(), Code::kInvalidArgument) << bad;
  }
}

TEST(ValidateTest, PartitionsAndPrefixes) {
  for (const char* ok : {"lab_a", "lab_a:x", "School-1:class.2:Z"}) {
    EXPECT_TRUE(ValidatePartition(ok).ok()) << ok;
  }
  for (const std::string& bad :
       {std::string(""), std::string(":a"), std::string("a:"), std::string("a::b"),
        std::string("a b"), std::string(65, 'x'), std::string(256, 'x')}) {
    EXPECT_EQ(ValidatePartition(bad).code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(PartitionCovers("lab_a", "lab_a"));
  EXPECT_TRUE(PartitionCovers("lab_a", "lab_a:x"));
  EXPECT_FALSE(PartitionCovers("lab_a", "lab_ab"));
  EXPECT_FALSE(PartitionCovers("lab_a:x", "lab_a"));
}

TEST(ValidateTest, BodiesAreMinifiedObjectsWithUniqueFields) {
  std::string out;
  ASSERT_TRUE(NormalizeBody(" { \"a\" : [1, 2], \"b\": 1.10 } ", 100, &out).ok());
  EXPECT_EQ(out, R"({"a":[1,2],"b":1.10})");
  EXPECT_EQ(NormalizeBody("[1]", 100, &out).code(), Code::kInvalidArgument);
  EXPECT_EQ(NormalizeBody("\"s\"", 100, &out).code(), Code::kInvalidArgument);
  EXPECT_EQ(NormalizeBody("{", 100, &out).code(), Code::kInvalidArgument);
  EXPECT_EQ(NormalizeBody(R"({"a":1,"a":2})", 100, &out).code(), Code::kInvalidArgument);
  // Duplicates are found after unescaping.
  EXPECT_EQ(NormalizeBody(R"({"a":1,"\u0061":2})", 100, &out).code(), Code::kInvalidArgument);
  // Nested duplicates are the application's business.
  EXPECT_TRUE(NormalizeBody(R"({"a":{"x":1,"x":2}})", 100, &out).ok());
  // The limit applies to the minified size.
  EXPECT_TRUE(NormalizeBody("{\"a\":1" + std::string(200, ' ') + "}", 10, &out).ok());
  EXPECT_EQ(NormalizeBody(R"({"a":"0123456789"})", 10, &out).code(), Code::kPayloadTooLarge);
}

}  // namespace
}  // namespace braid
