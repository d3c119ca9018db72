// Thin RAII wrappers over the SQLite C API, for the SQLite store backend and
// the files derived from a store (the search index, src/index/).
//
// Db owns one connection and a cache of its prepared statements, keyed by
// the SQL text's address (statements are string literals). Stmt is a
// borrowed, reset-on-destruction handle to a cached statement: binding and
// stepping never prepare twice on the hot path.
//
// Thread-safety: a Db and its statements are used by one thread at a time;
// the store hands connections out from a pool.

#ifndef BRAID_SQLITE_DB_H_
#define BRAID_SQLITE_DB_H_

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "braid/status.h"

namespace braid::sqlite {

// Process-wide SQLite settings, applied once before the first connection
// (Db::Open calls it). An application that shares the process and opens
// SQLite itself first may call it earlier to get the same settings.
void ConfigureProcess();

// Maps a SQLite result code to a Status: BUSY/LOCKED -> Busy, CORRUPT/NOTADB
// -> Corruption, FULL/IOERR/CANTOPEN/READONLY -> IoError, others -> Internal.
// `what` says what braid was doing ("inserting record notes/n1").
Status ErrorStatus(sqlite3* db, int rc, std::string_view what);

class Db;

// A prepared statement borrowed from a Db's cache. Bind indexes are 1-based,
// column indexes 0-based (as in SQLite). Resets and clears bindings when
// destroyed so the cached statement is ready for the next use.
class Stmt {
 public:
  Stmt(Db* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& BindDouble(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }

  // Steps once. Returns true with a row, false when done; errors as Status.
  Result<bool> Step();
  // Steps to completion, for statements that return no rows.
  Status Run();

  // Makes the statement ready to run again with new bindings (the
  // destructor does it too).
  void Reset() { sqlite3_reset(stmt_); }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  bool Bool(int col) const { return Int(col) != 0; }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  // Valid until the next Step() or the Stmt's destruction.
  std::string_view Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return {p ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
  }
  std::string_view Blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return {p ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
  }
  std::optional<std::string> OptionalText(int col) const {
    if (IsNull(col)) return std::nullopt;
    return std::string(Text(col));
  }

 private:
  Db* db_;
  sqlite3_stmt* stmt_;
};

class Db {
 public:
  // Opens `path` read-write (creating the file when `create`), with extended
  // result codes and the given busy timeout, through the VFS named `vfs`
  // (nullptr: SQLite's default).
  static Result<std::unique_ptr<Db>> Open(const std::string& path, bool create,
                                          std::chrono::milliseconds busy_timeout,
                                          const char* vfs = nullptr);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results (schema, pragmas, BEGIN).
  Status Exec(const char* sql);

  // The cached statement for `sql`, which must be a string literal (or live
  // as long as this Db): it is the cache key.
  Result<Stmt> Prepare(const char* sql);

  // Runs `sql` (which returns one integer) and returns it, e.g. a PRAGMA.
  Result<int64_t> QueryInt(const char* sql);

  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* handle() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

}  // namespace braid::sqlite

#endif  // BRAID_SQLITE_DB_H_
