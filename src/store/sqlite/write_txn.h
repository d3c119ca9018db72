// WriteTransaction for the SQLite store (internal).
//
// The state row (counter, seq, hlc) is read once when the transaction begins,
// under SQLite's write lock, advanced in memory and written back once at
// commit. Change-log rows and versions-table rows are buffered and inserted
// many per statement: nothing reads them inside the transaction.
//
// Every write that changes a stored record goes through StoreVersion(), which
// keeps the versions table (one row per version-vector entry) and the change
// log consistent with the record row. Only the insert of a brand-new local
// record takes a shorter path (one INSERT, no lookup), for bulk loads.
//
// Files: write_txn.cc (begin, commit, puts, deletes, row storage),
// apply.cc (versions from peers, FSIC, conflict resolution), catalog.cc
// (settings).

#ifndef BRAID_STORE_SQLITE_WRITE_TXN_H_
#define BRAID_STORE_SQLITE_WRITE_TXN_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "braid/hlc.h"
#include "store/codec.h"
#include "store/sqlite/sqlite_store.h"

namespace braid::sqlite {

class SqliteWriteTransaction final : public WriteTransaction {
 public:
  SqliteWriteTransaction(SqliteStore* store, Db* db, Mutex* mu, const StateRow& state,
                         Durability durability);
  ~SqliteWriteTransaction() override;

  Result<WriteResult> Put(const PutRequest& req) override;
  Result<WriteResult> Delete(std::string_view collection, std::string_view id) override;
  using WriteTransaction::Apply;
  Result<ApplyResult> Apply(const Record& incoming, ConflictPolicy policy,
                            BodyForm body_form) override;
  Status AdvanceFsic(const std::vector<std::string>& prefixes,
                     const std::vector<std::pair<InstanceId, uint64_t>>& counters) override;
  Result<WriteResult> Resolve(std::string_view collection, std::string_view id,
                              std::optional<std::string_view> body) override;
  Status SetPolicy(std::string_view collection, ConflictPolicy policy) override;
  Status PutRemote(const Remote& remote) override;
  Status DeleteRemote(std::string_view name) override;
  Status RecordSync(std::string_view remote, int64_t at_ms, std::string_view result) override;
  Status CreateToken(std::string_view name, std::string_view sha256) override;
  Status RevokeToken(std::string_view name) override;
  Status Commit() override;

 private:
  // A stored record row, with its local metadata.
  struct Row {
    int64_t rid = 0;
    uint32_t origin = 0;  // local instance number
    LocalVector vv;       // local form
    Record record;        // with instance ids
  };

  Status Usable() const;
  Status Poison(Status s) {
    if (!s.ok()) poisoned_ = true;
    return s;
  }
  void Release();

  // The row of (collection, id), or nullopt.
  Result<std::optional<Row>> Load(std::string_view collection, std::string_view id);
  // Local number of an instance, adding it to the dictionary when new.
  Result<uint32_t> NumFor(const InstanceId& id);
  Result<InstanceId> IdFor(uint32_t num);
  Result<LocalVector> ToLocal(const VersionVector& vv);

  // Stores `next` (every field of it: version, vv, hlc, clocks, conflicts,
  // body, deleted, parent) over `prev` (nullopt: a new row), keeps the
  // versions table and change log in step. `next_vv` is next.vv in local
  // form. Returns the row id; with `if_absent` (and no `prev`), 0 when a
  // record of that name exists already (then nothing was written).
  Result<int64_t> StoreVersion(const std::optional<Row>& prev, const Record& next,
                               const LocalVector& next_vv, bool if_absent = false);
  // A new local version of `prev` with `content` (body as given, or built
  // from the content when `body` is empty): takes the next counter and HLC.
  Result<WriteResult> WriteLocal(const Row& prev, Record next, LocalVector vv);
  // Per instance, the highest counter the FSIC may claim with the held
  // versions there are (apply.cc explains).
  Result<std::map<InstanceId, uint64_t>> HeldCaps();
  // Deletes held versions of a record that `vv` includes.
  Status DropDominatedHeld(std::string_view collection, std::string_view id,
                           const VersionVector& vv);

  // Buffers a change-log event (FlushChanges inserts them).
  Status LogChange(int64_t rid, ChangeOp op, std::string_view collection,
                   const std::optional<std::string>& parent);
  Status FlushChanges();
  // Buffers a versions-table entry (FlushVersions inserts them, sorted).
  Status AddVersion(uint32_t origin, uint64_t counter, int64_t rid);
  Status FlushVersions();

  WriteResult MakeResult(WriteOp op, uint64_t seq, Record record) const;

  SqliteStore* store_;
  Db* db_;
  Mutex* mu_;
  StateRow state_;
  const StateRow begin_state_;
  const Durability durability_;  // of this transaction's commit
  HybridClock hlc_;
  bool done_ = false;
  bool poisoned_ = false;
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
  std::string body_;     // scratch: the minified body of the current write
  std::string vv_blob_;  // scratch: an encoded version vector
};

}  // namespace braid::sqlite

#endif  // BRAID_STORE_SQLITE_WRITE_TXN_H_
