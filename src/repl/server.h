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
#include "base/mutex.h"
#include "braid/store.h"
#include "http/server.h"
#include "repl/protocol.h"

namespace braid::repl {

struct SyncServerOptions {
  std::chrono::seconds idle_timeout{300};      // sessions unused this long are dropped
  size_t max_sessions = 1000;                  // the oldest goes when a new one would exceed
  size_t max_chunk_bytes = 256 * 1024 * 1024;  // decompressed push chunk limit
};

class SyncServer {
 public:
  // `executor` runs prefetches; may be null (then chunks are built on demand).
  SyncServer(Store& store, http::Executor* executor, SyncServerOptions options = {});
  ~SyncServer();

  // Handles a request under /api/v1/sync/: `segments` are the decoded path
  // segments after "sync"; `who` sent it. Errors are answered as
  // {"code","message"}.
  http::Response Handle(const http::Request& request, const std::vector<std::string>& segments,
                        const auth::Principal& who);

 private:
  struct Session;
  http::Response Open(const http::Request& request, const auth::Principal& who);
  http::Response Pull(const std::shared_ptr<Session>& session, const http::Request& request);
  // Builds the chunk after `after` on the executor, for the next pull.
  void StartPrefetch(const std::shared_ptr<Session>& session, std::optional<Position> after);
  http::Response Push(Session& session, const http::Request& request);
  std::shared_ptr<Session> Find(const std::string& id);
  void Drop(const std::string& id);

  Store& store_;
  http::Executor* executor_;
  SyncServerOptions options_;
  Mutex mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_ GUARDED_BY(mu_);
};

}  // namespace braid::repl

#endif  // BRAID_REPL_SERVER_H_
