// Thin RAII wrappers over libpq, for the PostgreSQL store backend
// (src/store/postgres/).
//
// Conn owns one connection and the statements it prepared, keyed by the SQL
// text's address (statements are string literals, as for sqlite::Db): the
// hot path parses and plans each statement once per connection. Parameters
// go in binary form with their types named (Params), so a string is sent as
// its bytes, with no quoting and no terminator; results come back as text
// (Rows), bytea as hex, decoded by Rows::Bytes.
//
// Errors map from SQLSTATE classes to braid's codes (ErrorStatus): a lock
// or statement timeout is Busy, a unique violation Conflict, a lost
// connection Unavailable, a full disk IoError.
//
// Thread-safety: a Conn is used by one thread at a time; the store hands
// connections out from a pool.

#ifndef BRAID_PG_CONN_H_
#define BRAID_PG_CONN_H_

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "braid/status.h"

namespace braid::pg {

// A one-dimensional array parameter (for `= ANY($1)` and `unnest($1, $2)`),
// built element by element in PostgreSQL's binary array form.
class Array {
 public:
  enum class Type { kText, kInt8, kBytea };
  explicit Array(Type type) : type_(type) {}
  Array& Add(std::string_view v);  // kText or kBytea
  Array& Add(int64_t v);           // kInt8
  Array& AddNull();
  size_t size() const { return count_; }
  // The parameter's bytes (after the last element was added).
  std::string Encode() const;
  unsigned int oid() const;  // of the array type

 private:
  Type type_;
  size_t count_ = 0;
  bool has_null_ = false;
  std::string elements_;  // each: int32 length (-1 for NULL), bytes
};

// The parameters of one statement ($1, $2, ...), copied in (a temporary
// may be given).
class Params {
 public:
  Params() = default;
  Params(const Params&) = delete;
  Params& operator=(const Params&) = delete;

  Params& Add(std::string_view text);
  Params& Add(const char* text) { return Add(std::string_view(text)); }
  Params& Add(const std::string& text) { return Add(std::string_view(text)); }
  Params& Add(int64_t v);
  Params& Add(uint64_t v) { return Add(static_cast<int64_t>(v)); }
  Params& Add(int v) { return Add(static_cast<int64_t>(v)); }
  Params& Add(uint32_t v) { return Add(static_cast<int64_t>(v)); }
  Params& Add(bool v);
  // NULL when absent.
  Params& Add(const std::optional<std::string>& text);
  Params& AddBytes(std::string_view bytes);
  Params& AddNull();
  Params& Add(const Array& array);
  // A row count for LIMIT, as int8: past its range (SQLite's "no limit"),
  // its largest value, where a negative LIMIT would be an error.
  Params& AddLimit(size_t n) { return Add(static_cast<int64_t>(std::min<uint64_t>(n, INT64_MAX))); }

  int size() const { return static_cast<int>(values_.size()); }
  const unsigned int* types() const { return types_.data(); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  Params& Push(unsigned int type, const char* data, size_t size);

  std::vector<unsigned int> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::deque<std::string> owned_;  // every value, numbers and arrays in network form
};

// The rows of a query's result, as text. Column and row indexes are 0-based.
class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}

  int size() const { return result_ ? PQntuples(result_.get()) : 0; }
  bool empty() const { return size() == 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
  // Valid as long as this Rows.
  std::string_view Text(int row, int col) const {
    return {PQgetvalue(result_.get(), row, col),
            static_cast<size_t>(PQgetlength(result_.get(), row, col))};
  }
  std::optional<std::string> OptionalText(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return std::string(Text(row, col));
  }
  int64_t Int(int row, int col) const;  // 0 for NULL
  bool Bool(int row, int col) const { return Text(row, col) == "t"; }
  // A bytea column's bytes ("" for NULL).
  std::string Bytes(int row, int col) const;
  // The rows a command changed (INSERT, UPDATE, DELETE).
  int64_t affected() const;

 private:
  std::shared_ptr<PGresult> result_;
};

// One row of a Rows, read by column: the accessors sqlite::Stmt has, so that
// decoders of rows both backends select are written once (store/). Valid
// as long as its Rows.
class Row {
 public:
  Row(const Rows& rows, int row) : rows_(&rows), row_(row) {}
  bool IsNull(int col) const { return rows_->IsNull(row_, col); }
  std::string_view Text(int col) const { return rows_->Text(row_, col); }
  std::optional<std::string> OptionalText(int col) const { return rows_->OptionalText(row_, col); }
  int64_t Int(int col) const { return rows_->Int(row_, col); }
  bool Bool(int col) const { return rows_->Bool(row_, col); }
  // A bytea column's bytes.
  std::string Blob(int col) const { return rows_->Bytes(row_, col); }

 private:
  const Rows* rows_;
  int row_;
};

// Maps a failed result (or connection, when `result` is null) to a Status;
// `what` says what braid was doing.
Status ErrorStatus(PGconn* conn, const PGresult* result, std::string_view what);

class Conn {
 public:
  // Checks a connection string or URI without connecting.
  // Errors: InvalidArgument with libpq's reason.
  static Status CheckConninfo(const std::string& conninfo);
  // Connects with a libpq connection string or URI. Errors: Unavailable
  // (the server cannot be reached, or refused the credentials).
  static Result<std::unique_ptr<Conn>> Open(const std::string& conninfo);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs one or more statements without parameters (schema, BEGIN, SET).
  Status Exec(std::string_view sql);
  // Runs `sql`, which must be a string literal (or live as long as this
  // Conn): it is the key of the statement prepared for it.
  Result<Rows> Query(const char* sql, const Params& params);
  Result<Rows> Query(const char* sql) { return Query(sql, Params()); }
  // Runs a statement built at run time (prepared anew each time).
  Result<Rows> QueryText(const std::string& sql, const Params& params);
  // Runs `copy_sql` (COPY ... FROM STDIN) with `data` in COPY's text format.
  Status CopyIn(const char* copy_sql, std::string_view data);

  // Waits up to `timeout` for notifications on the channels this
  // connection LISTENs to; returns their payloads (empty: none came).
  Result<std::vector<std::string>> WaitForNotifications(std::chrono::milliseconds timeout);

  // Connects again after the connection was lost (statements prepared on
  // the old one are forgotten). Errors: Unavailable.
  Status Reset();
  // False once the connection was lost: the pool drops it.
  bool healthy() const { return PQstatus(conn_) == CONNECTION_OK; }
  PGconn* handle() const { return conn_; }

 private:
  explicit Conn(PGconn* conn) : conn_(conn) {}

  PGconn* conn_;
  std::unordered_map<const char*, std::string> prepared_;  // SQL text -> statement name
};

// Escapes `text` for COPY's text format (backslash, tab, newline, CR) and
// appends it to `out`.
void AppendCopyText(std::string_view text, std::string* out);
// Appends a bytea value in COPY's text format (\\x hex).
void AppendCopyBytes(std::string_view bytes, std::string* out);

}  // namespace braid::pg

#endif  // BRAID_PG_CONN_H_
