// The PostgreSQL backend's RowTransaction (store/rows.h; internal).
//
// One write transaction on the process's writer connection: BEGIN, then
// the state row locked FOR UPDATE (under lock_timeout = the busy timeout),
// which serializes writers across processes; the store's write mutex
// serializes this process's threads. The state row is read once when it
// begins and written once at commit, with a NOTIFY when change-log events
// were added.
//
// Round trips, not rows, are what a remote database charges for, so rows
// are written behind: records a transaction inserts or updates stay here
// until Flush() (at commit, or once kFlushBytes are pending) and go in a
// few statements (COPY for new rows, versions and change-log events; one
// UPDATE ... FROM unnest for changed rows). New rows get their rid from
// state.rid, so nothing needs to come back. Load() sees pending rows
// first, then what Prefetch() read for a chunk in one query, then asks the
// database. Records keep instance ids as local numbers (the instances
// table); numbers this transaction added reach the store's shared cache
// only once it commits.
//
// Files: row_txn.cc (begin, commit, records, versions, change log),
// catalog.cc (held versions, FSIC, settings; and their reads), blob_refs.cc
// (the blobs records name, mirror step runs; and their reads), sessions.cc
// (replication sessions and challenges; and their reads).

#ifndef BRAID_STORE_POSTGRES_ROW_TXN_H_
#define BRAID_STORE_POSTGRES_ROW_TXN_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/codec.h"
#include "store/postgres/pg_store.h"
#include "store/rows.h"

namespace braid::postgres {

class PgRowTransaction final : public RowTransaction {
 public:
  // Takes over `mu` (locked by the caller) and the open transaction, whose
  // state row it holds locked.
  PgRowTransaction(PgStore* store, pg::Conn* conn, TimedMutex* mu, const StateRow& state);
  ~PgRowTransaction() override;

  const WriteCounters& counters() const override { return begin_; }
  Result<size_t> Prefetch(const std::vector<std::pair<std::string_view, std::string_view>>& names,
                          bool assume_new) override;
  Result<std::optional<StoredRecord>> Load(std::string_view collection,
                                           std::string_view id) override;
  Result<int64_t> Insert(const Record& record, bool if_absent) override;
  Status Update(int64_t rid, const Record& record) override;
  Status AddVersion(const InstanceId& origin, uint64_t counter, int64_t rid) override;
  Status LogChange(uint64_t seq, int64_t rid, ChangeOp op, std::string_view collection,
                   const std::optional<std::string>& parent, int64_t at_ms) override;
  Result<std::vector<Record>> Held(std::string_view collection, std::string_view id) override;
  Result<std::vector<std::pair<std::string, std::string>>> HeldNames() override;
  Status Hold(const Record& record, std::string_view wire) override;
  Status Unhold(std::string_view collection, std::string_view id, const Version& version) override;
  Status UnholdAll(std::string_view collection, std::string_view id) override;
  Status RaiseFsic(std::string_view prefix, const InstanceId& origin, uint64_t counter) override;
  Status PutPolicy(std::string_view collection, ConflictPolicy policy) override;
  Status PutSearchFields(std::string_view collection,
                         std::optional<std::string_view> spec) override;
  Status PutRemote(const Remote& remote) override;
  Result<bool> DeleteRemote(std::string_view name) override;
  Status RecordSync(std::string_view remote, int64_t at_ms, std::string_view result) override;
  Status ScheduleSync(std::string_view remote, int64_t failures, int64_t next_ms) override;
  Result<std::vector<Remote>> Remotes() override;
  Status PutReferences(std::string_view collection, const std::vector<Reference>& refs) override;
  Result<std::vector<RuleMark>> RuleMarks(std::string_view kind) override;
  Status PutRuleMark(const RuleMark& mark) override;
  Status DeleteRuleMark(std::string_view remote, std::string_view kind,
                        const InstanceId& origin) override;
  Status DeleteRuleMarks(std::string_view remote) override;
  Result<bool> CreateToken(const TokenInfo& info, std::string_view sha256) override;
  Status PutUser(const User& user) override;
  Result<bool> DeleteUser(std::string_view name) override;
  Status PutCertificate(const CertificateRow& cert) override;
  Status PutRevocation(const RevocationRow& revocation) override;
  Result<bool> RevokeToken(std::string_view name) override;
  Status RecordStep(const StepRun& run) override;
  Status SetBlobRefs(int64_t rid, bool had, const std::vector<Attachment>& refs) override;
  Status ForgetDroppedBlobs(const std::vector<std::string>& sha256s) override;
  Result<bool> PutSyncSession(const SyncSessionRow& session) override;
  Status TouchSyncSession(std::string_view key, int64_t used_ms) override;
  Status DeleteSyncSession(std::string_view key) override;
  Result<uint64_t> ExpireSyncSessions(int64_t used_before_ms, size_t keep) override;
  Result<bool> PutChallenge(const ChallengeRow& challenge) override;
  Result<std::optional<ChallengeRow>> TakeChallenge(std::string_view id) override;
  Result<uint64_t> ExpireChallenges(int64_t made_before_ms, size_t keep) override;
  Status Commit(const WriteCounters& after) override;

  // Local number of an instance, adding it to the dictionary when new.
  Result<uint32_t> NumFor(const InstanceId& id);
  pg::Conn& conn() { return *conn_; }
  const PgStore::PendingInstances& new_instances() const { return new_instances_; }

 private:
  // A record written here and not sent yet.
  struct PendingRow {
    bool is_new = false;  // not in the database yet: COPY; else UPDATE
    Record record;
  };
  void Release();
  // Sends every pending row, version and change-log event.
  Status Flush();
  Status FlushRecords();
  Status FlushVersions();
  Status FlushChanges();
  Status Pend(int64_t rid, bool is_new, const Record& record);
  // The local columns of a record: origin number, vv blob (empty when the
  // vector is just {version}), clocks blob (empty when none).
  Status LocalForms(const Record& r, uint32_t* origin, bool* implied, std::string* vv,
                    std::string* clocks);
  static std::string Key(std::string_view collection, std::string_view id);

  PgStore* store_;
  pg::Conn* conn_;
  TimedMutex* mu_;
  const StateRow state_;  // as the transaction began
  const WriteCounters begin_;
  int64_t next_rid_;  // the last rid assigned
  bool done_ = false;
  bool released_ = false;

  // Past this many bytes of pending records, they are sent before the next
  // write (memory stays bounded in a large transaction).
  static constexpr size_t kFlushBytes = 8 << 20;
  std::map<int64_t, PendingRow> pending_rows_;             // by rid
  std::unordered_map<std::string, int64_t> pending_rids_;  // Key -> rid, of pending_rows_
  size_t pending_bytes_ = 0;
  // Prefetch(..., assume_new): records neither pending nor fetched are
  // taken for new (a unique violation of records then fails the
  // transaction with kAssumedNewConflict).
  bool assume_new_ = false;
  // What Prefetch read: Key -> the stored record (nullopt: none there).
  std::unordered_map<std::string, std::optional<StoredRecord>> fetched_;
  struct PendingChange {
    uint64_t seq;
    int64_t rid;
    ChangeOp op;
    std::string collection;
    std::optional<std::string> parent;
    int64_t at;
  };
  std::vector<PendingChange> pending_changes_;
  struct PendingVersion {
    uint32_t origin;
    uint64_t counter;
    int64_t rid;
  };
  std::vector<PendingVersion> pending_versions_;
  std::unordered_map<uint32_t, InstanceId> new_instances_;
  std::optional<std::pair<InstanceId, uint32_t>> last_num_;
  std::string copy_;  // scratch: COPY data
};

}  // namespace braid::postgres

#endif  // BRAID_STORE_POSTGRES_ROW_TXN_H_
