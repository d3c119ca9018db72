// Settings kept in the SQLite store (collection policies, remotes, users, tokens),
// held versions and FSICs: their rows in a write transaction, and their
// reads.

#include "store/catalog_rows.h"
#include "store/sqlite/row_txn.h"

namespace braid::sqlite {
namespace {

// The rows of a query of two text columns.
Result<std::vector<std::pair<std::string, std::string>>> TextPairs(Stmt& s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) return out;
    out.emplace_back(std::string(s.Text(0)), std::string(s.Text(1)));
  }
}

}  // namespace

Status SqliteRowTransaction::PutPolicy(std::string_view collection, ConflictPolicy policy) {
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db_->Prepare("INSERT INTO collections(name, policy) VALUES (?, ?) "
                                      "ON CONFLICT (name) DO UPDATE SET policy = excluded.policy"));
  return s.Bind(1, collection).Bind(2, PolicyName(policy)).Run();
}

Status SqliteRowTransaction::PutSearchFields(std::string_view collection,
                                             std::optional<std::string_view> spec) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("INSERT INTO collections(name, policy, search) VALUES (?, 'merge', ?) "
                           "ON CONFLICT (name) DO UPDATE SET search = excluded.search"));
  s.Bind(1, collection);
  if (spec) {
    s.Bind(2, *spec);
  } else {
    s.BindNull(2);
  }
  return s.Run();
}

Status SqliteRowTransaction::PutRemote(const Remote& r) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s,
      db_->Prepare(
          "INSERT INTO remotes(name, url, direction, filter, chunk_size, token, "
          "ca_cert, user, cert, rules) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) "
          "DO UPDATE SET url = excluded.url, direction = excluded.direction, "
          "filter = excluded.filter, chunk_size = excluded.chunk_size, "
          "token = excluded.token, ca_cert = excluded.ca_cert, user = excluded.user, "
          "cert = excluded.cert, rules = excluded.rules"));
  const std::string filter = FilterJson(r.filter);
  const std::string rules = RulesJson(r.rules);
  return s.Bind(1, r.name)
      .Bind(2, r.url)
      .Bind(3, DirectionName(r.direction))
      .Bind(4, filter)
      .Bind(5, static_cast<int64_t>(r.chunk_size))
      .Bind(6, r.token)
      .Bind(7, r.ca_cert)
      .Bind(8, r.user)
      .Bind(9, r.cert)
      .Bind(10, rules)
      .Run();
}

Result<bool> SqliteRowTransaction::DeleteRemote(std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM remotes WHERE name = ?"));
  BRAID_RETURN_IF_ERROR(s.Bind(1, name).Run());
  return db_->Changes() != 0;
}

Status SqliteRowTransaction::RecordSync(std::string_view remote, int64_t at_ms,
                                        std::string_view result) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("UPDATE remotes SET last_sync_at = ?, last_result = ? WHERE name = ?"));
  return s.Bind(1, at_ms).Bind(2, result).Bind(3, remote).Run();
}

Status SqliteRowTransaction::ScheduleSync(std::string_view remote, int64_t failures,
                                          int64_t next_ms) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("UPDATE remotes SET failures = ?, next_sync_at = ? WHERE name = ?"));
  return s.Bind(1, failures).Bind(2, next_ms).Bind(3, remote).Run();
}

Result<std::vector<Remote>> SqliteRowTransaction::Remotes() {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("SELECT " BRAID_REMOTE_COLUMNS " FROM remotes ORDER BY name"));
  std::vector<Remote> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) return out;
    BRAID_ASSIGN_OR_RETURN(Remote r, DecodeRemote(s));
    out.push_back(std::move(r));
  }
}

Status SqliteRowTransaction::PutReferences(std::string_view collection,
                                           const std::vector<Reference>& refs) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("INSERT INTO collections(name, policy, refs) VALUES (?, 'merge', ?) "
                           "ON CONFLICT (name) DO UPDATE SET refs = excluded.refs"));
  s.Bind(1, collection);
  const std::string json = ReferencesJson(refs);
  if (refs.empty()) {
    s.BindNull(2);
  } else {
    s.Bind(2, json);
  }
  return s.Run();
}

Result<std::vector<RuleMark>> SqliteRowTransaction::RuleMarks(std::string_view kind) {
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db_->Prepare("SELECT m.remote, i.id, m.counter FROM rule_marks m "
                                      "JOIN instances i ON i.num = m.origin WHERE m.kind = ?"));
  s.Bind(1, kind);
  std::vector<RuleMark> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) return out;
    RuleMark& m = out.emplace_back();
    m.remote.assign(s.Text(0));
    m.kind.assign(kind);
    BRAID_ASSIGN_OR_RETURN(m.origin, InstanceId::FromBytes(s.Blob(1)));
    m.counter = static_cast<uint64_t>(s.Int(2));
  }
}

Status SqliteRowTransaction::PutRuleMark(const RuleMark& m) {
  BRAID_ASSIGN_OR_RETURN(const uint32_t num, NumFor(m.origin));
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("INSERT OR REPLACE INTO rule_marks(remote, kind, origin, counter) "
                           "VALUES (?, ?, ?, ?)"));
  return s.Bind(1, m.remote)
      .Bind(2, m.kind)
      .Bind(3, static_cast<int64_t>(num))
      .Bind(4, static_cast<int64_t>(m.counter))
      .Run();
}

Status SqliteRowTransaction::DeleteRuleMark(std::string_view remote, std::string_view kind,
                                            const InstanceId& origin) {
  BRAID_ASSIGN_OR_RETURN(const uint32_t num, NumFor(origin));
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("DELETE FROM rule_marks WHERE remote = ? AND kind = ? AND origin = ?"));
  return s.Bind(1, remote).Bind(2, kind).Bind(3, static_cast<int64_t>(num)).Run();
}

Status SqliteRowTransaction::DeleteRuleMarks(std::string_view remote) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM rule_marks WHERE remote = ?"));
  return s.Bind(1, remote).Run();
}

Result<bool> SqliteRowTransaction::CreateToken(const TokenInfo& info, std::string_view sha256) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("INSERT OR IGNORE INTO tokens(name, sha256, created_at, role, scope) "
                           "VALUES (?, ?, ?, ?, ?)"));
  const std::string scope = FilterJson(info.scope);
  BRAID_RETURN_IF_ERROR(s.Bind(1, info.name)
                            .BindBlob(2, sha256)
                            .Bind(3, info.created_ms)
                            .Bind(4, RoleName(info.role))
                            .Bind(5, scope)
                            .Run());
  return db_->Changes() != 0;
}

Status SqliteRowTransaction::PutUser(const User& u) {
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db_->Prepare("INSERT INTO users(name, role, scope, password, created_at, "
                                      "source) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO "
                                      "UPDATE SET role = excluded.role, scope = excluded.scope, "
                                      "password = excluded.password, source = excluded.source"));
  const std::string scope = FilterJson(u.scope);
  return s.Bind(1, u.name)
      .Bind(2, RoleName(u.role))
      .Bind(3, scope)
      .Bind(4, u.password_hash)
      .Bind(5, u.created_ms)
      .Bind(6, u.source)
      .Run();
}

Result<bool> SqliteRowTransaction::DeleteUser(std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM users WHERE name = ?"));
  BRAID_RETURN_IF_ERROR(s.Bind(1, name).Run());
  return db_->Changes() != 0;
}

Status SqliteRowTransaction::PutCertificate(const CertificateRow& c) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("INSERT INTO certificates(serial, issuer, text, signed_for, stored_at, "
                           "key) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (serial) DO NOTHING"));
  return s.Bind(1, c.serial)
      .Bind(2, c.issuer)
      .Bind(3, c.text)
      .Bind(4, c.signed_for)
      .Bind(5, c.stored_ms)
      .Bind(6, c.key)
      .Run();
}

Status SqliteRowTransaction::PutRevocation(const RevocationRow& r) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT INTO revocations(serial, text, stored_at) "
                                              "VALUES (?, ?, ?) ON CONFLICT (serial) DO NOTHING"));
  return s.Bind(1, r.serial).Bind(2, r.text).Bind(3, r.stored_ms).Run();
}

Result<bool> SqliteRowTransaction::RevokeToken(std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM tokens WHERE name = ?"));
  BRAID_RETURN_IF_ERROR(s.Bind(1, name).Run());
  return db_->Changes() != 0;
}

Result<std::vector<Record>> SqliteRowTransaction::Held(std::string_view collection,
                                                       std::string_view id) {
  return store_->HeldVersionsOn(*db_, collection, id);
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteRowTransaction::HeldNames() {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT DISTINCT collection, id FROM held"));
  return TextPairs(s);
}

Status SqliteRowTransaction::Hold(const Record& r, std::string_view wire) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("INSERT OR IGNORE INTO held(collection, id, origin, counter, record) "
                           "VALUES (?, ?, ?, ?, ?)"));
  return s.Bind(1, r.collection)
      .Bind(2, r.id)
      .BindBlob(3, r.version.origin.AsBytes())
      .Bind(4, static_cast<int64_t>(r.version.counter))
      .Bind(5, wire)
      .Run();
}

Status SqliteRowTransaction::Unhold(std::string_view collection, std::string_view id,
                                    const Version& version) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("DELETE FROM held WHERE collection = ? AND id = ? AND origin = ? "
                           "AND counter = ?"));
  return s.Bind(1, collection)
      .Bind(2, id)
      .BindBlob(3, version.origin.AsBytes())
      .Bind(4, static_cast<int64_t>(version.counter))
      .Run();
}

Status SqliteRowTransaction::UnholdAll(std::string_view collection, std::string_view id) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM held WHERE collection = ? AND id = ?"));
  return s.Bind(1, collection).Bind(2, id).Run();
}

Status SqliteRowTransaction::RaiseFsic(std::string_view prefix, const InstanceId& origin,
                                       uint64_t counter) {
  BRAID_ASSIGN_OR_RETURN(const uint32_t num, NumFor(origin));
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db_->Prepare("INSERT INTO fsic(prefix, origin, counter) VALUES (?, ?, ?) "
                                      "ON CONFLICT (prefix, origin) DO UPDATE "
                                      "SET counter = max(counter, excluded.counter)"));
  return s.Bind(1, prefix)
      .Bind(2, static_cast<int64_t>(num))
      .Bind(3, static_cast<int64_t>(counter))
      .Run();
}

Result<ConflictPolicy> SqliteStore::Policy(std::string_view collection) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         reader.db().Prepare("SELECT policy FROM collections WHERE name = ?"));
  s.Bind(1, collection);
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return ConflictPolicy::kMerge;
  return ParsePolicy(s.Text(0));
}

Result<std::vector<std::pair<std::string, ConflictPolicy>>> SqliteStore::Policies() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         reader.db().Prepare("SELECT name, policy FROM collections ORDER BY name"));
  std::vector<std::pair<std::string, ConflictPolicy>> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    BRAID_ASSIGN_OR_RETURN(const ConflictPolicy p, ParsePolicy(s.Text(1)));
    out.emplace_back(std::string(s.Text(0)), p);
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteStore::SearchFields() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s, reader.db().Prepare("SELECT name, search FROM collections "
                                                     "WHERE search IS NOT NULL ORDER BY name"));
  return TextPairs(s);
}

Result<std::vector<std::pair<std::string, std::vector<Reference>>>> SqliteStore::References() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s, reader.db().Prepare("SELECT name, refs FROM collections "
                                                     "WHERE refs IS NOT NULL ORDER BY name"));
  std::vector<std::pair<std::string, std::vector<Reference>>> out;
  BRAID_ASSIGN_OR_RETURN(const auto pairs, TextPairs(s));
  for (const auto& [name, json] : pairs) {
    BRAID_ASSIGN_OR_RETURN(auto refs, DecodeReferences(name, json));
    out.emplace_back(name, std::move(refs));
  }
  return out;
}

Result<VersionVector> SqliteStore::Marks(std::string_view remote, MarkKind kind) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s, reader.db().Prepare("SELECT i.id, m.counter FROM rule_marks m "
                                                     "JOIN instances i ON i.num = m.origin "
                                                     "WHERE m.remote = ? AND m.kind = ?"));
  s.Bind(1, remote).Bind(2, MarkKindName(kind));
  VersionVector vv;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) return vv;
    BRAID_ASSIGN_OR_RETURN(const InstanceId id, InstanceId::FromBytes(s.Blob(0)));
    vv.Set(id, static_cast<uint64_t>(s.Int(1)));
  }
}

Result<std::optional<Remote>> SqliteStore::GetRemote(std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT " BRAID_REMOTE_COLUMNS " FROM remotes WHERE name = ?"));
  s.Bind(1, name);
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return std::optional<Remote>();
  BRAID_ASSIGN_OR_RETURN(Remote r, DecodeRemote(s));
  return std::optional<Remote>(std::move(r));
}

Result<std::vector<Remote>> SqliteStore::ListRemotes() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT " BRAID_REMOTE_COLUMNS " FROM remotes ORDER BY name"));
  std::vector<Remote> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    BRAID_ASSIGN_OR_RETURN(Remote r, DecodeRemote(s));
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<TokenInfo>> SqliteStore::FindToken(std::string_view sha256) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT " BRAID_TOKEN_COLUMNS " FROM tokens WHERE sha256 = ?"));
  s.BindBlob(1, sha256);
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return std::optional<TokenInfo>();
  BRAID_ASSIGN_OR_RETURN(TokenInfo t, DecodeToken(s));
  return std::optional<TokenInfo>(std::move(t));
}

Result<std::vector<TokenInfo>> SqliteStore::ListTokens() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT " BRAID_TOKEN_COLUMNS " FROM tokens ORDER BY name"));
  std::vector<TokenInfo> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    BRAID_ASSIGN_OR_RETURN(TokenInfo t, DecodeToken(s));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::optional<User>> SqliteStore::GetUser(std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT " BRAID_USER_COLUMNS " FROM users WHERE name = ?"));
  s.Bind(1, name);
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return std::optional<User>();
  BRAID_ASSIGN_OR_RETURN(User u, DecodeUser(s));
  return std::optional<User>(std::move(u));
}

Result<std::vector<User>> SqliteStore::ListUsers() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT " BRAID_USER_COLUMNS " FROM users ORDER BY name"));
  std::vector<User> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    BRAID_ASSIGN_OR_RETURN(User u, DecodeUser(s));
    out.push_back(std::move(u));
  }
  return out;
}

Result<std::optional<CertificateRow>> SqliteStore::GetCertificate(std::string_view serial) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s, reader.db().Prepare("SELECT " BRAID_CERTIFICATE_COLUMNS
                                                     " FROM certificates WHERE serial = ?"));
  s.Bind(1, serial);
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return std::optional<CertificateRow>();
  return std::optional<CertificateRow>(DecodeCertificate(s));
}

// Every certificate, or those binding `key`: one query, by serial.
Result<std::vector<CertificateRow>> SqliteStore::ListCertificates() {
  return Certificates(std::nullopt);
}

Result<std::vector<CertificateRow>> SqliteStore::ListCertificatesOf(std::string_view key) {
  return Certificates(key);
}

Result<std::vector<CertificateRow>> SqliteStore::Certificates(std::optional<std::string_view> key) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare(key ? "SELECT " BRAID_CERTIFICATE_COLUMNS
                                        " FROM certificates WHERE key = ? ORDER BY serial"
                                      : "SELECT " BRAID_CERTIFICATE_COLUMNS
                                        " FROM certificates ORDER BY serial"));
  if (key) s.Bind(1, *key);
  std::vector<CertificateRow> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.push_back(DecodeCertificate(s));
  }
  return out;
}

Result<std::vector<RevocationRow>> SqliteStore::ListRevocations() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s,
      reader.db().Prepare("SELECT serial, text, stored_at FROM revocations ORDER BY serial"));
  std::vector<RevocationRow> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.push_back({std::string(s.Text(0)), std::string(s.Text(1)), s.Int(2)});
  }
  return out;
}

Result<std::vector<std::string>> SqliteStore::RevokedAmong(
    const std::vector<std::string>& serials) {
  std::vector<std::string> out;
  if (serials.empty()) return out;
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         reader.db().Prepare("SELECT serial FROM revocations WHERE serial IN "
                                             "(SELECT value FROM json_each(?))"));
  const std::string list = FilterJson(serials);
  s.Bind(1, list);
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.emplace_back(s.Text(0));
  }
  return out;
}

Result<std::vector<Record>> SqliteStore::ListConflicts(std::string_view after_collection,
                                                       std::string_view after_id, size_t limit) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db.Prepare("SELECT " BRAID_RECORD_COLUMNS " FROM records r WHERE r.rid IN ("
                         "SELECT rid FROM records WHERE conflicts IS NOT NULL "
                         "AND (collection, id) > (?1, ?2) "
                         "UNION SELECT r2.rid FROM held h JOIN records r2 "
                         "ON r2.collection = h.collection AND r2.id = h.id "
                         "WHERE (h.collection, h.id) > (?1, ?2)) "
                         "ORDER BY r.collection, r.id LIMIT ?3"));
  s.Bind(1, after_collection).Bind(2, after_id).Bind(3, static_cast<int64_t>(limit));
  return DecodeRecords(db, s);
}

Result<std::vector<Record>> SqliteStore::HeldVersions(std::string_view collection,
                                                      std::string_view id) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  return HeldVersionsOn(reader.db(), collection, id);
}

Result<std::vector<Record>> SqliteStore::HeldVersionsOn(Db& db, std::string_view collection,
                                                        std::string_view id) {
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db.Prepare("SELECT record FROM held WHERE collection = ? AND id = ? "
                                    "ORDER BY origin, counter"));
  s.Bind(1, collection).Bind(2, id);
  std::vector<Record> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    BRAID_ASSIGN_OR_RETURN(Record r, DecodeHeld(s.Text(0)));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace braid::sqlite
