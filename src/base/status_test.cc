#include "braid/status.h"

#include <gtest/gtest.h>

namespace braid {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Status::InvalidArgument(std::to_string(v) + " is odd");
  return v / 2;
}

Result<int> Quarter(int v) {
  BRAID_ASSIGN_OR_RETURN(const int h, Half(v));
  BRAID_ASSIGN_OR_RETURN(const int q, Half(h));
  return q;
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status::OK().ok());
  EXPECT_EQ(Status::OK().ToString(), "ok");
  const Status s = Status::NotFound("record notes/n1 does not exist");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "notFound: record notes/n1 does not exist");
  EXPECT_EQ(s.WithContext("records[2]").message(), "records[2]: record notes/n1 does not exist");
  EXPECT_TRUE(Status::OK().WithContext("x").ok());
}

TEST(StatusTest, TheTableMapsEveryCodeOnce) {
  EXPECT_EQ(InfoFor(Code::kResyncRequired).http_status, 410);
  EXPECT_EQ(InfoFor(Code::kResyncRequired).name, "resyncRequired");
  EXPECT_EQ(InfoFor(Code::kPayloadTooLarge).http_status, 413);
  EXPECT_EQ(InfoFor(Code::kInvalidArgument).exit_code, 2);
  EXPECT_EQ(InfoFor(Code::kNotFound).exit_code, 3);
  for (int c = 0; c <= static_cast<int>(Code::kReadOnly); ++c) {
    EXPECT_EQ(InfoFor(static_cast<Code>(c)).code, static_cast<Code>(c)) << c;
  }
}

TEST(StatusTest, ResultCarriesAValueOrAnError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Quarter(6).status().message(), "3 is odd");
  EXPECT_EQ(Quarter(5).value_or(-1), -1);
}

}  // namespace
}  // namespace braid
