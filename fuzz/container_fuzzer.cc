// Container input (src/container/): file paths as records carry them
// (EncodePath/DecodePath: peers' records name the files a checkout writes)
// and metadata sidecars (ParseMetadata: any file in a folder).
//
// The first byte picks the parser. Checks that encoding any bytes gives
// valid UTF-8 without control characters that decodes back to the same
// bytes (when they make a path that stays inside a folder), that every
// decoded path is relative with no ".", ".." or empty component and no
// NUL, and that metadata becomes a JSON object or a clean error.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/json.h"
#include "base/validate.h"
#include "container/pass.h"
#include "container/path_codec.h"
#include "fuzz/check.h"

namespace {

using braid::container::DecodePath;
using braid::container::EncodePath;

void CheckSafe(const std::string& path) {
  FUZZ_CHECK(!path.empty() && path.front() != '/');
  FUZZ_CHECK(path.find('\0') == std::string::npos);
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? slash : slash - start);
    FUZZ_CHECK(!part.empty() && part != "." && part != "..");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
}

void CheckEncode(std::string_view bytes) {
  const std::string encoded = EncodePath(bytes);
  FUZZ_CHECK(braid::IsValidUtf8(encoded));
  for (const char c : encoded) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  const auto back = DecodePath(encoded);
  if (back.ok()) {
    FUZZ_CHECK(*back == bytes);
    CheckSafe(*back);
  }
  FUZZ_CHECK(braid::container::RecordIdFor(encoded).size() <= 255);
}

void CheckDecode(std::string_view text) {
  const auto path = DecodePath(text);
  if (!path.ok()) {
    FUZZ_CHECK(path.status().code() == braid::Code::kInvalidArgument);
    return;
  }
  CheckSafe(*path);
  FUZZ_CHECK(EncodePath(*path) == text);  // one spelling per path
}

void CheckMetadata(std::string_view text) {
  braid::container::Extent extent;
  const auto m = braid::container::ParseMetadata(text, &extent);
  if (!m.ok()) {
    FUZZ_CHECK(m.status().code() == braid::Code::kInvalidArgument ||
               m.status().code() == braid::Code::kPayloadTooLarge);
    return;
  }
  std::string minified;
  FUZZ_CHECK(braid::json::Validate(*m, &minified).ok());
  FUZZ_CHECK(minified == *m);
  FUZZ_CHECK(braid::json::Value(*m).IsObject());
  if (extent.footprint) FUZZ_CHECK((*extent.footprint)[1] <= (*extent.footprint)[3]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text = braid::fuzz::AsText(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      CheckEncode(text);
      break;
    case 1:
      CheckDecode(text);
      break;
    default:
      CheckMetadata(text);
      break;
  }
  return 0;
}
