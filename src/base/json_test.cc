#include "base/json.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace braid::json {
namespace {

using namespace std::string_literals;

struct ValidCase {
  std::string text;
  std::string minified;
};

// Valid documents and their exact minified form.
const std::vector<ValidCase>& ValidCases() {
  static const auto* cases = new std::vector<ValidCase>{
      {"null", "null"},
      {"true", "true"},
      {"false", "false"},
      {"0", "0"},
      {"-0", "-0"},
      {"1.10", "1.10"},
      {"-0.0e-0", "-0.0e-0"},
      {"1E+2", "1E+2"},
      {"1e-7", "1e-7"},
      {"123456789012345678901234567890", "123456789012345678901234567890"},
      {"-123456789012345678901234567890.5e999", "-123456789012345678901234567890.5e999"},
      {"\"\"", "\"\""},
      {"\"a b\"", "\"a b\""},
      {R"("\"\\\/\b\f\n\r\t")", R"("\"\\\/\b\f\n\r\t")"},
      {R"("\u00e9")", R"("\u00e9")"},
      {R"("\uD83D\uDE00")", R"("\uD83D\uDE00")"},
      {R"("\ud83d\ude00")", R"("\ud83d\ude00")"},
      {"\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"", "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\""},
      {"\"\xEF\xBF\xBF\xF4\x8F\xBF\xBF\xED\x9F\xBF\xEE\x80\x80\"",
       "\"\xEF\xBF\xBF\xF4\x8F\xBF\xBF\xED\x9F\xBF\xEE\x80\x80\""},
      {"\"\x7F\"", "\"\x7F\""},
      {"{}", "{}"},
      {"[]", "[]"},
      {"{ }", "{}"},
      {"[ \n ]", "[]"},
      {" \t\r\n{ \"a\" : 1 , \"b\" : [ true , false , null ] } \n\t\r ",
       R"({"a":1,"b":[true,false,null]})"},
      {R"({"a":{"b":{"c":[[],[{}],[[1]]]}}})", R"({"a":{"b":{"c":[[],[{}],[[1]]]}}})"},
      {R"({"a b":"c d", "":""})", R"({"a b":"c d","":""})"},
      {R"(["{[", "]}", ",:"])", R"(["{[","]}",",:"])"},
      {R"({"a":1,"a":2})", R"({"a":1,"a":2})"},
      {"[1,\n2 ,3\t]", "[1,2,3]"},
  };
  return *cases;
}

struct InvalidCase {
  std::string text;
  std::string message;  // exact Status message
};

const std::vector<InvalidCase>& InvalidCases() {
  static const auto* cases = new std::vector<InvalidCase>{
      {"", "invalid JSON at byte 0: expected a value"},
      {"   ", "invalid JSON at byte 3: expected a value"},
      {"[1,]", "invalid JSON at byte 3: expected a value"},
      {R"({"a":1,})", "invalid JSON at byte 7: expected '\"' to begin an object key"},
      {"{,}", "invalid JSON at byte 1: expected '\"' to begin an object key"},
      {"[,1]", "invalid JSON at byte 1: expected a value"},
      {"[1 2]", "invalid JSON at byte 3: expected ',' or ']' in array"},
      {R"({"a" 1})", "invalid JSON at byte 5: expected ':' after object key"},
      {R"({"a":1 "b":2})", "invalid JSON at byte 7: expected ',' or '}' in object"},
      {R"({"a":1])", "invalid JSON at byte 6: expected ',' or '}' in object"},
      {"[1}", "invalid JSON at byte 2: expected ',' or ']' in array"},
      {"{1:2}", "invalid JSON at byte 1: expected '\"' to begin an object key"},
      {"[1", "invalid JSON at byte 2: expected ',' or ']' in array"},
      {"{", "invalid JSON at byte 1: expected '\"' to begin an object key"},
      {"01", "invalid JSON at byte 1: leading zeros are not allowed"},
      {"-01", "invalid JSON at byte 2: leading zeros are not allowed"},
      {"-", "invalid JSON at byte 1: expected a digit after '-'"},
      {"-a", "invalid JSON at byte 1: expected a digit after '-'"},
      {"1.", "invalid JSON at byte 2: expected a digit after '.'"},
      {"1.e5", "invalid JSON at byte 2: expected a digit after '.'"},
      {".5", "invalid JSON at byte 0: expected a value"},
      {"+1", "invalid JSON at byte 0: expected a value"},
      {"1e", "invalid JSON at byte 2: expected a digit in exponent"},
      {"1e+", "invalid JSON at byte 3: expected a digit in exponent"},
      {"0x10", "invalid JSON at byte 1: expected end of input after the value"},
      {"NaN", "invalid JSON at byte 0: expected a value"},
      {"Infinity", "invalid JSON at byte 0: expected a value"},
      {"-Infinity", "invalid JSON at byte 1: expected a digit after '-'"},
      {"[nan]", "invalid JSON at byte 1: expected 'null'"},
      {"tru", "invalid JSON at byte 0: expected 'true'"},
      {"True", "invalid JSON at byte 0: expected a value"},
      {"fals", "invalid JSON at byte 0: expected 'false'"},
      {"nul", "invalid JSON at byte 0: expected 'null'"},
      {"// c\n1", "invalid JSON at byte 0: expected a value"},
      {"1 /* c */", "invalid JSON at byte 2: expected end of input after the value"},
      {"[1] # c", "invalid JSON at byte 4: expected end of input after the value"},
      {"1 2", "invalid JSON at byte 2: expected end of input after the value"},
      {"{} {}", "invalid JSON at byte 3: expected end of input after the value"},
      {"[]]", "invalid JSON at byte 2: expected end of input after the value"},
      {"nullx", "invalid JSON at byte 4: expected end of input after the value"},
      {"\"abc", "invalid JSON at byte 4: expected '\"' to end the string"},
      {"'a'", "invalid JSON at byte 0: expected a value"},
      {"\"a\tb\"", "invalid JSON at byte 2: control character in string; escape it as \\u00XX"},
      {"\"a\nb\"", "invalid JSON at byte 2: control character in string; escape it as \\u00XX"},
      {"\"\0\""s, "invalid JSON at byte 1: control character in string; escape it as \\u00XX"},
      {"\"\x1F\"", "invalid JSON at byte 1: control character in string; escape it as \\u00XX"},
      {R"("\x41")", "invalid JSON at byte 2: expected one of \"\\/bfnrtu after '\\'"},
      {R"("\')", "invalid JSON at byte 2: expected one of \"\\/bfnrtu after '\\'"},
      {"\"\\", "invalid JSON at byte 2: expected an escape character after '\\'"},
      {R"("\u12")", "invalid JSON at byte 3: expected four hex digits after \\u"},
      {R"("\u12G4")", "invalid JSON at byte 3: expected four hex digits after \\u"},
      {R"("\ud800")",
       "invalid JSON at byte 7: expected a low surrogate escape after a high surrogate"},
      {R"("\ud800x")",
       "invalid JSON at byte 7: expected a low surrogate escape after a high surrogate"},
      {R"("\ud800\u0041")",
       "invalid JSON at byte 7: expected a low surrogate escape after a high surrogate"},
      {R"("\ud800\ud800")",
       "invalid JSON at byte 7: expected a low surrogate escape after a high surrogate"},
      {R"("\ud800\n")",
       "invalid JSON at byte 7: expected a low surrogate escape after a high surrogate"},
      {R"("\udc00")", "invalid JSON at byte 1: low surrogate escape without a high one"},
      {R"("\ude00\ud83d")", "invalid JSON at byte 1: low surrogate escape without a high one"},
      // Invalid UTF-8: stray continuation, overlong forms, encoded surrogates,
      // beyond U+10FFFF, truncated sequences, bytes never used in UTF-8.
      {"\"\x80\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xC0\xAF\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xC1\xBF\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xE0\x80\xAF\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xE0\x9F\xBF\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xF0\x80\x80\xAF\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xF0\x8F\xBF\xBF\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xED\xA0\x80\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xED\xBF\xBF\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xF4\x90\x80\x80\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xF5\x80\x80\x80\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xFF\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xC3\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xE2\x82\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"\xF0\x9F\x98\"", "invalid JSON at byte 1: invalid UTF-8 in string"},
      {"\"ab\xF0\x9F\x98", "invalid JSON at byte 3: invalid UTF-8 in string"},
      {"\xEF\xBB\xBF{}", "invalid JSON at byte 0: expected a value"},
      {"[\xC3\xA9]", "invalid JSON at byte 1: expected a value"},
  };
  return *cases;
}

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonTest, AcceptsValidDocumentsAndMinifiesExactly) {
  for (const auto& c : ValidCases()) {
    SCOPED_TRACE(c.text);
    std::string out = "prefix:";
    const Status s = Validate(c.text, &out);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(out, "prefix:" + c.minified);
    EXPECT_TRUE(Validate(c.text, nullptr).ok());
    std::string again;
    ASSERT_TRUE(Validate(c.minified, &again).ok());
    EXPECT_EQ(again, c.minified);
  }
}

TEST(JsonTest, RejectsInvalidDocumentsWithPosition) {
  for (const auto& c : InvalidCases()) {
    SCOPED_TRACE(c.text);
    std::string out = "keep";
    const Status s = Validate(c.text, &out);
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_EQ(s.message(), c.message);
    EXPECT_EQ(out, "keep");  // minified output is rolled back on error
    EXPECT_EQ(Validate(c.text, nullptr).message(), c.message);
  }
}

TEST(JsonTest, EnforcesMaxDepth) {
  EXPECT_TRUE(Validate(Nested(kDefaultMaxDepth), nullptr).ok());
  EXPECT_EQ(Validate(Nested(kDefaultMaxDepth + 1), nullptr).message(),
            "invalid JSON at byte 128: arrays and objects nested deeper than max_depth 128");
  EXPECT_TRUE(Validate(R"({"a":{"b":1}})", nullptr, 2).ok());
  EXPECT_FALSE(Validate(R"({"a":{"b":[]}})", nullptr, 2).ok());
  EXPECT_TRUE(Validate("7", nullptr, 0).ok());
  EXPECT_FALSE(Validate("[]", nullptr, 0).ok());
  // Depths past the inline stack; mixed kinds must still be matched exactly.
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += i % 3 == 0 ? "{\"k\":" : "[";
  deep += "0";
  for (int i = 999; i >= 0; --i) deep += i % 3 == 0 ? "}" : "]";
  EXPECT_FALSE(Validate(deep, nullptr).ok());
  std::string out;
  ASSERT_TRUE(Validate(deep, &out, 1000).ok());
  EXPECT_EQ(out, deep);
  EXPECT_FALSE(Validate(deep, nullptr, 999).ok());
  std::string swapped = deep;
  swapped[swapped.size() - 700] = swapped[swapped.size() - 700] == '}' ? ']' : '}';
  EXPECT_FALSE(Validate(swapped, nullptr, 1000).ok());
  EXPECT_TRUE(Validate(Nested(100000), nullptr, 100000).ok());
}

TEST(JsonTest, ValueTypes) {
  EXPECT_EQ(Value("null").type(), Type::kNull);
  EXPECT_EQ(Value(" true ").type(), Type::kBool);
  EXPECT_EQ(Value("false").type(), Type::kBool);
  EXPECT_EQ(Value("-1").type(), Type::kNumber);
  EXPECT_EQ(Value("7").type(), Type::kNumber);
  EXPECT_EQ(Value("\"x\"").type(), Type::kString);
  EXPECT_EQ(Value("\n[ ]").type(), Type::kArray);
  EXPECT_EQ(Value("{}").type(), Type::kObject);
  EXPECT_EQ(Value().type(), Type::kNull);
  EXPECT_EQ(Value(" \t{\"a\" : 1 }\r\n").raw(), "{\"a\" : 1 }");
  EXPECT_EQ(Value("true").AsBool(), true);
  EXPECT_EQ(Value("false").AsBool(), false);
  EXPECT_EQ(Value("null").AsBool(), std::nullopt);
}

TEST(JsonTest, AsString) {
  EXPECT_EQ(Value(R"("plain")").AsString(), "plain");
  EXPECT_EQ(Value(R"("")").AsString(), "");
  EXPECT_EQ(Value(R"("\"\\\/\b\f\n\r\t")").AsString(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(Value(R"("caf\u00e9")").AsString(), "caf\xC3\xA9");
  EXPECT_EQ(Value(R"("\u0000")").AsString(), "\0"s);
  EXPECT_EQ(Value(R"("\u20AC\u0041")").AsString(),
            "\xE2\x82\xAC"
            "A");
  EXPECT_EQ(Value(R"("\ud83d\ude00!")").AsString(), "\xF0\x9F\x98\x80!");
  EXPECT_EQ(Value(R"("\uDBFF\uDFFF")").AsString(), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(Value("\"\xF0\x9F\x98\x80\"").AsString(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(Value(R"("a\\u0041")").AsString(), "a\\u0041");
  EXPECT_EQ(Value("1").AsString(), std::nullopt);
  EXPECT_EQ(Value("null").AsString(), std::nullopt);
  EXPECT_EQ(Value("[\"a\"]").AsString(), std::nullopt);
}

TEST(JsonTest, AsInt64) {
  EXPECT_EQ(Value("0").AsInt64(), 0);
  EXPECT_EQ(Value("-0").AsInt64(), 0);
  EXPECT_EQ(Value("42").AsInt64(), 42);
  EXPECT_EQ(Value(" -17 ").AsInt64(), -17);
  EXPECT_EQ(Value("9223372036854775807").AsInt64(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Value("-9223372036854775808").AsInt64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(Value("9223372036854775808").AsInt64(), std::nullopt);
  EXPECT_EQ(Value("-9223372036854775809").AsInt64(), std::nullopt);
  EXPECT_EQ(Value("123456789012345678901234567890").AsInt64(), std::nullopt);
  EXPECT_EQ(Value("1.0").AsInt64(), std::nullopt);
  EXPECT_EQ(Value("1e3").AsInt64(), std::nullopt);
  EXPECT_EQ(Value("1E3").AsInt64(), std::nullopt);
  EXPECT_EQ(Value("\"1\"").AsInt64(), std::nullopt);
  EXPECT_EQ(Value("true").AsInt64(), std::nullopt);
  EXPECT_EQ(Value("[1]").AsInt64(), std::nullopt);
}

TEST(JsonTest, IteratesMembersInOrder) {
  const std::string text =
      " { \"a\" : [1, {\"x\": \"]}\"}] , \"b\\\"q\":\"s\\\\\" ,\"c\":{},\"\":null, \"e\":-1.5e3 } ";
  ASSERT_TRUE(Validate(text, nullptr).ok());
  const Value v(text);
  std::vector<std::pair<std::string, std::string>> got;
  v.ForEachMember([&](std::string_view key, Value value) {
    got.emplace_back(std::string(key), std::string(value.raw()));
    return true;
  });
  const std::vector<std::pair<std::string, std::string>> want = {{"a", "[1, {\"x\": \"]}\"}]"},
                                                                 {"b\"q", "\"s\\\\\""},
                                                                 {"c", "{}"},
                                                                 {"", "null"},
                                                                 {"e", "-1.5e3"}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(v.Size(), 5u);

  int seen = 0;
  v.ForEachMember([&](std::string_view, Value) { return ++seen < 2; });
  EXPECT_EQ(seen, 2);

  // Non-objects have no members.
  seen = 0;
  Value("[1,2]").ForEachMember([&](std::string_view, Value) { return ++seen > 0; });
  EXPECT_EQ(seen, 0);
  Value("{}").ForEachMember([&](std::string_view, Value) { return ++seen > 0; });
  EXPECT_EQ(seen, 0);
}

TEST(JsonTest, IteratesElementsInOrder) {
  const std::string text = "[ \"a,b\" , [ [ ] , { } ] ,{\"k\":[1,2]},true,null , -0.5 ]";
  ASSERT_TRUE(Validate(text, nullptr).ok());
  std::vector<std::string> got;
  Value(text).ForEachElement([&](Value value) {
    got.emplace_back(value.raw());
    return true;
  });
  const std::vector<std::string> want = {"\"a,b\"", "[ [ ] , { } ]", "{\"k\":[1,2]}",
                                         "true",    "null",          "-0.5"};
  EXPECT_EQ(got, want);
  EXPECT_EQ(Value(text).Size(), 6u);
  EXPECT_EQ(Value("[]").Size(), 0u);
  EXPECT_EQ(Value("[ ]").Size(), 0u);
  EXPECT_EQ(Value("[[]]").Size(), 1u);
  EXPECT_EQ(Value("\"abc\"").Size(), 0u);
  EXPECT_EQ(Value("12").Size(), 0u);
  int seen = 0;
  Value("{\"a\":1}").ForEachElement([&](Value) { return ++seen > 0; });
  EXPECT_EQ(seen, 0);
}

TEST(JsonTest, Find) {
  const Value v(R"({"id":"n1","body":{"title":"caf\u00e9","n":[1,2,3]},"id":"dup","t\u00e9":5})");
  ASSERT_TRUE(v.Find("id").has_value());
  EXPECT_EQ(v.Find("id")->AsString(), "n1");  // first match wins
  const auto body = v.Find("body");
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->Find("title")->AsString(), "caf\xC3\xA9");
  EXPECT_EQ(body->Find("n")->Size(), 3u);
  EXPECT_EQ(v.Find("t\xC3\xA9")->AsInt64(), 5);  // escaped key matches unescaped
  EXPECT_FALSE(v.Find("missing").has_value());
  EXPECT_FALSE(v.Find("title").has_value());  // not searched recursively
  EXPECT_FALSE(Value("[\"id\"]").Find("id").has_value());
  EXPECT_FALSE(Value("\"id\"").Find("id").has_value());
}

TEST(JsonTest, AppendQuotedEscapes) {
  std::string out = "x=";
  AppendQuoted(&out, "a\"b\\c/\b\f\n\r\t\x01\x1F\x7F");
  EXPECT_EQ(out, R"(x="a\"b\\c/\b\f\n\r\t\u0001\u001f)"
                 "\x7F\"");
  out.clear();
  AppendQuoted(&out, "\0"s);
  EXPECT_EQ(out, R"("\u0000")");
  out.clear();
  AppendQuoted(&out, "");
  EXPECT_EQ(out, "\"\"");
  out.clear();
  AppendQuoted(&out, "caf\xC3\xA9 \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF");
  EXPECT_EQ(out, "\"caf\xC3\xA9 \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\"");
}

TEST(JsonTest, AppendQuotedReplacesInvalidUtf8) {
  const std::string kFffd = "\xEF\xBF\xBD";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\x80", kFffd},
      {"a\xFF"
       "b",
       "a" + kFffd + "b"},
      {"\xC0\xAF", kFffd + kFffd},                          // overlong: C0 is never valid
      {"\xE0\x80\xAF", kFffd + kFffd + kFffd},              // overlong 3-byte form
      {"\xED\xA0\x80", kFffd + kFffd + kFffd},              // encoded surrogate
      {"\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // above U+10FFFF
      {"\xE2\x82", kFffd},                                  // truncated at the end
      {"\xE2\x82"
       "A",
       kFffd + "A"},                       // truncated before ASCII
      {"\xF0\x9F\x98\"", kFffd + "\\\""},  // truncated before a quote
      {"\xC3\xA9\xC3", "\xC3\xA9" + kFffd},
  };
  for (const auto& [in, body] : cases) {
    SCOPED_TRACE(in);
    std::string out;
    AppendQuoted(&out, in);
    EXPECT_EQ(out, "\"" + body + "\"");
    EXPECT_TRUE(Validate(out, nullptr).ok());
  }
}

TEST(JsonTest, WriterObjectsArraysAndCommas) {
  std::string out;
  Writer w(&out);
  w.BeginObject()
      .Key("id")
      .String("n1")
      .Key("n")
      .Int(-5)
      .Key("u")
      .Uint(18446744073709551615u)
      .Key("ok")
      .Bool(true)
      .Key("no")
      .Bool(false)
      .Key("nil")
      .Null()
      .Key("empty")
      .BeginObject()
      .EndObject()
      .Key("list")
      .BeginArray()
      .Int(1)
      .BeginArray()
      .EndArray()
      .BeginObject()
      .Key("k")
      .BeginArray()
      .String("v")
      .EndArray()
      .EndObject()
      .Raw("{\"raw\":[1,2]}")
      .OptionalString(std::nullopt)
      .OptionalString("s")
      .EndArray()
      .Key("raw")
      .Raw("123")
      .EndObject();
  EXPECT_EQ(out, R"({"id":"n1","n":-5,"u":18446744073709551615,"ok":true,"no":false,"nil":null,)"
                 R"("empty":{},"list":[1,[],{"k":["v"]},{"raw":[1,2]},null,"s"],"raw":123})");
  EXPECT_TRUE(Validate(out, nullptr).ok());
}

TEST(JsonTest, WriterTopLevelAndAppending) {
  std::string out = "prefix ";
  Writer(&out).String("a\"b\n\xFF");
  EXPECT_EQ(out, "prefix \"a\\\"b\\n\xEF\xBF\xBD\"");

  out.clear();
  Writer(&out).Int(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(out, "-9223372036854775808");

  out.clear();
  Writer(&out).BeginArray().EndArray();
  EXPECT_EQ(out, "[]");

  // Keys are escaped like strings.
  out.clear();
  Writer(&out).BeginObject().Key("a\"\\").Int(1).Key("").Int(2).EndObject();
  EXPECT_EQ(out, R"({"a\"\\":1,"":2})");
}

TEST(JsonTest, WriterDouble) {
  auto write = [](double d) {
    std::string out;
    Writer(&out).Double(d);
    return out;
  };
  EXPECT_EQ(write(0.0), "0");
  EXPECT_EQ(write(-0.0), "-0");
  EXPECT_EQ(write(1.5), "1.5");
  EXPECT_EQ(write(0.1), "0.1");
  EXPECT_EQ(write(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(write(1e100), "1e+100");
  EXPECT_EQ(write(5e-324), "5e-324");
  EXPECT_EQ(write(std::nan("")), "null");
  EXPECT_EQ(write(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(write(-std::numeric_limits<double>::infinity()), "null");
  std::string out;
  Writer(&out).BeginArray().Double(std::nan("")).Double(2.25).EndArray();
  EXPECT_EQ(out, "[null,2.25]");
  for (double d : {0.1, 1e100, 5e-324, 123456.789, -2.5e-10}) {
    EXPECT_TRUE(Validate(write(d), nullptr).ok()) << write(d);
    const std::string text = write(d);
    double back = 0;
    std::from_chars(text.data(), text.data() + text.size(), back);
    EXPECT_EQ(back, d);
  }
}

TEST(JsonTest, WriterDeeperThanBitmask) {
  std::string out;
  Writer w(&out);
  for (int i = 0; i < 100; ++i) w.BeginArray().Int(i);
  for (int i = 0; i < 100; ++i) w.Int(-i).EndArray();
  std::string want;
  for (int i = 0; i < 100; ++i) want += "[" + std::to_string(i) + ",";
  for (int i = 0; i < 100; ++i) {
    want += std::to_string(-i);
    want += i < 99 ? "]," : "]";
  }
  EXPECT_EQ(out, want);
  EXPECT_TRUE(Validate(out, nullptr, 100).ok());
}

TEST(JsonTest, Pretty) {
  EXPECT_EQ(Pretty("1"), "1");
  EXPECT_EQ(Pretty("{}"), "{}");
  EXPECT_EQ(Pretty(" [ ] "), "[]");
  EXPECT_EQ(Pretty(R"({"a":[1,2,{}],"b":{"c":"x, {y}: \"z\""},"d":[]})"),
            "{\n"
            "  \"a\": [\n"
            "    1,\n"
            "    2,\n"
            "    {}\n"
            "  ],\n"
            "  \"b\": {\n"
            "    \"c\": \"x, {y}: \\\"z\\\"\"\n"
            "  },\n"
            "  \"d\": []\n"
            "}");
  EXPECT_EQ(Pretty("[ 1 ,\n\t{ \"k\" : { } } ]"),
            "[\n"
            "  1,\n"
            "  {\n"
            "    \"k\": {}\n"
            "  }\n"
            "]");
}

// A random JSON value, kept as a model to compare what Value reads back.
struct Node {
  Type type = Type::kNull;
  bool b = false;
  int64_t i = 0;
  std::string s;
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> children;  // key empty in arrays
};

class RandomJson {
 public:
  explicit RandomJson(uint32_t seed) : rng_(seed) {}

  std::unique_ptr<Node> Make(int depth) {
    auto n = std::make_unique<Node>();
    const int kind = Below(depth < 6 ? 6 : 4);
    switch (kind) {
      case 0:
        n->type = Type::kNull;
        break;
      case 1:
        n->type = Type::kBool;
        n->b = Below(2) == 1;
        break;
      case 2:
        n->type = Type::kNumber;
        n->i = Below(4) == 0 ? static_cast<int64_t>(rng_() | (uint64_t{rng_()} << 32))
                             : static_cast<int64_t>(Below(2001)) - 1000;
        break;
      case 3:
        n->type = Type::kString;
        n->s = String();
        break;
      default: {
        n->type = kind == 4 ? Type::kArray : Type::kObject;
        const int count = Below(5);
        for (int k = 0; k < count; ++k) {
          n->children.emplace_back(n->type == Type::kObject ? String() : "", Make(depth + 1));
        }
      }
    }
    return n;
  }

 private:
  int Below(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }

  // Valid UTF-8 with characters that need escaping and all sequence lengths.
  std::string String() {
    static const std::vector<uint32_t> kSpecial = {
        '"',   '\\',  '/',    '\n',    0,       0x1F,     0x7F,   0xE9,
        0x7FF, 0x800, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF, 0xD7FF, 0xE000};
    std::string s;
    const int len = Below(8);
    for (int k = 0; k < len; ++k) {
      uint32_t cp;
      switch (Below(3)) {
        case 0:
          cp = 'a' + Below(26);
          break;
        case 1:
          cp = kSpecial[Below(static_cast<int>(kSpecial.size()))];
          break;
        default:
          do cp = rng_() % 0x110000;
          while (cp >= 0xD800 && cp <= 0xDFFF);
      }
      Encode(cp, &s);
    }
    return s;
  }

  static void Encode(uint32_t cp, std::string* s) {
    if (cp < 0x80) {
      s->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::mt19937 rng_;
};

void Write(const Node& n, Writer& w) {
  switch (n.type) {
    case Type::kNull:
      w.Null();
      break;
    case Type::kBool:
      w.Bool(n.b);
      break;
    case Type::kNumber:
      w.Int(n.i);
      break;
    case Type::kString:
      w.String(n.s);
      break;
    case Type::kArray:
      w.BeginArray();
      for (const auto& [key, child] : n.children) Write(*child, w);
      w.EndArray();
      break;
    case Type::kObject:
      w.BeginObject();
      for (const auto& [key, child] : n.children) {
        w.Key(key);
        Write(*child, w);
      }
      w.EndObject();
      break;
  }
}

// Checks that `v` reads back exactly the model `n`.
void ExpectMatches(const Node& n, const Value& v) {
  ASSERT_EQ(v.type(), n.type) << v.raw();
  switch (n.type) {
    case Type::kNull:
      break;
    case Type::kBool:
      EXPECT_EQ(v.AsBool(), n.b);
      break;
    case Type::kNumber:
      EXPECT_EQ(v.AsInt64(), n.i);
      break;
    case Type::kString:
      EXPECT_EQ(v.AsString(), n.s);
      break;
    case Type::kArray: {
      ASSERT_EQ(v.Size(), n.children.size());
      size_t k = 0;
      v.ForEachElement([&](Value e) {
        ExpectMatches(*n.children[k++].second, e);
        return true;
      });
      break;
    }
    case Type::kObject: {
      ASSERT_EQ(v.Size(), n.children.size());
      size_t k = 0;
      v.ForEachMember([&](std::string_view key, Value e) {
        EXPECT_EQ(key, n.children[k].first);
        ExpectMatches(*n.children[k++].second, e);
        return true;
      });
      break;
    }
  }
}

// Reads `text` with a Reader as a whole value inside an array, so both the
// structural walk and ReadValue() are exercised.
Status ReadWrapped(const std::string& text, std::string* minified) {
  const std::string wrapped = "[ " + text + " ]";
  Reader r(wrapped);
  BRAID_RETURN_IF_ERROR(r.EnterArray());
  BRAID_ASSIGN_OR_RETURN(const bool more, r.NextElement());
  if (!more) return Status::InvalidArgument("no element");
  BRAID_RETURN_IF_ERROR(r.ReadValue(minified).status());
  BRAID_ASSIGN_OR_RETURN(const bool again, r.NextElement());
  if (again) return Status::InvalidArgument("a second element");
  return r.Finish();
}

TEST(JsonTest, RandomRoundTrip) {
  RandomJson gen(20240601);
  for (int iter = 0; iter < 2000; ++iter) {
    const auto node = gen.Make(0);
    std::string text;
    Writer w(&text);
    Write(*node, w);
    SCOPED_TRACE(text);

    std::string minified;
    const Status s = Validate(text, &minified);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(minified, text);  // Writer output has no insignificant whitespace

    const std::string pretty = Pretty(text);
    std::string from_pretty;
    ASSERT_TRUE(Validate(pretty, &from_pretty).ok()) << pretty;
    EXPECT_EQ(from_pretty, text);

    ExpectMatches(*node, Value(text));
    ExpectMatches(*node, Value(pretty));

    std::string read;  // a Reader validates and minifies it the same way
    ASSERT_TRUE(ReadWrapped(pretty, &read).ok()) << pretty;
    EXPECT_EQ(read, text);
  }
}

TEST(JsonReaderTest, AgreesWithValidateOnEveryCase) {
  for (const auto& c : ValidCases()) {
    SCOPED_TRACE(c.text);
    std::string out;
    const Status s = ReadWrapped(c.text, &out);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(out, c.minified);
  }
  for (const auto& c : InvalidCases()) {
    SCOPED_TRACE(c.text);
    std::string out;
    EXPECT_EQ(ReadWrapped(c.text, &out).code(), Code::kInvalidArgument);
  }
  // A value that fails leaves the minified output as it was.
  Reader r(R"([{"a":tru}])");
  ASSERT_TRUE(r.EnterArray().ok());
  ASSERT_TRUE(*r.NextElement());
  std::string out = "keep";
  EXPECT_EQ(r.ReadValue(&out).status().message(), "invalid JSON at byte 6: expected 'true'");
  EXPECT_EQ(out, "keep");
}

TEST(JsonReaderTest, WalksMembersAndElements) {
  const std::string text =
      R"( { "a" : 1 , "b\u0063" : [ {"x" : true}, "s" ] , "body" : { "k" : 1, "l" : [ 2 ] } } )";
  Reader r(text);
  ASSERT_TRUE(r.EnterObject().ok());
  std::string_view key;
  ASSERT_TRUE(*r.NextMember(&key));
  EXPECT_EQ(key, "a");
  EXPECT_EQ(r.ReadValue()->AsInt64(), 1);
  ASSERT_TRUE(*r.NextMember(&key));
  EXPECT_EQ(key, "bc");  // unescaped
  ASSERT_TRUE(r.EnterArray().ok());
  ASSERT_TRUE(*r.NextElement());
  EXPECT_EQ(r.ReadValue()->raw(), R"({"x" : true})");
  ASSERT_TRUE(*r.NextElement());
  EXPECT_EQ(r.ReadValue()->AsString(), "s");
  EXPECT_FALSE(*r.NextElement());
  ASSERT_TRUE(*r.NextMember(&key));
  EXPECT_EQ(key, "body");
  std::string minified;
  std::vector<std::string_view> keys;
  const auto body = r.ReadValue(&minified, &keys);
  ASSERT_TRUE(body.ok());
  EXPECT_TRUE(body->IsObject());
  EXPECT_EQ(minified, R"({"k":1,"l":[2]})");
  EXPECT_EQ(keys, (std::vector<std::string_view>{"k", "l"}));
  EXPECT_FALSE(*r.NextMember(&key));
  EXPECT_TRUE(r.Finish().ok());
}

TEST(JsonReaderTest, EmptyContainers) {
  Reader r(R"({"a":[],"b":{}})");
  ASSERT_TRUE(r.EnterObject().ok());
  std::string_view key;
  ASSERT_TRUE(*r.NextMember(&key));
  ASSERT_TRUE(r.EnterArray().ok());
  EXPECT_FALSE(*r.NextElement());
  ASSERT_TRUE(*r.NextMember(&key));
  ASSERT_TRUE(r.EnterObject().ok());
  EXPECT_FALSE(*r.NextMember(&key));
  EXPECT_FALSE(*r.NextMember(&key));
  EXPECT_TRUE(r.Finish().ok());
}

// Walks `text` as an object of arrays of values, the shape of a chunk.
Status WalkObjectOfArrays(std::string_view text) {
  Reader r(text);
  BRAID_RETURN_IF_ERROR(r.EnterObject());
  std::string_view key;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool member, r.NextMember(&key));
    if (!member) break;
    BRAID_RETURN_IF_ERROR(r.EnterArray());
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const bool element, r.NextElement());
      if (!element) break;
      BRAID_RETURN_IF_ERROR(r.ReadValue().status());
    }
  }
  return r.Finish();
}

TEST(JsonReaderTest, RejectsBadStructureWithPosition) {
  EXPECT_TRUE(WalkObjectOfArrays(R"({"a":[1,2],"b":[]})").ok());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "invalid JSON at byte 0: expected an object"},
      {"[]", "invalid JSON at byte 0: expected an object"},
      {"{", "invalid JSON at byte 1: expected '\"' to begin an object key"},
      {"{a:[]}", "invalid JSON at byte 1: expected '\"' to begin an object key"},
      {R"({"a" []})", "invalid JSON at byte 5: expected ':' after object key"},
      {R"({"a":1})", "invalid JSON at byte 5: expected an array"},
      {R"({"a":[1 2]})", "invalid JSON at byte 8: expected ',' or ']' in array"},
      {R"({"a":[1,]})", "invalid JSON at byte 8: expected a value"},
      {R"({"a":[],})", "invalid JSON at byte 8: expected '\"' to begin an object key"},
      {R"({"a":[] "b":[]})", "invalid JSON at byte 8: expected ',' or '}' in object"},
      {R"({"a":[]} x)", "invalid JSON at byte 9: expected end of input"},
      {R"({"a":[])", "invalid JSON at byte 7: expected ',' or '}' in object"},
      {R"({"a\x":[]})", "invalid JSON at byte 4: expected one of \"\\/bfnrtu after '\\'"},
      {"{\"a\":[\"\xff\"]}", "invalid JSON at byte 7: invalid UTF-8 in string"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(text);
    const Status s = WalkObjectOfArrays(text);
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_EQ(s.message(), message);
  }
}

TEST(JsonReaderTest, FinishRefusesOpenContainers) {
  Reader r("[1]");
  ASSERT_TRUE(r.EnterArray().ok());
  ASSERT_TRUE(*r.NextElement());
  ASSERT_TRUE(r.ReadValue().ok());
  EXPECT_EQ(r.Finish().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace braid::json
