// Settings kept in the SQLite store: collection policies, remotes, tokens;
// and the conflict listings.

#include "base/json.h"
#include "base/validate.h"
#include "store/sqlite/write_txn.h"
#include "store/wire.h"

namespace braid::sqlite {
namespace {

Status ValidateRemote(const Remote& r) {
  BRAID_RETURN_IF_ERROR(ValidateCollection(r.name).WithContext("remote name"));
  if (r.url.rfind("http://", 0) != 0 && r.url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("remote \"" + r.name + "\": the URL must start with http:// " +
                                   "or https:// (got \"" + r.url + "\")");
  }
  for (const auto& p : r.filter) {
    BRAID_RETURN_IF_ERROR(ValidatePartition(p).WithContext("remote \"" + r.name + "\" filter"));
  }
  if (r.chunk_size < 1 || r.chunk_size > kMaxChunkSize) {
    return Status::InvalidArgument("chunk size must be between 1 and " +
                                   std::to_string(kMaxChunkSize));
  }
  if (r.token.empty()) {
    return Status::InvalidArgument("remote \"" + r.name +
                                   "\" needs a token (braid token create on the remote)");
  }
  return Status::OK();
}

std::string FilterJson(const std::vector<std::string>& filter) {
  std::string out;
  json::Writer w(&out);
  w.BeginArray();
  for (const auto& p : filter) w.String(p);
  w.EndArray();
  return out;
}

Result<Remote> DecodeRemote(const Stmt& s) {
  Remote r;
  r.name.assign(s.Text(0));
  r.url.assign(s.Text(1));
  BRAID_ASSIGN_OR_RETURN(r.direction, ParseDirection(s.Text(2)));
  json::Value(s.Text(3)).ForEachElement([&](json::Value v) {
    r.filter.push_back(v.AsString().value_or(""));
    return true;
  });
  r.chunk_size = static_cast<size_t>(s.Int(4));
  r.token.assign(s.Text(5));
  r.last_sync_ms = s.IsNull(6) ? 0 : s.Int(6);
  if (!s.IsNull(7)) r.last_result.assign(s.Text(7));
  return r;
}

}  // namespace

Status SqliteWriteTransaction::SetPolicy(std::string_view collection, ConflictPolicy policy) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateCollection(collection));
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT OR REPLACE INTO collections(name, policy) "
                                              "VALUES (?, ?)"));
  return Poison(s.Bind(1, collection).Bind(2, PolicyName(policy)).Run());
}

Status SqliteWriteTransaction::PutRemote(const Remote& r) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateRemote(r));
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("INSERT INTO remotes(name, url, direction, filter, chunk_size, token) "
                           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                           "url = excluded.url, direction = excluded.direction, "
                           "filter = excluded.filter, chunk_size = excluded.chunk_size, "
                           "token = excluded.token"));
  const std::string filter = FilterJson(r.filter);
  return Poison(s.Bind(1, r.name)
                    .Bind(2, r.url)
                    .Bind(3, DirectionName(r.direction))
                    .Bind(4, filter)
                    .Bind(5, static_cast<int64_t>(r.chunk_size))
                    .Bind(6, r.token)
                    .Run());
}

Status SqliteWriteTransaction::DeleteRemote(std::string_view name) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM remotes WHERE name = ?"));
  BRAID_RETURN_IF_ERROR(Poison(s.Bind(1, name).Run()));
  if (db_->Changes() == 0) return Status::NotFound("no remote named \"" + std::string(name) + "\"");
  return Status::OK();
}

Status SqliteWriteTransaction::RecordSync(std::string_view remote, int64_t at_ms,
                                          std::string_view result) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("UPDATE remotes SET last_sync_at = ?, last_result = ? WHERE name = ?"));
  return Poison(s.Bind(1, at_ms).Bind(2, result).Bind(3, remote).Run());
}

Status SqliteWriteTransaction::CreateToken(std::string_view name, std::string_view sha256) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateCollection(name).WithContext("token name"));
  if (sha256.size() != 32) return Status::InvalidArgument("a token hash is 32 bytes");
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db_->Prepare("INSERT OR IGNORE INTO tokens(name, sha256, created_at) "
                                      "VALUES (?, ?, ?)"));
  BRAID_RETURN_IF_ERROR(
      Poison(s.Bind(1, name).BindBlob(2, sha256).Bind(3, store_->clock().NowMillis()).Run()));
  if (db_->Changes() == 0) {
    return Status::AlreadyExists("a token named \"" + std::string(name) +
                                 "\" exists; revoke it first or pick another name");
  }
  return Status::OK();
}

Status SqliteWriteTransaction::RevokeToken(std::string_view name) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM tokens WHERE name = ?"));
  BRAID_RETURN_IF_ERROR(Poison(s.Bind(1, name).Run()));
  if (db_->Changes() == 0) return Status::NotFound("no token named \"" + std::string(name) + "\"");
  return Status::OK();
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

Result<std::optional<Remote>> SqliteStore::GetRemote(std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT name, url, direction, filter, chunk_size, token, "
                                  "last_sync_at, last_result FROM remotes WHERE name = ?"));
  s.Bind(1, name);
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return std::optional<Remote>();
  BRAID_ASSIGN_OR_RETURN(Remote r, DecodeRemote(s));
  return std::optional<Remote>(std::move(r));
}

Result<std::vector<Remote>> SqliteStore::ListRemotes() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, reader.db().Prepare("SELECT name, url, direction, filter, chunk_size, token, "
                                  "last_sync_at, last_result FROM remotes ORDER BY name"));
  std::vector<Remote> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    BRAID_ASSIGN_OR_RETURN(Remote r, DecodeRemote(s));
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<std::string>> SqliteStore::FindToken(std::string_view sha256) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s, reader.db().Prepare("SELECT name FROM tokens WHERE sha256 = ?"));
  s.BindBlob(1, sha256);
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(std::string(s.Text(0)));
}

Result<std::vector<TokenInfo>> SqliteStore::ListTokens() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         reader.db().Prepare("SELECT name, created_at FROM tokens ORDER BY name"));
  std::vector<TokenInfo> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.push_back({std::string(s.Text(0)), s.Int(1)});
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
  std::vector<Record> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    BRAID_RETURN_IF_ERROR(DecodeRecord(db, s, 0, &out.emplace_back()));
  }
  return out;
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
    const std::string text(s.Text(0));
    BRAID_ASSIGN_OR_RETURN(Record r, ParseWireRecord(json::Value(text)));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace braid::sqlite
