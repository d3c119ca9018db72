// libFuzzer target for the JSON validator and the Value walker.
//
// For every input that Validate() accepts it checks that minifying is
// idempotent, that Pretty() output validates back to the same minified text,
// and that walking the value (members, elements, strings, integers) stays in
// bounds and agrees with Size(). Any violation aborts.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/json.h"

namespace {

using braid::json::Value;

void Check(bool condition) {
  if (!condition) std::abort();
}

// Visits every nested value. Recursion is bounded by the validator's
// max_depth, which is far below any stack limit.
void Walk(const Value& v) {
  switch (v.type()) {
    case braid::json::Type::kString:
      Check(v.AsString().has_value());
      break;
    case braid::json::Type::kNumber:
      (void)v.AsInt64();
      break;
    case braid::json::Type::kBool:
      Check(v.AsBool().has_value());
      break;
    case braid::json::Type::kNull:
      Check(v.raw() == "null");
      break;
    case braid::json::Type::kArray: {
      size_t n = 0;
      v.ForEachElement([&](Value e) {
        ++n;
        Walk(e);
        return true;
      });
      Check(n == v.Size());
      break;
    }
    case braid::json::Type::kObject: {
      size_t n = 0;
      v.ForEachMember([&](std::string_view key, Value e) {
        ++n;
        Check(v.Find(key).has_value());
        Walk(e);
        return true;
      });
      Check(n == v.Size());
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string minified;
  if (!braid::json::Validate(text, &minified).ok()) {
    Check(minified.empty());
    return 0;
  }
  Check(braid::json::Validate(text, nullptr).ok());

  std::string again;
  Check(braid::json::Validate(minified, &again).ok());
  Check(again == minified);

  std::string from_pretty;
  Check(braid::json::Validate(braid::json::Pretty(minified), &from_pretty).ok());
  Check(from_pretty == minified);

  Walk(Value(text));
  Walk(Value(minified));
  return 0;
}
