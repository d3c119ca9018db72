// braid's JSON answers: {"code","message"} errors with the status of their
// code (braid/status.h), and JSON bodies.

#ifndef BRAID_HTTP_ERRORS_H_
#define BRAID_HTTP_ERRORS_H_

#include <exception>
#include <string>

#include "braid/status.h"
#include "http/server.h"

namespace braid::http {

Response JsonResponse(int status, std::string body);

// Calls `fn` (a handler's sink or source, which returns a Status or a
// Result), turning an exception into Internal: such code must not unwind
// through Beast or libcurl. `what` names it in the message.
template <typename Fn>
auto CallCatching(const char* what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + " threw: " + e.what());
  } catch (...) {
    return Status::Internal(std::string(what) + " threw an unknown exception");
  }
}
Response ErrorResponse(const Status& status);

}  // namespace braid::http

#endif  // BRAID_HTTP_ERRORS_H_
