// Settings a store keeps besides records: conflict policies per collection,
// remotes, users and API tokens; and the results replication reports.

#ifndef BRAID_CATALOG_H_
#define BRAID_CATALOG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "braid/instance_id.h"
#include "braid/status.h"

namespace braid {

// How concurrent versions of a record are merged (docs/protocol.md).
enum class ConflictPolicy {
  kMerge,       // field by field, last writer (HLC, then instance id) wins
  kLww,         // whole record, last writer wins
  kSkip,        // keep local; hold the incoming version until a person decides
  kRemoteWins,  // one-way remotes only: the incoming version wins
  kLocalWins,   // one-way remotes only: the local version wins
};
std::string_view PolicyName(ConflictPolicy p);  // "merge", "lww", ...
// Errors: InvalidArgument listing the accepted names.
Result<ConflictPolicy> ParsePolicy(std::string_view name);
// remote-wins and local-wins: a two-way sync would let both sides win.
inline bool NeedsOneWay(ConflictPolicy p) {
  return p == ConflictPolicy::kRemoteWins || p == ConflictPolicy::kLocalWins;
}

enum class Direction { kPull, kPush, kBoth };
std::string_view DirectionName(Direction d);  // "pull", "push", "both"
Result<Direction> ParseDirection(std::string_view name);

// Records per replication chunk. A chunk is applied in one transaction, so
// its size sets how often a receiver commits; with new ids spread over the
// records index, each commit rewrites much of the index, more of it the
// larger the store. A 100k-record pull (bench/compare) took 1.5 to 1.8 times
// as long in chunks of 1,000 as in chunks of 10,000, and 7% less time again
// in chunks of 20,000 or more (median 0.424 -> 0.395 s). Chunks also stop at
// 8 MiB of records (repl/stream.cc), so with records of a few hundred bytes
// they hold ~30,000, and large records make smaller chunks. A session's
// first chunks are smaller still (RampedChunkSize, repl/protocol.h), so the
// receiver does not wait for a whole chunk to be built before it starts. A
// killed sync re-sends at most one chunk.
inline constexpr size_t kDefaultChunkSize = 50000;
inline constexpr size_t kMaxChunkSize = 100000;

// The longest search-fields spec a collection keeps (Store::SetSearchFields).
inline constexpr size_t kMaxSearchFieldsBytes = 8192;

struct Remote {
  std::string name;  // [a-z][a-z0-9_.-]{0,63}, like a collection
  std::string url;   // http://host:port (https later)
  Direction direction = Direction::kBoth;
  std::vector<std::string> filter;  // partition prefixes; empty: everything
  size_t chunk_size = kDefaultChunkSize;
  std::string user;          // when set: HTTP Basic as this user, `token` is its password
  std::string token;         // bearer token the remote's server accepts (or the password)
  std::string ca_cert;       // https: PEM file of the CA to trust; empty: the system's
  std::string cert;          // set: sessions prove this certificate of ours (serial), not `token`
  int64_t last_sync_ms = 0;  // 0: never
  std::string last_result;   // JSON summary of the last sync, or {"error":...}
};

// Checks a remote's name, URL, filter, chunk size and token.
// Errors: InvalidArgument naming what is wrong.
Status ValidateRemote(const Remote& remote);

// What an account may do (docs/protocol.md, "Authentication"). Each role
// includes the ones before it.
enum class Role {
  kReader = 1,  // read records, the delta feed, pull
  kWriter = 2,  // and write records, push
  kAdmin = 3,   // and settings: collection policies, metrics
};
std::string_view RoleName(Role r);  // "reader", "writer", "admin"
// Errors: InvalidArgument listing the accepted names.
Result<Role> ParseRole(std::string_view name);

// Partition prefixes an account may read and write within (its role says
// which of the two); empty: every partition.
using Scope = std::vector<std::string>;
// True when every partition inside `inner` is inside `outer`.
bool ScopeWithin(const Scope& inner, const Scope& outer);
// True when `partition` is inside `scope`.
bool InScope(const Scope& scope, std::string_view partition);

// A person or program that signs in with a name and a password.
struct User {
  std::string name;  // [a-z][a-z0-9_.-]{0,63}
  Role role = Role::kReader;
  Scope scope;
  std::string password_hash;  // auth/password.h; never the password
  int64_t created_ms = 0;
};
// Errors: InvalidArgument naming what is wrong.
Status ValidateUser(const User& user);

// A bearer token's description; the token itself is never stored, only its
// SHA-256.
struct TokenInfo {
  std::string name;
  int64_t created_ms = 0;
  Role role = Role::kWriter;  // tokens made before roles existed replicate both ways
  Scope scope;
};

// A certificate this instance keeps (auth/cert.h): its own, those of its
// issuers up to the dataset's root, and those it signed for others. The
// store keeps the canonical text; auth/ reads it.
struct CertificateRow {
  std::string serial;      // 32 hex digits
  std::string issuer;      // the issuer's serial (the serial itself for a root)
  std::string key;         // the public key it binds, base64url: finds an instance's own
  std::string text;        // the certificate's canonical encoding
  std::string signed_for;  // "user NAME" when this instance signed it on request; else ""
  int64_t stored_ms = 0;
};

// A revocation this instance knows (auth/cert.h), made here or received
// from a peer.
struct RevocationRow {
  std::string serial;  // the revoked certificate's
  std::string text;    // the revocation's canonical encoding
  int64_t stored_ms = 0;
};

// The last run of a mirror step (src/mirror/: cache, index, attachments).
struct StepRun {
  std::string step;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  bool ok = false;
  std::string result;      // JSON summary of what it did, or {"error": ...}
  uint64_t cursor = 0;     // the change-log seq the step has dealt with (0: none)
  int64_t last_ok_ms = 0;  // when a run of it last succeeded; 0: never
};

}  // namespace braid

#endif  // BRAID_CATALOG_H_
