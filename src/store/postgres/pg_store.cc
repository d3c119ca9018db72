#include "store/postgres/pg_store.h"

#include <algorithm>
#include <chrono>

#include "base/ids.h"
#include "base/log.h"
#include "store/record_columns.h"

namespace braid {

namespace postgres {

namespace {

// The channel every commit that adds change-log events notifies.
constexpr const char* kChannel = "braid_changes";
constexpr auto kListenPoll = std::chrono::milliseconds(100);

// What a new connection is set to: synchronous commits whatever the
// server's default (a commit acknowledged is on the server's disk: an
// asynchronous one lost in a server crash would let the store issue one
// version name twice), byte-order text comparisons come from the schema.
constexpr const char* kSessionSettings =
    "SET synchronous_commit = on; SET application_name = 'braid'; "
    "SET client_min_messages = warning";

}  // namespace

Result<StateRow> ReadState(pg::Conn& conn, bool lock) {
  BRAID_ASSIGN_OR_RETURN(
      pg::Rows r, lock
                      ? conn.Query("SELECT self, epoch, counter, seq, hlc, horizon, rid FROM state "
                                   "WHERE k = 1 FOR UPDATE")
                      : conn.Query("SELECT self, epoch, counter, seq, hlc, horizon, rid FROM state "
                                   "WHERE k = 1"));
  if (r.empty()) return Status::Corruption("the store has no state row");
  StateRow st;
  st.self = static_cast<uint32_t>(r.Int(0, 0));
  st.epoch = static_cast<uint64_t>(r.Int(0, 1));
  st.counter = static_cast<uint64_t>(r.Int(0, 2));
  st.seq = static_cast<uint64_t>(r.Int(0, 3));
  st.hlc = static_cast<uint64_t>(r.Int(0, 4));
  st.horizon = static_cast<uint64_t>(r.Int(0, 5));
  st.rid = r.Int(0, 6);
  return st;
}

PgStore::PgStore(const PgOptions& pg, const StoreOptions& options)
    : pg_(pg),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : &Clock::Real()),
      notify_token_(std::to_string(RandomU64())) {}

PgStore::~PgStore() {
  stopping_ = true;
  if (listener_.joinable()) listener_.join();
}

Result<std::unique_ptr<Store>> PgStore::Open(const PgOptions& pg, const StoreOptions& options) {
  BRAID_RETURN_IF_ERROR(
      pg::Conn::CheckConninfo(pg.conninfo).WithContext("store \"" + pg.conninfo + "\""));
  std::unique_ptr<PgStore> store(new PgStore(pg, options));
  BRAID_RETURN_IF_ERROR(store->Initialize());
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::unique_ptr<pg::Conn>> PgStore::OpenConnection() {
  BRAID_ASSIGN_OR_RETURN(auto conn, pg::Conn::Open(pg_.conninfo));
  BRAID_RETURN_IF_ERROR(conn->Exec(kSessionSettings));
  return conn;
}

Status PgStore::Reconnect(pg::Conn& conn) {
  BRAID_RETURN_IF_ERROR(conn.Reset());
  return conn.Exec(kSessionSettings);
}

Status PgStore::InSnapshot(pg::Conn& conn, const std::function<Status()>& work) {
  BRAID_RETURN_IF_ERROR(conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  Status s = work();
  if (s.ok()) s = conn.Exec("COMMIT");
  if (!s.ok()) (void)conn.Exec("ROLLBACK");
  return s;
}

Status PgStore::Initialize() NO_THREAD_SAFETY_ANALYSIS {
  BRAID_ASSIGN_OR_RETURN(writer_, OpenConnection());
  pg::Conn& conn = *writer_;
  const std::string where = "the PostgreSQL database of " + pg_.conninfo;
  auto schema_version = [&]() -> Result<int64_t> {
    BRAID_ASSIGN_OR_RETURN(pg::Rows t, conn.Query("SELECT to_regclass('meta') IS NOT NULL"));
    if (!t.Bool(0, 0)) return int64_t{0};
    BRAID_ASSIGN_OR_RETURN(pg::Rows v, conn.Query("SELECT value FROM meta WHERE key = 'schema'"));
    if (v.empty()) return Status::Corruption(where + " is not a braid store (meta has no schema)");
    return std::stoll(std::string(v.Text(0, 0)));
  };
  BRAID_ASSIGN_OR_RETURN(int64_t version, schema_version());
  if (version == 0) {
    if (!options_.create_if_missing) {
      return Status::NotFound("no braid store in " + where + "; run `braid init --store URL`");
    }
    // One creator at a time: a second process waits for the first, then
    // finds the store made.
    BRAID_RETURN_IF_ERROR(
        conn.Exec("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(kPgSchemaLock) + ")"));
    auto create = [&]() -> Status {
      BRAID_ASSIGN_OR_RETURN(version, schema_version());
      if (version != 0) return Status::OK();
      BRAID_ASSIGN_OR_RETURN(pg::Rows tables,
                             conn.Query("SELECT count(*) FROM pg_tables WHERE schemaname = "
                                        "current_schema()"));
      if (tables.Int(0, 0) != 0) {
        return Status::Corruption(where + " has tables of its own: not a braid store");
      }
      BRAID_RETURN_IF_ERROR(CreateSchema(conn));
      const InstanceId id = InstanceId::Random();
      pg::Params ins;
      ins.AddBytes(id.AsBytes());
      BRAID_RETURN_IF_ERROR(
          conn.Query("INSERT INTO instances(num, id) VALUES (1, $1)", ins).status());
      pg::Params st;
      st.Add(static_cast<int64_t>(RandomU64() >> 1));
      BRAID_RETURN_IF_ERROR(
          conn.Query("INSERT INTO state(k, self, epoch, counter, seq, hlc, horizon, rid) "
                     "VALUES (1, 1, $1, 0, 0, 0, 0, 0)",
                     st)
              .status());
      pg::Params meta;
      meta.Add(std::to_string(kPgSchemaVersion));
      BRAID_RETURN_IF_ERROR(
          conn.Query("INSERT INTO meta(key, value) VALUES ('schema', $1)", meta).status());
      version = kPgSchemaVersion;
      spdlog::info("created store in {} (instance {})", where, id.Hex());
      return Status::OK();
    };
    Status s = create();
    if (s.ok()) s = conn.Exec("COMMIT");
    if (!s.ok()) {
      (void)conn.Exec("ROLLBACK");
      return s.WithContext("creating the store");
    }
  }
  if (version < kPgSchemaVersion) {
    BRAID_ASSIGN_OR_RETURN(version, MigrateSchema(conn, where, version));
  }
  if (version > kPgSchemaVersion) {
    return Status::Corruption(where + " has schema " + std::to_string(version) +
                              ", newer than this braid's (" + std::to_string(kPgSchemaVersion) +
                              "): upgrade braid");
  }
  BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(conn));
  BRAID_ASSIGN_OR_RETURN(self_id_, InstanceFor(conn, st.self));
  self_num_ = st.self;
  return Status::OK();
}

Result<InstanceId> PgStore::InstanceFor(pg::Conn& conn, uint32_t num,
                                        const PendingInstances* pending) {
  if (pending != nullptr) {
    auto it = pending->find(num);
    if (it != pending->end()) return it->second;
  }
  if (auto cached = instances_.Find(num)) return *cached;
  pg::Params p;
  p.Add(static_cast<int64_t>(num));
  BRAID_ASSIGN_OR_RETURN(pg::Rows r, conn.Query("SELECT id FROM instances WHERE num = $1", p));
  if (r.empty()) return Status::Corruption("unknown instance number " + std::to_string(num));
  BRAID_ASSIGN_OR_RETURN(const InstanceId id, InstanceId::FromBytes(r.Bytes(0, 0)));
  CacheInstance(num, id);
  return id;
}

Result<std::optional<uint32_t>> PgStore::NumOf(pg::Conn& conn, const InstanceId& id) {
  if (auto num = CachedNum(id)) return num;
  pg::Params p;
  p.AddBytes(id.AsBytes());
  BRAID_ASSIGN_OR_RETURN(pg::Rows r, conn.Query("SELECT num FROM instances WHERE id = $1", p));
  if (r.empty()) return std::optional<uint32_t>();
  const auto num = static_cast<uint32_t>(r.Int(0, 0));
  CacheInstance(num, id);
  return std::optional<uint32_t>(num);
}

std::optional<uint32_t> PgStore::CachedNum(const InstanceId& id) { return instances_.NumOf(id); }

void PgStore::CacheInstance(uint32_t num, const InstanceId& id) { instances_.Add(num, id); }

Result<VersionVector> PgStore::ToVersionVector(pg::Conn& conn, const LocalVector& local,
                                               const PendingInstances* pending) {
  return LocalToVersionVector(local, self_id_, self_num_,
                              [&](uint32_t num) { return InstanceFor(conn, num, pending); });
}

Status PgStore::DecodeRecord(pg::Conn& conn, const pg::Rows& rows, int row, int col, Record* out,
                             const PendingInstances* pending) {
  return DecodeRecordColumns(
      pg::Row(rows, row), col, self_id_, self_num_,
      [&](uint32_t num) { return InstanceFor(conn, num, pending); }, out);
}

Result<std::vector<Record>> PgStore::DecodeRecords(pg::Conn& conn, const pg::Rows& rows) {
  std::vector<Record> out(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    BRAID_RETURN_IF_ERROR(DecodeRecord(conn, rows, i, 0, &out[static_cast<size_t>(i)]));
  }
  return out;
}

PgStore::Reader::~Reader() {
  if (conn_ == nullptr || !conn_->healthy()) return;
  MutexLock lock(store_->pool_mu_);
  if (store_->idle_readers_.size() < static_cast<size_t>(store_->pg_.readers)) {
    store_->idle_readers_.push_back(std::move(conn_));
  }
}

Result<PgStore::Reader> PgStore::AcquireReader() {
  {
    MutexLock lock(pool_mu_);
    while (!idle_readers_.empty()) {
      auto conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      if (conn->healthy()) return Reader(this, std::move(conn));
    }
  }
  BRAID_ASSIGN_OR_RETURN(auto conn, OpenConnection());
  return Reader(this, std::move(conn));
}

Status PgStore::LockWriter(TimedMutex& mu,
                           std::chrono::milliseconds timeout) NO_THREAD_SAFETY_ANALYSIS {
  if (mu.TryLockFor(timeout)) return Status::OK();
  return Status::Busy("another write of this process kept the store for the whole busy timeout (" +
                      std::to_string(timeout.count()) +
                      " ms, store.busy_timeout_ms in braid.toml); retry");
}

Result<std::unique_ptr<WriteTransaction>> PgStore::BeginWrite(Durability)
    NO_THREAD_SAFETY_ANALYSIS {
  return NewWriteTransaction(this, writer_.get(), &write_mu_);
}

Result<std::optional<Record>> PgStore::Get(std::string_view collection, std::string_view id) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Conn& conn = reader.conn();
  pg::Params p;
  p.Add(collection).Add(id);
  BRAID_ASSIGN_OR_RETURN(pg::Rows r, conn.Query("SELECT " BRAID_PG_RECORD_COLUMNS
                                                " FROM records r WHERE collection = $1 AND id = $2",
                                                p));
  if (r.empty()) return std::optional<Record>();
  Record rec;
  BRAID_RETURN_IF_ERROR(DecodeRecord(conn, r, 0, 0, &rec));
  return std::optional<Record>(std::move(rec));
}

Result<std::vector<Record>> PgStore::List(const ListQuery& q) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Conn& conn = reader.conn();
  pg::Params p;
  p.Add(q.collection).Add(q.after_id).Add(static_cast<int64_t>(q.limit));
  BRAID_ASSIGN_OR_RETURN(pg::Rows r,
                         q.include_deleted
                             ? conn.Query("SELECT " BRAID_PG_RECORD_COLUMNS
                                          " FROM records r WHERE collection = $1 AND id > $2 "
                                          "ORDER BY id LIMIT $3",
                                          p)
                             : conn.Query("SELECT " BRAID_PG_RECORD_COLUMNS
                                          " FROM records r WHERE collection = $1 AND id > $2 "
                                          "AND NOT deleted ORDER BY id LIMIT $3",
                                          p));
  return DecodeRecords(conn, r);
}

#define BRAID_CHANGE_SELECT                                      \
  "SELECT c.seq, c.op, c.at, c.parent, " BRAID_PG_RECORD_COLUMNS \
  " FROM changes c JOIN records r ON r.rid = c.rid WHERE "

Result<ChangePage> PgStore::ReadChanges(const ChangeQuery& q) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Conn& conn = reader.conn();
  ChangePage page;
  BRAID_RETURN_IF_ERROR(InSnapshot(conn, [&]() -> Status {
    BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(conn));
    page.last_seq = st.seq;
    page.horizon = st.horizon;
    page.epoch = st.epoch;
    const bool windowed = q.collection && !q.parent;
    const uint64_t window_end = std::min(st.seq, q.after_seq + kCollectionScanWindow);
    pg::Params p;
    p.Add(static_cast<int64_t>(q.after_seq));
    p.Add(q.parent ? std::string_view(*q.parent) : std::string_view());
    p.Add(q.collection ? std::string_view(*q.collection) : std::string_view());
    p.Add(static_cast<int64_t>(q.limit + 1));  // one extra row answers has_more
    p.Add(static_cast<int64_t>(window_end));
    // One statement per filter combination, each a range scan of an index;
    // every statement names all five parameters, so they bind alike.
    BRAID_ASSIGN_OR_RETURN(
        pg::Rows r,
        q.parent
            ? (q.collection ? conn.Query(BRAID_CHANGE_SELECT
                                         "c.parent = $2 AND c.collection = $3 AND c.seq > $1 "
                                         "AND $5::bigint >= 0 ORDER BY c.seq LIMIT $4",
                                         p)
                            : conn.Query(BRAID_CHANGE_SELECT
                                         "c.parent = $2 AND c.seq > $1 AND $3::text IS NOT NULL "
                                         "AND $5::bigint >= 0 ORDER BY c.seq LIMIT $4",
                                         p))
        : q.collection
            ? conn.Query(BRAID_CHANGE_SELECT "c.seq > $1 AND c.seq <= $5 AND c.collection = $3 "
                                             "AND $2::text IS NOT NULL ORDER BY c.seq LIMIT $4",
                         p)
            : conn.Query(BRAID_CHANGE_SELECT
                         "c.seq > $1 AND $2::text IS NOT NULL AND $3::text IS NOT NULL "
                         "AND $5::bigint >= 0 ORDER BY c.seq LIMIT $4",
                         p));
    page.events.reserve(std::min<size_t>(q.limit, static_cast<size_t>(r.size())));
    for (int i = 0; i < r.size(); ++i) {
      if (page.events.size() == q.limit) {
        page.has_more = true;
        break;
      }
      ChangeEvent& e = page.events.emplace_back();
      e.seq = static_cast<uint64_t>(r.Int(i, 0));
      e.op = static_cast<ChangeOp>(r.Int(i, 1));
      e.at_ms = r.Int(i, 2);
      e.parent = r.OptionalText(i, 3);
      e.collection.assign(r.Text(i, 4));
      e.id.assign(r.Text(i, 5));
      if (q.with_records) BRAID_RETURN_IF_ERROR(DecodeRecord(conn, r, i, 4, &e.record.emplace()));
    }
    if (page.has_more) {
      page.complete_to = page.events.back().seq;
    } else if (windowed && window_end < st.seq) {
      page.complete_to = window_end;
      page.has_more = true;
    } else {
      page.complete_to = std::max(q.after_seq, st.seq);
    }
    return Status::OK();
  }));
  return page;
}

#undef BRAID_CHANGE_SELECT

Result<StoreStats> PgStore::Stats() {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Conn& conn = reader.conn();
  StoreStats stats;
  BRAID_RETURN_IF_ERROR(InSnapshot(conn, [&]() -> Status {
    BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(conn));
    stats.instance_id = self_id_;
    BRAID_ASSIGN_OR_RETURN(pg::Rows v, conn.Query("SELECT value FROM meta WHERE key = 'schema'"));
    stats.schema_version = v.empty() ? 0 : std::stoi(std::string(v.Text(0, 0)));
    stats.epoch = st.epoch;
    stats.counter = st.counter;
    stats.last_seq = st.seq;
    stats.horizon = st.horizon;
    BRAID_ASSIGN_OR_RETURN(pg::Rows c, conn.Query("SELECT count(*) FROM changes"));
    stats.changes = static_cast<uint64_t>(c.Int(0, 0));
    BRAID_ASSIGN_OR_RETURN(pg::Rows r,
                           conn.Query("SELECT collection, count(*) FILTER (WHERE NOT deleted), "
                                      "count(*) FILTER (WHERE deleted) FROM records "
                                      "GROUP BY collection ORDER BY collection"));
    for (int i = 0; i < r.size(); ++i) {
      CollectionStats& cs = stats.collections.emplace_back();
      cs.name.assign(r.Text(i, 0));
      cs.live = static_cast<uint64_t>(r.Int(i, 1));
      cs.deleted = static_cast<uint64_t>(r.Int(i, 2));
      stats.live += cs.live;
      stats.deleted += cs.deleted;
    }
    return Status::OK();
  }));
  return stats;
}

// Inside a write transaction holding the state row: this store writes from
// now on as a fresh instance, with a fresh change-log epoch (as SQLite's
// Rekey: the old identity's writes become a peer's).
Result<InstanceId> PgStore::Rekey(pg::Conn& conn, bool holds_old_writes) {
  BRAID_ASSIGN_OR_RETURN(const StateRow old, ReadState(conn, /*lock=*/true));
  const InstanceId id = InstanceId::Random();
  pg::Params ins;
  ins.AddBytes(id.AsBytes());
  BRAID_ASSIGN_OR_RETURN(pg::Rows n,
                         conn.Query("INSERT INTO instances(num, id) SELECT coalesce(max(num), 0) "
                                    "+ 1, $1 FROM instances RETURNING num",
                                    ins));
  const int64_t num = n.Int(0, 0);
  pg::Params up;
  up.Add(num).Add(static_cast<int64_t>(RandomU64() >> 1));
  BRAID_RETURN_IF_ERROR(
      conn.Query("UPDATE state SET self = $1, epoch = $2, counter = 0 WHERE k = 1", up).status());
  if (!holds_old_writes) return id;
  pg::Params fsic;
  fsic.Add(static_cast<int64_t>(old.self)).Add(static_cast<int64_t>(old.counter));
  BRAID_RETURN_IF_ERROR(conn.Query("INSERT INTO fsic(prefix, origin, counter) VALUES ('', $1, $2) "
                                   "ON CONFLICT (prefix, origin) DO UPDATE "
                                   "SET counter = GREATEST(fsic.counter, excluded.counter)",
                                   fsic)
                            .status());
  return id;
}

Result<InstanceId> PgStore::InNewIdentity(std::string_view what,
                                          const std::function<Result<InstanceId>(pg::Conn&)>& work)
    NO_THREAD_SAFETY_ANALYSIS {
  BRAID_RETURN_IF_ERROR(LockWriter(write_mu_, options_.busy_timeout).WithContext(what));
  WriterUnlock unlock{write_mu_};
  pg::Conn& conn = *writer_;
  BRAID_RETURN_IF_ERROR(
      conn.Exec("BEGIN; SET LOCAL lock_timeout = " + std::to_string(options_.busy_timeout.count()))
          .WithContext(what));
  Result<InstanceId> id = work(conn);
  Status s = id.status();
  if (s.ok()) {
    pg::Params p;
    p.Add(notify_token_);
    s = conn.Query("SELECT pg_notify('braid_changes', $1)", p).status();
  }
  if (s.ok()) s = conn.Exec("COMMIT");
  if (!s.ok()) {
    (void)conn.Exec("ROLLBACK");
    return s.WithContext(what);
  }
  BRAID_ASSIGN_OR_RETURN(const StateRow st, ReadState(conn));
  CacheInstance(st.self, *id);
  self_id_ = *id;
  self_num_ = st.self;
  NotifyListeners();
  return *id;
}

Result<InstanceId> PgStore::RenewIdentity() {
  return InNewIdentity("renewing the identity", [this](pg::Conn& conn) { return Rekey(conn); });
}

// In meta under "shared:NAME". The first process to insert it wins; the
// others read its value (a racing one's `make` result is dropped).
Result<std::string> PgStore::SharedValue(std::string_view name,
                                         const std::function<Result<std::string>()>& make) {
  BRAID_ASSIGN_OR_RETURN(Reader reader, AcquireReader());
  pg::Conn& conn = reader.conn();
  const std::string key = "shared:" + std::string(name);
  pg::Params find;
  find.Add(key);
  BRAID_ASSIGN_OR_RETURN(pg::Rows r, conn.Query("SELECT value FROM meta WHERE key = $1", find));
  if (!r.empty()) return std::string(r.Text(0, 0));
  BRAID_ASSIGN_OR_RETURN(const std::string made, make());
  pg::Params put;
  put.Add(key).Add(made);
  BRAID_RETURN_IF_ERROR(conn.Query("INSERT INTO meta(key, value) VALUES ($1, $2) "
                                   "ON CONFLICT (key) DO NOTHING",
                                   put)
                            .status());
  BRAID_ASSIGN_OR_RETURN(r, conn.Query("SELECT value FROM meta WHERE key = $1", find));
  if (r.empty()) return Status::Internal("shared value " + key + " vanished");
  return std::string(r.Text(0, 0));
}

uint64_t PgStore::AddChangeListener(std::function<void()> fn) {
  MutexLock lock(listen_mu_);
  const uint64_t id = listeners_.Add(std::move(fn));
  if (!listener_.joinable()) {
    // LISTEN before returning, so a commit made right after registration
    // is noticed.
    auto conn = OpenConnection();
    Status s = conn.ok() ? (*conn)->Exec(std::string("LISTEN ") + kChannel) : conn.status();
    if (!s.ok()) {
      spdlog::error("change listener cannot listen to the store: {}", s.ToString());
      return id;
    }
    listener_ =
        std::thread([this, conn = std::move(*conn)]() mutable { ListenLoop(std::move(conn)); });
  }
  return id;
}

void PgStore::RemoveChangeListener(uint64_t id) { listeners_.Remove(id); }

void PgStore::NotifyListeners() { listeners_.Notify(); }

// Other processes' commits arrive as notifications. A lost connection is
// made again (with a wake-up: commits in between were not heard).
void PgStore::ListenLoop(std::unique_ptr<pg::Conn> conn) {
  auto backoff = std::chrono::milliseconds(100);
  while (!stopping_) {
    if (conn == nullptr) {
      std::this_thread::sleep_for(backoff);
      auto again = OpenConnection();
      Status s = again.ok() ? (*again)->Exec(std::string("LISTEN ") + kChannel) : again.status();
      if (!s.ok()) {
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        continue;
      }
      conn = std::move(*again);
      backoff = std::chrono::milliseconds(100);
      NotifyListeners();
    }
    auto payloads = conn->WaitForNotifications(kListenPoll);
    if (!payloads.ok()) {
      spdlog::warn("listening for the store's commits: {}; reconnecting",
                   payloads.status().ToString());
      conn.reset();
      continue;
    }
    const bool others = std::any_of(payloads->begin(), payloads->end(),
                                    [this](const std::string& p) { return p != notify_token_; });
    if (others) NotifyListeners();
  }
}

}  // namespace postgres
}  // namespace braid
