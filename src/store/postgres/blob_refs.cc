// The PostgreSQL backend's index of the blobs live records name (blob_refs,
// blob_dropped) and the runs of mirror steps (steps): writes on the row
// transaction, reads on the store (row_txn.h, pg_store.h).

#include <algorithm>

#include "store/postgres/pg_store.h"
#include "store/postgres/row_txn.h"

namespace braid::postgres {

// A round trip per statement, not per attachment: the rows go as arrays.
Status PgRowTransaction::SetBlobRefs(int64_t rid, bool had, const std::vector<Attachment>& refs) {
  std::vector<std::string> before;
  if (had) {
    BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                           conn_->Query("DELETE FROM blob_refs WHERE rid = $1 RETURNING sha256",
                                        pg::Params().Add(rid)));
    for (int i = 0; i < rows.size(); ++i) before.emplace_back(rows.Text(i, 0));
  }
  if (!refs.empty()) {
    pg::Array sha256(pg::Array::Type::kText), name(pg::Array::Type::kText),
        size(pg::Array::Type::kInt8), md5(pg::Array::Type::kText);
    for (const Attachment& a : refs) {
      sha256.Add(a.sha256);
      name.Add(a.name);
      size.Add(static_cast<int64_t>(a.size));
      md5.Add(a.md5);
    }
    BRAID_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO blob_refs(sha256, rid, name, size, md5) "
                    "SELECT a.sha256, $1, a.name, a.size, a.md5 "
                    "FROM unnest($2, $3, $4, $5) AS a(sha256, name, size, md5) "
                    "ON CONFLICT DO NOTHING",
                    pg::Params().Add(rid).Add(sha256).Add(name).Add(size).Add(md5))
            .status());
  }
  std::sort(before.begin(), before.end());
  before.erase(std::unique(before.begin(), before.end()), before.end());
  pg::Array dropped(pg::Array::Type::kText);
  for (const std::string& sha : before) {
    const bool kept =
        std::any_of(refs.begin(), refs.end(), [&](const Attachment& a) { return a.sha256 == sha; });
    if (!kept) dropped.Add(sha);
  }
  if (dropped.size() == 0) return Status::OK();
  return conn_
      ->Query("INSERT INTO blob_dropped(sha256) SELECT unnest($1) ON CONFLICT DO NOTHING",
              pg::Params().Add(dropped))
      .status();
}

Status PgRowTransaction::ForgetDroppedBlobs(const std::vector<std::string>& sha256s) {
  if (sha256s.empty()) return Status::OK();
  pg::Array list(pg::Array::Type::kText);
  for (const std::string& sha : sha256s) list.Add(sha);
  return conn_->Query("DELETE FROM blob_dropped WHERE sha256 = ANY($1)", pg::Params().Add(list))
      .status();
}

Status PgRowTransaction::RecordStep(const StepRun& run) {
  return conn_
      ->Query(
          "INSERT INTO steps(step, started, finished, ok, result, cursor, last_ok) "
          "VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $4 THEN $3 ELSE 0 END) "
          "ON CONFLICT (step) DO UPDATE SET started = excluded.started, "
          "finished = excluded.finished, ok = excluded.ok, result = excluded.result, "
          "cursor = excluded.cursor, "
          "last_ok = CASE WHEN excluded.ok THEN excluded.finished ELSE steps.last_ok END",
          pg::Params()
              .Add(run.step)
              .Add(run.started_ms)
              .Add(run.finished_ms)
              .Add(run.ok)
              .Add(run.result)
              .Add(run.cursor))
      .status();
}

namespace {

std::vector<BlobRef> ReadRefs(const pg::Rows& rows) {
  std::vector<BlobRef> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    BlobRef& r = out.emplace_back();
    r.sha256.assign(rows.Text(i, 0));
    r.md5.assign(rows.Text(i, 1));
    r.size = static_cast<uint64_t>(rows.Int(i, 2));
  }
  return out;
}

// The first column of every row, as text.
std::vector<std::string> ReadTexts(const pg::Rows& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) out.emplace_back(rows.Text(i, 0));
  return out;
}

}  // namespace

Result<std::vector<BlobRef>> PgStore::ListBlobRefs(std::string_view after_sha256, size_t limit) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  // One row per blob: the first reference's md5 and size, in key order
  // (records that disagree about them are told apart when the bytes are
  // checked).
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         reader.conn().Query("SELECT DISTINCT ON (sha256) sha256, md5, size "
                                             "FROM blob_refs WHERE sha256 > $1 "
                                             "ORDER BY sha256, rid, name LIMIT $2",
                                             pg::Params().Add(after_sha256).AddLimit(limit)));
  return ReadRefs(rows);
}

Result<std::vector<BlobRef>> PgStore::BlobRefsChanged(uint64_t after, uint64_t upto) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      reader.conn().Query("SELECT DISTINCT ON (b.sha256) b.sha256, b.md5, b.size "
                          "FROM blob_refs b WHERE b.rid IN "
                          "(SELECT rid FROM changes WHERE seq > $1 AND seq <= $2) "
                          "ORDER BY b.sha256, b.rid, b.name",
                          pg::Params().Add(after).Add(upto)));
  return ReadRefs(rows);
}

Result<std::vector<Record>> PgStore::RecordsNamingBlob(std::string_view sha256, size_t limit) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Conn& conn = reader.conn();
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      conn.Query("SELECT " BRAID_PG_RECORD_COLUMNS " FROM records r WHERE r.rid IN "
                 "(SELECT rid FROM blob_refs WHERE sha256 = $1) AND NOT r.deleted "
                 "ORDER BY r.rid LIMIT $2",
                 pg::Params().Add(sha256).AddLimit(limit)));
  return DecodeRecords(conn, rows);
}

Result<std::vector<std::string>> PgStore::BlobReaders(std::string_view sha256, size_t limit) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  // The partition column is NULL when it is the collection.
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      reader.conn().Query("SELECT DISTINCT coalesce(r.partition, r.collection) FROM "
                          "blob_refs b JOIN records r ON r.rid = b.rid "
                          "WHERE b.sha256 = $1 ORDER BY 1 LIMIT $2",
                          pg::Params().Add(sha256).AddLimit(limit)));
  return ReadTexts(rows);
}

Result<std::vector<std::string>> PgStore::DroppedBlobs(size_t limit) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      reader.conn().Query("SELECT sha256 FROM blob_dropped ORDER BY sha256 LIMIT $1",
                          pg::Params().AddLimit(limit)));
  return ReadTexts(rows);
}

Result<std::vector<StepRun>> PgStore::StepRuns() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      reader.conn().Query("SELECT step, started, finished, ok, result, cursor, last_ok "
                          "FROM steps ORDER BY step"));
  std::vector<StepRun> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    StepRun& r = out.emplace_back();
    r.step.assign(rows.Text(i, 0));
    r.started_ms = rows.Int(i, 1);
    r.finished_ms = rows.Int(i, 2);
    r.ok = rows.Bool(i, 3);
    r.result.assign(rows.Text(i, 4));
    r.cursor = static_cast<uint64_t>(rows.Int(i, 5));
    r.last_ok_ms = rows.Int(i, 6);
  }
  return out;
}

}  // namespace braid::postgres
