// Store: the durable state of one braid instance.
//
// A Store holds records (with versions, version vectors and field clocks),
// the instance's identity and counters, and the change log that feeds the
// delta API. It is an interface: SQLite is the embedded backend; the SQL
// dialect stays inside each backend, and what a write means is the same for
// every backend (src/store/record_writer.h).
//
// Writes happen only inside a WriteTransaction, which aborts in its
// destructor unless Commit() succeeded, so a write outside a transaction does
// not compile and a failed batch leaves nothing behind. One write transaction
// runs at a time per store, across threads and processes: BeginWrite waits
// for the one under way at most the busy timeout in all, then fails with
// Busy. Reads never wait for writers.
//
// Thread-safety: a Store may be used from many threads at once. A
// WriteTransaction belongs to the thread that began it; the next one can
// begin once it committed or was destroyed (a thread that begins a second
// one while its first is open gets an error rather than a deadlock).
//
// Several processes may open one store (braid serve and CLI commands on the
// same data directory). Change listeners fire for commits made by any of
// them: at once for this process's commits, within a few tens of
// milliseconds for other processes' commits.

#ifndef BRAID_STORE_H_
#define BRAID_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "braid/catalog.h"
#include "braid/changes.h"
#include "braid/clock.h"
#include "braid/instance_id.h"
#include "braid/record.h"
#include "braid/status.h"
#include "braid/version_stream.h"
#include "braid/write_transaction.h"

namespace braid {

enum class Durability {
  kFull,    // every commit is on stable storage before Commit() returns
  kNormal,  // commits survive a process crash; the last ones may be lost on power loss
};

// How a store behaves, whatever its backend (backend settings are in the
// spec given to Store::Open).
struct StoreOptions {
  bool create_if_missing = false;
  const Clock* clock = nullptr;  // nullptr: Clock::Real()
  Durability durability = Durability::kFull;
  std::chrono::milliseconds busy_timeout{30000};  // wait for another writer at most this long
  size_t max_body_bytes = 4 * 1024 * 1024;        // minified record body limit
};

// A blob that live records name (Store::ListBlobRefs).
struct BlobRef {
  std::string sha256;  // lowercase hex
  std::string md5;     // lowercase hex
  uint64_t size = 0;

  bool operator==(const BlobRef&) const = default;
};

struct ListQuery {
  std::string collection;
  std::string after_id;  // keyset pagination: ids > after_id, in byte order
  size_t limit = 100;
  bool include_deleted = false;
};

struct CollectionStats {
  std::string name;
  uint64_t live = 0;
  uint64_t deleted = 0;
};

struct StoreStats {
  InstanceId instance_id;
  int schema_version = 0;  // of the store's layout (docs/storage.md)
  uint64_t epoch = 0;
  uint64_t counter = 0;   // last record version counter issued here
  uint64_t last_seq = 0;  // newest change-log seq
  uint64_t horizon = 0;
  uint64_t changes = 0;  // events in the change log
  uint64_t live = 0;
  uint64_t deleted = 0;
  std::vector<CollectionStats> collections;
};

// The bytes a record takes in memory and on the wire, roughly: its text
// members (the body first of all). Replication bounds chunks with it.
size_t RecordBytes(const Record& r);

class Store;
// The change log's newest seq, horizon and epoch (a page with no events),
// without counting or reading records.
Result<ChangePage> LogHead(Store& store);

struct CompactResult {
  uint64_t events_removed = 0;
  uint64_t stale_versions_removed = 0;
  uint64_t horizon = 0;  // after compaction
};

// The error for a peer that knows more writes of this store's instance id
// (`seen`) than the store ever issued (`counter`): the store was restored
// in place from an older copy, and must not reuse its old version names.
std::string IdentityReusedMessage(const InstanceId& self, uint64_t seen, uint64_t counter);

class Store {
 public:
  // Opens (or with create_if_missing, creates) the store `spec` names:
  //   sqlite:PATH[?cache_mib=N]  the embedded SQLite store in database file
  //                              PATH; cache_mib: page cache per connection
  //                              (default 64)
  //   postgresql://[USER@]HOST[:PORT]/DATABASE[?PARAMS]
  //                              a PostgreSQL database (a libpq URI); several
  //                              processes may open one and serve one
  //                              instance (docs/storage.md, "PostgreSQL")
  // Upgrades a store of an older schema (docs/storage.md). Detects a store
  // that was copied from elsewhere, or that may have lost versions to a
  // power cut, and gives it a new instance id and epoch, so that no version
  // is ever issued twice. Errors: InvalidArgument (a spec braid does not
  // know), NotFound (no store and not create_if_missing), Corruption (not a
  // braid store, or a newer schema), IoError, Busy.
  static Result<std::unique_ptr<Store>> Open(std::string_view spec, const StoreOptions& options);

  virtual ~Store() = default;

  virtual InstanceId instance_id() const = 0;

  // Gives this store a fresh instance id (and change-log epoch), for a store
  // restored in place from an older copy: its counter may be behind writes
  // its old identity already replicated, and reusing their names would lose
  // them. The old identity's writes become a peer's. Other processes on the
  // same store refuse to write until restarted; no other thread of this
  // process may use the store meanwhile. Returns the new id.
  virtual Result<InstanceId> RenewIdentity() = 0;

  // Forgets every record (`braid clean cache`): records, their versions,
  // change log, held versions, blob index and FSIC go, as if none had ever
  // been written or received, so the next pull brings everything back. No
  // tombstone is written: peers lose nothing. The store also takes a fresh
  // instance id, as RenewIdentity does: the writes of the old one (which
  // it no longer holds) become a peer's, to be pulled back like any other,
  // and no version name is ever issued twice. Settings, accounts, remotes
  // and certificates stay; the change log gets a new epoch, its horizon
  // moves to its last seq (delta cursors get resyncRequired). Blobs stay on
  // disk, unnamed until records name them again. One transaction; the
  // same conditions as RenewIdentity (no other process writing). Returns
  // the number of records forgotten.
  virtual Result<uint64_t> ClearRecords() = 0;

  // Starts the write transaction, waiting for other writers up to the busy
  // timeout. Errors: Busy, IoError.
  Result<std::unique_ptr<WriteTransaction>> BeginWrite() {
    return BeginWrite(options_durability());
  }
  // With the durability of its commit chosen: replication applies chunks
  // with kNormal, since a chunk lost to a power cut is fetched again (its
  // FSIC advance is lost with it), while every local write keeps the
  // store's setting.
  virtual Result<std::unique_ptr<WriteTransaction>> BeginWrite(Durability durability) = 0;
  // The durability braid.toml asked for.
  virtual Durability options_durability() const = 0;
  // The largest record body this store accepts (StoreOptions::max_body_bytes)
  // and the clock it reads: what a receiver needs to check peers' versions
  // as WriteTransaction::Apply would (CheckPeerVersion).
  virtual size_t max_body_bytes() const = 0;
  virtual const Clock& clock() const = 0;

  // The record, tombstones included; nullopt when it never existed.
  virtual Result<std::optional<Record>> Get(std::string_view collection, std::string_view id) = 0;
  virtual Result<std::vector<Record>> List(const ListQuery& query) = 0;
  virtual Result<ChangePage> ReadChanges(const ChangeQuery& query) = 0;
  virtual Result<StoreStats> Stats() = 0;

  // Compacts change-log events logged before `before_ms`: for each item,
  // drops the events up to its last old delete (create/delete pairs of items
  // that no longer exist) and all but the newest old update; raises the
  // horizon to the highest seq dropped. Also purges stale entries of the
  // version streams. Works in bounded batches so other writers are not
  // locked out for long.
  virtual Result<CompactResult> Compact(int64_t before_ms) = 0;

  // Replication reads.
  // The FSIC for a filter: per instance, the counter up to which this store
  // holds every write within all of `prefixes` (empty: everything); this
  // instance's own entry is its counter.
  virtual Result<VersionVector> Fsic(const std::vector<std::string>& prefixes) = 0;
  // Every instance this store has heard of, in id order.
  virtual Result<std::vector<InstanceId>> KnownInstances() = 0;
  // Entries of `origin`'s stream after `after`, ordered by counter (a range
  // scan), stale ones included and flagged: at most `limit`, and no more
  // once their records add up to `max_bytes` (RecordBytes; the entry that
  // reaches it is included, so at least one is returned when any exists).
  virtual Result<std::vector<StreamedVersion>> StreamVersions(const InstanceId& origin,
                                                              uint64_t after, size_t limit,
                                                              size_t max_bytes) = 0;
  // StreamVersions' entries in their wire form; `max_bytes` counts the
  // records' wire bytes.
  virtual Result<WireVersions> StreamWireVersions(const InstanceId& origin, uint64_t after,
                                                  size_t limit, size_t max_bytes) = 0;
  // How many entries StreamVersions(origin, after, ...) would return in all
  // (stale ones included: an upper bound of the records to send).
  virtual Result<uint64_t> CountVersions(const InstanceId& origin, uint64_t after) = 0;
  // The last position of each origin's stream (0: none): a sender stops
  // there, leaving what is written during its session to the next one.
  virtual Result<std::vector<uint64_t>> StreamEnds(const std::vector<InstanceId>& origins) = 0;

  // Settings and conflicts.
  virtual Result<ConflictPolicy> Policy(std::string_view collection) = 0;
  virtual Result<std::vector<std::pair<std::string, ConflictPolicy>>> Policies() = 0;
  // (collection, spec) of every collection with search fields, by name.
  virtual Result<std::vector<std::pair<std::string, std::string>>> SearchFields() = 0;
  virtual Result<std::optional<Remote>> GetRemote(std::string_view name) = 0;
  virtual Result<std::vector<Remote>> ListRemotes() = 0;
  // (collection, references) of every collection with references, by name.
  virtual Result<std::vector<std::pair<std::string, std::vector<Reference>>>> References() = 0;
  // A remote's marks of one kind, per origin.
  virtual Result<VersionVector> Marks(std::string_view remote, MarkKind kind) = 0;
  // The token whose SHA-256 is `sha256`, or nullopt.
  virtual Result<std::optional<TokenInfo>> FindToken(std::string_view sha256) = 0;
  virtual Result<std::vector<TokenInfo>> ListTokens() = 0;
  virtual Result<std::optional<User>> GetUser(std::string_view name) = 0;
  virtual Result<std::vector<User>> ListUsers() = 0;  // by name
  virtual Result<std::optional<CertificateRow>> GetCertificate(std::string_view serial) = 0;
  virtual Result<std::vector<CertificateRow>> ListCertificates() = 0;  // by serial
  // Those binding `key` (CertificateRow::key): an instance's own, one
  // indexed lookup however many it signed.
  virtual Result<std::vector<CertificateRow>> ListCertificatesOf(std::string_view key) = 0;
  virtual Result<std::vector<RevocationRow>> ListRevocations() = 0;  // by serial
  // Which of `serials` are revoked: one indexed lookup each.
  virtual Result<std::vector<std::string>> RevokedAmong(
      const std::vector<std::string>& serials) = 0;
  // Records with conflicts or held versions, by (collection, id) after the
  // given key; at most `limit`.
  virtual Result<std::vector<Record>> ListConflicts(std::string_view after_collection,
                                                    std::string_view after_id, size_t limit) = 0;
  // Versions held aside by the skip policy for one record.
  virtual Result<std::vector<Record>> HeldVersions(std::string_view collection,
                                                   std::string_view id) = 0;
  // The replication session whose id hashes to `key` (SyncSessionRow), or
  // nullopt: one a peer opened with any process serving this store.
  virtual Result<std::optional<SyncSessionRow>> GetSyncSession(std::string_view key) = 0;

  // Blobs (src/blob/): the store keeps, in the transaction of every write,
  // which blobs live records name in their "_attachments" (schema 5's
  // blob_refs), and which blobs a write stopped naming.
  //
  // The distinct blobs live records name, by SHA-256 after `after_sha256`;
  // at most `limit`.
  virtual Result<std::vector<BlobRef>> ListBlobRefs(std::string_view after_sha256,
                                                    size_t limit) = 0;
  // The blobs named by the records of change-log events after seq `after`
  // up to `upto` (a window the caller bounds), each once.
  virtual Result<std::vector<BlobRef>> BlobRefsChanged(uint64_t after, uint64_t upto) = 0;
  // Live records that name blob `sha256`, at most `limit` (by row).
  virtual Result<std::vector<Record>> RecordsNamingBlob(std::string_view sha256, size_t limit) = 0;
  // The partitions of the live records that name blob `sha256` (who may
  // read it), at most `limit`; one indexed lookup, no record decoded.
  virtual Result<std::vector<std::string>> BlobReaders(std::string_view sha256, size_t limit) = 0;
  // Blobs that a write stopped naming since ForgetDroppedBlobs() last
  // forgot them (some may be named again since), at most `limit`.
  virtual Result<std::vector<std::string>> DroppedBlobs(size_t limit) = 0;
  // The last run of each mirror step, by step name.
  virtual Result<std::vector<StepRun>> StepRuns() = 0;

  // Several machines' processes serve this store as one instance (the
  // PostgreSQL backend): what they must agree on, the instance's signing
  // key first of all, is kept in the store rather than in one data
  // directory.
  virtual bool shared() const { return false; }
  // The value kept under `name` in a shared store: `make`'s result the
  // first time any process asks, the same for every process after that.
  // Errors: InvalidArgument on a store that is not shared(), storage
  // errors, `make`'s.
  virtual Result<std::string> SharedValue(std::string_view name,
                                          const std::function<Result<std::string>()>& make) {
    (void)make;
    return Status::InvalidArgument("the store is not shared: it keeps no value \"" +
                                   std::string(name) + "\"");
  }

  // Registers `fn` to run after a commit (of this process or another) adds
  // change-log events. It runs on an arbitrary thread and must be quick and
  // must not call back into the store. Returns an id for RemoveChangeListener.
  virtual uint64_t AddChangeListener(std::function<void()> fn) = 0;
  virtual void RemoveChangeListener(uint64_t id) = 0;
};

}  // namespace braid

#endif  // BRAID_STORE_H_
