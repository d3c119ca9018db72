// JSON: the validator, the Value walker and the one-pass Reader
// (src/base/json.h), which every body from outside goes through.
//
// For every input: the Reader accepts exactly what Validate() accepts, with
// the same minified text and top-level keys. For accepted input: minifying
// is idempotent, Pretty() output validates back to the same minified text,
// and walking the value (members, elements, strings, integers) stays in
// bounds and agrees with Size(). Record bodies from clients go through
// NormalizeBody(): what it accepts is an object and comes out minified.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/validate.h"
#include "fuzz/check.h"

namespace {

using braid::json::Value;

// Visits every nested value. Recursion is bounded by the validator's
// max_depth, which is far below any stack limit.
void Walk(const Value& v) {
  switch (v.type()) {
    case braid::json::Type::kString:
      FUZZ_CHECK(v.AsString().has_value());
      break;
    case braid::json::Type::kNumber:
      (void)v.AsInt64();
      break;
    case braid::json::Type::kBool:
      FUZZ_CHECK(v.AsBool().has_value());
      break;
    case braid::json::Type::kNull:
      FUZZ_CHECK(v.raw() == "null");
      break;
    case braid::json::Type::kArray: {
      size_t n = 0;
      v.ForEachElement([&](Value e) {
        ++n;
        Walk(e);
        return true;
      });
      FUZZ_CHECK(n == v.Size());
      break;
    }
    case braid::json::Type::kObject: {
      size_t n = 0;
      v.ForEachMember([&](std::string_view key, Value e) {
        ++n;
        FUZZ_CHECK(v.Find(key).has_value());
        Walk(e);
        return true;
      });
      FUZZ_CHECK(n == v.Size());
      break;
    }
  }
}

// The Reader reads `text` as one value; true when it accepts it.
bool ReadWhole(std::string_view text, std::string* minified, std::vector<std::string_view>* keys) {
  braid::json::Reader in(text);
  auto v = in.ReadValue(minified, keys);
  return v.ok() && in.Finish().ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  std::string minified;
  std::vector<std::string_view> keys;
  const bool valid =
      braid::json::Validate(text, &minified, braid::json::kDefaultMaxDepth, &keys).ok();

  std::string read_minified;
  std::vector<std::string_view> read_keys;
  FUZZ_CHECK(ReadWhole(text, &read_minified, &read_keys) == valid);
  std::string body;
  if (braid::NormalizeBody(text, size, &body).ok()) {
    FUZZ_CHECK(valid);
    FUZZ_CHECK(body == minified);
    FUZZ_CHECK(Value(body).IsObject());
  }
  if (!valid) {
    FUZZ_CHECK(minified.empty());
    FUZZ_CHECK(!braid::json::Validate(text, nullptr).ok());
    return 0;
  }
  FUZZ_CHECK(read_minified == minified);
  FUZZ_CHECK(read_keys == keys);
  FUZZ_CHECK(braid::json::Validate(text, nullptr).ok());

  std::string again;
  FUZZ_CHECK(braid::json::Validate(minified, &again).ok());
  FUZZ_CHECK(again == minified);

  std::string from_pretty;
  FUZZ_CHECK(braid::json::Validate(braid::json::Pretty(minified), &from_pretty).ok());
  FUZZ_CHECK(from_pretty == minified);

  Walk(Value(text));
  Walk(Value(minified));
  return 0;
}
