// Replication sessions and certificate-session challenges in the SQLite
// store (schema 8): their rows in a write transaction, and their reads.

#include "store/catalog_rows.h"
#include "store/sqlite/row_txn.h"

namespace braid::sqlite {

Result<bool> SqliteRowTransaction::PutSyncSession(const SyncSessionRow& s) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt st, db_->Prepare("INSERT OR IGNORE INTO sync_sessions(" BRAID_SYNC_SESSION_COLUMNS
                            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  const std::string scope = FilterJson(s.scope);
  const std::string filter = FilterJson(s.filter);
  const std::string peer_fsic = VersionVectorToJson(s.peer_fsic);
  const std::string own_fsic = VersionVectorToJson(s.own_fsic);
  const std::string ends = EndsJson(s.ends);
  st.Bind(1, s.key).Bind(2, s.owner).Bind(3, scope);
  if (s.chain.empty()) {
    st.BindNull(4);
  } else {
    st.Bind(4, s.chain);
  }
  BRAID_RETURN_IF_ERROR(st.BindBlob(5, s.peer.AsBytes())
                            .Bind(6, DirectionName(s.direction))
                            .Bind(7, filter)
                            .Bind(8, static_cast<int64_t>(s.chunk_size))
                            .Bind(9, s.codec)
                            .Bind(10, peer_fsic)
                            .Bind(11, own_fsic)
                            .Bind(12, ends)
                            .Bind(13, s.created_ms)
                            .Bind(14, s.used_ms)
                            .Run());
  return db_->Changes() != 0;
}

Status SqliteRowTransaction::TouchSyncSession(std::string_view key, int64_t used_ms) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("UPDATE sync_sessions SET used_at = max(used_at, ?) WHERE key = ?"));
  return s.Bind(1, used_ms).Bind(2, key).Run();
}

Status SqliteRowTransaction::DeleteSyncSession(std::string_view key) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("DELETE FROM sync_sessions WHERE key = ?"));
  return s.Bind(1, key).Run();
}

Result<uint64_t> SqliteRowTransaction::ExpireSyncSessions(int64_t used_before_ms, size_t keep) {
  BRAID_ASSIGN_OR_RETURN(Stmt old, db_->Prepare("DELETE FROM sync_sessions WHERE used_at < ?"));
  BRAID_RETURN_IF_ERROR(old.Bind(1, used_before_ms).Run());
  uint64_t removed = static_cast<uint64_t>(db_->Changes());
  BRAID_ASSIGN_OR_RETURN(Stmt extra, db_->Prepare("DELETE FROM sync_sessions WHERE key IN ("
                                                  "SELECT key FROM sync_sessions ORDER BY "
                                                  "used_at DESC, key LIMIT -1 OFFSET ?)"));
  BRAID_RETURN_IF_ERROR(extra.Bind(1, static_cast<int64_t>(keep)).Run());
  return removed + static_cast<uint64_t>(db_->Changes());
}

Result<bool> SqliteRowTransaction::PutChallenge(const ChallengeRow& c) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("INSERT OR IGNORE INTO sync_challenges(" BRAID_CHALLENGE_COLUMNS
                           ") VALUES (?, ?, ?, ?, ?)"));
  BRAID_RETURN_IF_ERROR(s.Bind(1, c.id)
                            .Bind(2, c.root)
                            .BindBlob(3, c.client_nonce)
                            .BindBlob(4, c.server_nonce)
                            .Bind(5, c.made_ms)
                            .Run());
  return db_->Changes() != 0;
}

Result<std::optional<ChallengeRow>> SqliteRowTransaction::TakeChallenge(std::string_view id) {
  std::optional<ChallengeRow> out;
  {
    BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT " BRAID_CHALLENGE_COLUMNS
                                                " FROM sync_challenges WHERE id = ?"));
    s.Bind(1, id);
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) return out;
    out = DecodeChallenge(s);
  }
  BRAID_ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM sync_challenges WHERE id = ?"));
  BRAID_RETURN_IF_ERROR(del.Bind(1, id).Run());
  return out;
}

Result<uint64_t> SqliteRowTransaction::ExpireChallenges(int64_t made_before_ms, size_t keep) {
  BRAID_ASSIGN_OR_RETURN(Stmt old, db_->Prepare("DELETE FROM sync_challenges WHERE made_at < ?"));
  BRAID_RETURN_IF_ERROR(old.Bind(1, made_before_ms).Run());
  uint64_t removed = static_cast<uint64_t>(db_->Changes());
  BRAID_ASSIGN_OR_RETURN(Stmt extra, db_->Prepare("DELETE FROM sync_challenges WHERE id IN ("
                                                  "SELECT id FROM sync_challenges ORDER BY "
                                                  "made_at DESC, id LIMIT -1 OFFSET ?)"));
  BRAID_RETURN_IF_ERROR(extra.Bind(1, static_cast<int64_t>(keep)).Run());
  return removed + static_cast<uint64_t>(db_->Changes());
}

Result<std::optional<SyncSessionRow>> SqliteStore::GetSyncSession(std::string_view key) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(Stmt s, reader.db().Prepare("SELECT " BRAID_SYNC_SESSION_COLUMNS
                                                     " FROM sync_sessions WHERE key = ?"));
  s.Bind(1, key);
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return std::optional<SyncSessionRow>();
  BRAID_ASSIGN_OR_RETURN(SyncSessionRow session, DecodeSyncSession(s));
  return std::optional<SyncSessionRow>(std::move(session));
}

}  // namespace braid::sqlite
