#include "index/search_index.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "base/failpoint.h"
#include "base/json.h"
#include "base/mutex.h"
#include "index/text.h"
#include "sqlite/db.h"

namespace braid::index {
namespace {

namespace fs = std::filesystem;
using sqlite::Db;
using sqlite::Stmt;
using Clock = std::chrono::steady_clock;

constexpr char kCurrentFile[] = "CURRENT";
constexpr char kLockFile[] = "rebuild.lock";
constexpr int64_t kFormat = 1;
constexpr size_t kUpdatePage = 5'000;      // change-log events per incremental transaction
constexpr size_t kBuildPage = 10'000;      // change-log events per read while rebuilding
constexpr uint64_t kBuildCommit = 50'000;  // events per transaction while rebuilding
constexpr size_t kIdleReaders = 8;
constexpr int64_t kBuildMergePages = 10'000;  // per merge step at the end of a rebuild
constexpr auto kProgressEvery = std::chrono::milliseconds(200);
constexpr auto kBusyTimeout = std::chrono::milliseconds(10'000);

// Weight columns w1..w9 (index/text.h): bm25 weighs column wK by K.
static_assert(kMaxWeight == 9);
constexpr char kSchema[] = R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,       -- format, store, epoch, cursor, settings, docs, built
  value ANY
) WITHOUT ROWID;
CREATE TABLE docs(
  doc        INTEGER PRIMARY KEY,  -- the record's row in fts
  collection TEXT NOT NULL,
  id         TEXT NOT NULL,
  partition  TEXT NOT NULL
);
CREATE UNIQUE INDEX docs_by_name ON docs(collection, id);
CREATE VIRTUAL TABLE fts USING fts5(w1, w2, w3, w4, w5, w6, w7, w8, w9,
                                    tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO fts(fts, rank) VALUES('rank', 'bm25(1, 2, 3, 4, 5, 6, 7, 8, 9)');
)sql";

std::string GenerationName(uint64_t n) { return "search-" + std::to_string(n) + ".db"; }

// "search-N.db" -> N; 0 when `name` is not a generation's file name.
uint64_t GenerationOf(std::string_view name) {
  if (!name.starts_with("search-") || !name.ends_with(".db")) return 0;
  const std::string_view digits = name.substr(7, name.size() - 10);
  uint64_t n = 0;
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return ec == std::errc() && p == digits.data() + digits.size() ? n : 0;
}

Status IoFailure(const std::string& what) {
  return Status::IoError(what + ": " + std::strerror(errno));
}

Status SyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoFailure("opening " + path + " to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return IoFailure("syncing " + path);
  return Status::OK();
}

// Removes a generation's database and its WAL files.
void RemoveGeneration(const fs::path& db) {
  std::error_code ec;
  fs::remove(db, ec);
  fs::remove(db.string() + "-wal", ec);
  fs::remove(db.string() + "-shm", ec);
  fs::remove(db.string() + "-journal", ec);
}

// The exclusive lock of a rebuild (or a clean): held while the file is open.
class RebuildLock {
 public:
  static Result<RebuildLock> Take(const std::string& dir) {
    const std::string path = dir + "/" + kLockFile;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return IoFailure("opening " + path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return Status::Busy("another process is rebuilding the search index (" + path +
                          " is locked); try again when it is done");
    }
    return RebuildLock(fd);
  }
  RebuildLock(RebuildLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~RebuildLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit RebuildLock(int fd) : fd_(fd) {}
  int fd_;
};

struct Meta {
  int64_t format = 0;
  std::string store, settings;
  uint64_t epoch = 0, cursor = 0, docs = 0;
  int64_t built_ms = 0;
};

Result<Meta> ReadMeta(Db& db) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT key, value FROM meta"));
  Meta m;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    const std::string_view key = s.Text(0);
    if (key == "format") m.format = s.Int(1);
    if (key == "store") m.store = s.Text(1);
    if (key == "settings") m.settings = s.Text(1);
    if (key == "epoch") m.epoch = static_cast<uint64_t>(s.Int(1));
    if (key == "cursor") m.cursor = static_cast<uint64_t>(s.Int(1));
    if (key == "docs") m.docs = static_cast<uint64_t>(s.Int(1));
    if (key == "built") m.built_ms = s.Int(1);
  }
  if (m.format != kFormat) {
    return Status::Corruption("search index format " + std::to_string(m.format) +
                              " is not this braid's (" + std::to_string(kFormat) +
                              "): run `braid sync index --full`");
  }
  return m;
}

Status PutMeta(Db& db, std::string_view key, int64_t value) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("INSERT OR REPLACE INTO meta VALUES (?, ?)"));
  return s.Bind(1, key).Bind(2, value).Run();
}
Status PutMeta(Db& db, std::string_view key, std::string_view value) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("INSERT OR REPLACE INTO meta VALUES (?, ?)"));
  return s.Bind(1, key).Bind(2, value).Run();
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Index settings by collection, parsed.
using Specs = std::map<std::string, IndexSpec, std::less<>>;

Result<Specs> ParseSpecs(const std::vector<std::pair<std::string, std::string>>& rows) {
  Specs specs;
  for (const auto& [collection, text] : rows) {
    auto spec = ParseIndexSpec(text);
    if (!spec.ok()) {
      return Status::InvalidArgument("collection " + collection +
                                     "'s index settings: " + spec.status().message());
    }
    specs.emplace(collection, *std::move(spec));
  }
  return specs;
}

// Writes records' entries in one open transaction of `db`.
class EntryWriter {
 public:
  EntryWriter(Db& db, const Specs& specs) : db_(db), specs_(specs) {}

  // Applies one change-log event: the record as it is now.
  Status Apply(const ChangeEvent& e, UpdateSummary* summary) {
    if (!e.record) return Status::Internal("change-log event without its record");
    const Record& r = *e.record;
    const auto spec = specs_.find(r.collection);
    if (!r.deleted) {
      ExtractText(r.body, spec == specs_.end() ? nullptr : &spec->second, &text_);
    }
    BRAID_ASSIGN_OR_RETURN(Stmt find,
                           db_.Prepare("SELECT doc FROM docs WHERE collection = ? AND id = ?"));
    find.Bind(1, std::string_view(r.collection)).Bind(2, std::string_view(r.id));
    BRAID_ASSIGN_OR_RETURN(const bool found, find.Step());
    const int64_t old = found ? find.Int(0) : 0;
    const bool keep = !r.deleted && !text_.empty();
    if (found) {
      BRAID_ASSIGN_OR_RETURN(Stmt del, db_.Prepare("DELETE FROM fts WHERE rowid = ?"));
      BRAID_RETURN_IF_ERROR(del.Bind(1, old).Run());
      if (!keep) {
        BRAID_ASSIGN_OR_RETURN(Stmt drop, db_.Prepare("DELETE FROM docs WHERE doc = ?"));
        BRAID_RETURN_IF_ERROR(drop.Bind(1, old).Run());
        ++summary->removed;
        --docs_;
        return Status::OK();
      }
    }
    if (!keep) return Status::OK();
    int64_t doc = old;  // a record's partition never changes (braid/store.h)
    if (!found) {
      BRAID_ASSIGN_OR_RETURN(
          Stmt ins, db_.Prepare("INSERT INTO docs(collection, id, partition) VALUES (?, ?, ?)"));
      BRAID_RETURN_IF_ERROR(ins.Bind(1, std::string_view(r.collection))
                                .Bind(2, std::string_view(r.id))
                                .Bind(3, std::string_view(r.partition))
                                .Run());
      doc = db_.LastInsertRowid();
      ++docs_;
    }
    BRAID_ASSIGN_OR_RETURN(Stmt put,
                           db_.Prepare("INSERT INTO fts(rowid, w1, w2, w3, w4, w5, w6, w7, w8, w9) "
                                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    put.Bind(1, doc);
    for (int w = 0; w < kMaxWeight; ++w) {
      if (text_.by_weight[w].empty()) {
        put.BindNull(w + 2);
      } else {
        put.Bind(w + 2, std::string_view(text_.by_weight[w]));
      }
    }
    BRAID_RETURN_IF_ERROR(put.Run());
    ++summary->indexed;
    return Status::OK();
  }

  // Records added minus records removed since this writer began.
  int64_t docs_delta() const { return docs_; }

 private:
  Db& db_;
  const Specs& specs_;
  RecordText text_;
  int64_t docs_ = 0;
};

// Applies a page of events, each record once (the page gives every event
// the record as it is now, so a record's later events add nothing).
Status ApplyPage(EntryWriter& writer, const ChangePage& page, UpdateSummary* summary) {
  std::set<std::pair<std::string_view, std::string_view>> seen;
  for (const ChangeEvent& e : page.events) {
    if (!seen.emplace(e.collection, e.id).second) continue;
    BRAID_RETURN_IF_ERROR(writer.Apply(e, summary));
  }
  summary->events += page.events.size();
  return Status::OK();
}

// A generation of the index: its file and the connections open on it.
struct Generation {
  uint64_t number = 0;
  std::string path;
  Mutex mu;
  std::vector<std::unique_ptr<Db>> idle GUARDED_BY(mu);
};

Result<std::unique_ptr<Db>> OpenConnection(const std::string& path) {
  BRAID_ASSIGN_OR_RETURN(auto db, Db::Open(path, /*create=*/false, kBusyTimeout));
  BRAID_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384;"));
  return db;
}

// A connection borrowed from a generation, returned when destroyed.
class Lease {
 public:
  static Result<Lease> Borrow(std::shared_ptr<Generation> gen) {
    std::unique_ptr<Db> db;
    {
      MutexLock lock(gen->mu);
      if (!gen->idle.empty()) {
        db = std::move(gen->idle.back());
        gen->idle.pop_back();
      }
    }
    if (!db) {
      BRAID_ASSIGN_OR_RETURN(db, OpenConnection(gen->path));
    }
    return Lease(std::move(gen), std::move(db));
  }
  Lease(Lease&&) = default;
  ~Lease() {
    if (!db_) return;
    if (sqlite3_get_autocommit(db_->handle()) == 0) {
      (void)db_->Exec("ROLLBACK");  // an error left a transaction open
    }
    MutexLock lock(gen_->mu);
    if (gen_->idle.size() < kIdleReaders) gen_->idle.push_back(std::move(db_));
  }
  Db& db() { return *db_; }

 private:
  Lease(std::shared_ptr<Generation> gen, std::unique_ptr<Db> db)
      : gen_(std::move(gen)), db_(std::move(db)) {}
  std::shared_ptr<Generation> gen_;
  std::unique_ptr<Db> db_;
};

}  // namespace

std::string SummaryJson(const UpdateSummary& s) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("full").Bool(s.full);
  if (!s.why.empty()) w.Key("why").String(s.why);
  w.Key("events").Uint(s.events).Key("indexed").Uint(s.indexed).Key("removed").Uint(s.removed);
  w.Key("cursor").Uint(s.cursor).Key("docs").Uint(s.docs).Key("generation").Uint(s.generation);
  w.Key("searchable_seconds").Double(s.searchable_seconds);
  w.Key("merge_seconds").Double(s.merge_seconds);
  w.Key("seconds").Double(s.seconds).EndObject();
  return out;
}

Result<std::string> SettingsText(Store& store) {
  BRAID_ASSIGN_OR_RETURN(const auto rows, store.SearchFields());
  std::string out;
  for (const auto& [collection, spec] : rows) {
    out += collection;
    out += '=';
    out += spec;
    out += '\n';
  }
  return out;
}

class SearchIndex::Impl {
 public:
  explicit Impl(std::string dir) : dir_(std::move(dir)) {}

  // The generation CURRENT names, or null when there is no index.
  Result<std::shared_ptr<Generation>> Current() {
    const std::string path = dir_ + "/" + kCurrentFile;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno != ENOENT) return IoFailure("reading " + path);
      MutexLock lock(mu_);
      current_.reset();
      current_ino_ = 0;
      return std::shared_ptr<Generation>();
    }
    MutexLock lock(mu_);
    if (current_ && st.st_ino == current_ino_) return current_;
    std::string text;
    if (FILE* f = std::fopen(path.c_str(), "re")) {
      char buf[64];
      const size_t n = std::fread(buf, 1, sizeof buf, f);
      std::fclose(f);
      text.assign(buf, n);
    } else {
      return IoFailure("reading " + path);
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    const uint64_t number = GenerationOf(text);
    if (number == 0) {
      return Status::Corruption(path +
                                " does not name a search index file; run `braid clean index`");
    }
    auto gen = std::make_shared<Generation>();
    gen->number = number;
    gen->path = dir_ + "/" + text;
    current_ = gen;
    current_ino_ = st.st_ino;
    return gen;
  }

  Result<UpdateSummary> Update(Store& store, const UpdateOptions& options) {
    MutexLock lock(update_mu_);
    const auto start = Clock::now();
    BRAID_ASSIGN_OR_RETURN(const ChangePage head, LogHead(store));
    BRAID_ASSIGN_OR_RETURN(const std::string settings, SettingsText(store));
    BRAID_ASSIGN_OR_RETURN(const auto rows, store.SearchFields());
    BRAID_ASSIGN_OR_RETURN(const Specs specs, ParseSpecs(rows));
    const std::string store_id = store.instance_id().Hex();
    BRAID_ASSIGN_OR_RETURN(std::shared_ptr<Generation> gen, Current());
    std::string why;
    if (options.full) {
      why = "asked for";
    } else if (!gen) {
      why = "no index yet";
    } else {
      BRAID_ASSIGN_OR_RETURN(Lease lease, Lease::Borrow(gen));
      BRAID_ASSIGN_OR_RETURN(const Meta meta, ReadMeta(lease.db()));
      if (meta.store != store_id) {
        why = "the index was built for another store";
      } else if (meta.epoch != head.epoch) {
        why = "the store's change log was replaced";
      } else if (meta.settings != settings) {
        why = "the index settings changed";
      } else if (meta.cursor < head.horizon) {
        why = "compaction dropped changes the index had not dealt with";
      }
    }
    UpdateSummary summary;
    if (!why.empty()) {
      summary.full = true;
      summary.why = why;
      BRAID_ASSIGN_OR_RETURN(gen,
                             Rebuild(store, head, specs, settings, store_id, options, &summary));
    }
    BRAID_RETURN_IF_ERROR(Incremental(store, gen, specs, head.epoch, options, &summary));
    summary.generation = gen->number;
    summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    summary.searchable_seconds = summary.seconds - summary.merge_seconds;
    if (options.progress) {
      options.progress({summary.events, summary.events, summary.seconds, summary.full});
    }
    return summary;
  }

  Result<SearchPage> Search(const SearchRequest& req) {
    BRAID_ASSIGN_OR_RETURN(const std::string expr, ToFtsExpression(req.query));
    if (req.limit < 1 || req.limit > kMaxSearchLimit) {
      return Status::InvalidArgument("limit must be from 1 to " + std::to_string(kMaxSearchLimit));
    }
    BRAID_ASSIGN_OR_RETURN(std::shared_ptr<Generation> gen, Current());
    if (!gen) {
      return Status::Unavailable(
          "there is no search index yet: `braid sync index` builds it (braid serve builds it "
          "when it starts)");
    }
    BRAID_ASSIGN_OR_RETURN(Lease lease, Lease::Borrow(gen));
    Db& db = lease.db();
    BRAID_RETURN_IF_ERROR(db.Exec("BEGIN"));  // one snapshot for every statement below
    BRAID_ASSIGN_OR_RETURN(const Meta meta, ReadMeta(db));
    SearchPage page;
    page.indexed_to = meta.cursor;
    // The best `window` matches, then (when filters passed over some) the
    // next ones in windows four times larger: with a LIMIT SQLite keeps the
    // top rows as it goes instead of sorting every match.
    BRAID_ASSIGN_OR_RETURN(Stmt doc,
                           db.Prepare("SELECT collection, id, partition FROM docs WHERE doc = ?"));
    int64_t examined = 0;
    int64_t window = static_cast<int64_t>(req.limit) + 1;
    bool done = false;
    while (!done) {
      BRAID_ASSIGN_OR_RETURN(
          Stmt s, req.after ? db.Prepare("SELECT rowid, rank FROM fts WHERE fts MATCH ?1 AND "
                                         "(rank > ?2 OR (rank = ?2 AND rowid > ?3)) "
                                         "ORDER BY rank, rowid LIMIT ?4 OFFSET ?5")
                            : db.Prepare("SELECT rowid, rank FROM fts WHERE fts MATCH ?1 "
                                         "ORDER BY rank, rowid LIMIT ?4 OFFSET ?5"));
      s.Bind(1, std::string_view(expr)).Bind(4, window).Bind(5, examined);
      if (req.after) s.BindDouble(2, req.after->rank).Bind(3, req.after->doc);
      int64_t rows = 0;
      for (;;) {
        auto row = s.Step();
        if (!row.ok()) return QueryError(row.status());
        if (!*row) break;
        ++rows;
        const PageCursor at{s.Double(1), s.Int(0)};
        doc.Bind(1, at.doc);
        BRAID_ASSIGN_OR_RETURN(const bool found, doc.Step());
        const bool wanted = found && (!req.collection || doc.Text(0) == *req.collection) &&
                            (!req.visible || req.visible(doc.Text(2)));
        if (wanted && page.hits.size() == req.limit) {
          page.next = page.hits.back().position;
          done = true;
          break;
        }
        if (wanted) {
          SearchHit& hit = page.hits.emplace_back();
          hit.collection = doc.Text(0);
          hit.id = doc.Text(1);
          hit.partition = doc.Text(2);
          hit.score = -at.rank;
          hit.position = at;
        }
        doc.Reset();
      }
      examined += rows;
      if (rows < window) break;  // no more matches
      window *= 4;
    }
    if (!page.hits.empty()) BRAID_RETURN_IF_ERROR(Snippets(db, expr, &page.hits));
    BRAID_RETURN_IF_ERROR(db.Exec("COMMIT"));
    return page;
  }

  Result<IndexState> State() {
    IndexState state;
    BRAID_ASSIGN_OR_RETURN(std::shared_ptr<Generation> gen, Current());
    if (!gen) return state;
    BRAID_ASSIGN_OR_RETURN(Lease lease, Lease::Borrow(gen));
    BRAID_ASSIGN_OR_RETURN(const Meta meta, ReadMeta(lease.db()));
    state.exists = true;
    state.generation = gen->number;
    state.cursor = meta.cursor;
    state.docs = meta.docs;
    state.built_ms = meta.built_ms;
    return state;
  }

  Result<bool> MergeSome(int64_t pages) {
    MutexLock lock(update_mu_);
    BRAID_ASSIGN_OR_RETURN(std::shared_ptr<Generation> gen, Current());
    if (!gen) return false;
    BRAID_ASSIGN_OR_RETURN(Lease lease, Lease::Borrow(gen));
    double seconds = 0;
    return Merge(lease.db(), pages, &seconds);
  }

  Status Clean() {
    MutexLock lock(update_mu_);
    BRAID_ASSIGN_OR_RETURN(RebuildLock rebuild, RebuildLock::Take(dir_));
    const std::string current = dir_ + "/" + kCurrentFile;
    if (::unlink(current.c_str()) != 0 && errno != ENOENT) return IoFailure("removing " + current);
    BRAID_RETURN_IF_ERROR(SyncPath(dir_, /*directory=*/true));
    RemoveStaleFiles(0);
    MutexLock l(mu_);
    current_.reset();
    current_ino_ = 0;
    return Status::OK();
  }

  const std::string& dir() const { return dir_; }

 private:
  // FTS5 reports what it cannot evaluate as SQLITE_ERROR; ToFtsExpression
  // should leave nothing of the kind, so say it is the query's fault.
  static Status QueryError(const Status& s) {
    if (s.code() == Code::kInternal) {
      return Status::InvalidArgument("search query cannot be evaluated: " + s.message());
    }
    return s;
  }

  static Status Cancelled() { return Status::Unavailable("the search index update was stopped"); }

  // Merges segments after an update committed, in a transaction of its
  // own: the changes are searchable before this work, which FTS5 would
  // otherwise do inside the update's transaction (automerge). Returns true
  // when it merged anything: FTS5 writes at least two changes then.
  static Result<bool> Merge(Db& db, int64_t pages, double* seconds) {
    const auto start = Clock::now();
    const int64_t before = sqlite3_total_changes64(db.handle());
    BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("INSERT INTO fts(fts, rank) VALUES('merge', ?)"));
    BRAID_RETURN_IF_ERROR(s.Bind(1, pages).Run());
    *seconds += std::chrono::duration<double>(Clock::now() - start).count();
    return sqlite3_total_changes64(db.handle()) - before >= 2;
  }

  // Fills the hits' snippets in one pass over the matches between the
  // lowest and highest of their document numbers: one query per hit
  // parsed the expression and sought every term's postings again each
  // time, three quarters of a search's time (bench/index_bench).
  static Status Snippets(Db& db, const std::string& expr, std::vector<SearchHit>* hits) {
    std::string docs = "[";
    int64_t low = INT64_MAX, high = INT64_MIN;
    std::map<int64_t, SearchHit*> by_doc;
    for (SearchHit& h : *hits) {
      if (docs.size() > 1) docs += ',';
      docs += std::to_string(h.position.doc);
      low = std::min(low, h.position.doc);
      high = std::max(high, h.position.doc);
      by_doc[h.position.doc] = &h;
    }
    docs += ']';
    BRAID_ASSIGN_OR_RETURN(
        Stmt s, db.Prepare("SELECT rowid, snippet(fts, -1, char(1), char(2), '…', 16) FROM fts "
                           "WHERE fts MATCH ?1 AND rowid BETWEEN ?3 AND ?4 "
                           "AND rowid IN (SELECT value FROM json_each(?2))"));
    s.Bind(1, std::string_view(expr)).Bind(2, std::string_view(docs)).Bind(3, low).Bind(4, high);
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) return Status::OK();
      const auto it = by_doc.find(s.Int(0));
      if (it != by_doc.end()) it->second->snippet = s.Text(1);
    }
  }

  // Removes every generation's files but `keep`'s (0: all), with the
  // rebuild lock held.
  void RemoveStaleFiles(uint64_t keep) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      std::string name = entry.path().filename().string();
      for (const char* suffix : {"-wal", "-shm", "-journal"}) {
        if (name.ends_with(suffix)) name.resize(name.size() - std::strlen(suffix));
      }
      const uint64_t n = GenerationOf(name);
      if (n != 0 && n != keep) RemoveGeneration(fs::path(dir_) / GenerationName(n));
    }
  }

  uint64_t HighestGeneration() {
    uint64_t high = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      high = std::max(high, GenerationOf(entry.path().filename().string()));
    }
    return high;
  }

  Result<std::shared_ptr<Generation>> Rebuild(Store& store, const ChangePage& head,
                                              const Specs& specs, const std::string& settings,
                                              const std::string& store_id,
                                              const UpdateOptions& options,
                                              UpdateSummary* summary) {
    BRAID_ASSIGN_OR_RETURN(RebuildLock lock, RebuildLock::Take(dir_));
    BRAID_ASSIGN_OR_RETURN(std::shared_ptr<Generation> old, Current());
    const uint64_t keep = old ? old->number : 0;
    RemoveStaleFiles(keep);  // what a crashed rebuild left
    const uint64_t number = std::max(keep, HighestGeneration()) + 1;
    const std::string name = GenerationName(number);
    const std::string path = dir_ + "/" + name;
    Status built = Build(store, head, specs, settings, store_id, options, path, summary);
    if (!built.ok()) {
      RemoveGeneration(path);
      return built;
    }
    // Point CURRENT at the new file: written aside, synced, renamed.
    const std::string tmp = dir_ + "/" + kCurrentFile + ".tmp";
    {
      const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) return IoFailure("writing " + tmp);
      const std::string text = name + "\n";
      const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                      ::fsync(fd) == 0;
      ::close(fd);
      if (!ok) return IoFailure("writing " + tmp);
    }
    BRAID_RETURN_IF_ERROR(Failpoint("index-publish"));
    if (::rename(tmp.c_str(), (dir_ + "/" + kCurrentFile).c_str()) != 0) {
      return IoFailure("renaming " + tmp);
    }
    BRAID_RETURN_IF_ERROR(SyncPath(dir_, /*directory=*/true));
    RemoveStaleFiles(number);
    BRAID_ASSIGN_OR_RETURN(std::shared_ptr<Generation> gen, Current());
    if (!gen) return Status::Internal("the search index vanished while it was published");
    return gen;
  }

  // Fills a new generation's file at `path` from the whole change log.
  Status Build(Store& store, const ChangePage& head, const Specs& specs,
               const std::string& settings, const std::string& store_id,
               const UpdateOptions& options, const std::string& path, UpdateSummary* summary) {
    const auto start = Clock::now();
    auto last_progress = start;
    uint64_t docs = 0;
    {
      BRAID_ASSIGN_OR_RETURN(auto db, Db::Open(path, /*create=*/true, kBusyTimeout));
      // Nothing reads this file until CURRENT names it, and a crash leaves
      // it to be removed: no journal, no syncs until the end.
      BRAID_RETURN_IF_ERROR(
          db->Exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16384;"));
      BRAID_RETURN_IF_ERROR(db->Exec(kSchema));
      BRAID_RETURN_IF_ERROR(db->Exec(kFtsMergeSettings));
      BRAID_RETURN_IF_ERROR(db->Exec("BEGIN"));
      BRAID_RETURN_IF_ERROR(PutMeta(*db, "format", kFormat));
      BRAID_RETURN_IF_ERROR(PutMeta(*db, "store", store_id));
      BRAID_RETURN_IF_ERROR(PutMeta(*db, "settings", settings));
      BRAID_RETURN_IF_ERROR(PutMeta(*db, "epoch", static_cast<int64_t>(head.epoch)));
      EntryWriter writer(*db, specs);
      ChangeQuery q;
      q.limit = kBuildPage;
      uint64_t in_txn = 0;
      for (;;) {
        BRAID_ASSIGN_OR_RETURN(const ChangePage page, store.ReadChanges(q));
        if (page.epoch != head.epoch) {
          return Status::Conflict(
              "the store's change log was replaced during the rebuild; run it again");
        }
        if (options.cancelled && options.cancelled()) return Cancelled();
        BRAID_RETURN_IF_ERROR(ApplyPage(writer, page, summary));
        q.after_seq = page.complete_to;
        in_txn += page.events.size();
        if (in_txn >= kBuildCommit || !page.has_more) {
          BRAID_RETURN_IF_ERROR(PutMeta(*db, "cursor", static_cast<int64_t>(q.after_seq)));
          BRAID_RETURN_IF_ERROR(Failpoint("index-build"));
          BRAID_RETURN_IF_ERROR(db->Exec("COMMIT; BEGIN"));
          in_txn = 0;
        }
        const auto now = Clock::now();
        if (options.progress && now - last_progress >= kProgressEvery) {
          last_progress = now;
          options.progress({summary->events, std::max(head.last_seq, page.last_seq),
                            std::chrono::duration<double>(now - start).count(), true});
        }
        if (!page.has_more) break;
      }
      docs = static_cast<uint64_t>(writer.docs_delta());
      BRAID_RETURN_IF_ERROR(PutMeta(*db, "docs", static_cast<int64_t>(docs)));
      BRAID_RETURN_IF_ERROR(PutMeta(*db, "built", NowMs()));
      BRAID_RETURN_IF_ERROR(db->Exec("COMMIT"));
      // The merges the build's automerge setting left (levels of 4 to 15
      // segments) are done here, where they cost no journal, instead of by
      // the first updates (3 s at 1M records, bench/index_bench): the
      // index starts with the fewest segments the live setting keeps, so
      // searches read fewer and each update merges little.
      double merge_seconds = 0;
      for (bool more = true; more;) {
        if (options.cancelled && options.cancelled()) return Cancelled();
        BRAID_ASSIGN_OR_RETURN(more, Merge(*db, kBuildMergePages, &merge_seconds));
      }
      // From now on segments are merged after each update's commit
      // (Incremental), not inside it.
      BRAID_RETURN_IF_ERROR(db->Exec("INSERT INTO fts(fts, rank) VALUES('automerge', 0)"));
      BRAID_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
    }
    summary->docs = docs;
    return SyncPath(path, /*directory=*/false);
  }

  // Applies the change log after the cursor of `gen`, a page per transaction.
  Status Incremental(Store& store, const std::shared_ptr<Generation>& gen, const Specs& specs,
                     uint64_t epoch, const UpdateOptions& options, UpdateSummary* summary) {
    BRAID_ASSIGN_OR_RETURN(Lease lease, Lease::Borrow(gen));
    Db& db = lease.db();
    const auto start = Clock::now();
    auto last_progress = start;
    for (;;) {
      if (options.cancelled && options.cancelled()) return Cancelled();
      BRAID_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
      BRAID_ASSIGN_OR_RETURN(const Meta meta, ReadMeta(db));
      ChangeQuery q;
      q.after_seq = meta.cursor;
      q.limit = kUpdatePage;
      BRAID_ASSIGN_OR_RETURN(const ChangePage page, store.ReadChanges(q));
      summary->cursor = meta.cursor;
      summary->docs = meta.docs;
      if (page.epoch != epoch || page.complete_to == meta.cursor) {
        return db.Exec("COMMIT");  // a replaced log: the next update rebuilds
      }
      EntryWriter writer(db, specs);
      BRAID_RETURN_IF_ERROR(ApplyPage(writer, page, summary));
      summary->cursor = page.complete_to;
      summary->docs = static_cast<uint64_t>(static_cast<int64_t>(meta.docs) + writer.docs_delta());
      BRAID_RETURN_IF_ERROR(PutMeta(db, "cursor", static_cast<int64_t>(page.complete_to)));
      BRAID_RETURN_IF_ERROR(PutMeta(db, "docs", static_cast<int64_t>(summary->docs)));
      BRAID_RETURN_IF_ERROR(db.Exec("COMMIT"));
      if (options.merge) {
        BRAID_RETURN_IF_ERROR(Merge(db, kMergePages, &summary->merge_seconds).status());
      }
      if (!page.has_more) return Status::OK();
      const auto now = Clock::now();
      if (options.progress && now - last_progress >= kProgressEvery) {
        last_progress = now;
        options.progress({summary->events, page.last_seq - meta.cursor + summary->events,
                          std::chrono::duration<double>(now - start).count(), summary->full});
      }
    }
  }

  const std::string dir_;
  Mutex update_mu_;
  Mutex mu_;
  std::shared_ptr<Generation> current_ GUARDED_BY(mu_);
  ino_t current_ino_ GUARDED_BY(mu_) = 0;
};

Result<std::unique_ptr<SearchIndex>> SearchIndex::Open(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("creating " + dir + ": " + ec.message());
  return std::unique_ptr<SearchIndex>(new SearchIndex(std::make_unique<Impl>(dir)));
}

SearchIndex::SearchIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SearchIndex::~SearchIndex() = default;

Result<UpdateSummary> SearchIndex::Update(Store& store, const UpdateOptions& options) {
  return impl_->Update(store, options);
}
Result<SearchPage> SearchIndex::Search(const SearchRequest& request) {
  return impl_->Search(request);
}
Result<IndexState> SearchIndex::State() { return impl_->State(); }
Result<bool> SearchIndex::MergeSome(int64_t pages) { return impl_->MergeSome(pages); }
Status SearchIndex::Clean() { return impl_->Clean(); }
const std::string& SearchIndex::dir() const { return impl_->dir(); }

}  // namespace braid::index
