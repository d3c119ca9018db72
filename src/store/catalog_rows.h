// The settings rows every backend keeps (remotes, tokens, users,
// certificates, collections' references, held versions, replication
// sessions and challenges; internal): their
// stored text forms and decoders, written once so that the backends agree.
//
// A decoder reads one row through Text(col), Int(col) and IsNull(col) (a
// sqlite::Stmt, a pg::Row), its columns in the order of the matching
// BRAID_*_COLUMNS list, which every query of that table selects.

#ifndef BRAID_STORE_CATALOG_ROWS_H_
#define BRAID_STORE_CATALOG_ROWS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "braid/catalog.h"
#include "braid/record.h"
#include "braid/status.h"

// "user" is quoted: a reserved word in PostgreSQL, a plain name in SQLite.
#define BRAID_REMOTE_COLUMNS                                                              \
  "name, url, direction, filter, chunk_size, token, last_sync_at, last_result, ca_cert, " \
  "\"user\", cert, rules, failures, next_sync_at"
#define BRAID_TOKEN_COLUMNS "name, created_at, role, scope"
#define BRAID_USER_COLUMNS "name, role, scope, password, created_at, source"
#define BRAID_CERTIFICATE_COLUMNS "serial, issuer, text, signed_for, stored_at, key"
#define BRAID_SYNC_SESSION_COLUMNS                                                              \
  "key, owner, scope, chain, peer, direction, filter, chunk_size, codec, peer_fsic, own_fsic, " \
  "ends, created_at, used_at"
#define BRAID_CHALLENGE_COLUMNS "id, root, client_nonce, server_nonce, made_at"

namespace braid {

// A list of partition prefixes (a remote's filter, a scope) as stored: a
// JSON array of strings.
std::string FilterJson(const std::vector<std::string>& filter);
std::vector<std::string> DecodeFilter(std::string_view json);

// A remote's stored rules; errors name the remote.
Result<RemoteRules> DecodeRules(std::string_view remote, std::string_view json);
// A collection's stored references; errors name the collection.
Result<std::vector<Reference>> DecodeReferences(std::string_view collection, std::string_view json);
// A held version from its stored wire form.
Result<Record> DecodeHeld(std::string_view wire);

// A session's stream ends as stored: a JSON object of instance ids (hex)
// to counters, zeros included, in instance-id order.
std::string EndsJson(const std::vector<std::pair<InstanceId, uint64_t>>& ends);
// Errors: Corruption (not such an object).
Result<std::vector<std::pair<InstanceId, uint64_t>>> DecodeEnds(std::string_view json);
// A session's version vector as stored (VersionVectorToJson); Corruption
// when it is not one.
Result<VersionVector> DecodeSessionVector(std::string_view json);

template <typename Row>
Result<Remote> DecodeRemote(const Row& row) {
  Remote r;
  r.name.assign(row.Text(0));
  r.url.assign(row.Text(1));
  BRAID_ASSIGN_OR_RETURN(r.direction, ParseDirection(row.Text(2)));
  r.filter = DecodeFilter(row.Text(3));
  r.chunk_size = static_cast<size_t>(row.Int(4));
  r.token.assign(row.Text(5));
  r.last_sync_ms = row.IsNull(6) ? 0 : row.Int(6);
  if (!row.IsNull(7)) r.last_result.assign(row.Text(7));
  r.ca_cert.assign(row.Text(8));
  r.user.assign(row.Text(9));
  r.cert.assign(row.Text(10));
  BRAID_ASSIGN_OR_RETURN(r.rules, DecodeRules(r.name, row.Text(11)));
  r.failures = row.Int(12);
  r.next_sync_ms = row.Int(13);
  return r;
}

template <typename Row>
Result<TokenInfo> DecodeToken(const Row& row) {
  TokenInfo t;
  t.name.assign(row.Text(0));
  t.created_ms = row.Int(1);
  BRAID_ASSIGN_OR_RETURN(t.role, ParseRole(row.Text(2)));
  t.scope = DecodeFilter(row.Text(3));
  return t;
}

template <typename Row>
Result<User> DecodeUser(const Row& row) {
  User u;
  u.name.assign(row.Text(0));
  BRAID_ASSIGN_OR_RETURN(u.role, ParseRole(row.Text(1)));
  u.scope = DecodeFilter(row.Text(2));
  u.password_hash.assign(row.Text(3));
  u.created_ms = row.Int(4);
  u.source.assign(row.Text(5));
  return u;
}

template <typename Row>
CertificateRow DecodeCertificate(const Row& row) {
  CertificateRow c;
  c.serial.assign(row.Text(0));
  c.issuer.assign(row.Text(1));
  c.text.assign(row.Text(2));
  c.signed_for.assign(row.Text(3));
  c.stored_ms = row.Int(4);
  c.key.assign(row.Text(5));
  return c;
}

template <typename Row>
Result<SyncSessionRow> DecodeSyncSession(const Row& row) {
  SyncSessionRow s;
  s.key.assign(row.Text(0));
  s.owner.assign(row.Text(1));
  s.scope = DecodeFilter(row.Text(2));
  if (!row.IsNull(3)) s.chain.assign(row.Text(3));
  BRAID_ASSIGN_OR_RETURN(s.peer, InstanceId::FromBytes(row.Blob(4)));
  BRAID_ASSIGN_OR_RETURN(s.direction, ParseDirection(row.Text(5)));
  s.filter = DecodeFilter(row.Text(6));
  s.chunk_size = static_cast<size_t>(row.Int(7));
  s.codec.assign(row.Text(8));
  BRAID_ASSIGN_OR_RETURN(s.peer_fsic, DecodeSessionVector(row.Text(9)));
  BRAID_ASSIGN_OR_RETURN(s.own_fsic, DecodeSessionVector(row.Text(10)));
  BRAID_ASSIGN_OR_RETURN(s.ends, DecodeEnds(row.Text(11)));
  s.created_ms = row.Int(12);
  s.used_ms = row.Int(13);
  return s;
}

template <typename Row>
ChallengeRow DecodeChallenge(const Row& row) {
  ChallengeRow c;
  c.id.assign(row.Text(0));
  c.root.assign(row.Text(1));
  c.client_nonce = row.Blob(2);
  c.server_nonce = row.Blob(3);
  c.made_ms = row.Int(4);
  return c;
}

}  // namespace braid

#endif  // BRAID_STORE_CATALOG_ROWS_H_
