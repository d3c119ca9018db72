// The SQLite backend's RowTransaction (store/rows.h; internal).
//
// One write transaction on the store's writer connection: BEGIN IMMEDIATE
// under SQLite's write lock (which serializes processes) and the store's
// write mutex (which serializes this process's threads). The state row is
// read once when it begins and written once at commit. Change-log rows and
// versions-table rows are buffered and inserted many per statement: nothing
// reads them inside the transaction. Records keep instance ids as local
// numbers (the instances table); ids this transaction added reach the
// store's shared cache only once it commits.
//
// Files: row_txn.cc (begin, commit, records, versions, change log),
// catalog.cc (held versions, FSIC, settings; and their reads), blob_refs.cc
// (the blobs records name, mirror step runs; and their reads), sessions.cc
// (replication sessions and challenges; and their reads).

#ifndef BRAID_STORE_SQLITE_ROW_TXN_H_
#define BRAID_STORE_SQLITE_ROW_TXN_H_

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/codec.h"
#include "store/rows.h"
#include "store/sqlite/sqlite_store.h"

namespace braid::sqlite {

class SqliteRowTransaction final : public RowTransaction {
 public:
  // Takes over `mu` (locked by the caller) and the open BEGIN IMMEDIATE.
  SqliteRowTransaction(SqliteStore* store, Db* db, TimedMutex* mu, const StateRow& state,
                       Durability durability);
  ~SqliteRowTransaction() override;

  const WriteCounters& counters() const override { return begin_; }
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

 private:
  void Release();
  // Local number of an instance, adding it to the dictionary when new.
  Result<uint32_t> NumFor(const InstanceId& id);
  // The local columns of a record: origin number, vv blob (empty when the
  // vector is just {version}), clocks blob (empty when none).
  Status LocalForms(const Record& r, uint32_t* origin, bool* implied, std::string* clocks);
  Status FlushChanges();
  Status FlushVersions();

  SqliteStore* store_;
  Db* db_;
  TimedMutex* mu_;
  const StateRow state_;  // as the transaction began
  const WriteCounters begin_;
  const Durability durability_;  // of this transaction's commit
  bool done_ = false;
  bool released_ = false;

  static constexpr size_t kBatch = 64;
  // Versions-table entries buffered before they are inserted, in key order.
  // A replication chunk arrives in name order, so its entries' counters
  // are shuffled; sorted, a whole chunk's go in as appends.
  static constexpr size_t kVersionBuffer = 16384;
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
  // Instances added to the dictionary by this transaction: they reach the
  // store's shared cache only once committed.
  std::unordered_map<uint32_t, InstanceId> new_instances_;
  // The last committed instance NumFor found in the store's dictionary.
  std::optional<std::pair<InstanceId, uint32_t>> last_num_;
  std::string vv_blob_;  // scratch: an encoded version vector
};

}  // namespace braid::sqlite

#endif  // BRAID_STORE_SQLITE_ROW_TXN_H_
