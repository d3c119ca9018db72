// The SQLite backend's index of the blobs live records name (blob_refs,
// blob_dropped) and the runs of mirror steps (steps): writes on the row
// transaction, reads on the store (row_txn.h, sqlite_store.h).

#include <algorithm>

#include "store/sqlite/row_txn.h"
#include "store/sqlite/sqlite_store.h"

namespace braid::sqlite {

Status SqliteRowTransaction::SetBlobRefs(int64_t rid, bool had,
                                         const std::vector<Attachment>& refs) {
  std::vector<std::string> before;
  if (had) {
    BRAID_ASSIGN_OR_RETURN(Stmt s,
                           db_->Prepare("SELECT DISTINCT sha256 FROM blob_refs WHERE rid = ?"));
    s.Bind(1, rid);
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) break;
      before.emplace_back(s.Text(0));
    }
    BRAID_ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM blob_refs WHERE rid = ?"));
    BRAID_RETURN_IF_ERROR(del.Bind(1, rid).Run());
  }
  for (const Attachment& a : refs) {
    BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT OR IGNORE INTO blob_refs(sha256, rid, "
                                                "name, size, md5) VALUES (?, ?, ?, ?, ?)"));
    BRAID_RETURN_IF_ERROR(s.Bind(1, a.sha256)
                              .Bind(2, rid)
                              .Bind(3, a.name)
                              .Bind(4, static_cast<int64_t>(a.size))
                              .Bind(5, a.md5)
                              .Run());
  }
  for (const std::string& sha : before) {
    const bool kept =
        std::any_of(refs.begin(), refs.end(), [&](const Attachment& a) { return a.sha256 == sha; });
    if (kept) continue;
    BRAID_ASSIGN_OR_RETURN(Stmt s,
                           db_->Prepare("INSERT OR IGNORE INTO blob_dropped(sha256) VALUES (?)"));
    BRAID_RETURN_IF_ERROR(s.Bind(1, sha).Run());
  }
  return Status::OK();
}

Status SqliteRowTransaction::ForgetDroppedBlobs(const std::vector<std::string>& sha256s) {
  for (const std::string& sha : sha256s) {
    BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM blob_dropped WHERE sha256 = ?"));
    BRAID_RETURN_IF_ERROR(s.Bind(1, sha).Run());
  }
  return Status::OK();
}

Status SqliteRowTransaction::RecordStep(const StepRun& run) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare("INSERT INTO steps(step, started, finished, ok, result, cursor, last_ok) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?4 THEN ?3 ELSE 0 END) "
                   "ON CONFLICT(step) DO UPDATE SET started = excluded.started, "
                   "finished = excluded.finished, ok = excluded.ok, result = excluded.result, "
                   "cursor = excluded.cursor, "
                   "last_ok = CASE WHEN excluded.ok THEN excluded.finished ELSE last_ok END"));
  return s.Bind(1, run.step)
      .Bind(2, run.started_ms)
      .Bind(3, run.finished_ms)
      .Bind(4, int64_t{run.ok ? 1 : 0})
      .Bind(5, run.result)
      .Bind(6, static_cast<int64_t>(run.cursor))
      .Run();
}

namespace {

Result<std::vector<BlobRef>> ReadRefs(Stmt& s) {
  std::vector<BlobRef> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    BlobRef& r = out.emplace_back();
    r.sha256.assign(s.Text(0));
    r.md5.assign(s.Text(1));
    r.size = static_cast<uint64_t>(s.Int(2));
  }
  return out;
}

// The first column of every row, as text.
Result<std::vector<std::string>> ReadTexts(Stmt& s) {
  std::vector<std::string> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.emplace_back(s.Text(0));
  }
  return out;
}

}  // namespace

Result<std::vector<BlobRef>> SqliteStore::ListBlobRefs(std::string_view after_sha256,
                                                       size_t limit) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  // One row per blob: the first reference's md5 and size (records that
  // disagree about them are told apart when the bytes are checked).
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT sha256, md5, size FROM blob_refs WHERE sha256 > ? "
                                  "GROUP BY sha256 ORDER BY sha256 LIMIT ?"));
  s.Bind(1, after_sha256).Bind(2, static_cast<int64_t>(limit));
  return ReadRefs(s);
}

Result<std::vector<BlobRef>> SqliteStore::BlobRefsChanged(uint64_t after, uint64_t upto) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT b.sha256, b.md5, b.size FROM blob_refs b WHERE b.rid IN "
                                  "(SELECT rid FROM changes WHERE seq > ? AND seq <= ?) "
                                  "GROUP BY b.sha256 ORDER BY b.sha256"));
  s.Bind(1, static_cast<int64_t>(after)).Bind(2, static_cast<int64_t>(upto));
  return ReadRefs(s);
}

Result<std::vector<Record>> SqliteStore::RecordsNamingBlob(std::string_view sha256, size_t limit) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db.Prepare("SELECT " BRAID_RECORD_COLUMNS " FROM records r WHERE r.rid IN "
                         "(SELECT rid FROM blob_refs WHERE sha256 = ?) AND r.deleted = 0 "
                         "ORDER BY r.rid LIMIT ?"));
  s.Bind(1, sha256).Bind(2, static_cast<int64_t>(limit));
  return DecodeRecords(db, s);
}

Result<std::vector<std::string>> SqliteStore::BlobReaders(std::string_view sha256, size_t limit) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  // The partition column is NULL when it is the collection.
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT DISTINCT coalesce(r.partition, r.collection) FROM "
                                  "blob_refs b JOIN records r ON r.rid = b.rid "
                                  "WHERE b.sha256 = ? LIMIT ?"));
  s.Bind(1, sha256).Bind(2, static_cast<int64_t>(limit));
  return ReadTexts(s);
}

Result<std::vector<std::string>> SqliteStore::DroppedBlobs(size_t limit) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT sha256 FROM blob_dropped ORDER BY sha256 LIMIT ?"));
  s.Bind(1, static_cast<int64_t>(limit));
  return ReadTexts(s);
}

Result<std::vector<StepRun>> SqliteStore::StepRuns() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s, reader.db().Prepare("SELECT step, started, finished, ok, result, "
                                                     "cursor, last_ok FROM steps ORDER BY step"));
  std::vector<StepRun> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    StepRun& r = out.emplace_back();
    r.step.assign(s.Text(0));
    r.started_ms = s.Int(1);
    r.finished_ms = s.Int(2);
    r.ok = s.Int(3) != 0;
    r.result.assign(s.Text(4));
    r.cursor = static_cast<uint64_t>(s.Int(5));
    r.last_ok_ms = s.Int(6);
  }
  return out;
}

}  // namespace braid::sqlite
