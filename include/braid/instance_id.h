// InstanceId: the random 128-bit identity of a braid instance.
//
// Text form: 32 lowercase hex digits. Every version of every record names the
// instance that wrote it, so ids must never be shared by two live instances:
// a copied data directory is detected by the store and given a new id.

#ifndef BRAID_INSTANCE_ID_H_
#define BRAID_INSTANCE_ID_H_

#include <array>
#include <compare>
#include <cstdint>
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

  auto operator<=>(const InstanceId&) const = default;
};

}  // namespace braid

#endif  // BRAID_INSTANCE_ID_H_
