// Change-log compaction for the SQLite store (Store::Compact).
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
// that one pass tracks at most kMaxItemsPerPass items. Lock time: events are
// deleted in transactions of at most kDeleteBatch rows.

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "base/log.h"
#include "store/codec.h"
#include "store/sqlite/sqlite_store.h"

namespace braid::sqlite {
namespace {

constexpr int64_t kMaxItemsPerPass = 1'000'000;
constexpr size_t kScanBatch = 10'000;
constexpr size_t kDeleteBatch = 5'000;

struct ItemHistory {
  uint64_t last_delete = 0;
  uint64_t last_update = 0;  // newest update after last_delete
};

// The first event at or after `seq`: its (seq, at), or nullopt past the end.
Result<std::optional<std::pair<uint64_t, int64_t>>> EventAtOrAfter(Db& db, uint64_t seq) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db.Prepare("SELECT seq, at FROM changes WHERE seq >= ? ORDER BY seq LIMIT 1"));
  s.Bind(1, static_cast<int64_t>(seq));
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return std::optional<std::pair<uint64_t, int64_t>>();
  return std::optional<std::pair<uint64_t, int64_t>>({static_cast<uint64_t>(s.Int(0)), s.Int(1)});
}

// The greatest seq whose event was logged before `before_ms`, or 0.
Result<uint64_t> FindCutoff(Db& db, uint64_t last_seq, int64_t before_ms) {
  uint64_t lo = 0, hi = last_seq;  // invariant: events <= lo are old, events > hi are not
  BRAID_ASSIGN_OR_RETURN(auto first, EventAtOrAfter(db, 0));
  if (!first || first->second >= before_ms) return uint64_t{0};
  lo = first->first;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo + 1) / 2;
    BRAID_ASSIGN_OR_RETURN(auto e, EventAtOrAfter(db, mid));
    if (e && e->second < before_ms) {
      lo = e->first;  // may jump past mid over a gap left by an earlier compaction
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

// Calls fn(seq, rid, op) for each old event whose rid falls in pass `pass`.
template <typename Fn>
Status ScanOld(Db& db, uint64_t cutoff, int64_t passes, int64_t pass, Fn&& fn) {
  uint64_t after = 0;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(Stmt s,
                           db.Prepare("SELECT seq, rid, op FROM changes WHERE seq > ? AND seq <= ? "
                                      "ORDER BY seq LIMIT ?"));
    s.Bind(1, static_cast<int64_t>(after))
        .Bind(2, static_cast<int64_t>(cutoff))
        .Bind(3, static_cast<int64_t>(kScanBatch));
    size_t n = 0;
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) break;
      ++n;
      after = static_cast<uint64_t>(s.Int(0));
      const int64_t rid = s.Int(1);
      if (rid % passes == pass) fn(after, rid, static_cast<ChangeOp>(s.Int(2)));
    }
    if (n < kScanBatch) return Status::OK();
  }
}

bool Droppable(const ItemHistory& h, uint64_t seq, ChangeOp op) {
  return seq <= h.last_delete || (op == ChangeOp::kUpdate && seq != h.last_update);
}

}  // namespace

// Deletes versions-table entries whose record's vector moved past them
// (left behind by updates, see StreamedVersion). One pass over the table in
// keyset batches; deletes commit kDeleteBatch at a time.
Result<uint64_t> SqliteStore::PurgeStaleVersions() NO_THREAD_SAFETY_ANALYSIS {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& rdb = reader.db();
  uint64_t removed = 0;
  int64_t after_origin = -1, after_counter = -1;
  for (;;) {
    std::vector<std::pair<int64_t, int64_t>> stale;
    size_t n = 0;
    {
      BRAID_ASSIGN_OR_RETURN(Stmt s,
                             rdb.Prepare("SELECT v.origin, v.counter, r.origin, r.counter, r.vv "
                                         "FROM versions v JOIN records r ON r.rid = v.rid "
                                         "WHERE (v.origin, v.counter) > (?, ?) "
                                         "ORDER BY v.origin, v.counter LIMIT ?"));
      s.Bind(1, after_origin).Bind(2, after_counter).Bind(3, static_cast<int64_t>(kScanBatch));
      for (;;) {
        BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
        if (!row) break;
        ++n;
        after_origin = s.Int(0);
        after_counter = s.Int(1);
        LocalVector vv;
        if (s.IsNull(4)) {
          vv = ImpliedVector(static_cast<uint32_t>(s.Int(2)), static_cast<uint64_t>(s.Int(3)));
        } else {
          BRAID_ASSIGN_OR_RETURN(vv, DecodeLocalVector(s.Blob(4)));
        }
        if (vv.Get(static_cast<uint32_t>(after_origin)) != static_cast<uint64_t>(after_counter)) {
          stale.emplace_back(after_origin, after_counter);
        }
      }
    }
    for (size_t i = 0; i < stale.size(); i += kDeleteBatch) {
      BRAID_RETURN_IF_ERROR(LockWriter(write_mu_));
      WriterUnlock unlock{write_mu_};
      Db& wdb = *writer_;
      BRAID_RETURN_IF_ERROR(wdb.Exec("BEGIN IMMEDIATE"));
      Status s;
      for (size_t j = i; j < std::min(stale.size(), i + kDeleteBatch) && s.ok(); ++j) {
        auto del = wdb.Prepare("DELETE FROM versions WHERE origin = ? AND counter = ?");
        s = del.ok() ? del->Bind(1, stale[j].first).Bind(2, stale[j].second).Run() : del.status();
        if (s.ok()) removed += static_cast<uint64_t>(wdb.Changes());
      }
      if (s.ok()) s = wdb.Exec("COMMIT");
      if (!s.ok()) {
        (void)wdb.Exec("ROLLBACK");
        return s.WithContext("purging stale version entries");
      }
    }
    if (n < kScanBatch) return removed;
  }
}

Result<CompactResult> SqliteStore::Compact(int64_t before_ms) NO_THREAD_SAFETY_ANALYSIS {
  CompactResult result;
  BRAID_ASSIGN_OR_RETURN(result.stale_versions_removed, PurgeStaleVersions());
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& rdb = reader.db();
  BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(rdb));
  result.horizon = st.horizon;
  BRAID_ASSIGN_OR_RETURN(const uint64_t cutoff, FindCutoff(rdb, st.seq, before_ms));
  if (cutoff == 0) return result;
  BRAID_ASSIGN_OR_RETURN(auto first, EventAtOrAfter(rdb, 0));
  const auto span = static_cast<int64_t>(cutoff - (first ? first->first : 1) + 1);
  const int64_t passes = std::max<int64_t>(1, (span + kMaxItemsPerPass - 1) / kMaxItemsPerPass);

  // Events of the old region never change except by compaction, so a scan
  // outside the write lock sees the same region the deletes will touch.
  bool horizon_raised = false;
  for (int64_t pass = 0; pass < passes; ++pass) {
    std::unordered_map<int64_t, ItemHistory> items;
    BRAID_RETURN_IF_ERROR(
        ScanOld(rdb, cutoff, passes, pass, [&](uint64_t seq, int64_t rid, ChangeOp op) {
          ItemHistory& h = items[rid];
          if (op == ChangeOp::kDelete) {
            h.last_delete = seq;
            h.last_update = 0;
          } else if (op == ChangeOp::kUpdate) {
            h.last_update = seq;
          }
        }));
    uint64_t max_dropped = 0;
    BRAID_RETURN_IF_ERROR(
        ScanOld(rdb, cutoff, passes, pass, [&](uint64_t seq, int64_t rid, ChangeOp op) {
          if (Droppable(items[rid], seq, op)) max_dropped = std::max(max_dropped, seq);
        }));
    if (max_dropped == 0) continue;

    // The in-process write lock is taken per transaction, never for a whole
    // pass, so braid serve's own writes interleave with a long compaction.
    if (!horizon_raised || max_dropped > result.horizon) {
      BRAID_RETURN_IF_ERROR(LockWriter(write_mu_));
      WriterUnlock unlock{write_mu_};
      Db& wdb = *writer_;
      BRAID_RETURN_IF_ERROR(wdb.Exec("BEGIN IMMEDIATE"));
      auto up = wdb.Prepare("UPDATE state SET horizon = max(horizon, ?) WHERE k = 1");
      Status s = up.ok() ? up->Bind(1, static_cast<int64_t>(max_dropped)).Run() : up.status();
      if (s.ok()) s = wdb.Exec("COMMIT");
      if (!s.ok()) {
        (void)wdb.Exec("ROLLBACK");
        return s.WithContext("raising the compaction horizon");
      }
      result.horizon = std::max(result.horizon, max_dropped);
      horizon_raised = true;
    }
    std::vector<uint64_t> doomed;
    auto flush = [&]() -> Status {
      if (doomed.empty()) return Status::OK();
      BRAID_RETURN_IF_ERROR(LockWriter(write_mu_));
      WriterUnlock unlock{write_mu_};
      Db& wdb = *writer_;
      BRAID_RETURN_IF_ERROR(wdb.Exec("BEGIN IMMEDIATE"));
      Status s;
      for (uint64_t seq : doomed) {
        auto del = wdb.Prepare("DELETE FROM changes WHERE seq = ?");
        s = del.ok() ? del->Bind(1, static_cast<int64_t>(seq)).Run() : del.status();
        if (!s.ok()) break;
        result.events_removed += static_cast<uint64_t>(wdb.Changes());
      }
      if (s.ok()) s = wdb.Exec("COMMIT");
      if (!s.ok()) (void)wdb.Exec("ROLLBACK");
      doomed.clear();
      return s.WithContext("removing compacted events");
    };
    Status flushed;
    BRAID_RETURN_IF_ERROR(
        ScanOld(rdb, cutoff, passes, pass, [&](uint64_t seq, int64_t rid, ChangeOp op) {
          if (!flushed.ok() || !Droppable(items[rid], seq, op)) return;
          doomed.push_back(seq);
          if (doomed.size() >= kDeleteBatch) flushed = flush();
        }));
    BRAID_RETURN_IF_ERROR(flushed);
    BRAID_RETURN_IF_ERROR(flush());
  }
  spdlog::info(
      "compacted the change log: {} events removed up to seq {}, horizon {}; {} stale "
      "version entries removed",
      result.events_removed, cutoff, result.horizon, result.stale_versions_removed);
  return result;
}

}  // namespace braid::sqlite
