#include "store/sqlite/sqlite_store.h"

#include <sys/stat.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>

#include "base/boot_id.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/thread_priority.h"
#include "store/codec.h"
#include "store/content.h"
#include "store/record_columns.h"
#include "store/sqlite/migrate.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/wal_vfs.h"

namespace braid {

namespace sqlite {

namespace {

constexpr size_t kMaxIdleReaders = 16;

// The WAL is copied into the database (a checkpoint: fsync the WAL, write
// its pages to the database, fsync that) on a thread of its own once a
// commit leaves it holding this much, so commits do not wait for it. Small
// enough that the end of a bulk transfer finds little left to copy. (Commits
// back to back, as in a pull, do not let the WAL start over from its
// beginning: that needs a checkpoint finished before the next write
// transaction starts, and making the writer wait for one cost more, 20-30 ms
// per wait, than the smaller file saved.)
constexpr int64_t kBackgroundCheckpointBytes = 4 * 1024 * 1024;
// Should the background thread fall behind, the committing connection
// checkpoints itself once the WAL holds this much (SQLite's default, 1,000
// pages, was far too often for replication chunks). The file is truncated
// back to this size after a checkpoint.
constexpr int64_t kWalCheckpointBytes = 64 * 1024 * 1024;
// A large WAL outlives the store's close, emptied (wal_vfs.h), at the size
// the store lets it keep while open.
static_assert(kKeptWalBytes == kWalCheckpointBytes);
constexpr auto kWatchInterval = std::chrono::milliseconds(20);

// Ends a read snapshot (BEGIN ... COMMIT) on every path out of a function.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Db& db) : db_(db) {}
  Status Begin() { return db_.Exec("BEGIN"); }
  ~ReadSnapshot() {
    if (!db_.Exec("COMMIT").ok()) (void)db_.Exec("ROLLBACK");
  }

 private:
  Db& db_;
};

Result<std::string> FileIdentity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::IoError("cannot stat " + path);
  return std::to_string(static_cast<unsigned long long>(st.st_ino));
}

}  // namespace

Result<StateRow> ReadState(Db& db) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s,
      db.Prepare(
          "SELECT self, epoch, counter, seq, hlc, horizon, unsynced_boot FROM state WHERE k = 1"));
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return Status::Corruption("the store has no state row");
  StateRow st;
  st.self = static_cast<uint32_t>(s.Int(0));
  st.epoch = static_cast<uint64_t>(s.Int(1));
  st.counter = static_cast<uint64_t>(s.Int(2));
  st.seq = static_cast<uint64_t>(s.Int(3));
  st.hlc = static_cast<uint64_t>(s.Int(4));
  st.horizon = static_cast<uint64_t>(s.Int(5));
  st.unsynced_boot = s.OptionalText(6);
  return st;
}

SqliteStore::SqliteStore(const SqliteOptions& sqlite, const StoreOptions& options)
    : writer_durability_(options.durability),
      path_(sqlite.path),
      cache_mib_(sqlite.cache_mib),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : &Clock::Real()) {}

SqliteStore::~SqliteStore() {
  MarkSyncedAtClose();
  {
    MutexLock lock(listen_mu_);
    stopping_ = true;
  }
  listen_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  {
    MutexLock lock(checkpoint_mu_);
    checkpoint_stopping_ = true;
    // A checkpoint under way stops at its next page: closing the writer
    // checkpoints what is left anyway, so waiting for this one would only
    // add its database fsync to the close.
    if (checkpoint_db_ != nullptr) sqlite3_interrupt(checkpoint_db_);
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
}

Result<std::unique_ptr<Store>> SqliteStore::Open(const SqliteOptions& sqlite,
                                                 const StoreOptions& options) {
  if (sqlite.path.empty()) return Status::InvalidArgument("store path is empty");
  if (!options.create_if_missing && !std::filesystem::exists(sqlite.path)) {
    return Status::NotFound("no braid store at " + sqlite.path +
                            "; run `braid init` to create one");
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(sqlite, options));
  BRAID_RETURN_IF_ERROR(store->Initialize());
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::unique_ptr<Db>> SqliteStore::OpenConnection(bool create) {
  BRAID_ASSIGN_OR_RETURN(auto db, Db::Open(path_, create, options_.busy_timeout, BufferedWalVfs()));
  const std::string pragmas = std::string("PRAGMA synchronous=") +
                              (options_.durability == Durability::kFull ? "FULL" : "NORMAL") +
                              "; PRAGMA cache_size=-" + std::to_string(cache_mib_ * 1024) +
                              "; PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=OFF;";
  BRAID_RETURN_IF_ERROR(db->Exec(pragmas.c_str()));
  return db;
}

Status SqliteStore::Initialize() NO_THREAD_SAFETY_ANALYSIS {
  BRAID_ASSIGN_OR_RETURN(writer_, OpenConnection(options_.create_if_missing));
  Db& db = *writer_;
  BRAID_ASSIGN_OR_RETURN(const int64_t app_id, db.QueryInt("PRAGMA application_id"));
  BRAID_ASSIGN_OR_RETURN(const int64_t version, db.QueryInt("PRAGMA user_version"));
  if (app_id == 0 && version == 0) {
    BRAID_ASSIGN_OR_RETURN(const int64_t tables, db.QueryInt("SELECT count(*) FROM sqlite_schema"));
    if (tables != 0) return Status::Corruption(path_ + " is not a braid store");
    // WAL: readers never wait for the writer, and other processes can read
    // while braid serve writes. The mode is stored in the file.
    BRAID_RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode=WAL"));
    BRAID_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    // Another process may have created the store while we waited.
    auto again = db.QueryInt("PRAGMA user_version");
    if (!again.ok() || *again == 0) {
      const InstanceId id = InstanceId::Random();
      BRAID_ASSIGN_OR_RETURN(const std::string file_id, FileIdentity(path_));
      Status s = CreateSchema(db);
      if (s.ok()) {
        auto ins = db.Prepare("INSERT INTO instances(num, id) VALUES (1, ?)");
        s = ins.ok() ? ins->BindBlob(1, id.AsBytes()).Run() : ins.status();
      }
      if (s.ok()) {
        auto st = db.Prepare(
            "INSERT INTO state(k, self, epoch, counter, seq, hlc, horizon) "
            "VALUES (1, 1, ?, 0, 0, 0, 0)");
        s = st.ok() ? st->Bind(1, static_cast<int64_t>(RandomU64() >> 1)).Run() : st.status();
      }
      if (s.ok()) {
        auto meta = db.Prepare("INSERT INTO meta(key, value) VALUES ('file_id', ?), ('path', ?)");
        s = meta.ok() ? meta->Bind(1, file_id).Bind(2, path_).Run() : meta.status();
      }
      if (s.ok()) s = db.Exec("COMMIT");
      if (!s.ok()) {
        (void)db.Exec("ROLLBACK");
        return s.WithContext("creating the store");
      }
      spdlog::info("created store {} (instance {})", path_, id.Hex());
    } else {
      BRAID_RETURN_IF_ERROR(db.Exec("COMMIT"));
    }
  } else if (app_id != kApplicationId) {
    return Status::Corruption(path_ + " is not a braid store");
  }
  BRAID_ASSIGN_OR_RETURN(const std::string mode, [&]() -> Result<std::string> {
    BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("PRAGMA journal_mode"));
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    return row ? std::string(s.Text(0)) : std::string();
  }());
  if (mode != "wal") BRAID_RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode=WAL"));
  // Only this connection writes, so only its commits start checkpoints.
  BRAID_ASSIGN_OR_RETURN(const int64_t page_size, db.QueryInt("PRAGMA page_size"));
  background_checkpoint_frames_ = static_cast<int>(kBackgroundCheckpointBytes / page_size);
  foreground_checkpoint_frames_ = static_cast<int>(kWalCheckpointBytes / page_size);
  BRAID_RETURN_IF_ERROR(
      db.Exec(("PRAGMA journal_size_limit=" + std::to_string(kWalCheckpointBytes)).c_str()));
  sqlite3_wal_hook(db.handle(), &SqliteStore::AfterCommit, this);
  BRAID_RETURN_IF_ERROR(Migrate(db, path_));

  boot_id_ = BootId();
  BRAID_RETURN_IF_ERROR(CheckIdentity(db));
  BRAID_RETURN_IF_ERROR(CheckUnsyncedLoss(db));
  BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(db));
  BRAID_ASSIGN_OR_RETURN(self_id_, InstanceFor(db, st.self));
  self_num_ = st.self;
  return Status::OK();
}

// Inside a write transaction: this store writes from now on as a fresh
// instance, with a fresh change-log epoch (delta cursors issued before get
// resyncRequired). Every write of the old identity stays as it is, now a
// peer's; the FSIC keeps saying the store holds all of them up to the old
// counter, and peers send back any later ones it lost.
Result<InstanceId> SqliteStore::Rekey(Db& db, bool holds_old_writes) {
  BRAID_ASSIGN_OR_RETURN(const StateRow old, ReadState(db));
  const InstanceId id = InstanceId::Random();
  BRAID_ASSIGN_OR_RETURN(Stmt ins, db.Prepare("INSERT INTO instances(id) VALUES (?)"));
  BRAID_RETURN_IF_ERROR(ins.BindBlob(1, id.AsBytes()).Run());
  const int64_t num = db.LastInsertRowid();
  BRAID_ASSIGN_OR_RETURN(
      Stmt up, db.Prepare("UPDATE state SET self = ?, epoch = ?, counter = 0, unsynced_boot = NULL "
                          "WHERE k = 1"));
  BRAID_RETURN_IF_ERROR(up.Bind(1, num).Bind(2, static_cast<int64_t>(RandomU64() >> 1)).Run());
  if (!holds_old_writes) return id;
  BRAID_ASSIGN_OR_RETURN(Stmt fsic,
                         db.Prepare("INSERT INTO fsic(prefix, origin, counter) VALUES ('', ?, ?) "
                                    "ON CONFLICT (prefix, origin) DO UPDATE "
                                    "SET counter = max(counter, excluded.counter)"));
  BRAID_RETURN_IF_ERROR(fsic.Bind(1, static_cast<int64_t>(old.self))
                            .Bind(2, static_cast<int64_t>(old.counter))
                            .Run());
  return id;
}

// A copied (or restored) database file has a new inode. Its counters may be
// behind versions its original already issued and replicated, so it must
// not write under the original's instance id: it gets a fresh id and epoch.
Status SqliteStore::CheckIdentity(Db& db) {
  BRAID_ASSIGN_OR_RETURN(const std::string file_id, FileIdentity(path_));
  auto read_meta = [&]() -> Result<std::string> {
    BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT value FROM meta WHERE key = 'file_id'"));
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    return row ? std::string(s.Text(0)) : std::string();
  };
  BRAID_ASSIGN_OR_RETURN(std::string stored, read_meta());
  if (stored == file_id) return Status::OK();

  BRAID_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto rekey = [&]() -> Status {
    BRAID_ASSIGN_OR_RETURN(stored, read_meta());
    if (stored == file_id) return Status::OK();  // another process did it
    BRAID_ASSIGN_OR_RETURN(const StateRow old, ReadState(db));
    BRAID_ASSIGN_OR_RETURN(const InstanceId old_id, InstanceFor(db, old.self));
    BRAID_ASSIGN_OR_RETURN(const InstanceId id, Rekey(db));
    BRAID_ASSIGN_OR_RETURN(Stmt meta, db.Prepare("INSERT OR REPLACE INTO meta(key, value) "
                                                 "VALUES ('file_id', ?), ('path', ?)"));
    BRAID_RETURN_IF_ERROR(meta.Bind(1, file_id).Bind(2, path_).Run());
    spdlog::warn(
        "{} is a copy of another store (its file identity changed): it now writes as "
        "instance {} instead of {}, and delta cursors issued before get resyncRequired",
        path_, id.Hex(), old_id.Hex());
    return Status::OK();
  };
  Status s = rekey();
  if (s.ok()) s = db.Exec("COMMIT");
  if (!s.ok()) (void)db.Exec("ROLLBACK");
  return s;
}

// Commits at durability normal make versions and change-log seqs visible
// before they are on stable storage. The first of them after the store was
// last fully synced records the boot id in state.unsynced_boot, and is
// itself synced before anything it issued can be read (write_txn.cc); a
// synced commit clears it. Found set under another boot id, it means the
// machine went down since: the last of those commits may be lost, though
// peers may have pulled their versions and delta clients read their seqs.
// Issuing those names again would give one name two contents (a peer that
// has the first never takes the second), so the store continues under a
// fresh instance id and epoch, as after a restore from a copy: the lost
// versions come back from peers under the old id, and cursors resync.
Status SqliteStore::CheckUnsyncedLoss(Db& db) {
  BRAID_ASSIGN_OR_RETURN(StateRow st, ReadState(db));
  if (!st.unsynced_boot || (!boot_id_.empty() && *st.unsynced_boot == boot_id_)) {
    return Status::OK();
  }
  BRAID_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto renew = [&]() -> Status {
    BRAID_ASSIGN_OR_RETURN(st, ReadState(db));
    if (!st.unsynced_boot || (!boot_id_.empty() && *st.unsynced_boot == boot_id_)) {
      return Status::OK();  // another process did it
    }
    BRAID_ASSIGN_OR_RETURN(const InstanceId old_id, InstanceFor(db, st.self));
    BRAID_ASSIGN_OR_RETURN(const InstanceId id, Rekey(db));
    spdlog::warn(
        "{}: the machine restarted (power cut or crash) after commits at durability normal that "
        "may not have reached the disk; versions peers may hold must not be issued again, so the "
        "store now writes as instance {} instead of {}: peers send back what it lost at the next "
        "sync, and delta cursors issued before get resyncRequired",
        path_, id.Hex(), old_id.Hex());
    return Status::OK();
  };
  Status s = renew();
  if (s.ok()) s = db.Exec("COMMIT");
  if (!s.ok()) (void)db.Exec("ROLLBACK");
  return s.WithContext("recovering from a restart");
}

// A clean close of a store whose unsynced commits all made it (they are in
// the kernel: no power cut happened yet) syncs and clears the mark, so
// that a reboot later is not taken for a power cut. Best effort: should
// another process hold the write lock, the mark stays (the next restart
// after a reboot then renews the identity needlessly, losing nothing).
void SqliteStore::MarkSyncedAtClose() NO_THREAD_SAFETY_ANALYSIS {
  if (!writer_ || boot_id_.empty()) return;
  if (!write_mu_.TryLockFor(std::chrono::seconds(1))) return;
  WriterUnlock unlock{write_mu_};
  Db& db = *writer_;
  auto st = ReadState(db);
  if (!st.ok() || st->unsynced_boot != boot_id_) return;
  sqlite3_busy_timeout(db.handle(), 1000);
  if (!db.Exec("PRAGMA synchronous=FULL").ok() || !db.Exec("BEGIN IMMEDIATE").ok()) return;
  Status s = db.Exec("UPDATE state SET unsynced_boot = NULL WHERE k = 1");
  if (s.ok()) s = db.Exec("COMMIT");
  if (!s.ok()) {
    (void)db.Exec("ROLLBACK");
    spdlog::debug("{}: cannot mark the store synced at close: {}", path_, s.ToString());
  }
}

Result<InstanceId> SqliteStore::InNewIdentity(std::string_view what,
                                              const std::function<Result<InstanceId>(Db&)>& work)
    NO_THREAD_SAFETY_ANALYSIS {
  BRAID_RETURN_IF_ERROR(LockWriter(write_mu_).WithContext(what));
  WriterUnlock unlock{write_mu_};
  Db& db = *writer_;
  BRAID_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE").WithContext(what));
  Result<InstanceId> id = work(db);
  Status s = id.status();
  if (s.ok()) s = db.Exec("COMMIT");
  if (!s.ok()) {
    (void)db.Exec("ROLLBACK");
    return s.WithContext(what);
  }
  BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(db));
  CacheInstance(st.self, *id);
  self_id_ = *id;
  self_num_ = st.self;
  return *id;
}

Result<InstanceId> SqliteStore::RenewIdentity() {
  return InNewIdentity("renewing the identity", [this](Db& db) { return Rekey(db); });
}

Result<InstanceId> SqliteStore::InstanceFor(Db& db, uint32_t num, const PendingInstances* pending) {
  if (pending != nullptr) {
    auto it = pending->find(num);
    if (it != pending->end()) return it->second;
  }
  if (auto cached = instances_.Find(num)) return *cached;
  BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT id FROM instances WHERE num = ?"));
  s.Bind(1, static_cast<int64_t>(num));
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return Status::Corruption("unknown instance number " + std::to_string(num));
  BRAID_ASSIGN_OR_RETURN(const InstanceId id, InstanceId::FromBytes(s.Blob(0)));
  CacheInstance(num, id);
  return id;
}

std::optional<uint32_t> SqliteStore::CachedNum(const InstanceId& id) {
  return instances_.NumOf(id);
}

void SqliteStore::CacheInstance(uint32_t num, const InstanceId& id) { instances_.Add(num, id); }

Result<VersionVector> SqliteStore::ToVersionVector(Db& db, const LocalVector& local,
                                                   const PendingInstances* pending) {
  return LocalToVersionVector(local, self_id_, self_num_,
                              [&](uint32_t num) { return InstanceFor(db, num, pending); });
}

Result<std::vector<Record>> SqliteStore::DecodeRecords(Db& db, Stmt& s) {
  std::vector<Record> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    BRAID_RETURN_IF_ERROR(DecodeRecord(db, s, 0, &out.emplace_back()));
  }
  return out;
}

Status SqliteStore::DecodeRecord(Db& db, const Stmt& row, int col, Record* out,
                                 const PendingInstances* pending) {
  return DecodeRecordColumns(
      row, col, self_id_, self_num_, [&](uint32_t num) { return InstanceFor(db, num, pending); },
      out);
}

SqliteStore::Reader::~Reader() {
  if (db_ == nullptr) return;
  MutexLock lock(store_->pool_mu_);
  if (store_->idle_readers_.size() < kMaxIdleReaders) {
    store_->idle_readers_.push_back(std::move(db_));
  }
}

Result<SqliteStore::Reader> SqliteStore::AcquireReader() {
  {
    MutexLock lock(pool_mu_);
    if (!idle_readers_.empty()) {
      auto db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return Reader(this, std::move(db));
    }
  }
  BRAID_ASSIGN_OR_RETURN(auto db, OpenConnection(false));
  return Reader(this, std::move(db));
}

Status SqliteStore::LockWriter(TimedMutex& mu,
                               std::chrono::milliseconds timeout) NO_THREAD_SAFETY_ANALYSIS {
  if (mu.TryLockFor(timeout)) return Status::OK();
  return Status::Busy("another write of this process kept the store for the whole busy timeout (" +
                      std::to_string(timeout.count()) +
                      " ms, store.busy_timeout_ms in braid.toml); retry");
}

Result<std::unique_ptr<WriteTransaction>> SqliteStore::BeginWrite(Durability durability)
    NO_THREAD_SAFETY_ANALYSIS {
  return NewWriteTransaction(this, writer_.get(), &write_mu_, durability);
}

Result<std::optional<Record>> SqliteStore::Get(std::string_view collection, std::string_view id) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT " BRAID_RECORD_COLUMNS
                                            " FROM records r WHERE collection = ? AND id = ?"));
  s.Bind(1, collection).Bind(2, id);
  BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return std::optional<Record>();
  Record rec;
  BRAID_RETURN_IF_ERROR(DecodeRecord(db, s, 0, &rec));
  return std::optional<Record>(std::move(rec));
}

Result<std::vector<Record>> SqliteStore::List(const ListQuery& q) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, q.include_deleted
                  ? db.Prepare("SELECT " BRAID_RECORD_COLUMNS
                               " FROM records r WHERE collection = ? AND id > ? "
                               "ORDER BY id LIMIT ?")
                  : db.Prepare("SELECT " BRAID_RECORD_COLUMNS
                               " FROM records r WHERE collection = ? AND id > ? AND deleted = 0 "
                               "ORDER BY id LIMIT ?"));
  s.Bind(1, q.collection).Bind(2, q.after_id).Bind(3, static_cast<int64_t>(q.limit));
  std::vector<Record> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    Record& rec = out.emplace_back();
    BRAID_RETURN_IF_ERROR(DecodeRecord(db, s, 0, &rec));
  }
  return out;
}

Result<ChangePage> SqliteStore::ReadChanges(const ChangeQuery& q) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  ReadSnapshot snapshot(db);
  BRAID_RETURN_IF_ERROR(snapshot.Begin());
  BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(db));
  ChangePage page;
  page.last_seq = st.seq;
  page.horizon = st.horizon;
  page.epoch = st.epoch;

#define BRAID_CHANGE_SELECT                                   \
  "SELECT c.seq, c.op, c.at, c.parent, " BRAID_RECORD_COLUMNS \
  " FROM changes c JOIN records r ON r.rid = c.rid WHERE "
  // One statement per filter combination, each a range scan of an index.
  Result<Stmt> prepared =
      q.parent       ? (q.collection ? db.Prepare(BRAID_CHANGE_SELECT
                                                  "c.parent = ?2 AND c.collection = ?3 AND c.seq > ?1 "
                                                        "ORDER BY c.seq LIMIT ?4")
                                     : db.Prepare(BRAID_CHANGE_SELECT
                                                  "c.parent = ?2 AND c.seq > ?1 ORDER BY c.seq LIMIT ?4"))
      : q.collection ? db.Prepare(BRAID_CHANGE_SELECT
                                  "c.seq > ?1 AND c.seq <= ?5 AND c.collection = ?3 "
                                  "ORDER BY c.seq LIMIT ?4")
                     : db.Prepare(BRAID_CHANGE_SELECT "c.seq > ?1 ORDER BY c.seq LIMIT ?4");
#undef BRAID_CHANGE_SELECT
  BRAID_ASSIGN_OR_RETURN(Stmt s, std::move(prepared));
  s.Bind(1, static_cast<int64_t>(q.after_seq));
  if (q.parent) s.Bind(2, std::string_view(*q.parent));
  if (q.collection) s.Bind(3, std::string_view(*q.collection));
  s.Bind(4, static_cast<int64_t>(q.limit + 1));  // one extra row answers has_more
  const bool windowed = q.collection && !q.parent;
  const uint64_t window_end = std::min(st.seq, q.after_seq + kCollectionScanWindow);
  if (windowed) s.Bind(5, static_cast<int64_t>(window_end));
  page.events.reserve(std::min<size_t>(q.limit, 1024));
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    if (page.events.size() == q.limit) {
      page.has_more = true;
      break;
    }
    ChangeEvent& e = page.events.emplace_back();
    e.seq = static_cast<uint64_t>(s.Int(0));
    e.op = static_cast<ChangeOp>(s.Int(1));
    e.at_ms = s.Int(2);
    e.parent = s.OptionalText(3);
    e.collection.assign(s.Text(4));
    e.id.assign(s.Text(5));
    if (q.with_records) {
      BRAID_RETURN_IF_ERROR(DecodeRecord(db, s, 4, &e.record.emplace()));
    }
  }
  if (page.has_more) {
    page.complete_to = page.events.back().seq;
  } else if (windowed && window_end < st.seq) {
    page.complete_to = window_end;
    page.has_more = true;
  } else {
    page.complete_to = std::max(q.after_seq, st.seq);
  }
  return page;
}

Result<StoreStats> SqliteStore::Stats() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  Db& db = reader.db();
  ReadSnapshot snapshot(db);
  BRAID_RETURN_IF_ERROR(snapshot.Begin());
  BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(db));
  StoreStats stats;
  stats.instance_id = self_id_;
  BRAID_ASSIGN_OR_RETURN(const int64_t schema, db.QueryInt("PRAGMA user_version"));
  stats.schema_version = static_cast<int>(schema);
  stats.epoch = st.epoch;
  stats.counter = st.counter;
  stats.last_seq = st.seq;
  stats.horizon = st.horizon;
  BRAID_ASSIGN_OR_RETURN(const int64_t changes, db.QueryInt("SELECT count(*) FROM changes"));
  stats.changes = static_cast<uint64_t>(changes);
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db.Prepare("SELECT collection, sum(deleted = 0), sum(deleted) "
                                    "FROM records GROUP BY collection ORDER BY collection"));
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    CollectionStats& c = stats.collections.emplace_back();
    c.name.assign(s.Text(0));
    c.live = static_cast<uint64_t>(s.Int(1));
    c.deleted = static_cast<uint64_t>(s.Int(2));
    stats.live += c.live;
    stats.deleted += c.deleted;
  }
  return stats;
}

uint64_t SqliteStore::AddChangeListener(std::function<void()> fn) {
  MutexLock lock(listen_mu_);
  const uint64_t id = listeners_.Add(std::move(fn));
  if (!watcher_.joinable()) {
    // The baseline is read before returning, so a commit made right after
    // registration is noticed.
    auto db = OpenConnection(false);
    if (!db.ok()) {
      spdlog::error("change watcher cannot open the store: {}", db.status().ToString());
      return id;
    }
    const int64_t baseline = (*db)->QueryInt("PRAGMA data_version").value_or(0);
    watcher_ = std::thread(
        [this, db = std::move(*db), baseline]() mutable { WatchLoop(std::move(db), baseline); });
  }
  return id;
}

void SqliteStore::RemoveChangeListener(uint64_t id) { listeners_.Remove(id); }

void SqliteStore::NotifyListeners() { listeners_.Notify(); }

// Runs on the writer's thread after each commit, the write lock released,
// with the number of frames in the WAL. (It replaces SQLite's own
// wal_autocheckpoint hook.)
int SqliteStore::AfterCommit(void* arg, sqlite3* db, const char* schema, int frames) {
  auto* store = static_cast<SqliteStore*>(arg);
  if (frames >= store->foreground_checkpoint_frames_) {
    // PASSIVE: copies what it can without waiting; SQLITE_BUSY while the
    // background thread is at it, which is as good.
    (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (frames >= store->background_checkpoint_frames_) {
    store->RequestCheckpoint();
  }
  return SQLITE_OK;
}

void SqliteStore::RequestCheckpoint() {
  MutexLock lock(checkpoint_mu_);
  if (checkpoint_stopping_) return;
  checkpoint_requested_ = true;
  if (!checkpointer_.joinable()) {
    checkpointer_ = std::thread([this] { CheckpointLoop(); });
  } else {
    checkpoint_cv_.notify_one();
  }
}

void SqliteStore::CheckpointLoop() {
  LowerThisThreadPriority();  // background work: commits never wait for it
  auto db = OpenConnection(false);
  if (!db.ok()) {
    // Commits still checkpoint themselves past kWalCheckpointBytes.
    spdlog::warn("background checkpoints are off: {}", db.status().ToString());
    return;
  }
  {
    MutexLock lock(checkpoint_mu_);
    checkpoint_db_ = (*db)->handle();
  }
  for (;;) {
    {
      MutexLock lock(checkpoint_mu_);
      while (!checkpoint_requested_ && !checkpoint_stopping_) checkpoint_cv_.wait(checkpoint_mu_);
      if (checkpoint_stopping_) {
        checkpoint_db_ = nullptr;  // before the connection closes
        return;
      }
      checkpoint_requested_ = false;
    }
    const int rc = sqlite3_wal_checkpoint_v2((*db)->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_INTERRUPT) {
      spdlog::warn("background checkpoint of {} failed: {}", path_, sqlite3_errstr(rc));
    }
  }
}

// PRAGMA data_version changes when another connection (of this process or
// another) commits. Polling it is a read of the WAL index in shared memory,
// cheap enough to do every few tens of milliseconds.
void SqliteStore::WatchLoop(std::unique_ptr<Db> db, int64_t last) {
  for (;;) {
    {
      std::unique_lock<Mutex> lock(listen_mu_);
      // wait_for returns the predicate's last value: stopping_ is read
      // only there, under the lock (which the analysis cannot see through
      // std::unique_lock).
      if (listen_cv_.wait_for(lock, kWatchInterval,
                              [this]() NO_THREAD_SAFETY_ANALYSIS { return stopping_; })) {
        return;
      }
    }
    const auto now = db->QueryInt("PRAGMA data_version");
    if (now.ok() && *now != last) {
      last = *now;
      NotifyListeners();
    }
  }
}

}  // namespace sqlite
}  // namespace braid
