// The PostgreSQL backend of Store (internal; users go through braid/store.h).
//
// Several braid processes, on one machine or several, may open one database
// and serve one instance: the database holds the instance's identity,
// counters, records and settings, and nothing a second process would need
// lives only in one process's memory.
//
// Connections: one writer connection per process, used by one
// WriteTransaction at a time (write_mu_ serializes this process's
// threads); the state row, locked FOR UPDATE by every write transaction,
// serializes the processes, so that counters and change-log seqs are issued
// densely and committed in order (docs/storage.md, "PostgreSQL"). A pool of
// reader connections serves reads, which never wait for writers (MVCC). A
// listener connection LISTENs on the store's channel while change listeners
// are registered: every commit that adds change-log events NOTIFYs it, in
// the same transaction, so listeners of every process wake once it commits.

#ifndef BRAID_STORE_POSTGRES_PG_STORE_H_
#define BRAID_STORE_POSTGRES_PG_STORE_H_

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
#include "pg/conn.h"
#include "store/change_listeners.h"
#include "store/codec.h"
#include "store/instance_cache.h"
#include "store/postgres/schema.h"

namespace braid::postgres {

// The single row of the state table.
struct StateRow {
  uint32_t self = 0;
  uint64_t epoch = 0;
  uint64_t counter = 0;
  uint64_t seq = 0;
  uint64_t hlc = 0;
  uint64_t horizon = 0;
  int64_t rid = 0;  // the last records.rid assigned
};

// Columns every record query selects, in the order DecodeRecord expects.
#define BRAID_PG_RECORD_COLUMNS                                                              \
  "r.collection, r.id, r.partition, r.parent, r.deleted, r.origin, r.counter, r.vv, r.hlc, " \
  "r.clocks, r.body, r.conflicts"
inline constexpr int kRecordColumnCount = 12;

// What the spec postgresql://... says.
struct PgOptions {
  std::string conninfo;  // a libpq URI (postgresql://USER@HOST/DB?...)
  int readers = 16;      // idle reader connections kept at most
};

class PgStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const PgOptions& pg, const StoreOptions& options);
  ~PgStore() override;

  InstanceId instance_id() const override { return self_id_; }
  Result<InstanceId> RenewIdentity() override;
  Result<uint64_t> ClearRecords() override;
  using Store::BeginWrite;
  Result<std::unique_ptr<WriteTransaction>> BeginWrite(Durability durability) override;
  Durability options_durability() const override { return options_.durability; }
  size_t max_body_bytes() const override { return options_.max_body_bytes; }
  const Clock& clock() const override { return *clock_; }
  Result<std::optional<Record>> Get(std::string_view collection, std::string_view id) override;
  Result<std::vector<Record>> List(const ListQuery& query) override;
  Result<ChangePage> ReadChanges(const ChangeQuery& query) override;
  Result<StoreStats> Stats() override;
  Result<CompactResult> Compact(int64_t before_ms) override;
  bool shared() const override { return true; }
  Result<std::string> SharedValue(std::string_view name,
                                  const std::function<Result<std::string>()>& make) override;
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
  Result<std::vector<Record>> HeldVersions(std::string_view collection,
                                           std::string_view id) override;
  // HeldVersions on a given connection (the writer's, inside a transaction).
  Result<std::vector<Record>> HeldVersionsOn(pg::Conn& conn, std::string_view collection,
                                             std::string_view id);
  // Blob references and step runs (blob_refs.cc).
  Result<std::vector<BlobRef>> ListBlobRefs(std::string_view after_sha256, size_t limit) override;
  Result<std::vector<BlobRef>> BlobRefsChanged(uint64_t after, uint64_t upto) override;
  Result<std::vector<Record>> RecordsNamingBlob(std::string_view sha256, size_t limit) override;
  Result<std::vector<std::string>> BlobReaders(std::string_view sha256, size_t limit) override;
  Result<std::vector<std::string>> DroppedBlobs(size_t limit) override;
  Result<std::vector<StepRun>> StepRuns() override;
  // Replication sessions (sessions.cc).
  Result<std::optional<SyncSessionRow>> GetSyncSession(std::string_view key) override;

  // For PgRowTransaction and the other files of the backend.
  const StoreOptions& options() const { return options_; }
  using PendingInstances = std::unordered_map<uint32_t, InstanceId>;
  // Decodes the BRAID_PG_RECORD_COLUMNS of `row` of `rows` from column `col`.
  Status DecodeRecord(pg::Conn& conn, const pg::Rows& rows, int row, int col, Record* out,
                      const PendingInstances* pending = nullptr);
  // Every row of `rows` (BRAID_PG_RECORD_COLUMNS first).
  Result<std::vector<Record>> DecodeRecords(pg::Conn& conn, const pg::Rows& rows);
  // The instance id behind a local instance number: `pending` first, then
  // the shared cache of committed entries, then `conn`.
  Result<InstanceId> InstanceFor(pg::Conn& conn, uint32_t num,
                                 const PendingInstances* pending = nullptr);
  // The number of a committed instance id, nullopt when it has none.
  Result<std::optional<uint32_t>> NumOf(pg::Conn& conn, const InstanceId& id);
  std::optional<uint32_t> CachedNum(const InstanceId& id);
  void CacheInstance(uint32_t num, const InstanceId& id);
  uint32_t self_num() const { return self_num_; }
  Result<VersionVector> ToVersionVector(pg::Conn& conn, const LocalVector& local,
                                        const PendingInstances* pending = nullptr);
  void NotifyListeners();
  // The NOTIFY payload of this process's commits (its listener skips them:
  // they were announced at once).
  const std::string& notify_token() const { return notify_token_; }
  Status LockWriter(TimedMutex& mu, std::chrono::milliseconds timeout);
  std::atomic<std::thread::id> writer_thread_{};

  // A reader connection borrowed from the pool; returned when destroyed
  // (unless it was lost).
  class Reader {
   public:
    Reader(PgStore* store, std::unique_ptr<pg::Conn> conn)
        : store_(store), conn_(std::move(conn)) {}
    Reader(Reader&&) = default;
    ~Reader();
    pg::Conn& conn() { return *conn_; }

   private:
    PgStore* store_;
    std::unique_ptr<pg::Conn> conn_;
  };
  Result<Reader> AcquireReader();

  // Connects `conn` again after it was lost, with the session settings.
  static Status Reconnect(pg::Conn& conn);
  // Runs `work` in a REPEATABLE READ, read-only transaction on `conn`: its
  // reads see one snapshot.
  static Status InSnapshot(pg::Conn& conn, const std::function<Status()>& work);

 private:
  PgStore(const PgOptions& pg, const StoreOptions& options);
  Status Initialize();
  Result<std::unique_ptr<pg::Conn>> OpenConnection();
  Result<std::vector<CertificateRow>> Certificates(std::optional<std::string_view> key);
  // Inside a write transaction holding the state row: a new instance id and
  // epoch (RenewIdentity, ClearRecords).
  Result<InstanceId> Rekey(pg::Conn& conn, bool holds_old_writes = true);
  Result<InstanceId> InNewIdentity(std::string_view what,
                                   const std::function<Result<InstanceId>(pg::Conn&)>& work);
  void ListenLoop(std::unique_ptr<pg::Conn> conn);

  const PgOptions pg_;
  StoreOptions options_;
  const Clock* clock_;
  InstanceId self_id_;
  uint32_t self_num_ = 0;
  std::string notify_token_;

  TimedMutex write_mu_;
  std::unique_ptr<pg::Conn> writer_ PT_GUARDED_BY(write_mu_);

  Mutex pool_mu_;
  std::vector<std::unique_ptr<pg::Conn>> idle_readers_ GUARDED_BY(pool_mu_);

  InstanceCache instances_;

  Mutex listen_mu_;
  ChangeListeners listeners_;
  std::atomic<bool> stopping_{false};
  std::thread listener_;
};

// Releases, at the end of its scope, a mutex taken with LockWriter.
struct WriterUnlock {
  TimedMutex& mu;
  ~WriterUnlock() NO_THREAD_SAFETY_ANALYSIS { mu.Unlock(); }
};

// Reads the state row (FOR UPDATE: `lock`).
Result<StateRow> ReadState(pg::Conn& conn, bool lock = false);

// Begins a write transaction on `writer` (row_txn.cc).
Result<std::unique_ptr<WriteTransaction>> NewWriteTransaction(PgStore* store, pg::Conn* writer,
                                                              TimedMutex* write_mu);

}  // namespace braid::postgres

#endif  // BRAID_STORE_POSTGRES_PG_STORE_H_
