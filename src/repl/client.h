// The client side of replication: `braid sync REMOTE` (docs/protocol.md,
// "Replication"). One session pulls, then pushes, as the remote's direction
// says.
//
// Pull: the client asks for chunk after chunk and applies each in one
// transaction with its FSIC advance; the server prepares the next chunk
// meanwhile. Push: the client builds chunk N+1 while the server applies N.
// An interrupted sync leaves applied chunks only; the next sync starts from
// the advanced FSIC, so at most the chunk in flight is sent again.

#ifndef BRAID_REPL_CLIENT_H_
#define BRAID_REPL_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "auth/keyring.h"
#include "braid/catalog.h"
#include "braid/status.h"
#include "braid/store.h"
#include "http/client.h"
#include "repl/imports.h"
#include "repl/stream.h"

namespace braid::repl {

struct SyncProgress {
  Direction phase = Direction::kPull;  // kPull or kPush
  uint64_t records = 0;                // sent or received so far in this phase
  uint64_t pending = 0;                // the sender's estimate at the start of the phase
  uint64_t bytes = 0;                  // on the wire, this phase
  double seconds = 0;                  // since the phase started
  bool done = false;
};

struct SyncSummary {
  std::string remote;
  bool pulled = false, pushed = false;
  uint64_t received = 0, sent = 0;  // records
  uint64_t applied = 0, merged = 0, kept = 0, ignored = 0, held = 0, conflicts = 0;
  uint64_t left_out = 0;      // records the remote's rules kept from being stored or sent
  uint64_t dependencies = 0;  // records fetched by name because records taken reference them
  bool dry_run = false;
  ImportSummary imported;     // when the remote's rules import settings or users
  VersionVector server_fsic;  // the remote's FSIC for the filter at the handshake
  std::map<std::string, CollectionPreview> preview;  // dry runs: per collection
  uint64_t chunks_received = 0, chunks_sent = 0;
  uint64_t bytes_received = 0, bytes_sent = 0;
  double seconds = 0;
};

// Syncs `store` with `remote`. `progress` is called after every chunk
// (from the calling thread). Errors say what failed and what to do:
// Unauthorized (token), Unavailable (cannot reach the remote), Conflict
// (policy needs a one-way remote), InvalidArgument (a peer sent bad data;
// nothing of that chunk was applied).
//
// A remote with a certificate (Remote::cert) opens a certificate session
// with `keyring`'s key (repl/proof.h), and both sides pass on the
// revocations they know.
struct SyncOptions {
  // SENAITE's fetch: pulls only (not from a push-only remote), applies
  // nothing and moves no FSIC or mark: counts per collection what the pull
  // would create, update, leave as it is, hold or leave out
  // (SyncSummary::preview).
  bool dry_run = false;
  // The remote's --import-settings and --import-users (imports.h), before
  // the session; a live remote's sessions take them now and then only.
  bool imports = true;
};
Result<SyncSummary> Sync(Store& store, const Remote& remote,
                         const std::function<void(const SyncProgress&)>& progress = {},
                         auth::Keyring* keyring = nullptr, SyncOptions options = {});

std::string SummaryJson(const SyncSummary& s);

// A remote's non-2xx answer as a Status that says what to do (401: which
// credentials to check; 403, 409, 413, 429, 5xx: their codes).
Status AnswerError(const Remote& remote, const http::ClientResponse& r, std::string_view what);

// Long-polls `remote` (POST /api/v1/sync/wait) until its FSIC for the
// remote's filter has an entry above `since` (SyncSummary::server_fsic of
// the last sync), or `wait_ms` passed; returns its FSIC then. Token and
// password remotes only (a certificate remote: InvalidArgument). Errors:
// those of Sync's requests.
Result<VersionVector> WaitForChanges(const Remote& remote, const VersionVector& since,
                                     int64_t wait_ms);

// The Authorization header value that reads `remote` outside a sync (the
// blobs its records name, GET /api/v1/blobs/SHA256): its token's or
// password's; for a certificate remote, a pull session's, opened for it
// with `keyring`'s key (the remote ends it when it goes unused). Errors:
// those of Sync's handshake.
Result<std::string> ReadAuthorization(Store& store, const Remote& remote, auth::Keyring* keyring);

// What `remote` holds of every instance's writes within its filter (its
// FSIC, from a handshake; the session is closed at once): what `braid
// clean` checks this instance's writes against. Errors: those of Sync's
// handshake.
Result<VersionVector> RemoteFsic(Store& store, const Remote& remote, auth::Keyring* keyring);

}  // namespace braid::repl

#endif  // BRAID_REPL_CLIENT_H_
