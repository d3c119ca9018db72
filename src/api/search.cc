// GET /api/v1/search?q=&collection=&limit=&cursor= (docs/protocol.md,
// "Search").

#include "api/api.h"
#include "api/query.h"
#include "base/validate.h"
#include "index/follower.h"
#include "index/results.h"
#include "index/search_index.h"

namespace braid::api {

http::Response Api::Search(const http::Request& request, const Principal& who) {
  if (options_.search == nullptr) {
    return ErrorResponse(
        Status::NotFound("this server keeps no search index (server.search = false)"));
  }
  auto q = Query::Parse(request.query, {"q", "collection", "limit", "cursor"});
  if (!q.ok()) return ErrorResponse(q.status());
  index::SearchRequest req;
  const auto text = q->Get("q");
  if (!text) return ErrorResponse(Status::InvalidArgument("missing q= (the search query)"));
  req.query = *text;
  if (auto c = q->Get("collection")) {
    if (Status s = ValidateCollection(*c); !s.ok()) return ErrorResponse(s);
    req.collection = std::move(*c);
  }
  auto limit = q->GetInt("limit", 1, static_cast<int64_t>(index::kMaxSearchLimit));
  if (!limit.ok()) return ErrorResponse(limit.status());
  if (*limit) req.limit = static_cast<size_t>(**limit);
  if (auto c = q->Get("cursor")) {
    auto cursor = index::DecodeCursor(*c);
    if (!cursor.ok()) return ErrorResponse(cursor.status());
    req.after = *cursor;
  }
  req.visible = [&who](std::string_view partition) { return who.CanRead(partition); };
  // Every write committed before this request, in the index: wait for the
  // follower to deal with the newest change-log seq there is now.
  auto newest = LogHead(store_);
  if (!newest.ok()) return ErrorResponse(newest.status());
  index::Follower::State state;
  if (options_.follower != nullptr) {
    state = options_.follower->WaitFor(newest->last_seq, kSearchFreshWait);
  }
  auto page = options_.search->Search(req);
  if (!page.ok()) {
    if (page.status().code() == Code::kUnavailable && state.rebuilding) {
      return ErrorResponse(Status::Unavailable("the search index is being built (" +
                                               std::to_string(state.progress.events_done) + " of " +
                                               std::to_string(state.progress.events_total) +
                                               " changes read); try again in a moment"));
    }
    return ErrorResponse(page.status());
  }
  const uint64_t pending =
      newest->last_seq > page->indexed_to ? newest->last_seq - page->indexed_to : 0;
  return JsonResponse(200, index::SearchPageJson(*page, pending));
}

}  // namespace braid::api
