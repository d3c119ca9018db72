// The SQLite backend of Store (internal; users go through braid/store.h).
//
// Connections: one writer connection, used by one WriteTransaction at a time
// (write_mu_ serializes this process; SQLite's write lock, taken with BEGIN
// IMMEDIATE under the busy timeout, serializes processes), a pool of reader
// connections (WAL lets them read while a writer commits), and one watcher
// connection that polls PRAGMA data_version to notice commits by other
// processes while change listeners are registered.

#ifndef BRAID_STORE_SQLITE_SQLITE_STORE_H_
#define BRAID_STORE_SQLITE_SQLITE_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "braid/store.h"
#include "sqlite/db.h"
#include "store/change_listeners.h"
#include "store/codec.h"
#include "store/instance_cache.h"

namespace braid::sqlite {

// The single row of the state table.
struct StateRow {
  uint32_t self = 0;
  uint64_t epoch = 0;
  uint64_t counter = 0;
  uint64_t seq = 0;
  uint64_t hlc = 0;
  uint64_t horizon = 0;
  // Set while commits at durability normal may have issued versions or
  // seqs that are not on stable storage: the boot id they were made under.
  std::optional<std::string> unsynced_boot;
};

// Columns every record query selects, in the order DecodeRecord expects.
#define BRAID_RECORD_COLUMNS                                                                 \
  "r.collection, r.id, r.partition, r.parent, r.deleted, r.origin, r.counter, r.vv, r.hlc, " \
  "r.clocks, r.body, r.conflicts"
inline constexpr int kRecordColumnCount = 12;

// What the spec sqlite:PATH?cache_mib=N says.
struct SqliteOptions {
  std::string path;    // the database file
  int cache_mib = 64;  // page cache per connection
};

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const SqliteOptions& sqlite,
                                             const StoreOptions& options);
  ~SqliteStore() override;

  InstanceId instance_id() const override { return self_id_; }
  Result<InstanceId> RenewIdentity() override;
  Result<uint64_t> ClearRecords() override;
  using Store::BeginWrite;
  Result<std::unique_ptr<WriteTransaction>> BeginWrite(Durability durability) override;
  Durability options_durability() const override { return options_.durability; }
  size_t max_body_bytes() const override { return options_.max_body_bytes; }
  Result<std::optional<Record>> Get(std::string_view collection, std::string_view id) override;
  Result<std::vector<Record>> List(const ListQuery& query) override;
  Result<ChangePage> ReadChanges(const ChangeQuery& query) override;
  Result<StoreStats> Stats() override;
  Result<CompactResult> Compact(int64_t before_ms) override;
  uint64_t AddChangeListener(std::function<void()> fn) override;
  void RemoveChangeListener(uint64_t id) override;

  // Replication reads (repl_read.cc).
  Result<VersionVector> Fsic(const std::vector<std::string>& prefixes) override;
  Result<std::vector<InstanceId>> KnownInstances() override;
  Result<std::vector<StreamedVersion>> StreamVersions(const InstanceId& origin, uint64_t after,
                                                      size_t limit, size_t max_bytes) override;
  Result<WireVersions> StreamWireVersions(const InstanceId& origin, uint64_t after, size_t limit,
                                          size_t max_bytes) override;
  Result<uint64_t> CountVersions(const InstanceId& origin, uint64_t after) override;
  Result<std::vector<uint64_t>> StreamEnds(const std::vector<InstanceId>& origins) override;

  // Settings and conflicts (catalog.cc).
  Result<ConflictPolicy> Policy(std::string_view collection) override;
  Result<std::vector<std::pair<std::string, ConflictPolicy>>> Policies() override;
  Result<std::vector<std::pair<std::string, std::string>>> SearchFields() override;
  Result<std::optional<Remote>> GetRemote(std::string_view name) override;
  Result<std::vector<Remote>> ListRemotes() override;
  Result<std::vector<std::pair<std::string, std::vector<Reference>>>> References() override;
  Result<VersionVector> Marks(std::string_view remote, MarkKind kind) override;
  Result<std::optional<TokenInfo>> FindToken(std::string_view sha256) override;
  Result<std::vector<TokenInfo>> ListTokens() override;
  Result<std::optional<User>> GetUser(std::string_view name) override;
  Result<std::vector<User>> ListUsers() override;
  Result<std::optional<CertificateRow>> GetCertificate(std::string_view serial) override;
  Result<std::vector<CertificateRow>> ListCertificates() override;
  Result<std::vector<CertificateRow>> ListCertificatesOf(std::string_view key) override;
  Result<std::vector<RevocationRow>> ListRevocations() override;
  Result<std::vector<std::string>> RevokedAmong(const std::vector<std::string>& serials) override;
  Result<std::vector<Record>> ListConflicts(std::string_view after_collection,
                                            std::string_view after_id, size_t limit) override;
  // Blob references and step runs (blob_refs.cc).
  Result<std::vector<BlobRef>> ListBlobRefs(std::string_view after_sha256, size_t limit) override;
  Result<std::vector<BlobRef>> BlobRefsChanged(uint64_t after, uint64_t upto) override;
  Result<std::vector<Record>> RecordsNamingBlob(std::string_view sha256, size_t limit) override;
  Result<std::vector<std::string>> BlobReaders(std::string_view sha256, size_t limit) override;
  Result<std::vector<std::string>> DroppedBlobs(size_t limit) override;
  Result<std::vector<StepRun>> StepRuns() override;
  // Replication sessions (sessions.cc).
  Result<std::optional<SyncSessionRow>> GetSyncSession(std::string_view key) override;
  Result<std::vector<Record>> HeldVersions(std::string_view collection,
                                           std::string_view id) override;
  // HeldVersions on a given connection (the writer's, inside a transaction).
  Result<std::vector<Record>> HeldVersionsOn(Db& db, std::string_view collection,
                                             std::string_view id);

  // For SqliteWriteTransaction.
  const StoreOptions& options() const { return options_; }
  const Clock& clock() const override { return *clock_; }
  // Instances a write transaction added and has not committed yet: only
  // that transaction may resolve them (a rollback frees their numbers).
  using PendingInstances = std::unordered_map<uint32_t, InstanceId>;
  // Decodes the BRAID_RECORD_COLUMNS of `row` starting at column `col`.
  Status DecodeRecord(Db& db, const Stmt& row, int col, Record* out,
                      const PendingInstances* pending = nullptr);
  // Steps `s` to the end, decoding each row (BRAID_RECORD_COLUMNS first).
  Result<std::vector<Record>> DecodeRecords(Db& db, Stmt& s);
  // The instance id behind a local instance number: `pending` first, then
  // the shared cache of committed entries, then `db`.
  Result<InstanceId> InstanceFor(Db& db, uint32_t num, const PendingInstances* pending = nullptr);
  // The cached number of an instance id, if any.
  std::optional<uint32_t> CachedNum(const InstanceId& id);
  // Caches a committed dictionary entry.
  void CacheInstance(uint32_t num, const InstanceId& id);
  uint32_t self_num() const { return self_num_; }
  // This machine's boot id as the store opened (base/boot_id.h).
  const std::string& boot_id() const { return boot_id_; }
  // Converts a local version vector to instance ids.
  Result<VersionVector> ToVersionVector(Db& db, const LocalVector& local,
                                        const PendingInstances* pending = nullptr);
  void NotifyListeners();
  // Takes the write mutex within `timeout` (the busy timeout by default).
  // OK with it held (the caller unlocks it); Busy naming the setting when
  // another thread of this process kept it for the whole timeout.
  Status LockWriter(TimedMutex& mu, std::chrono::milliseconds timeout);
  Status LockWriter(TimedMutex& mu) { return LockWriter(mu, options_.busy_timeout); }
  // The thread holding the write lock, so that a nested BeginWrite() fails
  // instead of deadlocking.
  std::atomic<std::thread::id> writer_thread_{};
  // The writer connection's current synchronous setting (under write_mu_).
  Durability writer_durability_;

 private:
  Result<std::vector<CertificateRow>> Certificates(std::optional<std::string_view> key);
  // A reader connection borrowed from the pool; returned when destroyed.
  class Reader {
   public:
    Reader(SqliteStore* store, std::unique_ptr<Db> db) : store_(store), db_(std::move(db)) {}
    Reader(Reader&&) = default;
    ~Reader();
    Db& db() { return *db_; }

   private:
    SqliteStore* store_;
    std::unique_ptr<Db> db_;
  };

  SqliteStore(const SqliteOptions& sqlite, const StoreOptions& options);
  Status Initialize();
  Result<std::unique_ptr<Db>> OpenConnection(bool create);
  Result<Reader> AcquireReader();
  Status CheckIdentity(Db& db);
  Status CheckUnsyncedLoss(Db& db);
  void MarkSyncedAtClose() EXCLUDES(write_mu_);
  // `holds_old_writes`: the FSIC says the store holds every write of the
  // old identity (false when they were just forgotten: ClearRecords).
  Result<InstanceId> Rekey(Db& db, bool holds_old_writes = true);
  // Runs `work` (which ends in Rekey) in a write transaction and, once it
  // commits, writes as the new identity; `what` names it in errors.
  Result<InstanceId> InNewIdentity(std::string_view what,
                                   const std::function<Result<InstanceId>(Db&)>& work);
  void WatchLoop(std::unique_ptr<Db> db, int64_t last);
  static int AfterCommit(void* arg, sqlite3* db, const char* schema, int frames);
  void RequestCheckpoint() EXCLUDES(checkpoint_mu_);
  void CheckpointLoop() EXCLUDES(checkpoint_mu_);

  const std::string path_;
  const int cache_mib_;
  StoreOptions options_;
  const Clock* clock_;
  InstanceId self_id_;
  uint32_t self_num_ = 0;  // self_id_'s number in the instance dictionary
  std::string boot_id_;

  // Held by the live write transaction until it commits or dies, and by
  // compaction's transactions. Waiters give up after the busy timeout
  // (LockWriter): a write never waits for another without bound.
  TimedMutex write_mu_;
  std::unique_ptr<Db> writer_ PT_GUARDED_BY(write_mu_);

  Mutex pool_mu_;
  std::vector<std::unique_ptr<Db>> idle_readers_ GUARDED_BY(pool_mu_);

  InstanceCache instances_;

  Mutex listen_mu_;
  CondVar listen_cv_;
  ChangeListeners listeners_;
  bool stopping_ GUARDED_BY(listen_mu_) = false;
  std::thread watcher_;

  // WAL sizes, in frames, at which a commit asks the checkpointer thread to
  // run, or checkpoints itself.
  int background_checkpoint_frames_ = 0;
  int foreground_checkpoint_frames_ = 0;
  Mutex checkpoint_mu_;
  CondVar checkpoint_cv_;
  bool checkpoint_requested_ GUARDED_BY(checkpoint_mu_) = false;
  bool checkpoint_stopping_ GUARDED_BY(checkpoint_mu_) = false;
  // The checkpointer's connection while it is open, for sqlite3_interrupt.
  sqlite3* checkpoint_db_ GUARDED_BY(checkpoint_mu_) = nullptr;
  std::thread checkpointer_;  // started by the first request, under checkpoint_mu_
};

// Releases, at the end of its scope, a mutex taken with
// SqliteStore::LockWriter.
struct WriterUnlock {
  TimedMutex& mu;
  ~WriterUnlock() NO_THREAD_SAFETY_ANALYSIS { mu.Unlock(); }
};

// Reads the state row. Defined in sqlite_store.cc.
Result<StateRow> ReadState(Db& db);

// Begins the write transaction on `writer`: locks `write_mu` (released when
// the transaction is destroyed), sets the commit durability, then BEGIN
// IMMEDIATE, all within the busy timeout. Defined in row_txn.cc.
Result<std::unique_ptr<WriteTransaction>> NewWriteTransaction(SqliteStore* store, Db* writer,
                                                              TimedMutex* write_mu,
                                                              Durability durability);

}  // namespace braid::sqlite

#endif  // BRAID_STORE_SQLITE_SQLITE_STORE_H_
