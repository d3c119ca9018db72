// base64url and base64 (src/base/encoding.h): cursors and password hashes
// are base64url, HTTP Basic credentials base64, all from outside.
//
// Checks that each decoder accepts one spelling per byte string (what
// decodes encodes back to the same text), and that any bytes encode to text
// that decodes back to them.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/encoding.h"
#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  if (const auto bytes = braid::Base64UrlDecode(text)) {
    FUZZ_CHECK(braid::Base64UrlEncode(*bytes) == text);
  }
  if (const auto bytes = braid::Base64Decode(text)) {
    FUZZ_CHECK(braid::Base64Encode(*bytes) == text);
  }
  FUZZ_CHECK(braid::Base64UrlDecode(braid::Base64UrlEncode(text)) == text);
  FUZZ_CHECK(braid::Base64Decode(braid::Base64Encode(text)) == text);
  return 0;
}
