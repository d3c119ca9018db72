// Change-log compaction for the PostgreSQL store (Store::Compact): the rows
// store/compaction.h reads and deletes, on a reader connection and in
// write transactions of the writer's, each holding the state row as a
// write transaction does (so that writers of other processes wait for it
// as for one another), a batch's rows going in one statement.

#include <string>

#include "store/compaction.h"
#include "store/postgres/pg_store.h"

namespace braid::postgres {
namespace {

class PgCompactionRows final : public CompactionRows {
 public:
  // Writes on `writer` (the store's, which may be replaced while
  // `write_mu` is free) under `write_mu`.
  PgCompactionRows(PgStore& store, TimedMutex& write_mu, std::unique_ptr<pg::Conn>& writer,
                   pg::Conn& reader)
      : store_(store), write_mu_(write_mu), writer_(writer), reader_(reader) {}

  Result<std::pair<uint64_t, uint64_t>> LogHead() override {
    BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(reader_));
    return std::make_pair(st.seq, st.horizon);
  }

  Result<std::optional<std::pair<uint64_t, int64_t>>> EventAtOrAfter(uint64_t seq) override {
    BRAID_ASSIGN_OR_RETURN(
        const pg::Rows rows,
        reader_.Query("SELECT seq, at FROM changes WHERE seq >= $1 ORDER BY seq LIMIT 1",
                      pg::Params().Add(seq)));
    if (rows.empty()) return std::optional<std::pair<uint64_t, int64_t>>();
    return std::optional<std::pair<uint64_t, int64_t>>(
        {static_cast<uint64_t>(rows.Int(0, 0)), rows.Int(0, 1)});
  }

  Result<size_t> ScanEvents(uint64_t after, uint64_t upto, size_t limit,
                            const EventFn& fn) override {
    BRAID_ASSIGN_OR_RETURN(
        const pg::Rows rows,
        reader_.Query("SELECT seq, rid, op FROM changes WHERE seq > $1 AND seq <= $2 "
                      "ORDER BY seq LIMIT $3",
                      pg::Params().Add(after).Add(upto).AddLimit(limit)));
    for (int i = 0; i < rows.size(); ++i) {
      fn(static_cast<uint64_t>(rows.Int(i, 0)), rows.Int(i, 1),
         static_cast<ChangeOp>(rows.Int(i, 2)));
    }
    return static_cast<size_t>(rows.size());
  }

  Result<size_t> ScanVersions(int64_t after_origin, int64_t after_counter, size_t limit,
                              const VersionFn& fn) override {
    BRAID_ASSIGN_OR_RETURN(
        const pg::Rows rows,
        reader_.Query("SELECT v.origin, v.counter, r.origin, r.counter, r.vv "
                      "FROM versions v JOIN records r ON r.rid = v.rid "
                      "WHERE (v.origin, v.counter) > ($1, $2) "
                      "ORDER BY v.origin, v.counter LIMIT $3",
                      pg::Params().Add(after_origin).Add(after_counter).AddLimit(limit)));
    std::string vv;
    for (int i = 0; i < rows.size(); ++i) {
      VersionEntry e;
      e.origin = rows.Int(i, 0);
      e.counter = rows.Int(i, 1);
      e.writer = static_cast<uint32_t>(rows.Int(i, 2));
      e.written = static_cast<uint64_t>(rows.Int(i, 3));
      if (!rows.IsNull(i, 4)) {
        vv = rows.Bytes(i, 4);
        e.vv = vv;
      }
      BRAID_RETURN_IF_ERROR(fn(e));
    }
    return static_cast<size_t>(rows.size());
  }

  Status RaiseHorizon(uint64_t seq) override {
    return InWrite("raising the compaction horizon", [&](pg::Conn& conn) {
      return conn
          .Query("UPDATE state SET horizon = GREATEST(horizon, $1) WHERE k = 1",
                 pg::Params().Add(seq))
          .status();
    });
  }

  Result<uint64_t> DeleteEvents(const std::vector<uint64_t>& seqs) override {
    pg::Array list(pg::Array::Type::kInt8);
    for (const uint64_t seq : seqs) list.Add(static_cast<int64_t>(seq));
    uint64_t removed = 0;
    BRAID_RETURN_IF_ERROR(InWrite("removing compacted events", [&](pg::Conn& conn) -> Status {
      BRAID_ASSIGN_OR_RETURN(
          const pg::Rows rows,
          conn.Query("DELETE FROM changes WHERE seq = ANY($1)", pg::Params().Add(list)));
      removed = static_cast<uint64_t>(rows.affected());
      return Status::OK();
    }));
    return removed;
  }

  Result<uint64_t> DeleteVersions(const std::vector<std::pair<int64_t, int64_t>>& keys) override {
    pg::Array origins(pg::Array::Type::kInt8), counters(pg::Array::Type::kInt8);
    for (const auto& [origin, counter] : keys) {
      origins.Add(origin);
      counters.Add(counter);
    }
    uint64_t removed = 0;
    BRAID_RETURN_IF_ERROR(InWrite("purging stale version entries", [&](pg::Conn& conn) -> Status {
      BRAID_ASSIGN_OR_RETURN(
          const pg::Rows rows,
          conn.Query("DELETE FROM versions v USING unnest($1, $2) AS d(origin, counter) "
                     "WHERE v.origin = d.origin AND v.counter = d.counter",
                     pg::Params().Add(origins).Add(counters)));
      removed = static_cast<uint64_t>(rows.affected());
      return Status::OK();
    }));
    return removed;
  }

 private:
  // Runs `work` in a write transaction of its own, the state row locked
  // (waiting for another process's writer at most the busy timeout); its
  // errors and the commit's get the context `what`. The write lock is taken
  // per transaction, never for a whole pass, so braid serve's own writes
  // interleave with a long compaction.
  Status InWrite(std::string_view what,
                 const std::function<Status(pg::Conn&)>& work) NO_THREAD_SAFETY_ANALYSIS {
    const auto timeout = store_.options().busy_timeout;
    BRAID_RETURN_IF_ERROR(store_.LockWriter(write_mu_, timeout));
    WriterUnlock unlock{write_mu_};
    pg::Conn& conn = *writer_;
    if (!conn.healthy()) BRAID_RETURN_IF_ERROR(PgStore::Reconnect(conn));
    BRAID_RETURN_IF_ERROR(
        conn.Exec("BEGIN; SET LOCAL lock_timeout = " + std::to_string(timeout.count())));
    Status s = ReadState(conn, /*lock=*/true).status();
    if (s.ok()) s = work(conn);
    if (s.ok()) s = conn.Exec("COMMIT");
    if (!s.ok()) (void)conn.Exec("ROLLBACK");
    return s.WithContext(what);
  }

  PgStore& store_;
  TimedMutex& write_mu_;
  std::unique_ptr<pg::Conn>& writer_;
  pg::Conn& reader_;
};

}  // namespace

Result<CompactResult> PgStore::Compact(int64_t before_ms) NO_THREAD_SAFETY_ANALYSIS {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  PgCompactionRows rows(*this, write_mu_, writer_, reader.conn());
  return RunCompaction(rows, before_ms);
}

}  // namespace braid::postgres
