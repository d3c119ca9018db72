// The change log's types: its events, the queries of the delta feed and
// their pages (Store::ReadChanges, braid/store.h; docs/protocol.md, "Delta
// feed").

#ifndef BRAID_CHANGES_H_
#define BRAID_CHANGES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "braid/record.h"

namespace braid {

enum class ChangeOp { kCreate = 1, kUpdate = 2, kDelete = 3 };
std::string_view ChangeOpName(ChangeOp op);  // "create", "update", "delete"

// One change-log event.
struct ChangeEvent {
  uint64_t seq = 0;
  ChangeOp op = ChangeOp::kCreate;
  std::string collection;
  std::string id;
  std::optional<std::string> parent;  // the record's parent when the event was logged
  int64_t at_ms = 0;
  // The record as it is now (not as it was at `seq`), when the query asked
  // for records. Always present: tombstones are never removed.
  std::optional<Record> record;
};

struct ChangeQuery {
  uint64_t after_seq = 0;
  size_t limit = 200;
  std::optional<std::string> collection;
  std::optional<std::string> parent;
  bool with_records = true;
};

// Events a collection-only query examines per page. The log has no index by
// collection (it would cost every write); such a query scans at most this
// many seqs past its cursor and reports how far it got.
inline constexpr uint64_t kCollectionScanWindow = 10'000;

// A page of the change log, read from one consistent snapshot.
struct ChangePage {
  std::vector<ChangeEvent> events;  // seq > after_seq, ascending, at most `limit`
  // Every matching event with after_seq < seq <= complete_to is in `events`:
  // the next page starts after complete_to.
  uint64_t complete_to = 0;
  bool has_more = false;  // matching events may exist after complete_to
  uint64_t last_seq = 0;  // newest seq in the whole log
  uint64_t horizon = 0;   // cursors below this were compacted away
  uint64_t epoch = 0;     // changes when the log's identity changes
};

}  // namespace braid

#endif  // BRAID_CHANGES_H_
