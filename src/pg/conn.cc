#include "pg/conn.h"

#include <poll.h>

#include <charconv>
#include <cstring>

#include "base/ids.h"

namespace braid::pg {
namespace {

constexpr unsigned int kBoolOid = 16;
constexpr unsigned int kByteaOid = 17;
constexpr unsigned int kInt8Oid = 20;
constexpr unsigned int kTextOid = 25;

void AppendBigEndian(uint64_t v, int bytes, std::string* out) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

Array& Array::Add(std::string_view v) {
  AppendBigEndian(static_cast<uint32_t>(v.size()), 4, &elements_);
  elements_.append(v);
  ++count_;
  return *this;
}

Array& Array::Add(int64_t v) {
  AppendBigEndian(8, 4, &elements_);
  AppendBigEndian(static_cast<uint64_t>(v), 8, &elements_);
  ++count_;
  return *this;
}

Array& Array::AddNull() {
  AppendBigEndian(0xffffffffu, 4, &elements_);
  has_null_ = true;
  ++count_;
  return *this;
}

unsigned int Array::oid() const {
  switch (type_) {
    case Type::kText:
      return 1009;
    case Type::kInt8:
      return 1016;
    case Type::kBytea:
      return 1001;
  }
  return 0;
}

std::string Array::Encode() const {
  const unsigned int elem = type_ == Type::kText   ? kTextOid
                            : type_ == Type::kInt8 ? kInt8Oid
                                                   : kByteaOid;
  std::string out;
  out.reserve(20 + elements_.size());
  AppendBigEndian(count_ == 0 ? 0 : 1, 4, &out);  // dimensions
  AppendBigEndian(has_null_ ? 1 : 0, 4, &out);
  AppendBigEndian(elem, 4, &out);
  if (count_ != 0) {
    AppendBigEndian(count_, 4, &out);
    AppendBigEndian(1, 4, &out);  // lower bound
  }
  out += elements_;
  return out;
}

Params& Params::Push(unsigned int type, const char* data, size_t size) {
  types_.push_back(type);
  values_.push_back(data);
  lengths_.push_back(static_cast<int>(size));
  formats_.push_back(1);
  return *this;
}

// Copied: a parameter made from a temporary (std::to_string(...)) must
// outlive the call that runs the statement. (Bulk rows go by COPY, not
// here.) A copy's data() is never null, so "" is not SQL NULL.
Params& Params::Add(std::string_view text) {
  const std::string& s = owned_.emplace_back(text);
  return Push(kTextOid, s.data(), s.size());
}

Params& Params::Add(int64_t v) {
  std::string& s = owned_.emplace_back();
  AppendBigEndian(static_cast<uint64_t>(v), 8, &s);
  return Push(kInt8Oid, s.data(), s.size());
}

Params& Params::Add(bool v) {
  std::string& s = owned_.emplace_back(1, v ? '\1' : '\0');
  return Push(kBoolOid, s.data(), s.size());
}

Params& Params::Add(const std::optional<std::string>& text) {
  if (!text) {
    types_.push_back(kTextOid);
    values_.push_back(nullptr);
    lengths_.push_back(0);
    formats_.push_back(1);
    return *this;
  }
  return Add(std::string_view(*text));
}

Params& Params::AddBytes(std::string_view bytes) {
  const std::string& s = owned_.emplace_back(bytes);
  return Push(kByteaOid, s.data(), s.size());
}

Params& Params::AddNull() {
  types_.push_back(0);  // the server infers the type
  values_.push_back(nullptr);
  lengths_.push_back(0);
  formats_.push_back(1);
  return *this;
}

Params& Params::Add(const Array& array) {
  std::string& s = owned_.emplace_back(array.Encode());
  return Push(array.oid(), s.data(), s.size());
}

int64_t Rows::Int(int row, int col) const {
  const std::string_view t = Text(row, col);
  int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

std::string Rows::Bytes(int row, int col) const {
  const std::string_view t = Text(row, col);
  // bytea's text output: \x then hex.
  if (t.size() < 2 || t[0] != '\\' || t[1] != 'x') return std::string();
  return HexDecode(t.substr(2)).value_or(std::string());
}

int64_t Rows::affected() const {
  if (!result_) return 0;
  const char* n = PQcmdTuples(result_.get());
  int64_t v = 0;
  std::from_chars(n, n + std::strlen(n), v);
  return v;
}

Status ErrorStatus(PGconn* conn, const PGresult* result, std::string_view what) {
  std::string message = result != nullptr ? PQresultErrorMessage(result) : "";
  if (message.empty() && conn != nullptr) message = PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view sqlstate = state != nullptr ? state : "";
  std::string text = std::string(what) + ": " + message;
  if (!sqlstate.empty()) text += " (SQLSTATE " + std::string(sqlstate) + ")";
  const std::string_view cls = sqlstate.substr(0, 2);
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" || sqlstate == "57014") {
    return Status::Busy(std::move(text));
  }
  if (sqlstate == "23505") return Status::Conflict(std::move(text));
  if (sqlstate == "3D000") return Status::NotFound(std::move(text));
  if (cls == "53" || cls == "58") return Status::IoError(std::move(text));
  if (cls == "XX" && (sqlstate == "XX001" || sqlstate == "XX002")) {
    return Status::Corruption(std::move(text));
  }
  if (cls == "08" || cls == "28" || cls == "57" ||
      (conn != nullptr && PQstatus(conn) != CONNECTION_OK)) {
    return Status::Unavailable(std::move(text));
  }
  return Status::Internal(std::move(text));
}

Status Conn::CheckConninfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options != nullptr) {
    PQconninfoFree(options);
    return Status::OK();
  }
  std::string message = error != nullptr ? error : "out of memory";
  PQfreemem(error);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return Status::InvalidArgument(message);
}

Result<std::unique_ptr<Conn>> Conn::Open(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return Status::IoError("cannot allocate a PostgreSQL connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    PQfinish(conn);
    return Status::Unavailable("cannot connect to PostgreSQL: " + message);
  }
  return std::unique_ptr<Conn>(new Conn(conn));
}

Conn::~Conn() { PQfinish(conn_); }

namespace {

// OK for a result of a command or query; else the error.
Status Check(PGconn* conn, PGresult* result, std::string_view what) {
  const ExecStatusType st = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Status::OK();
  return ErrorStatus(conn, result, what);
}

// The first line of a statement, to say in errors which one failed.
std::string_view Brief(std::string_view sql) {
  while (!sql.empty() && (sql.front() == '\n' || sql.front() == ' ')) sql.remove_prefix(1);
  const size_t end = sql.find('\n');
  sql = sql.substr(0, end);
  return sql.size() > 80 ? sql.substr(0, 80) : sql;
}

}  // namespace

Status Conn::Reset() {
  prepared_.clear();
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) return ErrorStatus(conn_, nullptr, "reconnecting");
  return Status::OK();
}

Status Conn::Exec(std::string_view sql) {
  const std::string text(sql);
  PGresult* res = PQexec(conn_, text.c_str());
  Status s = Check(conn_, res, Brief(sql));
  // PQexec of several statements returns the last result only; an error
  // stops the rest, and is that result.
  PQclear(res);
  return s;
}

Result<Rows> Conn::Query(const char* sql, const Params& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size() + 1);
    PGresult* res = PQprepare(conn_, name.c_str(), sql, params.size(), params.types());
    Status s = Check(conn_, res, Brief(sql));
    PQclear(res);
    if (!s.ok()) return s;
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  PGresult* res = PQexecPrepared(conn_, it->second.c_str(), params.size(), params.values(),
                                 params.lengths(), params.formats(), 0);
  Rows rows(res);
  BRAID_RETURN_IF_ERROR(Check(conn_, res, Brief(sql)));
  return rows;
}

Result<Rows> Conn::QueryText(const std::string& sql, const Params& params) {
  PGresult* res = PQexecParams(conn_, sql.c_str(), params.size(), params.types(), params.values(),
                               params.lengths(), params.formats(), 0);
  Rows rows(res);
  BRAID_RETURN_IF_ERROR(Check(conn_, res, Brief(sql)));
  return rows;
}

Status Conn::CopyIn(const char* copy_sql, std::string_view data) {
  PGresult* res = PQexec(conn_, copy_sql);
  if (res == nullptr || PQresultStatus(res) != PGRES_COPY_IN) {
    Status s = ErrorStatus(conn_, res, Brief(copy_sql));
    PQclear(res);
    return s;
  }
  PQclear(res);
  constexpr size_t kPiece = 1 << 20;
  bool sent = true;
  for (size_t at = 0; at < data.size() && sent; at += kPiece) {
    const size_t n = std::min(kPiece, data.size() - at);
    sent = PQputCopyData(conn_, data.data() + at, static_cast<int>(n)) == 1;
  }
  if (PQputCopyEnd(conn_, sent ? nullptr : "braid: sending the rows failed") != 1) sent = false;
  Status s;
  while ((res = PQgetResult(conn_)) != nullptr) {
    if (s.ok()) s = Check(conn_, res, Brief(copy_sql));
    PQclear(res);
  }
  if (s.ok() && !sent) s = ErrorStatus(conn_, nullptr, Brief(copy_sql));
  return s;
}

Result<std::vector<std::string>> Conn::WaitForNotifications(std::chrono::milliseconds timeout) {
  std::vector<std::string> channels;
  auto drain = [&]() -> Status {
    if (PQconsumeInput(conn_) != 1) return ErrorStatus(conn_, nullptr, "reading notifications");
    while (PGnotify* n = PQnotifies(conn_)) {
      channels.emplace_back(n->extra != nullptr ? n->extra : "");
      PQfreemem(n);
    }
    return Status::OK();
  };
  BRAID_RETURN_IF_ERROR(drain());
  if (!channels.empty()) return channels;
  pollfd p{PQsocket(conn_), POLLIN, 0};
  if (p.fd < 0) return ErrorStatus(conn_, nullptr, "waiting for notifications");
  const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n > 0) BRAID_RETURN_IF_ERROR(drain());
  return channels;
}

void AppendCopyText(std::string_view text, std::string* out) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const char* esc = c == '\\'   ? "\\\\"
                      : c == '\t' ? "\\t"
                      : c == '\n' ? "\\n"
                      : c == '\r' ? "\\r"
                                  : nullptr;
    if (esc == nullptr) continue;
    out->append(text.substr(start, i - start));
    out->append(esc);
    start = i + 1;
  }
  out->append(text.substr(start));
}

void AppendCopyBytes(std::string_view bytes, std::string* out) {
  out->append("\\\\x");  // COPY's escape of bytea's \x
  out->append(HexEncode(bytes));
}

}  // namespace braid::pg
