// PgStore: the reads replication makes (FSIC, version streams).

#include <algorithm>
#include <optional>
#include <utility>

#include "store/codec.h"
#include "store/postgres/pg_store.h"
#include "store/repl_rows.h"

namespace braid::postgres {
namespace {

// The entries of `origin`'s stream after `after`, at most `limit`, in
// counter order: the counter, then BRAID_PG_RECORD_COLUMNS. Also the
// local number of `origin`; nullopt when this store never heard of it.
//
// A result arrives whole, where SQLite's rows are stepped only as far as
// the caller reads them: so that a page of large records stays near
// `max_bytes` in memory, the server leaves out the rows after the one at
// which their bodies (a part of what the caller counts) reach it. It reads
// their lengths only: octet_length does not fetch a TOASTed body.
Result<std::optional<std::pair<uint32_t, pg::Rows>>> StreamQuery(PgStore& store, pg::Conn& conn,
                                                                 const InstanceId& origin,
                                                                 uint64_t after, size_t limit,
                                                                 size_t max_bytes) {
  BRAID_ASSIGN_OR_RETURN(const auto num, store.NumOf(conn, origin));
  if (!num) return std::optional<std::pair<uint32_t, pg::Rows>>();
  BRAID_ASSIGN_OR_RETURN(
      pg::Rows rows,
      conn.Query("SELECT * FROM (SELECT v.counter AS position, " BRAID_PG_RECORD_COLUMNS
                 ", sum(octet_length(r.body)) OVER (ORDER BY v.counter ROWS UNBOUNDED PRECEDING)"
                 " - octet_length(r.body) AS before "
                 "FROM versions v JOIN records r ON r.rid = v.rid "
                 "WHERE v.origin = $1 AND v.counter > $2 ORDER BY v.counter LIMIT $3) s "
                 "WHERE s.before < $4 ORDER BY s.position",
                 pg::Params().Add(*num).Add(after).AddLimit(limit).AddLimit(max_bytes)));
  return std::optional<std::pair<uint32_t, pg::Rows>>(std::in_place, *num, std::move(rows));
}

}  // namespace

Result<VersionVector> PgStore::Fsic(const std::vector<std::string>& prefixes) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Conn& conn = reader.conn();
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         conn.Query("SELECT prefix, origin, counter FROM fsic"));
  std::vector<FsicRow> fsic;
  fsic.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    fsic.push_back({std::string(rows.Text(i, 0)), static_cast<uint32_t>(rows.Int(i, 1)),
                    static_cast<uint64_t>(rows.Int(i, 2))});
  }
  BRAID_ASSIGN_OR_RETURN(VersionVector vv, FilterFsic(fsic, prefixes, [&](uint32_t num) {
                           return InstanceFor(conn, num);
                         }));
  BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(conn));
  vv.Set(self_id_, st.counter);  // every own write is here
  return vv;
}

Result<std::vector<InstanceId>> PgStore::KnownInstances() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         reader.conn().Query("SELECT id FROM instances ORDER BY id"));
  std::vector<InstanceId> ids;
  ids.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    BRAID_ASSIGN_OR_RETURN(const InstanceId id, InstanceId::FromBytes(rows.Bytes(i, 0)));
    ids.push_back(id);
  }
  return ids;
}

Result<std::vector<StreamedVersion>> PgStore::StreamVersions(const InstanceId& origin,
                                                             uint64_t after, size_t limit,
                                                             size_t max_bytes) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Conn& conn = reader.conn();
  std::vector<StreamedVersion> out;
  BRAID_ASSIGN_OR_RETURN(auto query, StreamQuery(*this, conn, origin, after, limit, max_bytes));
  if (!query) return out;
  const pg::Rows& rows = query->second;
  out.reserve(rows.size());
  size_t bytes = 0;
  for (int i = 0; i < rows.size() && bytes < max_bytes; ++i) {
    StreamedVersion& v = out.emplace_back();
    v.position = static_cast<uint64_t>(rows.Int(i, 0));
    BRAID_RETURN_IF_ERROR(DecodeRecord(conn, rows, i, 1, &v.record));
    v.stale = v.record.vv.Get(origin) != v.position;
    bytes += RecordBytes(v.record);
  }
  return out;
}

Result<WireVersions> PgStore::StreamWireVersions(const InstanceId& origin, uint64_t after,
                                                 size_t limit, size_t max_bytes) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Conn& conn = reader.conn();
  BRAID_ASSIGN_OR_RETURN(auto query, StreamQuery(*this, conn, origin, after, limit, max_bytes));
  if (!query) return WireVersions();
  const auto& [num, rows] = *query;
  WireStreamWriter out(
      origin, num, limit, max_bytes, [&](uint32_t n) { return InstanceFor(conn, n); },
      [&](const LocalVector& local) { return ToVersionVector(conn, local); });
  for (int i = 0; i < rows.size() && out.wants_more(); ++i) {
    BRAID_RETURN_IF_ERROR(out.Add(pg::Row(rows, i)));
  }
  return out.Finish();
}

Result<uint64_t> PgStore::CountVersions(const InstanceId& origin, uint64_t after) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Conn& conn = reader.conn();
  BRAID_ASSIGN_OR_RETURN(const auto num, NumOf(conn, origin));
  if (!num) return uint64_t{0};
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      conn.Query("SELECT count(*) FROM versions WHERE origin = $1 AND counter > $2",
                 pg::Params().Add(*num).Add(after)));
  return rows.empty() ? 0 : static_cast<uint64_t>(rows.Int(0, 0));
}

// One round trip for every origin: each end is one seek to the end of the
// origin's range of the key.
Result<std::vector<uint64_t>> PgStore::StreamEnds(const std::vector<InstanceId>& origins) {
  std::vector<uint64_t> ends;
  if (origins.empty()) return ends;
  pg::Array ids(pg::Array::Type::kBytea);
  for (const InstanceId& origin : origins) ids.Add(origin.AsBytes());
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      reader.conn().Query("SELECT (SELECT max(v.counter) FROM versions v WHERE v.origin = i.num) "
                          "FROM unnest($1) WITH ORDINALITY AS o(id, k) "
                          "LEFT JOIN instances i ON i.id = o.id ORDER BY o.k",
                          pg::Params().Add(ids)));
  ends.reserve(origins.size());
  for (int i = 0; i < rows.size(); ++i) {
    ends.push_back(rows.IsNull(i, 0) ? 0 : static_cast<uint64_t>(rows.Int(i, 0)));
  }
  return ends;
}

}  // namespace braid::postgres
