// SqliteStore: the reads replication makes (FSIC, version streams).

#include <algorithm>
#include <optional>
#include <utility>

#include "store/codec.h"
#include "store/repl_rows.h"
#include "store/sqlite/sqlite_store.h"

namespace braid::sqlite {
namespace {

// The local number of `id`, or nullopt when this store never heard of it.
Result<std::optional<uint32_t>> LookupNum(SqliteStore& store, Db& db, const InstanceId& id) {
  if (auto num = store.CachedNum(id)) return num;
  BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT num FROM instances WHERE id = ?"));
  s.BindBlob(1, id.AsBytes());
  BRAID_ASSIGN_OR_RETURN(const bool found, s.Step());
  if (!found) return std::optional<uint32_t>();
  const auto num = static_cast<uint32_t>(s.Int(0));
  store.CacheInstance(num, id);
  return std::optional<uint32_t>(num);
}

// The entries of `origin`'s stream after `after`, at most `limit`, in
// counter order: the counter, then BRAID_RECORD_COLUMNS. Also the local
// number of `origin`; nullopt when this store never heard of it.
Result<std::optional<std::pair<uint32_t, Stmt>>> StreamQuery(SqliteStore& store, Db& db,
                                                             const InstanceId& origin,
                                                             uint64_t after, size_t limit) {
  BRAID_ASSIGN_OR_RETURN(const auto num, LookupNum(store, db, origin));
  if (!num) return std::optional<std::pair<uint32_t, Stmt>>();
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db.Prepare("SELECT v.counter, " BRAID_RECORD_COLUMNS
                         " FROM versions v JOIN records r ON r.rid = v.rid "
                         "WHERE v.origin = ? AND v.counter > ? ORDER BY v.counter LIMIT ?"));
  s.Bind(1, static_cast<int64_t>(*num))
      .Bind(2, static_cast<int64_t>(after))
      .Bind(3, static_cast<int64_t>(limit));
  return std::optional<std::pair<uint32_t, Stmt>>(std::in_place, *num, std::move(s));
}

}  // namespace

Result<VersionVector> SqliteStore::Fsic(const std::vector<std::string>& prefixes) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  std::vector<FsicRow> rows;
  {
    BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT prefix, origin, counter FROM fsic"));
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) break;
      rows.push_back({std::string(s.Text(0)), static_cast<uint32_t>(s.Int(1)),
                      static_cast<uint64_t>(s.Int(2))});
    }
  }
  BRAID_ASSIGN_OR_RETURN(VersionVector vv, FilterFsic(rows, prefixes, [&](uint32_t num) {
                           return InstanceFor(db, num);
                         }));
  BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(db));
  vv.Set(self_id_, st.counter);  // every own write is here
  return vv;
}

Result<std::vector<InstanceId>> SqliteStore::KnownInstances() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s, reader.db().Prepare("SELECT id FROM instances ORDER BY id"));
  std::vector<InstanceId> ids;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    BRAID_ASSIGN_OR_RETURN(const InstanceId id, InstanceId::FromBytes(s.Blob(0)));
    ids.push_back(id);
  }
  return ids;
}

Result<std::vector<StreamedVersion>> SqliteStore::StreamVersions(const InstanceId& origin,
                                                                 uint64_t after, size_t limit,
                                                                 size_t max_bytes) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  std::vector<StreamedVersion> out;
  BRAID_ASSIGN_OR_RETURN(auto query, StreamQuery(*this, db, origin, after, limit));
  if (!query) return out;
  Stmt& s = query->second;
  // Room for every row asked for (a chunk's worth): regrowing moves every
  // record read so far.
  out.reserve(std::min<size_t>(limit, 65536));
  size_t bytes = 0;
  while (bytes < max_bytes) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    StreamedVersion& v = out.emplace_back();
    v.position = static_cast<uint64_t>(s.Int(0));
    BRAID_RETURN_IF_ERROR(DecodeRecord(db, s, 1, &v.record));
    v.stale = v.record.vv.Get(origin) != v.position;
    bytes += RecordBytes(v.record);
  }
  return out;
}

Result<WireVersions> SqliteStore::StreamWireVersions(const InstanceId& origin, uint64_t after,
                                                     size_t limit, size_t max_bytes) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  BRAID_ASSIGN_OR_RETURN(auto query, StreamQuery(*this, db, origin, after, limit));
  if (!query) return WireVersions();
  auto& [num, s] = *query;
  WireStreamWriter out(
      origin, num, limit, max_bytes, [&](uint32_t n) { return InstanceFor(db, n); },
      [&](const LocalVector& local) { return ToVersionVector(db, local); });
  while (out.wants_more()) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    BRAID_RETURN_IF_ERROR(out.Add(s));
  }
  return out.Finish();
}

Result<uint64_t> SqliteStore::CountVersions(const InstanceId& origin, uint64_t after) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  BRAID_ASSIGN_OR_RETURN(const auto num, LookupNum(*this, db, origin));
  if (!num) return uint64_t{0};
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db.Prepare("SELECT count(*) FROM versions WHERE origin = ? AND counter > ?"));
  s.Bind(1, static_cast<int64_t>(*num)).Bind(2, static_cast<int64_t>(after));
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  return row ? static_cast<uint64_t>(s.Int(0)) : 0;
}

Result<std::vector<uint64_t>> SqliteStore::StreamEnds(const std::vector<InstanceId>& origins) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  std::vector<uint64_t> ends;
  ends.reserve(origins.size());
  for (const InstanceId& origin : origins) {
    BRAID_ASSIGN_OR_RETURN(const auto num, LookupNum(*this, db, origin));
    if (!num) {
      ends.push_back(0);
      continue;
    }
    // One seek to the end of the origin's range of the key.
    BRAID_ASSIGN_OR_RETURN(Stmt s,
                           db.Prepare("SELECT max(counter) FROM versions WHERE origin = ?"));
    s.Bind(1, static_cast<int64_t>(*num));
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    ends.push_back(row && !s.IsNull(0) ? static_cast<uint64_t>(s.Int(0)) : 0);
  }
  return ends;
}

}  // namespace braid::sqlite
