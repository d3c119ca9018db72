// Delta feed cursors (include/braid/delta.h): clients send them back in
// every GET /api/v1/delta, so any text may arrive.
//
// Checks that a cursor that decodes is exactly the encoding of what it
// decodes to (one text per cursor: a client cannot forge a second spelling),
// and that any epoch and seq, taken from the input's bytes, encode to a
// cursor that decodes back to them.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "braid/delta.h"
#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  const auto cursor = braid::DecodeCursor(text);
  if (cursor.ok()) {
    FUZZ_CHECK(braid::EncodeCursor(*cursor) == text);
  } else {
    FUZZ_CHECK(cursor.status().code() == braid::Code::kResyncRequired);
  }

  if (size >= 16) {
    braid::DeltaCursor c;
    std::memcpy(&c.epoch, data, 8);
    std::memcpy(&c.seq, data + 8, 8);
    const auto back = braid::DecodeCursor(braid::EncodeCursor(c));
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(back->epoch == c.epoch && back->seq == c.seq);
  }
  return 0;
}
