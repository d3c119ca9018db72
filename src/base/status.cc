#include "braid/status.h"

#include <array>

namespace braid {
namespace {

// The central error table: wire name, HTTP status, CLI exit code.
// docs/cli.md and docs/protocol.md list the same rows; keep them in step.
constexpr std::array<CodeInfo, 18> kTable = {{
    {Code::kOk, "ok", 200, 0},
    {Code::kInvalidArgument, "invalidArgument", 400, 2},
    {Code::kNotFound, "notFound", 404, 3},
    {Code::kAlreadyExists, "alreadyExists", 409, 4},
    {Code::kConflict, "conflict", 409, 4},
    {Code::kResyncRequired, "resyncRequired", 410, 5},
    {Code::kPayloadTooLarge, "payloadTooLarge", 413, 2},
    {Code::kUnauthorized, "unauthorized", 401, 8},
    {Code::kForbidden, "forbidden", 403, 8},
    {Code::kMethodNotAllowed, "methodNotAllowed", 405, 2},
    {Code::kTooManyRequests, "tooManyRequests", 429, 6},
    {Code::kBusy, "busy", 503, 6},
    {Code::kUnavailable, "unavailable", 503, 6},
    {Code::kIoError, "ioError", 500, 7},
    {Code::kCorruption, "corruption", 500, 7},
    {Code::kInternal, "internal", 500, 1},
    {Code::kPartial, "partial", 500, 9},
    {Code::kReadOnly, "readOnly", 403, 8},
}};

}  // namespace

const CodeInfo& InfoFor(Code code) {
  const auto i = static_cast<size_t>(code);
  return i < kTable.size() ? kTable[i] : kTable[static_cast<size_t>(Code::kInternal)];
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(InfoFor(code_).name);
  s += ": ";
  s += message_;
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return {code_, std::move(m)};
}

}  // namespace braid
