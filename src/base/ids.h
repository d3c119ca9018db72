// Identifiers braid generates: record ids (UUIDv7) and random bytes.

#ifndef BRAID_BASE_IDS_H_
#define BRAID_BASE_IDS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "braid/clock.h"

namespace braid {

// Fills `out` with `n` bytes from the operating system's cryptographic
// generator. Aborts the process if the generator fails: braid cannot run
// safely without it.
void RandomBytes(void* out, size_t n);
uint64_t RandomU64();

// A UUIDv7 (RFC 9562) in canonical text form, e.g.
// "01890a5d-ac96-774b-bcce-b302099a8057": time-ordered, so ids created in
// sequence land next to each other in the store's id index.
std::string NewUuidV7(const Clock& clock);

// Lowercase hex of `bytes`.
std::string HexEncode(std::string_view bytes);
// The bytes of `hex` (either case); nullopt for an odd length or a
// character that is not a hex digit.
std::optional<std::string> HexDecode(std::string_view hex);

}  // namespace braid

#endif  // BRAID_BASE_IDS_H_
