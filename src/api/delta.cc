// GET /api/v1/delta: one page of the delta feed, long-polled with wait=S.

#include <chrono>
#include <memory>

#include "api/api.h"
#include "api/query.h"
#include "api/waiters.h"
#include "braid/delta.h"
#include "feed/format.h"

namespace braid::api {
void Api::Delta(const http::Request& request, http::Responder respond) {
  auto q = Query::Parse(request.query, {"cursor", "limit", "collection", "parent", "wait"});
  if (!q.ok()) return respond(ErrorResponse(q.status()));
  DeltaRequest dr;
  dr.cursor = q->Get("cursor").value_or("");
  auto limit = q->GetInt("limit", 1, static_cast<int64_t>(kMaxDeltaLimit));
  if (!limit.ok()) return respond(ErrorResponse(limit.status()));
  dr.limit = static_cast<size_t>(limit->value_or(kDefaultDeltaLimit));
  dr.collection = q->Get("collection");
  dr.parent = q->Get("parent");
  auto wait = q->GetInt("wait", 0, options_.max_wait_seconds);
  if (!wait.ok()) return respond(ErrorResponse(wait.status()));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait->value_or(0));
  LongPoll(
      waiters_.get(), deadline,
      [this, dr = std::move(dr)](bool last) -> std::optional<http::Response> {
        auto page = ReadDelta(store_, dr);
        if (!page.ok()) return ErrorResponse(page.status());
        if (page->items.empty() && !page->has_more && !last) return std::nullopt;
        return JsonResponse(200, DeltaPageJson(*page));
      },
      std::move(respond));
}

}  // namespace braid::api
