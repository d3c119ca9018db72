// Backend-independent encodings of record metadata (docs/storage.md).
//
// Local version vectors: backends keep instance ids in a dictionary and
// store version vectors keyed by the local instance number, as a blob of
// unsigned LEB128 varints: num1 counter1 num2 counter2 ..., nums ascending.
//
// Field clocks are described in store/content.h.

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

}  // namespace braid

#endif  // BRAID_STORE_CODEC_H_
