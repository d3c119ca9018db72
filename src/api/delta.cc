// GET /api/v1/delta: one page of the delta feed, long-polled with wait=S.

#include <chrono>
#include <memory>

#include "api/api.h"
#include "api/query.h"
#include "api/waiters.h"
#include "braid/delta.h"
#include "feed/format.h"

namespace braid::api {
namespace {

// One long-poll: reads a page, and when it is empty waits for the next
// commit (or the deadline) and reads again.
class DeltaPoll : public std::enable_shared_from_this<DeltaPoll> {
 public:
  DeltaPoll(Store& store, Waiters* waiters, DeltaRequest request,
            std::chrono::steady_clock::time_point deadline, http::Responder respond)
      : store_(store),
        waiters_(waiters),
        request_(std::move(request)),
        deadline_(deadline),
        respond_(std::move(respond)) {}

  void Run() {
    // The generation is read before the page, so a commit landing between
    // the read and Wait() makes Wait() call back at once.
    const uint64_t generation = waiters_ != nullptr ? waiters_->generation() : 0;
    auto page = ReadDelta(store_, request_);
    if (!page.ok()) return respond_(ErrorResponse(page.status()));
    if (!page->items.empty() || page->has_more || waiters_ == nullptr ||
        waiters_->shutting_down() || std::chrono::steady_clock::now() >= deadline_) {
      return respond_(JsonResponse(200, DeltaPageJson(*page)));
    }
    waiters_->Wait(generation, deadline_, [self = shared_from_this()] { self->Run(); });
  }

 private:
  Store& store_;
  Waiters* waiters_;
  const DeltaRequest request_;
  const std::chrono::steady_clock::time_point deadline_;
  http::Responder respond_;
};

}  // namespace

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
  std::make_shared<DeltaPoll>(store_, waiters_.get(), std::move(dr), deadline, std::move(respond))
      ->Run();
}

}  // namespace braid::api
