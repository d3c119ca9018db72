// RecordWriter: the WriteTransaction of every backend (internal). It holds
// what a write means; the backend's RowTransaction (rows.h) stores rows.
//
// - A local put or delete makes a new version (this instance, next
//   counter) with field writes relative to it, unless it writes the stored
//   content again (kUnchanged: no version, no event).
// - A peer's version is validated, then stored as received when new, or
//   merged under the collection's policy (merge.h): ignored, taken, kept
//   with a grown version vector, merged into a new local version, or held
//   aside.
// - Every stored version adds a versions entry per new version-vector
//   entry, and change-log events: create for a new record or one back from
//   a tombstone, update for a new body, conflicts or version, delete for a
//   tombstone, and a delete then a create for a move to another parent.
// - The FSIC never claims the writes of a held version the stored record
//   lacks.
//
// The counters (version counter, change-log seq, HLC) are read once when
// the transaction begins, advanced in memory and written back at commit.
//
// Files: record_writer.cc (puts, deletes, storing versions, settings,
// commit), record_apply.cc (peers' versions, FSIC, held versions,
// resolving conflicts).

#ifndef BRAID_STORE_RECORD_WRITER_H_
#define BRAID_STORE_RECORD_WRITER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "braid/hlc.h"
#include "braid/store.h"
#include "store/rows.h"

namespace braid {

class RecordWriter final : public WriteTransaction {
 public:
  // `store` gives the instance id, clock and body limit; `rows` is the
  // backend's transaction, already holding its write lock.
  RecordWriter(const Store& store, std::unique_ptr<RowTransaction> rows);

  Result<WriteResult> Put(const PutRequest& request) override;
  Result<WriteResult> Delete(std::string_view collection, std::string_view id) override;
  using WriteTransaction::Apply;
  Result<ApplyResult> Apply(const Record& incoming, ConflictPolicy policy,
                            BodyForm body_form) override;
  Result<size_t> Prefetch(const std::vector<std::pair<std::string_view, std::string_view>>& names,
                          bool assume_new) override {
    return rows_->Prefetch(names, assume_new);
  }
  Status AdvanceFsic(const std::vector<std::string>& prefixes,
                     const std::vector<std::pair<InstanceId, uint64_t>>& counters) override;
  Result<WriteResult> Resolve(std::string_view collection, std::string_view id,
                              std::optional<std::string_view> body) override;
  Status SetPolicy(std::string_view collection, ConflictPolicy policy) override;
  Status SetSearchFields(std::string_view collection,
                         std::optional<std::string_view> spec) override;
  Status SetReferences(std::string_view collection, const std::vector<Reference>& refs) override;
  Status PutRemote(const Remote& remote) override;
  Status DeleteRemote(std::string_view name) override;
  Status RecordSync(std::string_view remote, int64_t at_ms, std::string_view result) override;
  Status ScheduleSync(std::string_view remote, int64_t failures, int64_t next_ms) override;
  Status MoveMarks(std::string_view remote, MarkKind kind,
                   const std::vector<std::pair<InstanceId, uint64_t>>& counters) override;
  Status LiftPullFloors(const std::vector<std::pair<InstanceId, uint64_t>>& delivered) override;
  Status CreateToken(const TokenInfo& info, std::string_view sha256) override;
  Status RevokeToken(std::string_view name) override;
  Status PutUser(const User& user) override;
  Status DeleteUser(std::string_view name) override;
  Status PutCertificate(const CertificateRow& cert) override;
  Status PutRevocation(const RevocationRow& revocation) override;
  Status RecordStep(const StepRun& run) override;
  Status ForgetDroppedBlobs(const std::vector<std::string>& sha256s) override;
  Status PutSyncSession(const SyncSessionRow& session) override;
  Status TouchSyncSession(std::string_view key, int64_t used_ms) override;
  Status DeleteSyncSession(std::string_view key) override;
  Result<uint64_t> ExpireSyncSessions(int64_t used_before_ms, size_t keep) override;
  Status PutChallenge(const ChallengeRow& challenge) override;
  Result<std::optional<ChallengeRow>> TakeChallenge(std::string_view id) override;
  Result<uint64_t> ExpireChallenges(int64_t made_before_ms, size_t keep) override;
  Status Commit() override;

 private:
  Status Usable() const;
  // Marks the transaction unusable when `s` failed: a failed row write may
  // have written part of its rows.
  Status Poison(Status s) {
    if (!s.ok()) poisoned_ = true;
    return s;
  }

  // Stores `next` (every field of it) over `prev` (nullopt: a new row), and
  // keeps the versions entries and the change log in step. Returns the row
  // id; with `if_absent` (and no `prev`), 0 when a record of that name
  // exists already (then nothing was written).
  Result<int64_t> StoreVersion(const std::optional<StoredRecord>& prev, const Record& next,
                               bool if_absent = false);
  // A new local version of `prev` with next's content: the next counter and
  // HLC, and `next.vv` with this instance's new entry.
  Result<WriteResult> WriteLocal(const StoredRecord& prev, Record next);
  Status LogChange(int64_t rid, ChangeOp op, std::string_view collection,
                   const std::optional<std::string>& parent);
  // Per instance, the highest counter the FSIC may claim with the held
  // versions there are.
  Result<std::map<InstanceId, uint64_t>> HeldCaps();
  // Per instance, the highest counter the FSIC may claim with the pull
  // floors there are (record_rules.cc).
  Result<std::map<InstanceId, uint64_t>> FloorCaps();
  // ReadOnly when a remote keeps `collection` read-only here (a local
  // write's check; record_rules.cc). The remotes are read once per
  // transaction.
  Status CheckWritable(std::string_view collection);
  // Drops the held versions of a record that `vv` includes.
  Status DropDominatedHeld(std::string_view collection, std::string_view id,
                           const VersionVector& vv);
  // A local write's rule for the "_attachments" member (PutRequest::
  // AttachmentsMode::kKeep): body_ gets `stored`'s (null: none) when it has
  // none, and must have it unchanged when it has one (Conflict).
  Status KeepAttachments(const Record* stored);
  // Keeps the store's index of the blobs row `rid` names in step with its
  // body, from `before` (deleted or new: "") to `after`.
  Status IndexAttachments(int64_t rid, std::string_view before, const Record& after);
  WriteResult MakeResult(WriteOp op, uint64_t seq, Record record) const;

  const Store& store_;
  const InstanceId self_;
  std::unique_ptr<RowTransaction> rows_;
  WriteCounters state_;
  HybridClock hlc_;
  bool done_ = false;
  bool poisoned_ = false;
  std::string body_;  // scratch: the minified body of the current write
  // Collection -> the remote that keeps it read-only; loaded by the first
  // local write (CheckWritable), dropped when a remote changes.
  std::optional<std::map<std::string, std::string, std::less<>>> read_only_;
};

}  // namespace braid

#endif  // BRAID_STORE_RECORD_WRITER_H_
