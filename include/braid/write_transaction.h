// WriteTransaction: the writes of one store transaction (local puts and
// deletes, versions from peers, FSIC advances, settings), and what they
// report. Store::BeginWrite (braid/store.h) opens one.

#ifndef BRAID_WRITE_TRANSACTION_H_
#define BRAID_WRITE_TRANSACTION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "braid/catalog.h"
#include "braid/instance_id.h"
#include "braid/record.h"
#include "braid/status.h"

namespace braid {

// A record write: a new body for (collection, id).
struct PutRequest {
  std::string_view collection;
  std::string_view id;
  std::string_view body;  // a JSON object; validated and minified by the store
  // Partition of a new record (default: the collection). Partitions never
  // change: for an existing record it must be absent or equal.
  std::optional<std::string_view> partition;
  enum class ParentMode { kKeep, kSet, kClear } parent_mode = ParentMode::kKeep;
  std::string_view parent;  // with kSet
  // The body's "_attachments" member (kAttachmentsField). kKeep: a body
  // without it keeps the stored record's; a body with it must have the
  // stored one unchanged (a read-modify-write of the whole record), else
  // Conflict. kSet: the body's member (or its absence) is the record's
  // attachments; only the attachments layer writes so (src/blob/).
  enum class AttachmentsMode { kKeep, kSet } attachments = AttachmentsMode::kKeep;
};

struct WriteResult {
  WriteOp op = WriteOp::kUnchanged;
  uint64_t seq = 0;  // change-log position; 0 when unchanged
  Record record;     // the record as stored after the write
};

// What applying a version received from a peer did.
struct ApplyResult {
  enum class Kind {
    kIgnored,  // the local version already includes it
    kApplied,  // stored as received (new record, or it dominated/won)
    kMerged,   // merged into a new local version
    kKept,     // the local version won; its version vector absorbed the incoming one
    kHeld,     // skip policy: held aside for a person to decide
  };
  Kind kind = Kind::kIgnored;
  bool conflict = false;  // concurrent versions: something lost is listed, or held
};

// What WriteTransaction::Apply may assume of a record.
enum class BodyForm {
  kUnchecked,   // any text: validated, minified and checked in full
  kNormalized,  // the body already as NormalizeBody() makes it (ReadWireRecord
                // read it so); only the store's size limit is checked
  kChecked,     // passed CheckPeerVersion (src/store/wire.h) with this store's
                // limit: Apply checks only what depends on the store
};

// The message of the Conflict a Prefetch(..., assume_new) transaction fails
// with when a record it took for new exists.
inline constexpr std::string_view kAssumedNewConflict =
    "a record taken for new exists already (the chunk is applied again, looking records up)";
inline bool IsAssumedNewConflict(const Status& s) {
  return s.code() == Code::kConflict && s.message().find(kAssumedNewConflict) != std::string::npos;
}

class WriteTransaction {
 public:
  // Aborts unless Commit() succeeded.
  virtual ~WriteTransaction() = default;

  // Creates or replaces a record's body. Writing the stored content again is
  // kUnchanged. Errors: InvalidArgument (names, body), PayloadTooLarge,
  // Conflict (partition change), ReadOnly (a collection a remote keeps
  // read-only here, RemoteRules::read_only; also for Delete and Resolve),
  // Busy, IoError.
  virtual Result<WriteResult> Put(const PutRequest& request) = 0;

  // Makes a record a tombstone; deleting a tombstone is kUnchanged.
  // Errors: NotFound when the record never existed, InvalidArgument, IoError.
  virtual Result<WriteResult> Delete(std::string_view collection, std::string_view id) = 0;

  // Applies a version received from a peer: `incoming` carries the peer's
  // version, version vector, HLC, field clocks, conflicts and body. New
  // records are stored as received; existing ones are merged under `policy`
  // (src/store/merge.h). The record is validated first (names, body, clocks,
  // conflicts). Errors: InvalidArgument, PayloadTooLarge, storage errors.
  virtual Result<ApplyResult> Apply(const Record& incoming, ConflictPolicy policy,
                                    BodyForm body_form) = 0;
  Result<ApplyResult> Apply(const Record& incoming, ConflictPolicy policy) {
    return Apply(incoming, policy, BodyForm::kUnchecked);
  }

  // A hint: the records of `names` (collection, id) are about to be
  // applied (a replication chunk). A backend that pays a round trip per
  // lookup (PostgreSQL) reads them all in one query and returns how many
  // exist; others do nothing and return 0. With `assume_new` (a session
  // whose chunks bring only new records, as an initial pull), nothing is
  // read: records not written in this transaction are taken for new, and
  // should one exist the transaction fails, at the latest at Commit(), with
  // a Conflict that IsAssumedNewConflict() recognizes; the caller then
  // applies the chunk again without it. Errors: storage errors.
  virtual Result<size_t> Prefetch(
      const std::vector<std::pair<std::string_view, std::string_view>>& names, bool assume_new) {
    (void)names;
    (void)assume_new;
    return size_t{0};
  }

  // Raises this store's FSIC for each partition prefix ("" = everything) to at
  // least the given counters, but never over a write of a held version the
  // stored record lacks, nor to a pull floor (MarkKind::kPullFloor: a write a
  // remote's rules left out): peers trust the FSIC to say what this store has.
  virtual Status AdvanceFsic(const std::vector<std::string>& prefixes,
                             const std::vector<std::pair<InstanceId, uint64_t>>& counters) = 0;

  // Resolves a record's conflicts: writes `body` (or, when absent, keeps the
  // current body) as a new local version whose version vector includes every
  // held version, and clears the conflicts. Errors: NotFound, InvalidArgument.
  virtual Result<WriteResult> Resolve(std::string_view collection, std::string_view id,
                                      std::optional<std::string_view> body) = 0;

  // Settings (catalog.h).
  virtual Status SetPolicy(std::string_view collection, ConflictPolicy policy) = 0;
  // The fields of `collection` the search index takes, as index/text.h
  // writes them ("title:3,abstract:1"); nullopt: every string field.
  // Errors: InvalidArgument for the collection's name or an empty spec.
  virtual Status SetSearchFields(std::string_view collection,
                                 std::optional<std::string_view> spec) = 0;
  // A collection's references (catalog.h); empty: none.
  // Errors: InvalidArgument.
  virtual Status SetReferences(std::string_view collection, const std::vector<Reference>& refs) = 0;
  // Adds or replaces a remote (ValidateRemote). Its marks are forgotten
  // when what its sessions carry changes: its URL, filter, direction or
  // stream-shaping rules (RemoteRules::ShapesStream), so the next sync
  // starts from this store's FSIC. Errors: InvalidArgument.
  virtual Status PutRemote(const Remote& remote) = 0;
  virtual Status DeleteRemote(std::string_view name) = 0;  // NotFound; its marks go too
  virtual Status RecordSync(std::string_view remote, int64_t at_ms, std::string_view result) = 0;
  // Keeps a remote's auto-sync state (Remote::failures, next_sync_ms).
  virtual Status ScheduleSync(std::string_view remote, int64_t failures, int64_t next_ms) = 0;
  // Moves a remote's marks (catalog.h, MarkKind): kPull and kPush only up,
  // the floors only down.
  virtual Status MoveMarks(std::string_view remote, MarkKind kind,
                           const std::vector<std::pair<InstanceId, uint64_t>>& counters) = 0;
  // Forgets every remote's pull floors at or below the given counters: a
  // session that started at this store's FSIC for everything and left
  // nothing out has delivered those writes.
  virtual Status LiftPullFloors(const std::vector<std::pair<InstanceId, uint64_t>>& delivered) = 0;
  // Stores the SHA-256 of a token under `info.name`, with its role and
  // scope (`created_ms` is set by the store). Errors: AlreadyExists,
  // InvalidArgument.
  virtual Status CreateToken(const TokenInfo& info, std::string_view sha256) = 0;
  virtual Status RevokeToken(std::string_view name) = 0;  // NotFound
  // Creates a user, or replaces the one of that name (role, scope, password)
  // keeping its creation time. Errors: InvalidArgument (ValidateUser).
  virtual Status PutUser(const User& user) = 0;
  virtual Status DeleteUser(std::string_view name) = 0;  // NotFound
  // Keeps a certificate, or a revocation; one already kept under that serial
  // stays as it is (both are immutable: the same serial, the same text).
  // `stored_ms` is set by the store.
  virtual Status PutCertificate(const CertificateRow& cert) = 0;
  virtual Status PutRevocation(const RevocationRow& revocation) = 0;
  // Keeps the run of a mirror step (`last_ok_ms` is kept by the store: the
  // run's finish when it succeeded, else the last successful one's).
  virtual Status RecordStep(const StepRun& run) = 0;
  // Forgets blobs DroppedBlobs() listed once the attachments step dealt
  // with them.
  virtual Status ForgetDroppedBlobs(const std::vector<std::string>& sha256s) = 0;

  // Replication sessions and certificate-session challenges (catalog.h),
  // kept so that every process serving the store can go on with them.
  // Keeps a new session. Errors: AlreadyExists (a session of that key),
  // InvalidArgument.
  virtual Status PutSyncSession(const SyncSessionRow& session) = 0;
  // Raises the session's used_ms to `used_ms`; nothing when it is gone.
  virtual Status TouchSyncSession(std::string_view key, int64_t used_ms) = 0;
  // Ends a session; nothing when it is gone.
  virtual Status DeleteSyncSession(std::string_view key) = 0;
  // Removes the sessions last used before `used_before_ms`, then all but
  // the `keep` used last. Returns how many went.
  virtual Result<uint64_t> ExpireSyncSessions(int64_t used_before_ms, size_t keep) = 0;
  // Keeps a challenge. Errors: AlreadyExists, InvalidArgument.
  virtual Status PutChallenge(const ChallengeRow& challenge) = 0;
  // The challenge `id`, removed (a challenge is used once), or nullopt.
  virtual Result<std::optional<ChallengeRow>> TakeChallenge(std::string_view id) = 0;
  // Removes the challenges made before `made_before_ms`, then all but the
  // `keep` made last. Returns how many went.
  virtual Result<uint64_t> ExpireChallenges(int64_t made_before_ms, size_t keep) = 0;

  // Makes every write of this transaction durable and visible at once.
  // After a failed Commit() nothing was written.
  virtual Status Commit() = 0;
};

}  // namespace braid

#endif  // BRAID_WRITE_TRANSACTION_H_
