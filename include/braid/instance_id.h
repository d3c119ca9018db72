// InstanceId: the random 128-bit identity of a braid instance.
//
// Text form: 32 lowercase hex digits. Every version of every record names the
// instance that wrote it, so ids must never be shared by two live instances:
// a copied data directory is detected by the store and given a new id.

#ifndef BRAID_INSTANCE_ID_H_
#define BRAID_INSTANCE_ID_H_

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "braid/status.h"

namespace braid {

struct InstanceId {
  std::array<uint8_t, 16> bytes{};

  // 128 bits from the operating system's cryptographic generator.
  static InstanceId Random();
  // Parses 32 hex digits (either case). Errors: InvalidArgument.
  static Result<InstanceId> FromHex(std::string_view hex);
  // From 16 raw bytes; `raw` must hold exactly 16 bytes.
  static Result<InstanceId> FromBytes(std::string_view raw);

  std::string Hex() const;
  bool IsZero() const;
  std::string_view AsBytes() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }

  // Byte order, as the defaulted comparison would give, but as two 64-bit
  // words rather than a call to memcmp: version vectors and the instance
  // dictionary compare ids for every record a replica applies.
  friend bool operator==(const InstanceId& a, const InstanceId& b) {
    return a.Word(0) == b.Word(0) && a.Word(1) == b.Word(1);
  }
  friend std::strong_ordering operator<=>(const InstanceId& a, const InstanceId& b) {
    const uint64_t a0 = a.BigEndianWord(0), b0 = b.BigEndianWord(0);
    if (a0 != b0) return a0 <=> b0;
    return a.BigEndianWord(1) <=> b.BigEndianWord(1);
  }

 private:
  uint64_t Word(int i) const {
    uint64_t w;
    std::memcpy(&w, bytes.data() + 8 * i, 8);
    return w;
  }
  uint64_t BigEndianWord(int i) const {
    const uint64_t w = Word(i);
    if constexpr (std::endian::native == std::endian::little) return __builtin_bswap64(w);
    return w;
  }
};

}  // namespace braid

#endif  // BRAID_INSTANCE_ID_H_
