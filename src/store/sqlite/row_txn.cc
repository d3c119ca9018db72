// SqliteRowTransaction: begin, commit, records, versions and the change log
// (row_txn.h explains the design).

#include "store/sqlite/row_txn.h"

#include <algorithm>

#include "store/content.h"
#include "store/record_columns.h"
#include "store/record_writer.h"
#include "store/sqlite/wal_vfs.h"

namespace braid::sqlite {

SqliteRowTransaction::SqliteRowTransaction(SqliteStore* store, Db* db, TimedMutex* mu,
                                           const StateRow& state, Durability durability)
    : store_(store),
      db_(db),
      mu_(mu),
      state_(state),
      begin_{state.counter, state.seq, state.hlc},
      durability_(durability) {}

SqliteRowTransaction::~SqliteRowTransaction() {
  if (!done_) (void)db_->Exec("ROLLBACK");
  Release();
}

void SqliteRowTransaction::Release() {
  if (!released_) {
    store_->writer_thread_.store(std::thread::id());
    mu_->Unlock();
    released_ = true;
  }
}

Result<std::optional<StoredRecord>> SqliteRowTransaction::Load(std::string_view collection,
                                                               std::string_view id) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT r.rid, " BRAID_RECORD_COLUMNS
                                              " FROM records r WHERE collection = ? AND id = ?"));
  s.Bind(1, collection).Bind(2, id);
  BRAID_ASSIGN_OR_RETURN(const bool found, s.Step());
  if (!found) return std::optional<StoredRecord>();
  StoredRecord row;
  row.rid = s.Int(0);
  BRAID_RETURN_IF_ERROR(store_->DecodeRecord(*db_, s, 1, &row.record, &new_instances_));
  return std::optional<StoredRecord>(std::move(row));
}

Result<uint32_t> SqliteRowTransaction::NumFor(const InstanceId& id) {
  if (id == store_->instance_id()) return state_.self;
  // The records of a replication chunk mostly come from one writer: its
  // number is remembered here rather than looked up under the store's
  // dictionary lock twice per record.
  if (last_num_ && last_num_->first == id) return last_num_->second;
  if (auto num = store_->CachedNum(id)) {
    last_num_.emplace(id, *num);
    return *num;
  }
  for (const auto& [num, pending] : new_instances_) {
    if (pending == id) return num;
  }
  {
    BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT num FROM instances WHERE id = ?"));
    s.BindBlob(1, id.AsBytes());
    BRAID_ASSIGN_OR_RETURN(const bool found, s.Step());
    if (found) {
      const auto num = static_cast<uint32_t>(s.Int(0));
      store_->CacheInstance(num, id);  // committed: not one of new_instances_
      return num;
    }
  }
  BRAID_ASSIGN_OR_RETURN(Stmt ins, db_->Prepare("INSERT INTO instances(id) VALUES (?)"));
  BRAID_RETURN_IF_ERROR(ins.BindBlob(1, id.AsBytes()).Run());
  const auto num = static_cast<uint32_t>(db_->LastInsertRowid());
  new_instances_.emplace(num, id);  // cached once committed
  return num;
}

Status SqliteRowTransaction::LocalForms(const Record& r, uint32_t* origin, bool* implied,
                                        std::string* clocks) {
  return EncodeRecordColumns(
      r, [this](const InstanceId& id) { return NumFor(id); }, origin, implied, &vv_blob_, clocks);
}

Result<int64_t> SqliteRowTransaction::Insert(const Record& next, bool if_absent) {
  uint32_t origin = 0;
  bool implied = false;
  std::string clocks;
  BRAID_RETURN_IF_ERROR(LocalForms(next, &origin, &implied, &clocks));
  // OR IGNORE rather than ON CONFLICT DO NOTHING: measured ~10% faster on
  // a 1M-record load (bench/bulk_write_bench). Every NOT NULL column is
  // bound, so the only constraint it can ignore is (collection, id).
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, if_absent
                  ? db_->Prepare("INSERT OR IGNORE INTO records(collection, id, partition, "
                                 "parent, deleted, origin, counter, vv, hlc, clocks, body, "
                                 "conflicts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                  : db_->Prepare("INSERT INTO records(collection, id, partition, parent, "
                                 "deleted, origin, counter, vv, hlc, clocks, body, conflicts) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  s.Bind(1, next.collection).Bind(2, next.id);
  if (next.partition != next.collection) s.Bind(3, next.partition);  // NULL: the collection
  if (next.parent) s.Bind(4, std::string_view(*next.parent));
  s.Bind(5, static_cast<int64_t>(next.deleted))
      .Bind(6, static_cast<int64_t>(origin))
      .Bind(7, static_cast<int64_t>(next.version.counter))
      .Bind(9, static_cast<int64_t>(next.hlc))
      .Bind(11, next.body);
  if (!implied) s.BindBlob(8, vv_blob_);
  if (!clocks.empty()) s.BindBlob(10, clocks);
  if (!next.conflicts.empty()) s.Bind(12, next.conflicts);
  BRAID_RETURN_IF_ERROR(s.Run());
  if (if_absent && db_->Changes() == 0) return int64_t{0};
  return db_->LastInsertRowid();
}

Status SqliteRowTransaction::Update(int64_t rid, const Record& next) {
  uint32_t origin = 0;
  bool implied = false;
  std::string clocks;
  BRAID_RETURN_IF_ERROR(LocalForms(next, &origin, &implied, &clocks));
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("UPDATE records SET parent = ?, deleted = ?, origin = ?, counter = ?, "
                           "vv = ?, hlc = ?, clocks = ?, body = ?, conflicts = ? WHERE rid = ?"));
  if (next.parent) s.Bind(1, std::string_view(*next.parent));
  s.Bind(2, static_cast<int64_t>(next.deleted))
      .Bind(3, static_cast<int64_t>(origin))
      .Bind(4, static_cast<int64_t>(next.version.counter))
      .Bind(6, static_cast<int64_t>(next.hlc))
      .Bind(8, next.body)
      .Bind(10, rid);
  if (!implied) s.BindBlob(5, vv_blob_);
  if (!clocks.empty()) s.BindBlob(7, clocks);
  if (!next.conflicts.empty()) s.Bind(9, next.conflicts);
  return s.Run();
}

Status SqliteRowTransaction::LogChange(uint64_t seq, int64_t rid, ChangeOp op,
                                       std::string_view collection,
                                       const std::optional<std::string>& parent, int64_t at_ms) {
  pending_changes_.push_back({seq, rid, op, std::string(collection), parent, at_ms});
  return pending_changes_.size() == kBatch ? FlushChanges() : Status::OK();
}

Status SqliteRowTransaction::AddVersion(const InstanceId& origin, uint64_t counter, int64_t rid) {
  BRAID_ASSIGN_OR_RETURN(const uint32_t num, NumFor(origin));
  pending_versions_.push_back({num, counter, rid});
  return pending_versions_.size() == kVersionBuffer ? FlushVersions() : Status::OK();
}

// Inserts the buffered versions-table entries in key order (appends to the
// (origin, counter) index rather than inserts all over its end), kBatch
// per statement.
namespace {

// A versions key taken already: the write names another record here. One
// write has one name per instance (docs/remotes.md, "Ids under several
// names"); the chunk or transaction that brings a second is refused.
Status NamedOnce(Status s) {
  if (s.code() != Code::kConflict) return s;
  return Status::Conflict(
      "a version being stored is already stored here under another record's name (one write "
      "has one name per instance; a remote's prefix on one path and not on another does that: "
      "see docs/remotes.md, \"Ids under several names\"); nothing of it was applied (" +
      s.message() + ")");
}

}  // namespace

Status SqliteRowTransaction::FlushVersions() {
  static const std::string batch_sql = [] {
    std::string sql = "INSERT INTO versions(origin, counter, rid) VALUES ";
    for (size_t i = 0; i < kBatch; ++i) sql += i == 0 ? "(?,?,?)" : ",(?,?,?)";
    return sql;
  }();
  std::sort(pending_versions_.begin(), pending_versions_.end(),
            [](const PendingVersion& a, const PendingVersion& b) {
              return a.origin != b.origin ? a.origin < b.origin : a.counter < b.counter;
            });
  size_t done = 0;
  for (; pending_versions_.size() - done >= kBatch; done += kBatch) {
    BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(batch_sql.c_str()));
    for (size_t i = 0; i < kBatch; ++i) {
      const auto& v = pending_versions_[done + i];
      const int first = static_cast<int>(3 * i + 1);
      s.Bind(first, static_cast<int64_t>(v.origin))
          .Bind(first + 1, static_cast<int64_t>(v.counter))
          .Bind(first + 2, v.rid);
    }
    BRAID_RETURN_IF_ERROR(NamedOnce(s.Run()));
  }
  for (; done < pending_versions_.size(); ++done) {
    const auto& v = pending_versions_[done];
    BRAID_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare("INSERT INTO versions(origin, counter, rid) VALUES (?, ?, ?)"));
    s.Bind(1, static_cast<int64_t>(v.origin))
        .Bind(2, static_cast<int64_t>(v.counter))
        .Bind(3, v.rid);
    BRAID_RETURN_IF_ERROR(NamedOnce(s.Run()));
  }
  pending_versions_.clear();
  return Status::OK();
}

// Change-log rows go kBatch per statement: nothing reads them inside the
// transaction, and one statement per row cost a fifth of a bulk load's
// instructions (bench/bulk_write_bench under callgrind).
Status SqliteRowTransaction::FlushChanges() {
  static const std::string batch_sql = [] {
    std::string sql = "INSERT INTO changes(seq, rid, op, collection, parent, at) VALUES ";
    for (size_t i = 0; i < kBatch; ++i) sql += i == 0 ? "(?,?,?,?,?,?)" : ",(?,?,?,?,?,?)";
    return sql;
  }();
  auto bind = [](Stmt& s, int first, const PendingChange& c) {
    s.Bind(first, static_cast<int64_t>(c.seq))
        .Bind(first + 1, c.rid)
        .Bind(first + 2, static_cast<int64_t>(c.op))
        .Bind(first + 3, c.collection)
        .Bind(first + 5, c.at);
    if (c.parent) s.Bind(first + 4, std::string_view(*c.parent));
  };
  size_t done = 0;
  if (pending_changes_.size() == kBatch) {
    BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(batch_sql.c_str()));
    for (size_t i = 0; i < kBatch; ++i) {
      bind(s, static_cast<int>(6 * i + 1), pending_changes_[i]);
    }
    BRAID_RETURN_IF_ERROR(s.Run());
    done = kBatch;
  }
  for (; done < pending_changes_.size(); ++done) {
    BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT INTO changes(seq, rid, op, collection, "
                                                "parent, at) VALUES (?, ?, ?, ?, ?, ?)"));
    bind(s, 1, pending_changes_[done]);
    BRAID_RETURN_IF_ERROR(s.Run());
  }
  pending_changes_.clear();
  return Status::OK();
}

// A commit at durability normal is readable before it is on stable
// storage: should the machine go down, the versions and seqs it issued
// could be issued again for other content, after peers and delta clients
// saw them. The first such commit since the store was last synced marks
// the state row with the boot id, and is synced before anything it issued
// can be read; after a reboot the mark makes the store take a new identity
// (SqliteStore::CheckUnsyncedLoss). A synced commit makes every earlier
// one durable, and clears the mark.
Status SqliteRowTransaction::Commit(const WriteCounters& after) {
  Status s = FlushChanges();
  if (s.ok()) s = FlushVersions();
  std::optional<std::string> unsynced = state_.unsynced_boot;
  bool sync_commit = false;
  const bool issued = after.counter != begin_.counter || after.seq != begin_.seq;
  if (durability_ == Durability::kFull) {
    unsynced.reset();
  } else if (issued && unsynced != store_->boot_id()) {
    unsynced = store_->boot_id();
    sync_commit = true;
  }
  if (s.ok() && (!(after == begin_) || unsynced != state_.unsynced_boot)) {
    auto up = db_->Prepare(
        "UPDATE state SET counter = ?, seq = ?, hlc = ?, unsynced_boot = ? WHERE k = 1");
    if (up.ok()) {
      up->Bind(1, static_cast<int64_t>(after.counter))
          .Bind(2, static_cast<int64_t>(after.seq))
          .Bind(3, static_cast<int64_t>(after.hlc));
      if (unsynced) up->Bind(4, std::string_view(*unsynced));
      s = up->Run();
    } else {
      s = up.status();
    }
  }
  if (s.ok() && sync_commit) s = SyncNextCommit(db_->handle());
  if (s.ok()) s = db_->Exec("COMMIT");
  if (sync_commit) (void)SyncNextCommit(db_->handle(), false);
  if (s.ok()) {
    for (const auto& [num, id] : new_instances_) store_->CacheInstance(num, id);
  } else {
    (void)db_->Exec("ROLLBACK");
  }
  done_ = true;
  Release();
  if (!s.ok()) return s;
  if (after.seq != begin_.seq) store_->NotifyListeners();
  return Status::OK();
}

Result<std::unique_ptr<WriteTransaction>> NewWriteTransaction(SqliteStore* store, Db* writer,
                                                              TimedMutex* write_mu,
                                                              Durability durability) {
  if (store->writer_thread_.load() == std::this_thread::get_id()) {
    // Waiting would deadlock: this thread holds the lock it would wait for.
    return Status::Internal(
        "this thread already has a write transaction open; commit or destroy it first");
  }
  // One deadline for both waits: for this process's other writers, then
  // (BEGIN IMMEDIATE) for other processes'.
  const auto timeout = store->options().busy_timeout;
  const auto start = std::chrono::steady_clock::now();
  BRAID_RETURN_IF_ERROR(store->LockWriter(*write_mu, timeout));
  store->writer_thread_.store(std::this_thread::get_id());
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  sqlite3_busy_timeout(writer->handle(),
                       static_cast<int>(std::max<int64_t>(1, (timeout - waited).count())));
  Status s;
  if (store->writer_durability_ != durability) {
    s = writer->Exec(durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                     : "PRAGMA synchronous=NORMAL");
    if (s.ok()) store->writer_durability_ = durability;
  }
  if (s.ok()) s = writer->Exec("BEGIN IMMEDIATE");
  sqlite3_busy_timeout(writer->handle(), static_cast<int>(timeout.count()));
  if (!s.ok()) {
    store->writer_thread_.store(std::thread::id());
    write_mu->Unlock();
    return s.WithContext("starting a write transaction");
  }
  auto state = ReadState(*writer);
  if (state.ok() && state->self != store->self_num()) {
    state = Status::Conflict(
        "this store was given a new instance id by another process (braid identity renew); "
        "restart this process before writing");
  }
  if (!state.ok()) {
    (void)writer->Exec("ROLLBACK");
    store->writer_thread_.store(std::thread::id());
    write_mu->Unlock();
    return state.status();
  }
  return std::unique_ptr<WriteTransaction>(std::make_unique<RecordWriter>(
      *store, std::make_unique<SqliteRowTransaction>(store, writer, write_mu, *state, durability)));
}

}  // namespace braid::sqlite
