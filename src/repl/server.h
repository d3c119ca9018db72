// The serving side of replication: sessions created by a handshake, pull
// chunks streamed from this store, push chunks applied to it
// (docs/protocol.md, "Replication").
//
// Every request comes authenticated (the API checks the credentials, see
// auth/authenticator.h): a session's filter must lie within the principal's
// scope, its read scope for a pull and its write scope for a push (a push
// needs the writer role), every pushed record must lie within the filter,
// and only the principal that opened a session may use it.
//
// Or a session is opened with a certificate (repl/proof.h), without
// credentials: a challenge first, then the handshake with the proof. The
// chain must lead to a root this instance trusts, unexpired and unrevoked;
// a pull's filter must lie within the certificate's read scope, a push's
// within its write scope, and every pushed record within the write scope
// (Forbidden, the session ends, nothing of the chunk is applied). The
// session's id is then its credential ("Authorization: Braid-Session ID");
// every request of it checks the chain for revocations and expiry again.
//
// While a client applies pull chunk N, the session prepares chunk N+1 on the
// server's executor, and sends it when the client asks for it. So transfers
// are pipelined, yet at most one chunk is ever unacknowledged: a client
// killed mid-pull costs at most that chunk when it resumes.
//
// Sessions and challenges live in the store (SyncSessionRow, ChallengeRow),
// not in this process: a handshake writes what the session needs to go on
// (who opened it, its filter, the FSICs announced and the bounds of its
// streams), so any process serving the store, or this one restarted, goes
// on with a session another opened, sending exactly what the first would
// have. Every request reads its session's row, so a session ended or
// expired anywhere ends everywhere; the session itself, rebuilt from its
// row, is kept in memory. What else a session holds in memory is a speed-up
// only: the chunk being prepared, and how far its chunk sizes ramped up
// (a session going on elsewhere ramps up again). Nothing is written per
// chunk: the row's last-used time is rewritten at most once per
// `touch_interval`, on the executor when there is one.
//
// Thread-safety: Handle() may be called concurrently; requests of one
// session are serialized within a process (those another process serves
// may run at the same time: pulls only read, and applying a push chunk
// twice changes nothing).

#ifndef BRAID_REPL_SERVER_H_
#define BRAID_REPL_SERVER_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/authenticator.h"
#include "auth/keyring.h"
#include "base/mutex.h"
#include "braid/store.h"
#include "http/server.h"
#include "repl/protocol.h"

namespace braid::repl {

struct SyncServerOptions {
  // Sessions unused this long end (up to `touch_interval` later: their
  // last use is kept to that).
  std::chrono::seconds idle_timeout{300};
  // How often, at most, a session's last-used time is written.
  std::chrono::seconds touch_interval{60};
  size_t max_sessions = 1000;                  // the least recently used goes past this
  size_t max_chunk_bytes = 256 * 1024 * 1024;  // decompressed push chunk limit
  size_t max_challenges = 10000;               // open challenges; the oldest goes
  std::chrono::seconds challenge_ttl{60};
};

class SyncServer {
 public:
  // `executor` runs prefetches and writes of last-used times; may be null
  // (then chunks are built on demand, and the writes made in the request).
  // `keyring` may be null: then certificate sessions are refused. Times
  // come from the store's clock.
  SyncServer(Store& store, http::Executor* executor, auth::Keyring* keyring,
             SyncServerOptions options = {});
  ~SyncServer();

  // Handles a request under /api/v1/sync/: `segments` are the decoded path
  // segments after "sync"; `who` sent it. Errors are answered as
  // {"code","message"}.
  http::Response Handle(const http::Request& request, const std::vector<std::string>& segments,
                        const auth::Principal& who);

  // True when `id` is an open certificate session: its requests carry no
  // other credentials, yet their bodies may be large (http::Handler::Admit).
  bool IsCertificateSession(const std::string& id);
  // What the certificate session `id` may read, its chain checked again
  // (the API serves blobs to it). Errors: NotFound (no such certificate
  // session), the chain's (revoked, expired).
  Result<auth::PartitionSet> SessionReadScope(const std::string& id);

 private:
  struct Session;
  http::Response NewChallenge(const http::Request& request);
  // POST .../sessions/ID/revocations: those the client knows and the
  // server did not (at the handshake the digests differed).
  http::Response TakeRevocations(const http::Request& request);
  // Checks a handshake's certificate proof; sets *who to the certificate.
  Status CheckProof(const HandshakeRequest& req, auth::Principal* who, auth::Chain* chain);
  http::Response Open(const http::Request& request, const auth::Principal& who);
  http::Response Pull(const std::shared_ptr<Session>& session, const http::Request& request);
  // Builds the chunk after `after` on the executor, for the next pull.
  void StartPrefetch(const std::shared_ptr<Session>& session, std::optional<Position> after);
  http::Response Push(Session& session, const http::Request& request);
  // POST .../sessions/ID/records: records by name (ParseNamesRequest).
  http::Response Named(Session& session, const http::Request& request);
  // The session `id` as its row in the store says (null when it ended,
  // expired or never was), from memory or rebuilt from the row. Errors:
  // the store's, and a row that no longer makes a session (Rebuild).
  Result<std::shared_ptr<Session>> Find(const std::string& id);
  // A session from its row: the handshake's outcome, streams and all.
  // Errors: Corruption (a row this braid cannot read), Conflict (a
  // collection's policy became one-way since a two-way session opened).
  Result<std::shared_ptr<Session>> Rebuild(const std::string& id, const SyncSessionRow& row);
  // Keeps `session` in memory, least recently used out past max_sessions.
  std::shared_ptr<Session> Cache(std::shared_ptr<Session> session);
  // Writes the session's last use, `now_ms`, when the row's (`used_ms`) is
  // older than touch_interval and this process has not written it since.
  void Touch(Session& session, int64_t used_ms, int64_t now_ms);
  // Ends the session everywhere: its row goes, and this process forgets it.
  void Drop(const std::string& id);
  // Sessions last used before this are expired.
  int64_t ExpiredBefore(int64_t now_ms) const;

  Store& store_;
  http::Executor* executor_;
  SyncServerOptions options_;
  Mutex mu_;
  // The sessions this process has served lately (their rows are in the
  // store): by id.
  std::map<std::string, std::shared_ptr<Session>> sessions_ GUARDED_BY(mu_);
  auth::Keyring* keyring_;
};

}  // namespace braid::repl

#endif  // BRAID_REPL_SERVER_H_
