// Status and Result<T>: how every braid function reports failure.
//
// Errors are values. A Status is either OK or carries a Code and a message
// written for the person who caused the error ("collection \"Notes\" is
// invalid: use [a-z][a-z0-9_.-]{0,63}"). Each Code has one row in a central
// table that gives its wire name (the "code" field of HTTP error bodies), its
// HTTP status and the exit code of the CLI, so the three stay consistent.
//
// No exception crosses a module, HTTP or CLI boundary; code that calls a
// throwing library converts at the call site.
//
// Thread-safety: Status and Result are values; distinct objects may be used
// from distinct threads freely.

#ifndef BRAID_STATUS_H_
#define BRAID_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace braid {

enum class Code : unsigned char {
  kOk = 0,
  kInvalidArgument,   // bad input: malformed JSON, invalid name, bad option
  kNotFound,          // no such record, route, remote...
  kAlreadyExists,     // init on an existing data directory, duplicate name
  kConflict,          // concurrent modification, failed precondition
  kResyncRequired,    // delta cursor unknown, foreign, malformed or compacted
  kPayloadTooLarge,   // a body or record over its size limit
  kUnauthorized,      // missing or wrong credentials
  kForbidden,         // credentials valid, operation outside their scope
  kMethodNotAllowed,  // HTTP method not supported on a route
  kTooManyRequests,   // a client failed too often (logins); it may retry later
  kBusy,              // the store stayed locked past the busy timeout
  kUnavailable,       // a peer or service could not be reached; retry later
  kIoError,           // the operating system refused a read or write
  kCorruption,        // stored data is not what braid wrote
  kInternal,          // a bug: an invariant did not hold
  kPartial,           // part of the work was done; the message names what was not
  kReadOnly,          // the record belongs to a remote that keeps it read-only here
};

// One row of the central error table.
struct CodeInfo {
  Code code;
  std::string_view name;  // wire name, e.g. "resyncRequired"
  int http_status;        // e.g. 410
  int exit_code;          // CLI exit code, see docs/cli.md
};

// The row for `code`. Never fails.
const CodeInfo& InfoFor(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status ResyncRequired(std::string m) { return {Code::kResyncRequired, std::move(m)}; }
  static Status PayloadTooLarge(std::string m) { return {Code::kPayloadTooLarge, std::move(m)}; }
  static Status Unauthorized(std::string m) { return {Code::kUnauthorized, std::move(m)}; }
  static Status Forbidden(std::string m) { return {Code::kForbidden, std::move(m)}; }
  static Status MethodNotAllowed(std::string m) { return {Code::kMethodNotAllowed, std::move(m)}; }
  static Status TooManyRequests(std::string m) { return {Code::kTooManyRequests, std::move(m)}; }
  static Status Busy(std::string m) { return {Code::kBusy, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status Partial(std::string m) { return {Code::kPartial, std::move(m)}; }
  static Status ReadOnly(std::string m) { return {Code::kReadOnly, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "notFound: record notes/n1 does not exist", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is "`context`: <message>"; OK stays OK.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK when a value is held.
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }

  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  // The value, or `fallback` when this holds an error.
  T value_or(T fallback) const& { return ok() ? std::get<T>(v_) : std::move(fallback); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace braid

#define BRAID_CONCAT_INNER_(a, b) a##b
#define BRAID_CONCAT_(a, b) BRAID_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define BRAID_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::braid::Status braid_status_ = (expr);        \
    if (!braid_status_.ok()) return braid_status_; \
  } while (0)

// `lhs = value of expr` or return its Status. `lhs` may declare a variable:
//   BRAID_ASSIGN_OR_RETURN(auto rec, store.Get(...));
#define BRAID_ASSIGN_OR_RETURN(lhs, expr) \
  BRAID_ASSIGN_OR_RETURN_IMPL_(BRAID_CONCAT_(braid_result_, __LINE__), lhs, expr)
#define BRAID_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

#endif  // BRAID_STATUS_H_
