// Forgetting every record (Store::ClearRecords, `braid clean cache`).

#include "store/postgres/pg_store.h"

namespace braid::postgres {

Result<uint64_t> PgStore::ClearRecords() {
  uint64_t records = 0;
  BRAID_RETURN_IF_ERROR(
      InNewIdentity("forgetting the records", [&](pg::Conn& conn) -> Result<InstanceId> {
        // The state row first: no writer of another process is midway.
        BRAID_RETURN_IF_ERROR(ReadState(conn, /*lock=*/true).status());
        // DELETE, not TRUNCATE: TRUNCATE would make every reader of these
        // tables, in every process, wait for this transaction (reads never
        // wait for writers), and snapshots older than it would see the
        // tables empty. The count of rows deleted is the records'.
        // blob_dropped stays: its blobs are still candidates.
        BRAID_ASSIGN_OR_RETURN(const pg::Rows deleted, conn.Query("DELETE FROM records"));
        records = static_cast<uint64_t>(deleted.affected());
        BRAID_RETURN_IF_ERROR(
            conn.Exec("DELETE FROM versions; DELETE FROM changes; DELETE FROM held; "
                      "DELETE FROM blob_refs; DELETE FROM fsic; "
                      "UPDATE state SET horizon = seq WHERE k = 1;"));
        // A fresh identity and epoch; the FSIC claims none of the old one's
        // writes, so pulls bring them back.
        return Rekey(conn, /*holds_old_writes=*/false);
      }).status());
  return records;
}

}  // namespace braid::postgres
