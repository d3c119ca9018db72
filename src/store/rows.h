// RowTransaction: what a storage backend provides to a write transaction
// (internal). The meaning of a write (record_writer.h: which version it
// makes, how a peer's version merges, what goes into the change log and
// the version streams, what is held aside) is decided above it, the same
// for every backend; a backend stores and finds rows, and commits them.
//
// The tables a backend keeps (docs/storage.md describes SQLite's):
//   records   one row per (collection, id): the stored Record, and a row id
//   versions  (origin, counter) -> row id: one entry per version-vector entry
//             a stored version added, never moved (stale entries are
//             skipped by readers and purged by compaction)
//   changes   the change log, by seq
//   held      versions kept aside, by (collection, id, origin, counter)
//   fsic      (partition prefix, origin) -> counter
//   settings  policies, remotes, tokens, users, certificates, step runs
//   sessions  the replication sessions peers have open, and the challenges
//             of certificate sessions
//   blob_refs the blobs each live record's "_attachments" names, and the
//             blobs a write stopped naming
// and the counters of the transaction (WriteCounters), read when it began
// and written back by Commit().
//
// A RowTransaction holds the backend's write lock from creation to Commit()
// or destruction; destroyed without a successful Commit(), it writes
// nothing. Used by one thread. A failed call may have written part of its
// rows: the caller must then abandon the transaction (RecordWriter poisons
// itself).

#ifndef BRAID_STORE_ROWS_H_
#define BRAID_STORE_ROWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "braid/catalog.h"
#include "braid/record.h"
#include "braid/status.h"
#include "braid/store.h"
#include "store/attachment_list.h"

namespace braid {

// The store's counters, as a write transaction advances them.
struct WriteCounters {
  uint64_t counter = 0;  // the last version counter this instance issued
  uint64_t seq = 0;      // the last change-log seq
  uint64_t hlc = 0;      // the greatest HLC issued or observed

  bool operator==(const WriteCounters&) const = default;
};

// A record as stored, with the backend's id of its row.
struct StoredRecord {
  int64_t rid = 0;
  Record record;
};

class RowTransaction {
 public:
  // Rolls back unless Commit() succeeded, and releases the write lock.
  virtual ~RowTransaction() = default;

  // The counters as this transaction found them.
  virtual const WriteCounters& counters() const = 0;

  // WriteTransaction::Prefetch: the records the next calls will load.
  virtual Result<size_t> Prefetch(
      const std::vector<std::pair<std::string_view, std::string_view>>& names, bool assume_new) {
    (void)names;
    (void)assume_new;
    return size_t{0};
  }
  // The record named (collection, id), tombstones included, or nullopt.
  virtual Result<std::optional<StoredRecord>> Load(std::string_view collection,
                                                   std::string_view id) = 0;
  // Stores a record under a new row and returns its row id. With
  // `if_absent`, when a record of that name exists, writes nothing and
  // returns 0 (the fast path of a bulk load: no lookup first).
  virtual Result<int64_t> Insert(const Record& record, bool if_absent) = 0;
  // Replaces every field of the record in row `rid` (its name stays).
  virtual Status Update(int64_t rid, const Record& record) = 0;

  // Adds a versions entry: row `rid` includes `origin`'s write `counter`.
  virtual Status AddVersion(const InstanceId& origin, uint64_t counter, int64_t rid) = 0;
  // Appends a change-log event.
  virtual Status LogChange(uint64_t seq, int64_t rid, ChangeOp op, std::string_view collection,
                           const std::optional<std::string>& parent, int64_t at_ms) = 0;

  // Held versions of a record, in (origin, counter) order.
  virtual Result<std::vector<Record>> Held(std::string_view collection, std::string_view id) = 0;
  // Names (collection, id) of the records that have held versions.
  virtual Result<std::vector<std::pair<std::string, std::string>>> HeldNames() = 0;
  // Holds `record` (in its wire form, `wire`) unless that version is held.
  virtual Status Hold(const Record& record, std::string_view wire) = 0;
  virtual Status Unhold(std::string_view collection, std::string_view id,
                        const Version& version) = 0;
  virtual Status UnholdAll(std::string_view collection, std::string_view id) = 0;

  // Raises the FSIC of `prefix` for `origin` to at least `counter`.
  virtual Status RaiseFsic(std::string_view prefix, const InstanceId& origin, uint64_t counter) = 0;

  // Settings. The names were validated by the caller.
  virtual Status PutPolicy(std::string_view collection, ConflictPolicy policy) = 0;
  virtual Status PutSearchFields(std::string_view collection,
                                 std::optional<std::string_view> spec) = 0;
  virtual Status PutRemote(const Remote& remote) = 0;
  // False when there was no such remote, or token.
  virtual Result<bool> DeleteRemote(std::string_view name) = 0;
  virtual Status RecordSync(std::string_view remote, int64_t at_ms, std::string_view result) = 0;
  virtual Status ScheduleSync(std::string_view remote, int64_t failures, int64_t next_ms) = 0;
  // Every remote, by name (read inside the transaction).
  virtual Result<std::vector<Remote>> Remotes() = 0;
  // A collection's references; empty: none.
  virtual Status PutReferences(std::string_view collection, const std::vector<Reference>& refs) = 0;
  // Rule marks (catalog.h, MarkKind): every remote's of one kind (its name).
  virtual Result<std::vector<RuleMark>> RuleMarks(std::string_view kind) = 0;
  virtual Status PutRuleMark(const RuleMark& mark) = 0;  // replaces
  virtual Status DeleteRuleMark(std::string_view remote, std::string_view kind,
                                const InstanceId& origin) = 0;
  virtual Status DeleteRuleMarks(std::string_view remote) = 0;  // every kind
  // False when a token of that name exists (nothing written).
  virtual Result<bool> CreateToken(const TokenInfo& info, std::string_view sha256) = 0;
  virtual Result<bool> RevokeToken(std::string_view name) = 0;
  // Inserts, or replaces all but created_ms of the user of that name.
  virtual Status PutUser(const User& user) = 0;
  // False when there was no such user.
  virtual Result<bool> DeleteUser(std::string_view name) = 0;
  // Insert unless the serial is there (then nothing is written).
  virtual Status PutCertificate(const CertificateRow& cert) = 0;
  virtual Status PutRevocation(const RevocationRow& revocation) = 0;
  virtual Status RecordStep(const StepRun& run) = 0;

  // The blobs row `rid` names are now `refs` (replacing those it named;
  // `had`: it may have named some). A blob it no longer names joins the
  // dropped ones.
  virtual Status SetBlobRefs(int64_t rid, bool had, const std::vector<Attachment>& refs) = 0;
  virtual Status ForgetDroppedBlobs(const std::vector<std::string>& sha256s) = 0;

  // Replication sessions and challenges (catalog.h). False when one of
  // that key, or id, exists (nothing written).
  virtual Result<bool> PutSyncSession(const SyncSessionRow& session) = 0;
  virtual Status TouchSyncSession(std::string_view key, int64_t used_ms) = 0;
  virtual Status DeleteSyncSession(std::string_view key) = 0;
  // Those used before `used_before_ms`, then all but the `keep` used last;
  // returns how many went. ExpireChallenges: the same, by made_ms.
  virtual Result<uint64_t> ExpireSyncSessions(int64_t used_before_ms, size_t keep) = 0;
  virtual Result<bool> PutChallenge(const ChallengeRow& challenge) = 0;
  // Reads and deletes it.
  virtual Result<std::optional<ChallengeRow>> TakeChallenge(std::string_view id) = 0;
  virtual Result<uint64_t> ExpireChallenges(int64_t made_before_ms, size_t keep) = 0;

  // Writes the counters and makes every row written durable (as the
  // transaction's durability says) and visible at once. After a failed
  // Commit() nothing was written.
  virtual Status Commit(const WriteCounters& after) = 0;
};

}  // namespace braid

#endif  // BRAID_STORE_ROWS_H_
