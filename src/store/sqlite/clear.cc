// Forgetting every record (Store::ClearRecords, `braid clean cache`).

#include "store/sqlite/sqlite_store.h"

namespace braid::sqlite {

Result<uint64_t> SqliteStore::ClearRecords() {
  uint64_t records = 0;
  BRAID_RETURN_IF_ERROR(InNewIdentity("forgetting the records", [&](Db& db) -> Result<InstanceId> {
                          BRAID_ASSIGN_OR_RETURN(const int64_t n,
                                                 db.QueryInt("SELECT count(*) FROM records"));
                          records = static_cast<uint64_t>(n);
                          // DELETE without WHERE: SQLite drops the tables' pages without
                          // visiting rows. blob_dropped stays: its blobs are still candidates.
                          BRAID_RETURN_IF_ERROR(db.Exec(
                              "DELETE FROM records; DELETE FROM versions; DELETE FROM changes; "
                              "DELETE FROM held; DELETE FROM blob_refs; DELETE FROM fsic; "
                              "UPDATE state SET horizon = seq WHERE k = 1;"));
                          // A fresh identity and epoch; the FSIC claims none of the old
                          // one's writes, so pulls bring them back.
                          return Rekey(db, /*holds_old_writes=*/false);
                        }).status());
  return records;
}

}  // namespace braid::sqlite
