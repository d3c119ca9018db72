// Replication sessions and certificate-session challenges in the
// PostgreSQL store (schema 8): their rows in a write transaction, and their
// reads. Every process serving the database reads the same rows: a session
// opened by one goes on in any other.

#include "store/catalog_rows.h"
#include "store/postgres/row_txn.h"

namespace braid::postgres {

Result<bool> PgRowTransaction::PutSyncSession(const SyncSessionRow& s) {
  const std::string scope = FilterJson(s.scope);
  const std::string filter = FilterJson(s.filter);
  const std::string peer_fsic = VersionVectorToJson(s.peer_fsic);
  const std::string own_fsic = VersionVectorToJson(s.own_fsic);
  const std::string ends = EndsJson(s.ends);
  pg::Params p;
  p.Add(s.key).Add(s.owner).Add(scope);
  if (s.chain.empty()) {
    p.AddNull();
  } else {
    p.Add(s.chain);
  }
  p.AddBytes(s.peer.AsBytes())
      .Add(DirectionName(s.direction))
      .Add(filter)
      .Add(static_cast<int64_t>(s.chunk_size))
      .Add(s.codec)
      .Add(peer_fsic)
      .Add(own_fsic)
      .Add(ends)
      .Add(s.created_ms)
      .Add(s.used_ms);
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         conn_->Query("INSERT INTO sync_sessions(" BRAID_SYNC_SESSION_COLUMNS
                                      ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                                      "$12, $13, $14) ON CONFLICT (key) DO NOTHING",
                                      p));
  return rows.affected() != 0;
}

Status PgRowTransaction::TouchSyncSession(std::string_view key, int64_t used_ms) {
  return conn_
      ->Query("UPDATE sync_sessions SET used_at = GREATEST(used_at, $1) WHERE key = $2",
              pg::Params().Add(used_ms).Add(key))
      .status();
}

Status PgRowTransaction::DeleteSyncSession(std::string_view key) {
  return conn_->Query("DELETE FROM sync_sessions WHERE key = $1", pg::Params().Add(key)).status();
}

Result<uint64_t> PgRowTransaction::ExpireSyncSessions(int64_t used_before_ms, size_t keep) {
  BRAID_ASSIGN_OR_RETURN(const pg::Rows old,
                         conn_->Query("DELETE FROM sync_sessions WHERE used_at < $1",
                                      pg::Params().Add(used_before_ms)));
  BRAID_ASSIGN_OR_RETURN(const pg::Rows extra,
                         conn_->Query("DELETE FROM sync_sessions WHERE key IN (SELECT key FROM "
                                      "sync_sessions ORDER BY used_at DESC, key OFFSET $1)",
                                      pg::Params().AddLimit(keep)));
  return static_cast<uint64_t>(old.affected() + extra.affected());
}

Result<bool> PgRowTransaction::PutChallenge(const ChallengeRow& c) {
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         conn_->Query("INSERT INTO sync_challenges(" BRAID_CHALLENGE_COLUMNS
                                      ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                                      pg::Params()
                                          .Add(c.id)
                                          .Add(c.root)
                                          .AddBytes(c.client_nonce)
                                          .AddBytes(c.server_nonce)
                                          .Add(c.made_ms)));
  return rows.affected() != 0;
}

Result<std::optional<ChallengeRow>> PgRowTransaction::TakeChallenge(std::string_view id) {
  BRAID_ASSIGN_OR_RETURN(const pg::Rows rows,
                         conn_->Query("DELETE FROM sync_challenges WHERE id = $1 "
                                      "RETURNING " BRAID_CHALLENGE_COLUMNS,
                                      pg::Params().Add(id)));
  if (rows.empty()) return std::optional<ChallengeRow>();
  return std::optional<ChallengeRow>(DecodeChallenge(pg::Row(rows, 0)));
}

Result<uint64_t> PgRowTransaction::ExpireChallenges(int64_t made_before_ms, size_t keep) {
  BRAID_ASSIGN_OR_RETURN(const pg::Rows old,
                         conn_->Query("DELETE FROM sync_challenges WHERE made_at < $1",
                                      pg::Params().Add(made_before_ms)));
  BRAID_ASSIGN_OR_RETURN(const pg::Rows extra,
                         conn_->Query("DELETE FROM sync_challenges WHERE id IN (SELECT id FROM "
                                      "sync_challenges ORDER BY made_at DESC, id OFFSET $1)",
                                      pg::Params().AddLimit(keep)));
  return static_cast<uint64_t>(old.affected() + extra.affected());
}

Result<std::optional<SyncSessionRow>> PgStore::GetSyncSession(std::string_view key) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  BRAID_ASSIGN_OR_RETURN(
      const pg::Rows rows,
      reader.conn().Query("SELECT " BRAID_SYNC_SESSION_COLUMNS " FROM sync_sessions WHERE key = $1",
                          pg::Params().Add(key)));
  if (rows.empty()) return std::optional<SyncSessionRow>();
  BRAID_ASSIGN_OR_RETURN(SyncSessionRow s, DecodeSyncSession(pg::Row(rows, 0)));
  return std::optional<SyncSessionRow>(std::move(s));
}

}  // namespace braid::postgres
