// PgRowTransaction: begin, commit, records, versions and the change log
// (row_txn.h explains the design).

#include "store/postgres/row_txn.h"

#include <algorithm>

#include "store/record_columns.h"
#include "store/record_writer.h"

namespace braid::postgres {
namespace {

// Versions-table entries and change-log events buffered before they are
// sent; far above a replication chunk's, so a chunk goes in one COPY each.
constexpr size_t kRowBuffer = 16384;

// A versions key taken already: one write has one name per instance
// (docs/remotes.md, "Ids under several names").
Status NamedOnce(Status s) {
  if (s.code() != Code::kConflict) return s;
  return Status::Conflict(
      "a version being stored is already stored here under another record's name (one write "
      "has one name per instance; a remote's prefix on one path and not on another does that: "
      "see docs/remotes.md, \"Ids under several names\"); nothing of it was applied (" +
      s.message() + ")");
}

void CopyField(std::string_view text, std::string* out) {
  pg::AppendCopyText(text, out);
  out->push_back('\t');
}
void CopyNull(std::string* out) { out->append("\\N\t"); }
void CopyInt(int64_t v, std::string* out) {
  out->append(std::to_string(v));
  out->push_back('\t');
}
// Ends a COPY line: its last field's tab becomes the newline.
void EndLine(std::string* out) { out->back() = '\n'; }

}  // namespace

PgRowTransaction::PgRowTransaction(PgStore* store, pg::Conn* conn, TimedMutex* mu,
                                   const StateRow& state)
    : store_(store),
      conn_(conn),
      mu_(mu),
      state_(state),
      begin_{state.counter, state.seq, state.hlc},
      next_rid_(state.rid) {}

PgRowTransaction::~PgRowTransaction() {
  if (!done_) (void)conn_->Exec("ROLLBACK");
  Release();
}

void PgRowTransaction::Release() {
  if (!released_) {
    store_->writer_thread_.store(std::thread::id());
    mu_->Unlock();
    released_ = true;
  }
}

std::string PgRowTransaction::Key(std::string_view collection, std::string_view id) {
  std::string key;
  key.reserve(collection.size() + 1 + id.size());
  key.append(collection).push_back('\0');
  key.append(id);
  return key;
}

Result<size_t> PgRowTransaction::Prefetch(
    const std::vector<std::pair<std::string_view, std::string_view>>& names, bool assume_new) {
  // What an earlier chunk read is not needed any more (and rows written
  // since are pending or were sent).
  fetched_.clear();
  assume_new_ = assume_new;
  if (assume_new) return size_t{0};
  pg::Array collections(pg::Array::Type::kText);
  pg::Array ids(pg::Array::Type::kText);
  std::vector<std::string> keys;
  keys.reserve(names.size());
  for (const auto& [collection, id] : names) {
    std::string key = Key(collection, id);
    if (pending_rids_.count(key) != 0) continue;
    collections.Add(collection);
    ids.Add(id);
    keys.push_back(std::move(key));
  }
  if (keys.empty()) return size_t{0};
  pg::Params p;
  p.Add(collections).Add(ids);
  // Planned at every call, not prepared: a plan cached while `records`
  // was small (a new store's first chunks) scans the whole table and joins
  // by hash for as long as it stays cached, which made an initial pull's
  // lookups grow with the table (bench/pg_bench); planned with the arrays'
  // sizes known, it probes the (collection, id) index.
  static const std::string kPrefetch = "SELECT r.rid, " BRAID_PG_RECORD_COLUMNS
                                       " FROM unnest($1::text[], $2::text[]) AS n(c, i) "
                                       "JOIN records r ON r.collection = n.c AND r.id = n.i";
  BRAID_ASSIGN_OR_RETURN(pg::Rows r, conn_->QueryText(kPrefetch, p));
  for (std::string& key : keys) fetched_.emplace(std::move(key), std::nullopt);
  for (int i = 0; i < r.size(); ++i) {
    StoredRecord row;
    row.rid = r.Int(i, 0);
    BRAID_RETURN_IF_ERROR(store_->DecodeRecord(*conn_, r, i, 1, &row.record, &new_instances_));
    fetched_[Key(row.record.collection, row.record.id)] = std::move(row);
  }
  return static_cast<size_t>(r.size());
}

Result<std::optional<StoredRecord>> PgRowTransaction::Load(std::string_view collection,
                                                           std::string_view id) {
  const std::string key = Key(collection, id);
  if (auto it = pending_rids_.find(key); it != pending_rids_.end()) {
    return std::optional<StoredRecord>(StoredRecord{it->second, pending_rows_[it->second].record});
  }
  if (auto it = fetched_.find(key); it != fetched_.end()) return it->second;
  pg::Params p;
  p.Add(collection).Add(id);
  BRAID_ASSIGN_OR_RETURN(pg::Rows r,
                         conn_->Query("SELECT r.rid, " BRAID_PG_RECORD_COLUMNS
                                      " FROM records r WHERE collection = $1 AND id = $2",
                                      p));
  if (r.empty()) return std::optional<StoredRecord>();
  StoredRecord row;
  row.rid = r.Int(0, 0);
  BRAID_RETURN_IF_ERROR(store_->DecodeRecord(*conn_, r, 0, 1, &row.record, &new_instances_));
  return std::optional<StoredRecord>(std::move(row));
}

Result<uint32_t> PgRowTransaction::NumFor(const InstanceId& id) {
  if (id == store_->instance_id()) return state_.self;
  if (last_num_ && last_num_->first == id) return last_num_->second;
  if (auto num = store_->CachedNum(id)) {
    last_num_.emplace(id, *num);
    return *num;
  }
  for (const auto& [num, pending] : new_instances_) {
    if (pending == id) return num;
  }
  BRAID_ASSIGN_OR_RETURN(const auto found, store_->NumOf(*conn_, id));
  if (found) return *found;
  // The state row is held: no other writer adds a number meanwhile.
  pg::Params p;
  p.AddBytes(id.AsBytes());
  BRAID_ASSIGN_OR_RETURN(pg::Rows r,
                         conn_->Query("INSERT INTO instances(num, id) SELECT coalesce(max(num), "
                                      "0) + 1, $1 FROM instances RETURNING num",
                                      p));
  const auto num = static_cast<uint32_t>(r.Int(0, 0));
  new_instances_.emplace(num, id);  // cached once committed
  return num;
}

Status PgRowTransaction::LocalForms(const Record& r, uint32_t* origin, bool* implied,
                                    std::string* vv, std::string* clocks) {
  return EncodeRecordColumns(
      r, [this](const InstanceId& id) { return NumFor(id); }, origin, implied, vv, clocks);
}

Status PgRowTransaction::Pend(int64_t rid, bool is_new, const Record& record) {
  std::string key = Key(record.collection, record.id);
  fetched_.erase(key);
  auto [it, added] = pending_rows_.try_emplace(rid);
  if (added) {
    it->second.is_new = is_new;
    pending_rids_.emplace(std::move(key), rid);
  } else {
    pending_bytes_ -= std::min(pending_bytes_, RecordBytes(it->second.record));
  }
  it->second.record = record;
  pending_bytes_ += RecordBytes(record);
  return pending_bytes_ >= kFlushBytes ? FlushRecords() : Status::OK();
}

Result<int64_t> PgRowTransaction::Insert(const Record& next, bool if_absent) {
  const std::string key = Key(next.collection, next.id);
  if (if_absent) {
    if (pending_rids_.count(key) != 0) return int64_t{0};
    auto it = fetched_.find(key);
    if (it == fetched_.end() && assume_new_) {
      const int64_t rid = ++next_rid_;
      BRAID_RETURN_IF_ERROR(Pend(rid, /*is_new=*/true, next));
      return rid;
    }
    if (it == fetched_.end()) {
      // Not prefetched (a local write): one lookup, kept for the Load that
      // follows when the record exists.
      BRAID_ASSIGN_OR_RETURN(auto stored, Load(next.collection, next.id));
      it = fetched_.emplace(key, std::move(stored)).first;
    }
    if (it->second) return int64_t{0};
  }
  const int64_t rid = ++next_rid_;
  BRAID_RETURN_IF_ERROR(Pend(rid, /*is_new=*/true, next));
  return rid;
}

Status PgRowTransaction::Update(int64_t rid, const Record& next) {
  auto it = pending_rows_.find(rid);
  return Pend(rid, it != pending_rows_.end() && it->second.is_new, next);
}

Status PgRowTransaction::AddVersion(const InstanceId& origin, uint64_t counter, int64_t rid) {
  BRAID_ASSIGN_OR_RETURN(const uint32_t num, NumFor(origin));
  pending_versions_.push_back({num, counter, rid});
  return pending_versions_.size() >= kRowBuffer ? FlushVersions() : Status::OK();
}

Status PgRowTransaction::LogChange(uint64_t seq, int64_t rid, ChangeOp op,
                                   std::string_view collection,
                                   const std::optional<std::string>& parent, int64_t at_ms) {
  pending_changes_.push_back({seq, rid, op, std::string(collection), parent, at_ms});
  return pending_changes_.size() >= kRowBuffer ? FlushChanges() : Status::OK();
}

// New rows go by COPY; changed rows by one UPDATE joined to arrays of their
// new columns.
Status PgRowTransaction::FlushRecords() {
  if (pending_rows_.empty()) return Status::OK();
  copy_.clear();
  pg::Array rids(pg::Array::Type::kInt8), parents(pg::Array::Type::kText),
      deleted(pg::Array::Type::kText), origins(pg::Array::Type::kInt8),
      counters(pg::Array::Type::kInt8), vvs(pg::Array::Type::kBytea), hlcs(pg::Array::Type::kInt8),
      clockses(pg::Array::Type::kBytea), bodies(pg::Array::Type::kText),
      conflicts(pg::Array::Type::kText);
  std::string vv, clocks;
  for (const auto& [rid, row] : pending_rows_) {
    const Record& r = row.record;
    uint32_t origin = 0;
    bool implied = false;
    BRAID_RETURN_IF_ERROR(LocalForms(r, &origin, &implied, &vv, &clocks));
    if (row.is_new) {
      CopyInt(rid, &copy_);
      CopyField(r.collection, &copy_);
      CopyField(r.id, &copy_);
      if (r.partition != r.collection) {
        CopyField(r.partition, &copy_);  // NULL: the collection
      } else {
        CopyNull(&copy_);
      }
      if (r.parent) {
        CopyField(*r.parent, &copy_);
      } else {
        CopyNull(&copy_);
      }
      copy_.append(r.deleted ? "t\t" : "f\t");
      CopyInt(origin, &copy_);
      CopyInt(static_cast<int64_t>(r.version.counter), &copy_);
      if (implied) {
        CopyNull(&copy_);
      } else {
        pg::AppendCopyBytes(vv, &copy_);
        copy_.push_back('\t');
      }
      CopyInt(static_cast<int64_t>(r.hlc), &copy_);
      if (clocks.empty()) {
        CopyNull(&copy_);
      } else {
        pg::AppendCopyBytes(clocks, &copy_);
        copy_.push_back('\t');
      }
      CopyField(r.body, &copy_);
      if (r.conflicts.empty()) {
        CopyNull(&copy_);
      } else {
        CopyField(r.conflicts, &copy_);
      }
      EndLine(&copy_);
      continue;
    }
    rids.Add(rid);
    if (r.parent) {
      parents.Add(*r.parent);
    } else {
      parents.AddNull();
    }
    deleted.Add(r.deleted ? "t" : "f");
    origins.Add(static_cast<int64_t>(origin));
    counters.Add(static_cast<int64_t>(r.version.counter));
    if (implied) {
      vvs.AddNull();
    } else {
      vvs.Add(vv);
    }
    hlcs.Add(static_cast<int64_t>(r.hlc));
    if (clocks.empty()) {
      clockses.AddNull();
    } else {
      clockses.Add(clocks);
    }
    bodies.Add(r.body);
    if (r.conflicts.empty()) {
      conflicts.AddNull();
    } else {
      conflicts.Add(r.conflicts);
    }
  }
  if (!copy_.empty()) {
    Status s = conn_->CopyIn(
        "COPY records(rid, collection, id, partition, parent, deleted, origin, counter, vv, hlc, "
        "clocks, body, conflicts) FROM STDIN",
        copy_);
    // Only a record taken for new can collide: the others were looked up.
    if (assume_new_ && s.code() == Code::kConflict) {
      return Status::Conflict(std::string(kAssumedNewConflict) + ": " + s.message());
    }
    BRAID_RETURN_IF_ERROR(s);
  }
  if (rids.size() != 0) {
    pg::Params p;
    p.Add(rids).Add(parents).Add(deleted).Add(origins).Add(counters).Add(vvs).Add(hlcs);
    p.Add(clockses).Add(bodies).Add(conflicts);
    BRAID_RETURN_IF_ERROR(
        conn_
            ->Query("UPDATE records r SET parent = u.parent, deleted = u.deleted::boolean, "
                    "origin = u.origin, counter = u.counter, vv = u.vv, hlc = u.hlc, "
                    "clocks = u.clocks, body = u.body, conflicts = u.conflicts "
                    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], "
                    "$5::bigint[], $6::bytea[], $7::bigint[], $8::bytea[], $9::text[], "
                    "$10::text[]) AS u(rid, parent, deleted, origin, counter, vv, hlc, clocks, "
                    "body, conflicts) WHERE r.rid = u.rid",
                    p)
            .status());
  }
  pending_rows_.clear();
  pending_rids_.clear();
  pending_bytes_ = 0;
  return Status::OK();
}

// In key order, so the (origin, counter) index takes them as appends.
Status PgRowTransaction::FlushVersions() {
  if (pending_versions_.empty()) return Status::OK();
  std::sort(pending_versions_.begin(), pending_versions_.end(),
            [](const PendingVersion& a, const PendingVersion& b) {
              return a.origin != b.origin ? a.origin < b.origin : a.counter < b.counter;
            });
  copy_.clear();
  for (const PendingVersion& v : pending_versions_) {
    CopyInt(v.origin, &copy_);
    CopyInt(static_cast<int64_t>(v.counter), &copy_);
    CopyInt(v.rid, &copy_);
    EndLine(&copy_);
  }
  BRAID_RETURN_IF_ERROR(
      NamedOnce(conn_->CopyIn("COPY versions(origin, counter, rid) FROM STDIN", copy_)));
  pending_versions_.clear();
  return Status::OK();
}

Status PgRowTransaction::FlushChanges() {
  if (pending_changes_.empty()) return Status::OK();
  copy_.clear();
  for (const PendingChange& c : pending_changes_) {
    CopyInt(static_cast<int64_t>(c.seq), &copy_);
    CopyInt(c.rid, &copy_);
    CopyInt(static_cast<int64_t>(c.op), &copy_);
    CopyField(c.collection, &copy_);
    if (c.parent) {
      CopyField(*c.parent, &copy_);
    } else {
      CopyNull(&copy_);
    }
    CopyInt(c.at, &copy_);
    EndLine(&copy_);
  }
  BRAID_RETURN_IF_ERROR(
      conn_->CopyIn("COPY changes(seq, rid, op, collection, parent, at) FROM STDIN", copy_));
  pending_changes_.clear();
  return Status::OK();
}

Status PgRowTransaction::Flush() {
  BRAID_RETURN_IF_ERROR(FlushRecords());
  BRAID_RETURN_IF_ERROR(FlushVersions());
  return FlushChanges();
}

// Every commit is synchronous (the connection's synchronous_commit is on):
// a version or seq acknowledged to anyone is on the server's disk, so no
// name is ever issued twice and `durability` has nothing to choose here.
Status PgRowTransaction::Commit(const WriteCounters& after) {
  Status s = Flush();
  if (s.ok() && (!(after == begin_) || next_rid_ != state_.rid)) {
    pg::Params p;
    p.Add(static_cast<int64_t>(after.counter))
        .Add(static_cast<int64_t>(after.seq))
        .Add(static_cast<int64_t>(after.hlc))
        .Add(next_rid_);
    s = conn_->Query("UPDATE state SET counter = $1, seq = $2, hlc = $3, rid = $4 WHERE k = 1", p)
            .status();
  }
  if (s.ok() && after.seq != begin_.seq) {
    // Delivered to every listening process when (and only if) this commits.
    pg::Params p;
    p.Add(store_->notify_token());
    s = conn_->Query("SELECT pg_notify('braid_changes', $1)", p).status();
  }
  if (s.ok()) s = conn_->Exec("COMMIT");
  if (s.ok()) {
    for (const auto& [num, id] : new_instances_) store_->CacheInstance(num, id);
  } else {
    (void)conn_->Exec("ROLLBACK");
  }
  done_ = true;
  Release();
  if (!s.ok()) return s;
  if (after.seq != begin_.seq) store_->NotifyListeners();
  return Status::OK();
}

Result<std::unique_ptr<WriteTransaction>> NewWriteTransaction(PgStore* store, pg::Conn* writer,
                                                              TimedMutex* write_mu) {
  if (store->writer_thread_.load() == std::this_thread::get_id()) {
    return Status::Internal(
        "this thread already has a write transaction open; commit or destroy it first");
  }
  // One deadline for both waits: for this process's other writers, then
  // (the state row's lock) for other processes'.
  const auto timeout = store->options().busy_timeout;
  const auto start = std::chrono::steady_clock::now();
  BRAID_RETURN_IF_ERROR(store->LockWriter(*write_mu, timeout));
  store->writer_thread_.store(std::this_thread::get_id());
  auto unlock = [&] {
    store->writer_thread_.store(std::thread::id());
    write_mu->Unlock();
  };
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  Status s;
  if (!writer->healthy()) s = PgStore::Reconnect(*writer);
  if (s.ok()) {
    s = writer->Exec("BEGIN; SET LOCAL lock_timeout = " +
                     std::to_string(std::max<int64_t>(1, (timeout - waited).count())));
  }
  Result<StateRow> state = s.ok() ? ReadState(*writer, /*lock=*/true) : Result<StateRow>(s);
  if (!state.ok() && state.status().code() == Code::kBusy) {
    state = Status::Busy("another process's write kept the store for the whole busy timeout (" +
                         std::to_string(timeout.count()) +
                         " ms, store.busy_timeout_ms in braid.toml); retry");
  }
  if (state.ok() && state->self != store->self_num()) {
    state = Status::Conflict(
        "this store was given a new instance id by another process (braid identity renew); "
        "restart this process before writing");
  }
  if (!state.ok()) {
    (void)writer->Exec("ROLLBACK");
    unlock();
    return state.status().WithContext("starting a write transaction");
  }
  return std::unique_ptr<WriteTransaction>(std::make_unique<RecordWriter>(
      *store, std::make_unique<PgRowTransaction>(store, writer, write_mu, *state)));
}

}  // namespace braid::postgres
