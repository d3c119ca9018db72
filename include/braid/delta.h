// The delta feed: pages of create/update/delete events for application
// clients, read from the store's change log (docs/protocol.md, "Delta feed").
//
// Cursor encoding: base64url (no padding) of 21 bytes:
//   byte 0      format version, 1
//   bytes 1-8   store epoch, big-endian
//   bytes 9-16  seq of the last event the client has seen, big-endian
//   bytes 17-20 FNV-1a 32 of bytes 0-16, big-endian
// A cursor is opaque to clients. One that does not decode, was issued by
// another store (or by this store before it was copied), points past the end
// of the log or behind the compaction horizon is answered with
// resyncRequired: the client drops it and starts again without a cursor.
//
// Compression within a page, per item, in event order:
//   create + update -> create      update + update -> update
//   create + delete -> nothing     update + delete -> delete
//   delete + create -> create
// and an item whose current record is a tombstone is reported as a delete
// (it may be reported again when the page holding its delete is read).
// So a page never holds more than `limit` items, possibly fewer.

#ifndef BRAID_DELTA_H_
#define BRAID_DELTA_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "braid/record.h"
#include "braid/status.h"
#include "braid/store.h"

namespace braid {

inline constexpr size_t kDefaultDeltaLimit = 200;
inline constexpr size_t kMaxDeltaLimit = 1000;

struct DeltaCursor {
  uint64_t epoch = 0;
  uint64_t seq = 0;
};

std::string EncodeCursor(const DeltaCursor& cursor);
// Errors: ResyncRequired for anything that is not a cursor this code wrote.
Result<DeltaCursor> DecodeCursor(std::string_view text);

struct DeltaItem {
  ChangeOp type = ChangeOp::kCreate;
  std::string collection;
  std::string id;
  std::optional<std::string> parent;
  uint64_t seq = 0;              // seq of the item's last event in the page
  std::optional<Record> record;  // current record; absent for deletes
};

struct DeltaPage {
  std::vector<DeltaItem> items;
  std::string cursor;  // pass back to read the next page
  bool has_more = false;
  uint64_t last_seq = 0;  // the store's newest seq when the page was read
};

struct DeltaRequest {
  std::string cursor;  // empty: from the beginning of the log
  size_t limit = kDefaultDeltaLimit;
  std::optional<std::string> collection;
  std::optional<std::string> parent;
};

// Reads one page. Errors: InvalidArgument (limit outside 1..kMaxDeltaLimit,
// invalid collection or parent), ResyncRequired (cursor), store errors.
Result<DeltaPage> ReadDelta(Store& store, const DeltaRequest& request);

// The compression step on its own: events in seq order in, items in seq
// order (of each item's last event) out.
std::vector<DeltaItem> CompressEvents(std::vector<ChangeEvent> events);

}  // namespace braid

#endif  // BRAID_DELTA_H_
