#include "store/compaction.h"

#include <algorithm>
#include <unordered_map>

#include "base/log.h"
#include "store/codec.h"

namespace braid {
namespace {

constexpr int64_t kMaxItemsPerPass = 1'000'000;
constexpr size_t kScanBatch = 10'000;
constexpr size_t kDeleteBatch = 5'000;

struct ItemHistory {
  uint64_t last_delete = 0;
  uint64_t last_update = 0;  // newest update after last_delete
};

// The greatest seq whose event was logged before `before_ms`, or 0.
Result<uint64_t> FindCutoff(CompactionRows& rows, uint64_t last_seq, int64_t before_ms) {
  uint64_t lo = 0, hi = last_seq;  // invariant: events <= lo are old, events > hi are not
  BRAID_ASSIGN_OR_RETURN(auto first, rows.EventAtOrAfter(0));
  if (!first || first->second >= before_ms) return uint64_t{0};
  lo = first->first;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo + 1) / 2;
    BRAID_ASSIGN_OR_RETURN(auto e, rows.EventAtOrAfter(mid));
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
Status ScanOld(CompactionRows& rows, uint64_t cutoff, int64_t passes, int64_t pass, Fn&& fn) {
  uint64_t after = 0;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(
        const size_t n,
        rows.ScanEvents(after, cutoff, kScanBatch, [&](uint64_t seq, int64_t rid, ChangeOp op) {
          after = seq;
          if (rid % passes == pass) fn(seq, rid, op);
        }));
    if (n < kScanBatch) return Status::OK();
  }
}

bool Droppable(const ItemHistory& h, uint64_t seq, ChangeOp op) {
  return seq <= h.last_delete || (op == ChangeOp::kUpdate && seq != h.last_update);
}

// Deletes stale versions-table entries; returns how many went.
Result<uint64_t> PurgeStaleVersions(CompactionRows& rows) {
  uint64_t removed = 0;
  int64_t after_origin = -1, after_counter = -1;
  for (;;) {
    std::vector<std::pair<int64_t, int64_t>> stale;
    BRAID_ASSIGN_OR_RETURN(
        const size_t n, rows.ScanVersions(after_origin, after_counter, kScanBatch,
                                          [&](const CompactionRows::VersionEntry& e) -> Status {
                                            after_origin = e.origin;
                                            after_counter = e.counter;
                                            LocalVector vv;
                                            if (!e.vv) {
                                              vv = ImpliedVector(e.writer, e.written);
                                            } else {
                                              BRAID_ASSIGN_OR_RETURN(vv, DecodeLocalVector(*e.vv));
                                            }
                                            if (vv.Get(static_cast<uint32_t>(e.origin)) !=
                                                static_cast<uint64_t>(e.counter)) {
                                              stale.emplace_back(e.origin, e.counter);
                                            }
                                            return Status::OK();
                                          }));
    for (size_t i = 0; i < stale.size(); i += kDeleteBatch) {
      const std::vector<std::pair<int64_t, int64_t>> batch(
          stale.begin() + static_cast<ptrdiff_t>(i),
          stale.begin() + static_cast<ptrdiff_t>(std::min(stale.size(), i + kDeleteBatch)));
      BRAID_ASSIGN_OR_RETURN(const uint64_t deleted, rows.DeleteVersions(batch));
      removed += deleted;
    }
    if (n < kScanBatch) return removed;
  }
}

// Compacts the events logged before `before_ms` of a log whose last seq
// is `last_seq`; adds to `result` the events removed and raises its
// horizon (the log's) to the highest seq dropped.
Status CompactChangeLog(CompactionRows& rows, uint64_t last_seq, int64_t before_ms,
                        CompactResult* result) {
  BRAID_ASSIGN_OR_RETURN(const uint64_t cutoff, FindCutoff(rows, last_seq, before_ms));
  if (cutoff == 0) return Status::OK();
  BRAID_ASSIGN_OR_RETURN(auto first, rows.EventAtOrAfter(0));
  const auto span = static_cast<int64_t>(cutoff - (first ? first->first : 1) + 1);
  const int64_t passes = std::max<int64_t>(1, (span + kMaxItemsPerPass - 1) / kMaxItemsPerPass);

  bool horizon_raised = false;
  for (int64_t pass = 0; pass < passes; ++pass) {
    std::unordered_map<int64_t, ItemHistory> items;
    BRAID_RETURN_IF_ERROR(
        ScanOld(rows, cutoff, passes, pass, [&](uint64_t seq, int64_t rid, ChangeOp op) {
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
        ScanOld(rows, cutoff, passes, pass, [&](uint64_t seq, int64_t rid, ChangeOp op) {
          if (Droppable(items[rid], seq, op)) max_dropped = std::max(max_dropped, seq);
        }));
    if (max_dropped == 0) continue;

    if (!horizon_raised || max_dropped > result->horizon) {
      BRAID_RETURN_IF_ERROR(rows.RaiseHorizon(max_dropped));
      result->horizon = std::max(result->horizon, max_dropped);
      horizon_raised = true;
    }
    std::vector<uint64_t> doomed;
    auto flush = [&]() -> Status {
      if (doomed.empty()) return Status::OK();
      BRAID_ASSIGN_OR_RETURN(const uint64_t deleted, rows.DeleteEvents(doomed));
      result->events_removed += deleted;
      doomed.clear();
      return Status::OK();
    };
    Status flushed;
    BRAID_RETURN_IF_ERROR(
        ScanOld(rows, cutoff, passes, pass, [&](uint64_t seq, int64_t rid, ChangeOp op) {
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
      result->events_removed, cutoff, result->horizon, result->stale_versions_removed);
  return Status::OK();
}

}  // namespace

Result<CompactResult> RunCompaction(CompactionRows& rows, int64_t before_ms) {
  CompactResult result;
  BRAID_ASSIGN_OR_RETURN(result.stale_versions_removed, PurgeStaleVersions(rows));
  BRAID_ASSIGN_OR_RETURN(const auto head, rows.LogHead());
  result.horizon = head.second;
  BRAID_RETURN_IF_ERROR(CompactChangeLog(rows, head.first, before_ms, &result));
  return result;
}

}  // namespace braid
