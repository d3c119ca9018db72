// The replicated content of a record, as merges see it (docs/protocol.md,
// "Merging"): per top-level field, its value (or its removal) and the write
// that set it; whether the record is deleted; and the set of conflicts kept
// from earlier merges.
//
// A write is named (hlc, origin, counter): the HLC of the record version
// that wrote the field, and that version's name. Writes are totally ordered
// by that triple (instance ids compared as bytes), which is what makes
// "last writer wins" per field deterministic on every replica.
//
// Stored form (Record::field_clocks): a minified JSON object, keys sorted,
//   {"field": [hlc, "<origin hex>", counter], ...}
// listing every field whose write is not the record's own version write
// (hlc, version.origin, version.counter), and every removed field (a name
// absent from the body). Fields written by the version itself need no entry,
// so a record one instance wrote has no clocks at all.
//
// Conflicts (Record::conflicts): a minified JSON array of entries, sorted by
// their text, no duplicates:
//   {"field": name, "value": <json> | "removed": true, "write": [hlc, hex, n]}
//       a field value that lost to a concurrent write of the same field;
//   {"version": "<hex>:<n>", "hlc": h, "deleted": bool, "body": {...} | null}
//       a whole version that lost (lww, remote-wins, local-wins, or a delete
//       that lost to a concurrent update).

#ifndef BRAID_STORE_CONTENT_H_
#define BRAID_STORE_CONTENT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "braid/instance_id.h"
#include "braid/record.h"
#include "braid/status.h"

namespace braid {

struct FieldWrite {
  uint64_t hlc = 0;
  InstanceId origin;
  uint64_t counter = 0;

  bool operator==(const FieldWrite&) const = default;
  // The total order of writes: HLC, then instance id, then counter.
  bool operator<(const FieldWrite& o) const {
    if (hlc != o.hlc) return hlc < o.hlc;
    if (origin != o.origin) return origin < o.origin;
    return counter < o.counter;
  }
  // True when a record whose version vector is `vv` includes this write.
  bool KnownBy(const VersionVector& vv) const { return vv.Get(origin) >= counter; }
};

struct FieldState {
  std::string name;                  // unescaped
  std::optional<std::string> value;  // raw minified JSON; nullopt: removed
  FieldWrite write;

  bool operator==(const FieldState&) const = default;
};

struct Content {
  bool deleted = false;
  // The record's parent. It merges as a whole: the version with the greater
  // write brings its parent.
  std::optional<std::string> parent;
  std::vector<FieldState> fields;      // sorted by name; removed fields included
  std::vector<std::string> conflicts;  // canonical entry texts, sorted, unique

  bool operator==(const Content&) const = default;
};

// The write of a record's own version.
inline FieldWrite VersionWrite(const Record& r) {
  return {r.hlc, r.version.origin, r.version.counter};
}

// Parses a record's body, field_clocks and conflicts (all previously
// validated). Errors: Corruption when the clocks or conflicts are malformed.
Result<Content> ParseContent(const Record& record);

// The stored clocks of `content` for a version whose own write is
// `version_write` (see above), and its conflicts as stored.
std::string ClocksFor(const Content& content, const FieldWrite& version_write);
std::string ConflictsText(const Content& content);

// Writes `content` into record->body, field_clocks, conflicts and deleted,
// with clocks relative to the record's version write (record->hlc,
// version), which the caller sets first. Bodies list fields in name order.
void StoreContent(const Content& content, Record* record);

// Content after a local write that replaced `old` with `new_body` (a
// validated, minified JSON object) at `write`: unchanged fields keep their
// writes, changed and new ones take `write`, removed ones are listed as
// removed at `write`. A tombstone's earlier fields are forgotten.
Result<Content> ContentAfterPut(const Record& old, std::string_view new_body,
                                const FieldWrite& write);

// Validates peer-supplied clocks and conflicts texts (minified JSON). The
// clocks of a version with vector `vv`: each field once, each write one the
// vector includes, with an HLC no later than `max_millis` (ms); none on a
// tombstone. Errors: InvalidArgument naming what is wrong.
Status ValidateFieldClocks(std::string_view clocks, bool deleted, const VersionVector& vv,
                           int64_t max_millis);
Status ValidateConflicts(std::string_view conflicts);

// The compact form stores keep field clocks in (docs/storage.md): the
// distinct writes once, with local instance numbers, then each field with
// the index of its write, all as unsigned LEB128 varints:
//   n_writes, n_writes x (hlc, origin_num, counter),
//   n_fields, n_fields x (name_length, name bytes, write_index)
// Fields are in name order. A record updated once keeps, for five unchanged
// fields, ~55 bytes instead of ~300 of wire JSON: small enough to stay in
// its page, where the JSON made the first update of a packed page split it.
using NumForId = std::function<Result<uint32_t>(const InstanceId&)>;
using IdForNum = std::function<Result<InstanceId>(uint32_t)>;
Result<std::string> ClocksToLocal(std::string_view clocks_json, const NumForId& num_for);
// Errors: Corruption for a malformed blob.
Result<std::string> ClocksFromLocal(std::string_view blob, const IdForNum& id_for);

// The raw JSON of a minified body's top-level "_attachments" member
// (kAttachmentsField), or "" when it has none. Escaped spellings of the
// name count: the check must not be a way around PutRequest's rules.
std::string_view AttachmentsMember(std::string_view body);

// Canonical conflict entries.
std::string FieldConflict(const FieldState& loser);
std::string VersionConflict(const Record& loser);

// Sorted union of two canonical entry sets.
std::vector<std::string> UnionConflicts(const std::vector<std::string>& a,
                                        const std::vector<std::string>& b);

}  // namespace braid

#endif  // BRAID_STORE_CONTENT_H_
