// Change-log compaction for the SQLite store (Store::Compact): the rows
// store/compaction.h reads and deletes, on a reader connection and in
// write transactions of the writer's.

#include "store/compaction.h"
#include "store/sqlite/sqlite_store.h"

namespace braid::sqlite {
namespace {

class SqliteCompactionRows final : public CompactionRows {
 public:
  // Writes on `writer` under `write_mu`, the store's.
  SqliteCompactionRows(SqliteStore& store, TimedMutex& write_mu, Db* writer, Db& reader)
      : store_(store), write_mu_(write_mu), writer_(writer), reader_(reader) {}

  Result<std::pair<uint64_t, uint64_t>> LogHead() override {
    BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(reader_));
    return std::make_pair(st.seq, st.horizon);
  }

  Result<std::optional<std::pair<uint64_t, int64_t>>> EventAtOrAfter(uint64_t seq) override {
    BRAID_ASSIGN_OR_RETURN(
        Stmt s, reader_.Prepare("SELECT seq, at FROM changes WHERE seq >= ? ORDER BY seq LIMIT 1"));
    s.Bind(1, static_cast<int64_t>(seq));
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) return std::optional<std::pair<uint64_t, int64_t>>();
    return std::optional<std::pair<uint64_t, int64_t>>({static_cast<uint64_t>(s.Int(0)), s.Int(1)});
  }

  Result<size_t> ScanEvents(uint64_t after, uint64_t upto, size_t limit,
                            const EventFn& fn) override {
    BRAID_ASSIGN_OR_RETURN(
        Stmt s, reader_.Prepare("SELECT seq, rid, op FROM changes WHERE seq > ? AND seq <= ? "
                                "ORDER BY seq LIMIT ?"));
    s.Bind(1, static_cast<int64_t>(after))
        .Bind(2, static_cast<int64_t>(upto))
        .Bind(3, static_cast<int64_t>(limit));
    size_t n = 0;
    for (;; ++n) {
      BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) return n;
      fn(static_cast<uint64_t>(s.Int(0)), s.Int(1), static_cast<ChangeOp>(s.Int(2)));
    }
  }

  Result<size_t> ScanVersions(int64_t after_origin, int64_t after_counter, size_t limit,
                              const VersionFn& fn) override {
    BRAID_ASSIGN_OR_RETURN(Stmt s,
                           reader_.Prepare("SELECT v.origin, v.counter, r.origin, r.counter, r.vv "
                                           "FROM versions v JOIN records r ON r.rid = v.rid "
                                           "WHERE (v.origin, v.counter) > (?, ?) "
                                           "ORDER BY v.origin, v.counter LIMIT ?"));
    s.Bind(1, after_origin).Bind(2, after_counter).Bind(3, static_cast<int64_t>(limit));
    size_t n = 0;
    for (;; ++n) {
      BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) return n;
      VersionEntry e;
      e.origin = s.Int(0);
      e.counter = s.Int(1);
      e.writer = static_cast<uint32_t>(s.Int(2));
      e.written = static_cast<uint64_t>(s.Int(3));
      if (!s.IsNull(4)) e.vv = s.Blob(4);
      BRAID_RETURN_IF_ERROR(fn(e));
    }
  }

  Status RaiseHorizon(uint64_t seq) override {
    return InWrite("raising the compaction horizon", [&](Db& db) -> Status {
      BRAID_ASSIGN_OR_RETURN(Stmt up,
                             db.Prepare("UPDATE state SET horizon = max(horizon, ?) WHERE k = 1"));
      return up.Bind(1, static_cast<int64_t>(seq)).Run();
    });
  }

  Result<uint64_t> DeleteEvents(const std::vector<uint64_t>& seqs) override {
    uint64_t removed = 0;
    BRAID_RETURN_IF_ERROR(InWrite("removing compacted events", [&](Db& db) -> Status {
      for (uint64_t seq : seqs) {
        BRAID_ASSIGN_OR_RETURN(Stmt del, db.Prepare("DELETE FROM changes WHERE seq = ?"));
        BRAID_RETURN_IF_ERROR(del.Bind(1, static_cast<int64_t>(seq)).Run());
        removed += static_cast<uint64_t>(db.Changes());
      }
      return Status::OK();
    }));
    return removed;
  }

  Result<uint64_t> DeleteVersions(const std::vector<std::pair<int64_t, int64_t>>& keys) override {
    uint64_t removed = 0;
    BRAID_RETURN_IF_ERROR(InWrite("purging stale version entries", [&](Db& db) -> Status {
      for (const auto& [origin, counter] : keys) {
        BRAID_ASSIGN_OR_RETURN(Stmt del,
                               db.Prepare("DELETE FROM versions WHERE origin = ? AND counter = ?"));
        BRAID_RETURN_IF_ERROR(del.Bind(1, origin).Bind(2, counter).Run());
        removed += static_cast<uint64_t>(db.Changes());
      }
      return Status::OK();
    }));
    return removed;
  }

 private:
  // Runs `work` in a write transaction of its own; its errors and the
  // commit's get the context `what`. The write lock is taken per
  // transaction, never for a whole pass, so braid serve's own writes
  // interleave with a long compaction.
  Status InWrite(std::string_view what,
                 const std::function<Status(Db&)>& work) NO_THREAD_SAFETY_ANALYSIS {
    BRAID_RETURN_IF_ERROR(store_.LockWriter(write_mu_));
    WriterUnlock unlock{write_mu_};
    BRAID_RETURN_IF_ERROR(writer_->Exec("BEGIN IMMEDIATE"));
    Status s = work(*writer_);
    if (s.ok()) s = writer_->Exec("COMMIT");
    if (!s.ok()) (void)writer_->Exec("ROLLBACK");
    return s.WithContext(what);
  }

  SqliteStore& store_;
  TimedMutex& write_mu_;
  Db* writer_;
  Db& reader_;
};

}  // namespace

Result<CompactResult> SqliteStore::Compact(int64_t before_ms) NO_THREAD_SAFETY_ANALYSIS {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  SqliteCompactionRows rows(*this, write_mu_, writer_.get(), reader.db());
  return RunCompaction(rows, before_ms);
}

}  // namespace braid::sqlite
