// Validation of everything that names or carries a record: collections, ids,
// partitions, parents and bodies. Every write path (HTTP, CLI, peers, the
// library) goes through these, so the store never holds a name or body that
// another replica would reject.
//
// Rules (docs/storage.md repeats them):
//   collection  [a-z][a-z0-9_.-]{0,63}
//   id, parent  1..255 bytes of UTF-8, no control characters (C0, DEL, C1)
//   partition   1..255 bytes, segments separated by ':', each segment 1..64
//               characters of [A-Za-z0-9_.-]
//   body        a JSON object, no duplicate top-level keys, at most
//               max_bytes bytes once minified

#ifndef BRAID_BASE_VALIDATE_H_
#define BRAID_BASE_VALIDATE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "braid/status.h"

namespace braid {

inline constexpr size_t kMaxIdBytes = 255;
inline constexpr size_t kMaxPartitionBytes = 255;
inline constexpr size_t kDefaultMaxBodyBytes = 4 * 1024 * 1024;

// `s` as a name: 1..255 bytes of valid UTF-8 without control characters.
// Errors: InvalidArgument, naming it `what` ("record id", ...).
Status ValidateName(std::string_view what, std::string_view s);

Status ValidateCollection(std::string_view collection);
Status ValidateRecordId(std::string_view id);
Status ValidateParent(std::string_view parent);
Status ValidatePartition(std::string_view partition);

// True when `partition` equals `prefix` or starts with `prefix` followed by
// ':' (segment-aware: "lab_a" covers "lab_a" and "lab_a:x", not "lab_ab").
bool PartitionCovers(std::string_view prefix, std::string_view partition);

// Sorts `prefixes`, drops duplicates and every prefix another one covers.
// O(n log n) per segment depth: filters come from peers, so a quadratic
// pass over a large one would be a way to stall a server.
std::vector<std::string> DropCoveredPrefixes(std::vector<std::string> prefixes);

// Checks `text` as a record body and sets *minified to its minified form.
// Errors: InvalidArgument (not JSON, not an object, duplicate key),
// PayloadTooLarge (over max_bytes).
Status NormalizeBody(std::string_view text, size_t max_bytes, std::string* minified);

// Checks a body's top-level field names, as Validate() collects them: each
// name at most once (escaped names compare decoded). May reorder `names`.
// Errors: InvalidArgument naming the repeated field.
Status CheckBodyFields(std::vector<std::string_view>& names);

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates).
bool IsValidUtf8(std::string_view s);

}  // namespace braid

#endif  // BRAID_BASE_VALIDATE_H_
