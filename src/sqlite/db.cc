#include "sqlite/db.h"

#include <mutex>

namespace braid::sqlite {

Status ErrorStatus(sqlite3* db, int rc, std::string_view what) {
  std::string m(what);
  m += ": ";
  m += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      m += " (another process kept the store locked past the busy timeout; retry)";
      return Status::Busy(std::move(m));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(std::move(m));
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return Status::IoError(std::move(m));
    case SQLITE_CONSTRAINT:
      return Status::Conflict(std::move(m));
    case SQLITE_TOOBIG:
      return Status::PayloadTooLarge(std::move(m));
    default:
      return Status::Internal(std::move(m));
  }
}

Stmt::~Stmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Result<bool> Stmt::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ErrorStatus(db_->handle(), rc, "running a query");
}

Status Stmt::Run() {
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, Step());
    if (!row) return Status::OK();
  }
}

void ConfigureProcess() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Debian builds SQLite without lookaside memory, so every statement
    // mallocs; with memory statistics on, each of those also takes a global
    // mutex. braid never reads the statistics. This fails harmlessly
    // (SQLITE_MISUSE) when the application already initialized SQLite.
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  });
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, bool create,
                                     std::chrono::milliseconds busy_timeout, const char* vfs) {
  ConfigureProcess();
  sqlite3* handle = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &handle, flags, vfs);
  if (rc != SQLITE_OK) {
    Status s = ErrorStatus(handle, rc, "opening " + path);
    sqlite3_close_v2(handle);
    return s;
  }
  std::unique_ptr<Db> db(new Db(handle));
  sqlite3_extended_result_codes(handle, 1);
  sqlite3_busy_timeout(handle, static_cast<int>(busy_timeout.count()));
  return db;
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Db::Exec(const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::OK();
  sqlite3_free(err);
  return ErrorStatus(db_, rc, std::string("running \"") + std::string(sql).substr(0, 60) + "\"");
}

Result<Stmt> Db::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(this, it->second);
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return ErrorStatus(db_, rc, "preparing a statement");
  cache_.emplace(sql, stmt);
  return Stmt(this, stmt);
}

Result<int64_t> Db::QueryInt(const char* sql) {
  BRAID_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  BRAID_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return Status::Internal(std::string("no result from ") + sql);
  return stmt.Int(0);
}

}  // namespace braid::sqlite
