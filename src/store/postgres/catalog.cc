// Settings kept in the PostgreSQL store (collection policies, remotes,
// users, tokens, certificates), held versions and FSICs: their rows in a
// write transaction, and their reads. Rows decode as SQLite's do
// (store/catalog_rows.h).

#include "store/catalog_rows.h"
#include "store/postgres/row_txn.h"

namespace braid::postgres {
namespace {

// The rows of a query of two text columns.
std::vector<std::pair<std::string, std::string>> TextPairs(const pg::Rows& rows) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    out.emplace_back(std::string(rows.Text(i, 0)), std::string(rows.Text(i, 1)));
  }
  return out;
}

// Every row, decoded by `decode` (a decoder of store/catalog_rows.h).
template <typename T>
Result<std::vector<T>> DecodeAll(const pg::Rows& rows, Result<T> (*decode)(const pg::Row&)) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    BRAID_ASSIGN_OR_RETURN(T v, decode(pg::Row(rows, i)));
    out.push_back(std::move(v));
  }
  return out;
}

// The first row decoded, or nullopt when there is none.
template <typename T>
Result<std::optional<T>> DecodeFirst(const pg::Rows& rows, Result<T> (*decode)(const pg::Row&)) {
  if (rows.empty()) return std::optional<T>();
  BRAID_ASSIGN_OR_RETURN(T v, decode(pg::Row(rows, 0)));
  return std::optional<T>(std::move(v));
}

std::optional<std::string> OptionalString(std::optional<std::string_view> text) {
  if (!text) return std::nullopt;
  return std::string(*text);
}

}  // namespace

Status PgRowTransaction::PutPolicy(std::string_view collection, ConflictPolicy policy) {
  return conn_
      ->Query(
          "INSERT INTO collections(name, policy) VALUES ($1, $2) "
          "ON CONFLICT (name) DO UPDATE SET policy = excluded.policy",
          pg::Params().Add(collection).Add(PolicyName(policy)))
      .status();
}

Status PgRowTransaction::PutSearchFields(std::string_view collection,
                                         std::optional<std::string_view> spec) {
  return conn_
      ->Query(
          "INSERT INTO collections(name, policy, search) VALUES ($1, 'merge', $2) "
          "ON CONFLICT (name) DO UPDATE SET search = excluded.search",
          pg::Params().Add(collection).Add(OptionalString(spec)))
      .status();
}

Status PgRowTransaction::PutRemote(const Remote& r) {
  return conn_
      ->Query(
          "INSERT INTO remotes(name, url, direction, filter, chunk_size, token, ca_cert, "
          "\"user\", cert, rules) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
          "ON CONFLICT (name) DO UPDATE SET url = excluded.url, "
          "direction = excluded.direction, filter = excluded.filter, "
          "chunk_size = excluded.chunk_size, token = excluded.token, "
          "ca_cert = excluded.ca_cert, \"user\" = excluded.\"user\", cert = excluded.cert, "
          "rules = excluded.rules",
          pg::Params()
              .Add(r.name)
              .Add(r.url)
              .Add(DirectionName(r.direction))
              .Add(FilterJson(r.filter))
              .Add(static_cast<int64_t>(r.chunk_size))
              .Add(r.token)
              .Add(r.ca_cert)
              .Add(r.user)
              .Add(r.cert)
              .Add(RulesJson(r.rules)))
      .status();
}

Result<bool> PgRowTransaction::DeleteRemote(std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows, conn_->Query("DELETE FROM remotes WHERE name = $1",
                                                           pg::Params().Add(name)));
  return rows.affected() != 0;
}

Status PgRowTransaction::RecordSync(std::string_view remote, int64_t at_ms,
                                    std::string_view result) {
  return conn_
      ->Query("UPDATE remotes SET last_sync_at = $1, last_result = $2 WHERE name = $3",
              pg::Params().Add(at_ms).Add(result).Add(remote))
      .status();
}

Status PgRowTransaction::ScheduleSync(std::string_view remote, int64_t failures, int64_t next_ms) {
  return conn_
      ->Query("UPDATE remotes SET failures = $1, next_sync_at = $2 WHERE name = $3",
              pg::Params().Add(failures).Add(next_ms).Add(remote))
      .status();
}

Result<std::vector<Remote>> PgRowTransaction::Remotes() {
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows, conn_->Query("SELECT " BRAID_REMOTE_COLUMNS
                                                           " FROM remotes ORDER BY name"));
  return DecodeAll(rows, &DecodeRemote<pg::Row>);
}

Status PgRowTransaction::PutReferences(std::string_view collection,
                                       const std::vector<Reference>& refs) {
  std::optional<std::string> json;
  if (!refs.empty()) json = ReferencesJson(refs);
  return conn_
      ->Query(
          "INSERT INTO collections(name, policy, refs) VALUES ($1, 'merge', $2) "
          "ON CONFLICT (name) DO UPDATE SET refs = excluded.refs",
          pg::Params().Add(collection).Add(json))
      .status();
}

Result<std::vector<RuleMark>> PgRowTransaction::RuleMarks(std::string_view kind) {
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         conn_->Query("SELECT remote, origin, counter FROM rule_marks "
                                      "WHERE kind = $1 ORDER BY remote, origin",
                                      pg::Params().Add(kind)));
  std::vector<RuleMark> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    RuleMark& m = out.emplace_back();
    m.remote.assign(rows.Text(i, 0));
    m.kind.assign(kind);
    // Through the dictionary rather than a join: this transaction may have
    // added the instance.
    BRAID_ASSIGN_OR_RETURN(
        m.origin,
        store_->InstanceFor(*conn_, static_cast<uint32_t>(rows.Int(i, 1)), &new_instances_));
    m.counter = static_cast<uint64_t>(rows.Int(i, 2));
  }
  return out;
}

Status PgRowTransaction::PutRuleMark(const RuleMark& m) {
  BRAID_ASSIGN_OR_RETURN(const uint32_t num, NumFor(m.origin));
  return conn_
      ->Query(
          "INSERT INTO rule_marks(remote, kind, origin, counter) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (remote, kind, origin) DO UPDATE SET counter = excluded.counter",
          pg::Params().Add(m.remote).Add(m.kind).Add(num).Add(m.counter))
      .status();
}

Status PgRowTransaction::DeleteRuleMark(std::string_view remote, std::string_view kind,
                                        const InstanceId& origin) {
  BRAID_ASSIGN_OR_RETURN(const uint32_t num, NumFor(origin));
  return conn_
      ->Query("DELETE FROM rule_marks WHERE remote = $1 AND kind = $2 AND origin = $3",
              pg::Params().Add(remote).Add(kind).Add(num))
      .status();
}

Status PgRowTransaction::DeleteRuleMarks(std::string_view remote) {
  return conn_->Query("DELETE FROM rule_marks WHERE remote = $1", pg::Params().Add(remote))
      .status();
}

Result<bool> PgRowTransaction::CreateToken(const TokenInfo& info, std::string_view sha256) {
  // Without a conflict target, as SQLite's INSERT OR IGNORE: nothing is
  // written when the name, or the hash, is taken.
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         conn_->Query("INSERT INTO tokens(name, sha256, created_at, role, scope) "
                                      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                                      pg::Params()
                                          .Add(info.name)
                                          .AddBytes(sha256)
                                          .Add(info.created_ms)
                                          .Add(RoleName(info.role))
                                          .Add(FilterJson(info.scope))));
  return rows.affected() != 0;
}

Status PgRowTransaction::PutUser(const User& u) {
  return conn_
      ->Query(
          "INSERT INTO users(name, role, scope, password, created_at, source) "
          "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET "
          "role = excluded.role, scope = excluded.scope, password = excluded.password, "
          "source = excluded.source",
          pg::Params()
              .Add(u.name)
              .Add(RoleName(u.role))
              .Add(FilterJson(u.scope))
              .Add(u.password_hash)
              .Add(u.created_ms)
              .Add(u.source))
      .status();
}

Result<bool> PgRowTransaction::DeleteUser(std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         conn_->Query("DELETE FROM users WHERE name = $1", pg::Params().Add(name)));
  return rows.affected() != 0;
}

Status PgRowTransaction::PutCertificate(const CertificateRow& c) {
  return conn_
      ->Query(
          "INSERT INTO certificates(serial, issuer, text, signed_for, stored_at, key) "
          "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (serial) DO NOTHING",
          pg::Params()
              .Add(c.serial)
              .Add(c.issuer)
              .Add(c.text)
              .Add(c.signed_for)
              .Add(c.stored_ms)
              .Add(c.key))
      .status();
}

Status PgRowTransaction::PutRevocation(const RevocationRow& r) {
  return conn_
      ->Query(
          "INSERT INTO revocations(serial, text, stored_at) VALUES ($1, $2, $3) "
          "ON CONFLICT (serial) DO NOTHING",
          pg::Params().Add(r.serial).Add(r.text).Add(r.stored_ms))
      .status();
}

Result<bool> PgRowTransaction::RevokeToken(std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows, conn_->Query("DELETE FROM tokens WHERE name = $1",
                                                           pg::Params().Add(name)));
  return rows.affected() != 0;
}

Result<std::vector<Record>> PgRowTransaction::Held(std::string_view collection,
                                                   std::string_view id) {
  return store_->HeldVersionsOn(*conn_, collection, id);
}

Result<std::vector<std::pair<std::string, std::string>>> PgRowTransaction::HeldNames() {
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      conn_->Query("SELECT DISTINCT collection, id FROM held ORDER BY collection, id"));
  return TextPairs(rows);
}

Status PgRowTransaction::Hold(const Record& r, std::string_view wire) {
  return conn_
      ->Query(
          "INSERT INTO held(collection, id, origin, counter, record) "
          "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
          pg::Params()
              .Add(r.collection)
              .Add(r.id)
              .AddBytes(r.version.origin.AsBytes())
              .Add(r.version.counter)
              .Add(wire))
      .status();
}

Status PgRowTransaction::Unhold(std::string_view collection, std::string_view id,
                                const Version& version) {
  return conn_
      ->Query(
          "DELETE FROM held WHERE collection = $1 AND id = $2 AND origin = $3 "
          "AND counter = $4",
          pg::Params()
              .Add(collection)
              .Add(id)
              .AddBytes(version.origin.AsBytes())
              .Add(version.counter))
      .status();
}

Status PgRowTransaction::UnholdAll(std::string_view collection, std::string_view id) {
  return conn_
      ->Query("DELETE FROM held WHERE collection = $1 AND id = $2",
              pg::Params().Add(collection).Add(id))
      .status();
}

Status PgRowTransaction::RaiseFsic(std::string_view prefix, const InstanceId& origin,
                                   uint64_t counter) {
  BRAID_ASSIGN_OR_RETURN(const uint32_t num, NumFor(origin));
  return conn_
      ->Query(
          "INSERT INTO fsic(prefix, origin, counter) VALUES ($1, $2, $3) "
          "ON CONFLICT (prefix, origin) DO UPDATE "
          "SET counter = GREATEST(fsic.counter, excluded.counter)",
          pg::Params().Add(prefix).Add(num).Add(counter))
      .status();
}

Result<ConflictPolicy> PgStore::Policy(std::string_view collection) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         reader.conn().Query("SELECT policy FROM collections WHERE name = $1",
                                             pg::Params().Add(collection)));
  if (rows.empty()) return ConflictPolicy::kMerge;
  return ParsePolicy(rows.Text(0, 0));
}

Result<std::vector<std::pair<std::string, ConflictPolicy>>> PgStore::Policies() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         reader.conn().Query("SELECT name, policy FROM collections ORDER BY name"));
  std::vector<std::pair<std::string, ConflictPolicy>> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    BRAID_ASSIGN_OR_RETURN(const ConflictPolicy p, ParsePolicy(rows.Text(i, 1)));
    out.emplace_back(std::string(rows.Text(i, 0)), p);
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> PgStore::SearchFields() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         reader.conn().Query("SELECT name, search FROM collections "
                                             "WHERE search IS NOT NULL ORDER BY name"));
  return TextPairs(rows);
}

Result<std::vector<std::pair<std::string, std::vector<Reference>>>> PgStore::References() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         reader.conn().Query("SELECT name, refs FROM collections "
                                             "WHERE refs IS NOT NULL ORDER BY name"));
  std::vector<std::pair<std::string, std::vector<Reference>>> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    BRAID_ASSIGN_OR_RETURN(auto refs, DecodeReferences(rows.Text(i, 0), rows.Text(i, 1)));
    out.emplace_back(std::string(rows.Text(i, 0)), std::move(refs));
  }
  return out;
}

Result<VersionVector> PgStore::Marks(std::string_view remote, MarkKind kind) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         reader.conn().Query("SELECT i.id, m.counter FROM rule_marks m "
                                             "JOIN instances i ON i.num = m.origin "
                                             "WHERE m.remote = $1 AND m.kind = $2",
                                             pg::Params().Add(remote).Add(MarkKindName(kind))));
  VersionVector vv;
  for (int i = 0; i < rows.size(); ++i) {
    BRAID_ASSIGN_OR_RETURN(const InstanceId id, InstanceId::FromBytes(rows.Bytes(i, 0)));
    vv.Set(id, static_cast<uint64_t>(rows.Int(i, 1)));
  }
  return vv;
}

Result<std::optional<Remote>> PgStore::GetRemote(std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows, reader.conn().Query("SELECT " BRAID_REMOTE_COLUMNS
                                                                  " FROM remotes WHERE name = $1",
                                                                  pg::Params().Add(name)));
  return DecodeFirst(rows, &DecodeRemote<pg::Row>);
}

Result<std::vector<Remote>> PgStore::ListRemotes() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows, reader.conn().Query("SELECT " BRAID_REMOTE_COLUMNS
                                                                  " FROM remotes ORDER BY name"));
  return DecodeAll(rows, &DecodeRemote<pg::Row>);
}

Result<std::optional<TokenInfo>> PgStore::FindToken(std::string_view sha256) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows, reader.conn().Query("SELECT " BRAID_TOKEN_COLUMNS
                                                                  " FROM tokens WHERE sha256 = $1",
                                                                  pg::Params().AddBytes(sha256)));
  return DecodeFirst(rows, &DecodeToken<pg::Row>);
}

Result<std::vector<TokenInfo>> PgStore::ListTokens() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows, reader.conn().Query("SELECT " BRAID_TOKEN_COLUMNS
                                                                  " FROM tokens ORDER BY name"));
  return DecodeAll(rows, &DecodeToken<pg::Row>);
}

Result<std::optional<User>> PgStore::GetUser(std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows, reader.conn().Query("SELECT " BRAID_USER_COLUMNS
                                                                  " FROM users WHERE name = $1",
                                                                  pg::Params().Add(name)));
  return DecodeFirst(rows, &DecodeUser<pg::Row>);
}

Result<std::vector<User>> PgStore::ListUsers() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows, reader.conn().Query("SELECT " BRAID_USER_COLUMNS
                                                                  " FROM users ORDER BY name"));
  return DecodeAll(rows, &DecodeUser<pg::Row>);
}

Result<std::optional<CertificateRow>> PgStore::GetCertificate(std::string_view serial) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         reader.conn().Query("SELECT " BRAID_CERTIFICATE_COLUMNS
                                             " FROM certificates WHERE serial = $1",
                                             pg::Params().Add(serial)));
  if (rows.empty()) return std::optional<CertificateRow>();
  return std::optional<CertificateRow>(DecodeCertificate(pg::Row(rows, 0)));
}

Result<std::vector<CertificateRow>> PgStore::ListCertificates() {
  return Certificates(std::nullopt);
}

Result<std::vector<CertificateRow>> PgStore::ListCertificatesOf(std::string_view key) {
  return Certificates(key);
}

// Every certificate, or those binding `key`: one query, by serial.
Result<std::vector<CertificateRow>> PgStore::Certificates(std::optional<std::string_view> key) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Params params;
  if (key) params.Add(*key);
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      reader.conn().Query(key ? "SELECT " BRAID_CERTIFICATE_COLUMNS
                                " FROM certificates WHERE key = $1 ORDER BY serial"
                              : "SELECT " BRAID_CERTIFICATE_COLUMNS
                                " FROM certificates ORDER BY serial",
                          params));
  std::vector<CertificateRow> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) out.push_back(DecodeCertificate(pg::Row(rows, i)));
  return out;
}

Result<std::vector<RevocationRow>> PgStore::ListRevocations() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      reader.conn().Query("SELECT serial, text, stored_at FROM revocations ORDER BY serial"));
  std::vector<RevocationRow> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back({std::string(rows.Text(i, 0)), std::string(rows.Text(i, 1)), rows.Int(i, 2)});
  }
  return out;
}

Result<std::vector<std::string>> PgStore::RevokedAmong(const std::vector<std::string>& serials) {
  std::vector<std::string> out;
  if (serials.empty()) return out;
  pg::Array list(pg::Array::Type::kText);
  for (const std::string& s : serials) list.Add(s);
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows, reader.conn().Query("SELECT serial FROM revocations "
                                                                  "WHERE serial = ANY($1) "
                                                                  "ORDER BY serial",
                                                                  pg::Params().Add(list)));
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) out.emplace_back(rows.Text(i, 0));
  return out;
}

Result<std::vector<Record>> PgStore::ListConflicts(std::string_view after_collection,
                                                   std::string_view after_id, size_t limit) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Conn& conn = reader.conn();
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      conn.Query("SELECT " BRAID_PG_RECORD_COLUMNS " FROM records r WHERE r.rid IN ("
                 "SELECT rid FROM records WHERE conflicts IS NOT NULL "
                 "AND (collection, id) > ($1, $2) "
                 "UNION SELECT r2.rid FROM held h JOIN records r2 "
                 "ON r2.collection = h.collection AND r2.id = h.id "
                 "WHERE (h.collection, h.id) > ($1, $2)) "
                 "ORDER BY r.collection, r.id LIMIT $3",
                 pg::Params().Add(after_collection).Add(after_id).AddLimit(limit)));
  return DecodeRecords(conn, rows);
}

Result<std::vector<Record>> PgStore::HeldVersions(std::string_view collection,
                                                  std::string_view id) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  return HeldVersionsOn(reader.conn(), collection, id);
}

Result<std::vector<Record>> PgStore::HeldVersionsOn(pg::Conn& conn, std::string_view collection,
                                                    std::string_view id) {
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         conn.Query("SELECT record FROM held WHERE collection = $1 AND id = $2 "
                                    "ORDER BY origin, counter",
                                    pg::Params().Add(collection).Add(id)));
  std::vector<Record> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    BRAID_ASSIGN_OR_RETURN(Record r, DecodeHeld(rows.Text(i, 0)));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace braid::postgres
