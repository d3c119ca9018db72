// The wire form of a record version, as replication sends it and as held
// versions are kept (docs/protocol.md, "Records on the wire"):
//
//   {"collection":"notes","id":"n1","partition":"notes","parent":null,
//    "deleted":false,"version":"<origin hex>:<counter>","hlc":123,
//    "vv":{"<hex>":n,...},"clocks":{...},"conflicts":[...],"body":{...}}
//
// "vv" is omitted when it is just {origin: counter}; "clocks" and
// "conflicts" are omitted when empty. Members may come in any order; unknown
// members are errors.

#ifndef BRAID_STORE_WIRE_H_
#define BRAID_STORE_WIRE_H_

#include <optional>
#include <string>
#include <string_view>

#include "base/json.h"
#include "braid/record.h"
#include "braid/status.h"
#include "braid/store.h"

namespace braid {

void WriteWireRecord(json::Writer& w, const Record& r);

// A record's members as views, for writers that have no Record at hand (a
// sender encoding rows as it reads them). `vv` null: just {version}.
struct WireFields {
  std::string_view collection, id, partition;
  std::optional<std::string_view> parent;
  bool deleted = false;
  Version version;
  uint64_t hlc = 0;
  const VersionVector* vv = nullptr;
  std::string_view field_clocks, body, conflicts;
};
// Writes exactly what WriteWireRecord(w, record) writes for the same record.
void WriteWireRecord(json::Writer& w, const WireFields& f);
std::string WireRecordJson(const Record& r);

// Parses one record from validated JSON. Only the shape is checked here
// (types, version and version vector syntax); names, bodies, clocks and
// conflicts are checked by WriteTransaction::Apply.
// Errors: InvalidArgument naming the member.
Result<Record> ParseWireRecord(json::Value v);

// Reads one record from untrusted text, validating it in the same pass (no
// Validate() first). The body comes out as NormalizeBody() makes it
// (minified, an object, each field name once), except for the size limit,
// which is the store's to check (WriteTransaction::Apply with
// BodyForm::kNormalized). Errors: InvalidArgument.
Result<Record> ReadWireRecord(json::Reader& in);

// The checks WriteTransaction::Apply makes of a version from a peer that
// do not depend on the store: names, the body (a tombstone's is {}; with
// kUnchecked it is validated and minified into *normalized_body, else only
// its size is checked against `max_body_bytes`), the version inside its
// vector, the HLC (set, at most an hour ahead of `now_ms`), field clocks
// and conflicts. A receiver runs them as it reads a chunk, off the applying
// thread, and applies with BodyForm::kChecked. Errors: InvalidArgument,
// PayloadTooLarge (naming store.max_record_bytes).
Status CheckPeerVersion(const Record& in, BodyForm body_form, size_t max_body_bytes, int64_t now_ms,
                        std::string* normalized_body);

// Parses "<32 hex>:<counter>". Errors: InvalidArgument.
Result<Version> ParseVersion(std::string_view text);

}  // namespace braid

#endif  // BRAID_STORE_WIRE_H_
