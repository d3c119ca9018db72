#include "store/content.h"

#include <gtest/gtest.h>

#include <map>

#include "braid/hlc.h"

namespace braid {
namespace {

InstanceId Id(char c) { return *InstanceId::FromHex(std::string(32, c)); }

Record Rec(char origin, uint64_t counter, uint64_t hlc, std::string body, std::string clocks = "") {
  Record r;
  r.collection = "notes";
  r.id = "n1";
  r.partition = "notes";
  r.version = {Id(origin), counter};
  r.vv.Set(Id(origin), counter);
  r.hlc = hlc;
  r.body = std::move(body);
  r.field_clocks = std::move(clocks);
  return r;
}

std::string W(uint64_t hlc, char origin, uint64_t counter) {
  return "[" + std::to_string(hlc) + ",\"" + std::string(32, origin) + "\"," +
         std::to_string(counter) + "]";
}

TEST(ContentTest, FieldsWithoutClocksBelongToTheVersionWrite) {
  const Record r = Rec('a', 3, 100, R"({"b":2,"a":1})", R"({"a":)" + W(50, 'b', 1) + "}");
  auto c = ParseContent(r);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->fields.size(), 2u);
  EXPECT_EQ(c->fields[0].name, "a");  // sorted
  EXPECT_EQ(c->fields[0].write, (FieldWrite{50, Id('b'), 1}));
  EXPECT_EQ(c->fields[1].name, "b");
  EXPECT_EQ(c->fields[1].write, VersionWrite(r));
  EXPECT_EQ(*c->fields[1].value, "2");
}

TEST(ContentTest, RemovedFieldsComeFromClocksAlone) {
  const Record r = Rec('a', 3, 100, R"({"a":1})", R"({"gone":)" + W(90, 'a', 2) + "}");
  auto c = ParseContent(r);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->fields.size(), 2u);
  EXPECT_EQ(c->fields[1].name, "gone");
  EXPECT_FALSE(c->fields[1].value.has_value());
}

TEST(ContentTest, StoreAndParseRoundTrip) {
  Content c;
  c.fields.push_back({"a", "1", {10, Id('b'), 4}});
  c.fields.push_back({"b", std::nullopt, {20, Id('c'), 5}});
  c.fields.push_back({"c", R"("x")", {30, Id('a'), 7}});
  c.conflicts = {R"({"field":"a","value":2,"write":)" + W(9, 'c', 1) + "}"};
  Record r = Rec('a', 7, 30, "");
  StoreContent(c, &r);
  EXPECT_EQ(r.body, R"({"a":1,"c":"x"})");
  EXPECT_EQ(r.field_clocks, R"({"a":)" + W(10, 'b', 4) + R"(,"b":)" + W(20, 'c', 5) + "}");
  EXPECT_EQ(r.conflicts, "[" + c.conflicts[0] + "]");
  auto back = ParseContent(r);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, c);
}

TEST(ContentTest, APutKeepsTheWritesOfUnchangedFields) {
  const Record old = Rec('a', 3, 100, R"({"a":1,"b":2,"c":3})");
  const FieldWrite w{200, Id('a'), 4};
  auto c = ContentAfterPut(old, R"({"a":1,"b":5,"d":6})", w);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->fields.size(), 4u);
  EXPECT_EQ(c->fields[0].write, VersionWrite(old));  // a unchanged
  EXPECT_EQ(c->fields[1].write, w);                  // b changed
  EXPECT_FALSE(c->fields[2].value.has_value());      // c removed
  EXPECT_EQ(c->fields[2].write, w);
  EXPECT_EQ(c->fields[3].write, w);  // d added
  EXPECT_EQ(ClocksFor(*c, w), R"({"a":)" + W(100, 'a', 3) + R"(,"c":)" + W(200, 'a', 4) + "}");
}

// Removing fields that sort before kept ones: each field appears once (the
// model test found a put of {"q":0} over {"p":2,"q":0} listing q twice).
TEST(ContentTest, RemovingEarlierFieldsKeepsEachFieldOnce) {
  const Record old = Rec('a', 3, 100, R"({"n":1,"p":2,"q":0})");
  const FieldWrite w{200, Id('a'), 4};
  auto c = ContentAfterPut(old, R"({"q":0})", w);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->fields.size(), 3u);
  EXPECT_EQ(c->fields[0].name, "n");
  EXPECT_FALSE(c->fields[0].value.has_value());
  EXPECT_EQ(c->fields[1].name, "p");
  EXPECT_FALSE(c->fields[1].value.has_value());
  EXPECT_EQ(c->fields[2].name, "q");
  EXPECT_EQ(c->fields[2].value, "0");
  EXPECT_EQ(c->fields[2].write, VersionWrite(old));
}

TEST(ContentTest, ARecreatedRecordForgetsItsEarlierLife) {
  Record old = Rec('a', 3, 100, "{}");
  old.deleted = true;
  const FieldWrite w{200, Id('a'), 4};
  auto c = ContentAfterPut(old, R"({"x":1})", w);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->fields.size(), 1u);
  EXPECT_EQ(ClocksFor(*c, w), "");
}

TEST(ContentTest, LocalClocksRoundTripAndStaySmall) {
  const std::string json = R"({"a":)" + W(10, 'b', 4) + R"(,"b":)" + W(10, 'b', 4) + R"(,"c":)" +
                           W(20, 'c', 5) + R"(,"d\"x":)" + W(10, 'b', 4) + "}";
  std::map<InstanceId, uint32_t> nums = {{Id('b'), 2}, {Id('c'), 3}};
  auto local =
      ClocksToLocal(json, [&](const InstanceId& id) -> Result<uint32_t> { return nums.at(id); });
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_LT(local->size(), 30u);  // two distinct writes, four short names
  auto back = ClocksFromLocal(
      *local, [&](uint32_t num) -> Result<InstanceId> { return num == 2 ? Id('b') : Id('c'); });
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, json);
  for (const std::string& bad : {std::string("\x05"), std::string("\x01\x01\x02"), *local + "x",
                                 local->substr(0, local->size() - 1)}) {
    auto r = ClocksFromLocal(bad, [](uint32_t) -> Result<InstanceId> { return Id('b'); });
    EXPECT_EQ(r.status().code(), Code::kCorruption);
  }
}

TEST(ContentTest, PeerClocksAndConflictsAreValidated) {
  VersionVector vv;
  vv.Set(Id('a'), 3);
  const int64_t max_ms = 1000;
  auto check = [&](const std::string& clocks, bool deleted = false) {
    return ValidateFieldClocks(clocks, deleted, vv, max_ms);
  };
  EXPECT_TRUE(check("").ok());
  EXPECT_TRUE(check("", /*deleted=*/true).ok());
  EXPECT_TRUE(check(R"({"a":)" + W(1, 'a', 1) + "}").ok());
  const uint64_t late = uint64_t{1001} << hlc::kLogicalBits;
  for (const std::string& bad : std::vector<std::string>{
           "[]", R"({"a":1})", R"({"a":[1,"zz",1]})", R"({"a":[1,"x"]})",
           R"({"a":[0,")" + std::string(32, 'a') + R"(",1]})", "{",
           R"({"a":[1,")" + std::string(32, '0') + R"(",1]})",           // the zero id
           R"({"a":)" + W(1, 'a', 1) + R"(,"a":)" + W(1, 'a', 2) + "}",  // a field twice
           R"({"a":)" + W(1, 'a', 4) + "}",                              // beyond the vector
           R"({"a":)" + W(1, 'b', 1) + "}",                              // not in the vector
           R"({"a":)" + W(late, 'a', 1) + "}"}) {                        // ahead of the clock
    EXPECT_EQ(check(bad).code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(check(R"({"a":)" + W(1, 'a', 1) + "}", /*deleted=*/true).code(),
            Code::kInvalidArgument);
  const std::string e1 = R"({"field":"a","value":1,"write":)" + W(1, 'a', 1) + "}";
  const std::string e2 =
      R"({"version":")" + std::string(32, 'b') + R"(:2","hlc":5,"deleted":true,"body":null})";
  EXPECT_TRUE(ValidateConflicts("[" + e1 + "," + e2 + "]").ok());
  for (const std::string& bad :
       std::vector<std::string>{"{}", "[1]", "[" + e2 + "," + e1 + "]", "[" + e1 + "," + e1 + "]",
                                std::string(R"([{"field":"a","write":[1,")") +
                                    std::string(32, 'a') + R"(",1],"value":1}])",
                                std::string(R"([{"version":"x"}])")}) {
    EXPECT_EQ(ValidateConflicts(bad).code(), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace braid
