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
// Thread-safety: Handle() may be called concurrently; requests of one
// session are serialized.

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
  std::chrono::seconds idle_timeout{300};      // sessions unused this long are dropped
  size_t max_sessions = 1000;                  // the oldest goes when a new one would exceed
  size_t max_chunk_bytes = 256 * 1024 * 1024;  // decompressed push chunk limit
  size_t max_challenges = 10000;               // open challenges; the oldest goes
  std::chrono::seconds challenge_ttl{60};
};

class SyncServer {
 public:
  // `executor` runs prefetches; may be null (then chunks are built on demand).
  // `keyring` may be null: then certificate sessions are refused.
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
  struct Challenge;
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
  std::shared_ptr<Session> Find(const std::string& id);
  void Drop(const std::string& id);

  Store& store_;
  http::Executor* executor_;
  SyncServerOptions options_;
  Mutex mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_ GUARDED_BY(mu_);
  auth::Keyring* keyring_;
  std::map<std::string, std::unique_ptr<Challenge>> challenges_ GUARDED_BY(mu_);
};

}  // namespace braid::repl

#endif  // BRAID_REPL_SERVER_H_
