// Settings a store keeps besides records: conflict policies per collection,
// remotes, users and API tokens; the results replication reports; and the
// replication sessions peers have open here.

#ifndef BRAID_CATALOG_H_
#define BRAID_CATALOG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "braid/instance_id.h"
#include "braid/status.h"
#include "braid/version_vector.h"

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

// A body field of a collection's records that names records of another
// collection by id (docs/remotes.md): `client=clients` (the field holds one
// id) or `analyses[]=analyses` (an array of ids). References drive a remote's
// dependency import and are rewritten with its prefixes.
struct Reference {
  std::string field;   // a top-level body member
  bool array = false;  // the member is an array of ids
  std::string target;  // the collection the ids name

  bool operator==(const Reference&) const = default;
};
// "FIELD=COLLECTION" or "FIELD[]=COLLECTION". Errors: InvalidArgument.
Result<Reference> ParseReference(std::string_view spec);
std::string ReferenceSpec(const Reference& ref);
// A collection's references as stored: a JSON array of specs.
std::string ReferencesJson(const std::vector<Reference>& refs);
Result<std::vector<Reference>> ParseReferencesJson(std::string_view json);

// How often `braid serve` syncs a remote by itself.
struct AutoSync {
  int64_t period_seconds = 0;  // 0: off (unless live)
  bool live = false;           // continuous: a long-poll pull, pushes as writes commit

  bool on() const { return live || period_seconds > 0; }
  bool operator==(const AutoSync&) const = default;
};
// "off", "live", or a period: "30s", "10m", "1h", "1d" (1 s to 30 days).
// Errors: InvalidArgument.
Result<AutoSync> ParseAutoSync(std::string_view text);
std::string AutoSyncText(const AutoSync& a);  // as ParseAutoSync reads it

// SENAITE.SYNC's rules of a remote (docs/remotes.md): which collections
// come from it, under which ids, and what may change here.
struct RemoteRules {
  std::string prefix;                // put before the ids of `prefixable` records pulled from it
  std::string local_prefix;          // this instance's prefix on the remote (update-only records)
  std::vector<std::string> include;  // pulled (with what they reference); empty: all
  std::vector<std::string> skip;     // not pulled unless a pulled record references them
  std::vector<std::string> prefixable;   // stored here as prefix + id
  std::vector<std::string> read_only;    // the remote's: no writes here
  std::vector<std::string> update_only;  // pulled only when the id carries local_prefix
  std::vector<std::pair<std::string, ConflictPolicy>> conflicts;  // overrides, by collection
  bool import_settings = false;  // collection settings come from the remote
  bool import_users = false;     // its users and roles are made here
  AutoSync auto_sync;

  // Rules that change what a session carries or under which ids: such a
  // remote's sessions keep their own stream positions (docs/remotes.md).
  bool ShapesStream() const {
    return !prefix.empty() || !local_prefix.empty() || !include.empty() || !skip.empty() ||
           !update_only.empty();
  }
  bool operator==(const RemoteRules&) const = default;
};
// The rules as stored (a JSON object; empty lists and false flags left
// out, so a remote without rules is "{}").
std::string RulesJson(const RemoteRules& rules);
// Errors: InvalidArgument (the store's row is not such an object).
Result<RemoteRules> ParseRulesJson(std::string_view json);

// Where the sessions with a remote whose rules shape them stand, per
// origin (docs/remotes.md, "Stream positions"): how far its pulls and
// pushes have gone in each origin's stream, and the lowest write of each
// origin they left out.
enum class MarkKind { kPull, kPush, kPullFloor, kPushFloor };
std::string_view MarkKindName(MarkKind k);  // "pull", "push", "pull-floor", "push-floor"
struct RuleMark {
  std::string remote;
  std::string kind;  // MarkKindName
  InstanceId origin;
  uint64_t counter = 0;
};

struct Remote {
  std::string name;  // [a-z][a-z0-9_.-]{0,63}, like a collection
  std::string url;   // http://host:port (https later)
  Direction direction = Direction::kBoth;
  std::vector<std::string> filter;  // partition prefixes; empty: everything
  size_t chunk_size = kDefaultChunkSize;
  std::string user;     // when set: HTTP Basic as this user, `token` is its password
  std::string token;    // bearer token the remote's server accepts (or the password)
  std::string ca_cert;  // https: PEM file of the CA to trust; empty: the system's
  std::string cert;     // set: sessions prove this certificate of ours (serial), not `token`
  RemoteRules rules;
  int64_t last_sync_ms = 0;  // 0: never
  std::string last_result;   // JSON summary of the last sync, or {"error":...}
  // Auto-sync (kept by `braid serve`): failed syncs in a row, and when the
  // next one is due (ms; 0: none scheduled).
  int64_t failures = 0;
  int64_t next_sync_ms = 0;
};

// Checks a remote's name, URL, filter, chunk size and token, and that its
// rules agree with each other and with its direction (docs/remotes.md);
// what they must agree with outside the remote (other remotes' prefixes,
// the collections there are) is repl/rules.h's CheckRules.
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
  std::string source;  // the remote it was imported from (--import-users); "": made here
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

// A replication session a peer opened with this instance (repl/server.h),
// kept so that any process serving the store, or this one restarted, can go
// on with it: what its handshake settled, and the bounds of the streams its
// pulls send, read then (docs/protocol.md, "Session").
struct SyncSessionRow {
  // The session's id hashed (SHA-256, 64 lowercase hex digits): the id is a
  // certificate session's credential, which the store does not keep.
  std::string key;
  std::string owner;  // who opened it: "token lab-b", "certificate <serial>"
  Scope scope;        // the opener's partition scope then (credentials; pushes stay in it)
  std::string chain;  // a certificate session's chain (auth::EncodeChain); "" otherwise
  InstanceId peer;    // the peer's instance id
  Direction direction = Direction::kBoth;
  std::vector<std::string> filter;  // partition prefixes; empty: everything
  size_t chunk_size = 0;
  std::string codec;        // the compression chosen: "identity", "zstd", "gzip"
  VersionVector peer_fsic;  // the FSIC the peer announced for the filter
  VersionVector own_fsic;   // this store's FSIC for the filter at the handshake
  // Every instance known at the handshake, in instance-id order, and where
  // its version stream ended then (0: it had none).
  std::vector<std::pair<InstanceId, uint64_t>> ends;
  int64_t created_ms = 0;
  int64_t used_ms = 0;  // last use, give or take how often it is written

  bool operator==(const SyncSessionRow&) const = default;
};

// A challenge of a certificate session's handshake (docs/protocol.md,
// "Certificate sessions"), good once and for a minute.
struct ChallengeRow {
  std::string id;            // 32 lowercase hex digits
  std::string root;          // the dataset's root serial the client named
  std::string client_nonce;  // raw bytes
  std::string server_nonce;  // raw bytes
  int64_t made_ms = 0;

  bool operator==(const ChallengeRow&) const = default;
};

}  // namespace braid

#endif  // BRAID_CATALOG_H_
