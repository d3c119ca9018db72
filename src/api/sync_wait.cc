// POST /api/v1/sync/wait: a live remote's long-poll (repl/protocol.h,
// WaitRequest; docs/protocol.md, "Waiting for changes").

#include <chrono>
#include <memory>

#include "api/api.h"
#include "api/waiters.h"
#include "repl/protocol.h"

namespace braid::api {
namespace {

// True when `now` has an entry above `since`.
bool Moved(const VersionVector& now, const VersionVector& since) {
  for (const auto& [origin, counter] : now.entries()) {
    if (counter > since.Get(origin)) return true;
  }
  return false;
}

}  // namespace

void Api::SyncWait(const http::Request& request, const Principal& who, http::Responder respond) {
  auto req = repl::ParseWaitRequest(request.body);
  if (!req.ok()) return respond(http::ErrorResponse(req.status()));
  if (!ScopeWithin(req->filter, who.scope)) {
    return respond(http::ErrorResponse(
        Status::Forbidden(who.Describe() +
                          " may not read every partition of this filter; wait with a filter "
                          "inside its scope")));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(req->wait_ms);
  // This store's FSIC for the filter, once it has a write the client has
  // not seen (or at the deadline).
  LongPoll(
      waiters_.get(), deadline,
      [this, req = std::move(*req)](bool last) -> std::optional<http::Response> {
        auto fsic = store_.Fsic(req.filter);
        if (!fsic.ok()) return http::ErrorResponse(fsic.status());
        if (!last && !Moved(*fsic, req.since)) return std::nullopt;
        return http::JsonResponse(200, repl::WaitResponseJson(*fsic));
      },
      std::move(respond));
}

}  // namespace braid::api
