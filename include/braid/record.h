// Records: what braid stores and replicates.
//
// A record is named by (collection, id) and holds a JSON object body. Every
// write of a record makes a new version named (origin instance, counter):
// the writing instance advances its counter once per record version, so that
// pair names exactly one version of one record on every replica. The version
// vector says which writes the version includes; the HLC clocks say when each
// top-level field was last written (field-level merges, DESIGN section 2).
// A deleted record stays as a tombstone (deleted = true, body "{}") so the
// delete replicates.

#ifndef BRAID_RECORD_H_
#define BRAID_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "braid/instance_id.h"
#include "braid/version_vector.h"

namespace braid {

struct Version {
  InstanceId origin;
  uint64_t counter = 0;

  // "<origin hex>:<counter>", used as the HTTP ETag.
  std::string ToString() const { return origin.Hex() + ":" + std::to_string(counter); }
  bool operator==(const Version&) const = default;
};

struct Record {
  std::string collection;
  std::string id;
  std::string partition;              // colon-separated segments; default: collection
  std::optional<std::string> parent;  // for parent-scoped delta feeds
  bool deleted = false;
  Version version;
  VersionVector vv;
  // HLC of the write that made this version.
  uint64_t hlc = 0;
  // The writes of fields not written by this version itself, as a minified
  // JSON object {"field": [hlc, "<origin hex>", counter], ...}; a name absent
  // from the body is a field removed by that write. Empty when this version
  // wrote every field (src/store/content.h has the details).
  std::string field_clocks;
  std::string body;  // minified JSON object; "{}" for tombstones
  // Losing values and versions kept by merges, a minified JSON array, or
  // empty. Replicated; listed by `braid conflicts`; cleared by resolving.
  std::string conflicts;
};

// What a record write does, as reported to the caller and the change log.
// The body member that lists a record's attachments (src/blob/attachments.h):
// {"name": {"content_type", "md5", "sha256", "size"}, ...}. It merges like
// any field. Local writes keep it: a body without it gets the stored one,
// a body with it must carry the stored one unchanged (PutRequest).
inline constexpr std::string_view kAttachmentsField = "_attachments";

enum class WriteOp {
  kCreated,    // the record did not exist or was a tombstone
  kUpdated,    // a live record got a new body or parent
  kDeleted,    // a live record became a tombstone
  kUnchanged,  // same content as stored: no new version, no change event
};

std::string_view WriteOpName(WriteOp op);  // "created", "updated", ...

}  // namespace braid

#endif  // BRAID_RECORD_H_
