// Change-log compaction and the purge of stale version-stream entries
// (Store::Compact; internal), over what a backend provides: range scans of
// the change log and the versions table, and short write transactions.
//
// The old region is the prefix of the log logged before the cutoff (found by
// binary search: `at` never decreases with seq). For each item, compaction
// drops its old events up to and including its last old delete (the item's
// earlier lives, which a client starting from scratch never needs) and every
// old update but the newest after that. The horizon is raised first, in its
// own transaction, to the highest seq that will be dropped: a cursor below it
// gets resyncRequired, so no client can read a page with a hole in it.
//
// Memory: items are processed in passes by rid modulo a pass count chosen so
// that one pass tracks at most kMaxItemsPerPass items. Lock time: rows are
// deleted in transactions of at most kDeleteBatch rows, each taking the
// store's write lock anew, so that other writers interleave with a long
// compaction.

#ifndef BRAID_STORE_COMPACTION_H_
#define BRAID_STORE_COMPACTION_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "braid/changes.h"
#include "braid/status.h"
#include "braid/store.h"

namespace braid {

// What compaction reads and writes of a backend. Reads run outside any
// write transaction (events of the old region never change except by
// compaction, so they see the region the deletes will touch); each write
// is a transaction of its own under the store's write lock.
class CompactionRows {
 public:
  virtual ~CompactionRows() = default;

  // The change log's last seq and horizon.
  virtual Result<std::pair<uint64_t, uint64_t>> LogHead() = 0;
  // The first event at or after `seq`: its (seq, at), or nullopt past the end.
  virtual Result<std::optional<std::pair<uint64_t, int64_t>>> EventAtOrAfter(uint64_t seq) = 0;
  // Calls fn(seq, rid, op) for the events with after < seq <= upto, by seq,
  // at most `limit`; returns how many there were.
  using EventFn = std::function<void(uint64_t seq, int64_t rid, ChangeOp op)>;
  virtual Result<size_t> ScanEvents(uint64_t after, uint64_t upto, size_t limit,
                                    const EventFn& fn) = 0;

  // A versions-table entry, with its record's version and local vector.
  struct VersionEntry {
    int64_t origin = 0;  // the entry's key
    int64_t counter = 0;
    uint32_t writer = 0;  // the record's version: origin number, counter
    uint64_t written = 0;
    std::optional<std::string_view> vv;  // the record's vector blob; nullopt: {version}
  };
  // Calls fn for the entries after (origin, counter), in key order, at most
  // `limit`; returns how many there were.
  using VersionFn = std::function<Status(const VersionEntry& entry)>;
  virtual Result<size_t> ScanVersions(int64_t after_origin, int64_t after_counter, size_t limit,
                                      const VersionFn& fn) = 0;

  // Write transactions.
  // Raises the change log's horizon to at least `seq`.
  virtual Status RaiseHorizon(uint64_t seq) = 0;
  // Deletes events by seq; returns how many there were.
  virtual Result<uint64_t> DeleteEvents(const std::vector<uint64_t>& seqs) = 0;
  // Deletes versions-table entries by (origin, counter); returns how many
  // there were.
  virtual Result<uint64_t> DeleteVersions(const std::vector<std::pair<int64_t, int64_t>>& keys) = 0;
};

// Store::Compact: purges the versions-table entries whose record's vector
// moved past them (left behind by updates, see StreamedVersion), in one
// pass over the table in keyset batches; then compacts the events logged
// before `before_ms`.
Result<CompactResult> RunCompaction(CompactionRows& rows, int64_t before_ms);

}  // namespace braid

#endif  // BRAID_STORE_COMPACTION_H_
