// Query strings and URL coding (src/api/query.h, src/http/client.h): every
// API request's query goes through Query::Parse, and path segments through
// UrlDecode.
//
// Checks that the values of a parsed query, encoded again, parse back the
// same, that the typed getters answer without crashing, and that what
// UrlDecode accepts survives UrlEncode and decoding again.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/query.h"
#include "fuzz/check.h"
#include "http/client.h"

namespace {

// The parameters of the delta feed, the route with the most.
constexpr std::string_view kNames[] = {"cursor", "limit", "collection", "parent", "wait"};

void CheckQuery(std::string_view text) {
  const auto q =
      braid::api::Query::Parse(text, {"cursor", "limit", "collection", "parent", "wait"});
  if (!q.ok()) {
    FUZZ_CHECK(q.status().code() == braid::Code::kInvalidArgument);
    return;
  }
  (void)q->GetInt("limit", 1, 1000);
  (void)q->GetBool("wait", false);

  std::string encoded;
  for (const std::string_view name : kNames) {
    if (const auto v = q->Get(name)) {
      encoded +=
          (encoded.empty() ? "" : "&") + std::string(name) + "=" + braid::http::UrlEncode(*v);
    }
  }
  const auto back =
      braid::api::Query::Parse(encoded, {"cursor", "limit", "collection", "parent", "wait"});
  FUZZ_CHECK(back.ok());
  for (const std::string_view name : kNames) FUZZ_CHECK(back->Get(name) == q->Get(name));
}

void CheckUrlDecode(std::string_view text, bool plus_is_space) {
  const auto decoded = braid::http::UrlDecode(text, plus_is_space);
  if (!decoded.ok()) return;
  const auto again = braid::http::UrlDecode(braid::http::UrlEncode(*decoded), plus_is_space);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *decoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  CheckQuery(text);
  CheckUrlDecode(text, false);
  CheckUrlDecode(text, true);
  return 0;
}
