// Backend-independent encodings of record metadata (docs/storage.md).
//
// Local version vectors: backends keep instance ids in a dictionary and
// store version vectors keyed by the local instance number, as a blob of
// unsigned LEB128 varints: num1 counter1 num2 counter2 ..., nums ascending.
//
// Field clocks: a minified JSON object {"field": hlc, ...}, keys sorted,
// listing (a) the body's fields whose clock differs from the record's HLC
// and (b) every field removed from the body, with the time of its removal.

#ifndef BRAID_STORE_CODEC_H_
#define BRAID_STORE_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "braid/status.h"
#include "braid/version_vector.h"

namespace braid {

using LocalVector = BasicVersionVector<uint32_t>;

std::string EncodeLocalVector(const LocalVector& vv);
// Errors: Corruption for a truncated or unsorted blob.
Result<LocalVector> DecodeLocalVector(std::string_view blob);

// True when `vv` says nothing beyond its version (origin, counter): the
// vector of a record only one instance wrote. Stores keep it as NULL.
bool IsImpliedVector(const LocalVector& vv, uint32_t origin, uint64_t counter);
// The vector {origin: counter}.
LocalVector ImpliedVector(uint32_t origin, uint64_t counter);

// Field clocks of a record after a write that replaced `old_body` (written
// with `old_hlc` and `old_clocks`) by `new_body` at `new_hlc`. Unchanged
// fields keep their clocks; changed and added fields get `new_hlc`; removed
// fields are listed with `new_hlc`. Bodies are minified JSON objects.
std::string NextFieldClocks(std::string_view old_body, uint64_t old_hlc,
                            std::string_view old_clocks, std::string_view new_body,
                            uint64_t new_hlc);

}  // namespace braid

#endif  // BRAID_STORE_CODEC_H_
