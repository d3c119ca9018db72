// Unsigned LEB128 varints: 7 bits a byte, low groups first, the high bit
// set on every byte but the last. Used by the store's compact encodings.

#ifndef BRAID_BASE_VARINT_H_
#define BRAID_BASE_VARINT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace braid {

inline void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads one varint from the front of *in and consumes it; false when *in
// ends first or the value does not fit 64 bits.
inline bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    result |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace braid

#endif  // BRAID_BASE_VARINT_H_
