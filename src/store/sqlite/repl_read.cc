// SqliteStore: the reads replication makes (FSIC, version streams).

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "base/validate.h"
#include "store/codec.h"
#include "store/content.h"
#include "store/sqlite/sqlite_store.h"
#include "store/wire.h"

namespace braid::sqlite {
namespace {

bool Covers(std::string_view prefix, std::string_view partition) {
  return prefix.empty() || PartitionCovers(prefix, partition);
}

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

Result<VersionVector> SqliteStore::Fsic(const std::vector<std::string>& requested) {
  const std::vector<std::string> prefixes =
      requested.empty() ? std::vector<std::string>{""} : requested;
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  std::map<uint32_t, uint64_t> result;
  bool first = true;
  for (const std::string& p : prefixes) {
    // Effective FSIC of p: the best of every stored prefix that covers it.
    std::map<uint32_t, uint64_t> eff;
    BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT prefix, origin, counter FROM fsic"));
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) break;
      if (!Covers(s.Text(0), p)) continue;
      uint64_t& c = eff[static_cast<uint32_t>(s.Int(1))];
      c = std::max(c, static_cast<uint64_t>(s.Int(2)));
    }
    // The filter's FSIC is what every one of its prefixes holds.
    if (first) {
      result = std::move(eff);
      first = false;
    } else {
      for (auto it = result.begin(); it != result.end();) {
        auto e = eff.find(it->first);
        if (e == eff.end()) {
          it = result.erase(it);
        } else {
          it->second = std::min(it->second, e->second);
          ++it;
        }
      }
    }
  }
  VersionVector vv;
  for (const auto& [num, counter] : result) {
    BRAID_ASSIGN_OR_RETURN(const InstanceId id, InstanceFor(db, num));
    vv.Set(id, counter);
  }
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

// Each row goes from its columns straight into its wire form: a sender
// building a chunk spent about a quarter of its time allocating, moving and
// freeing the strings of Records it only wrote out again.
Result<WireVersions> SqliteStore::StreamWireVersions(const InstanceId& origin, uint64_t after,
                                                     size_t limit, size_t max_bytes) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  WireVersions out;
  BRAID_ASSIGN_OR_RETURN(auto query, StreamQuery(*this, db, origin, after, limit));
  if (!query) return out;
  auto& [num, s] = *query;
  out.entries.reserve(std::min<size_t>(limit, 65536));
  // About what a ~200-byte record takes, so a chunk's text rarely moves.
  out.text.reserve(std::min(max_bytes, std::min<size_t>(limit, 65536) * 384));
  auto append = [&out](std::string_view v) {
    const WireVersions::Span span{out.text.size(), v.size()};
    out.text.append(v);
    return span;
  };
  // Most rows of a stream were written by one instance: its id is looked
  // up once, not per row.
  std::optional<std::pair<uint32_t, InstanceId>> writer;
  std::string clocks;
  size_t bytes = 0;
  while (bytes < max_bytes) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    WireVersions::Entry& e = out.entries.emplace_back();
    e.position = static_cast<uint64_t>(s.Int(0));
    // Columns 1.. are BRAID_RECORD_COLUMNS, as DecodeRecord reads them.
    WireFields f;
    f.collection = s.Text(1);
    f.id = s.Text(2);
    f.partition = s.IsNull(3) ? f.collection : s.Text(3);
    if (!s.IsNull(4)) f.parent = s.Text(4);
    f.deleted = s.Int(5) != 0;
    const auto writer_num = static_cast<uint32_t>(s.Int(6));
    if (!writer || writer->first != writer_num) {
      BRAID_ASSIGN_OR_RETURN(const InstanceId id, InstanceFor(db, writer_num));
      writer.emplace(writer_num, id);
    }
    f.version = {writer->second, static_cast<uint64_t>(s.Int(7))};
    if (s.IsNull(8)) {
      // Just {writer: counter}.
      e.stale = !(writer_num == num && f.version.counter == e.position);
    } else {
      BRAID_ASSIGN_OR_RETURN(const LocalVector local, DecodeLocalVector(s.Blob(8)));
      BRAID_ASSIGN_OR_RETURN(e.vv, ToVersionVector(db, local));
      e.stale = e.vv.Get(origin) != e.position;
      f.vv = &e.vv;
    }
    f.hlc = static_cast<uint64_t>(s.Int(9));
    if (!s.IsNull(10)) {
      BRAID_ASSIGN_OR_RETURN(
          clocks, ClocksFromLocal(s.Blob(10), [&](uint32_t n) { return InstanceFor(db, n); }));
      f.field_clocks = clocks;
    }
    f.body = s.Text(11);
    if (!s.IsNull(12)) f.conflicts = s.Text(12);
    const size_t json_at = out.text.size();
    json::Writer w(&out.text);
    WriteWireRecord(w, f);
    e.json = {json_at, out.text.size() - json_at};
    e.collection = append(f.collection);
    e.id = append(f.id);
    e.partition = s.IsNull(3) ? e.collection : append(f.partition);
    bytes += e.json.size;
  }
  return out;
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
