// Forgetting every record (Store::ClearRecords, `braid clean cache`).

#include "store/sqlite/sqlite_store.h"

namespace braid::sqlite {

Result<uint64_t> SqliteStore::ClearRecords() NO_THREAD_SAFETY_ANALYSIS {
  BRAID_RETURN_IF_ERROR(LockWriter(write_mu_).WithContext("forgetting the records"));
  WriterUnlock unlock{write_mu_};
  Db& db = *writer_;
  BRAID_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE").WithContext("forgetting the records"));
  uint64_t records = 0;
  auto clear = [&]() -> Result<InstanceId> {
    BRAID_ASSIGN_OR_RETURN(const int64_t n, db.QueryInt("SELECT count(*) FROM records"));
    records = static_cast<uint64_t>(n);
    // DELETE without WHERE: SQLite drops the tables' pages without visiting
    // rows. blob_dropped stays: the blobs it names are still candidates.
    BRAID_RETURN_IF_ERROR(
        db.Exec("DELETE FROM records; DELETE FROM versions; DELETE FROM changes; "
                "DELETE FROM held; DELETE FROM blob_refs; DELETE FROM fsic; "
                "UPDATE state SET horizon = seq WHERE k = 1;"));
    // A fresh identity and epoch; the FSIC claims none of the old one's
    // writes, so pulls bring them back.
    return Rekey(db, /*holds_old_writes=*/false);
  };
  Result<InstanceId> id = clear();
  Status s = id.status();
  if (s.ok()) s = db.Exec("COMMIT");
  if (!s.ok()) {
    (void)db.Exec("ROLLBACK");
    return s.WithContext("forgetting the records");
  }
  BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(db));
  CacheInstance(st.self, *id);
  self_id_ = *id;
  self_num_ = st.self;
  return records;
}

}  // namespace braid::sqlite
