// The small replication messages (src/repl/protocol.h): the session
// handshake both ways, pull requests and push answers, a live remote's
// wait and its answer, records asked for by name, and the filter
// normalization a handshake applies. Each input is offered to every parser.
//
// Checks that what a parser accepts, written back, parses to the same
// message, that a handshake's protocol number is the one sent (not wrapped
// into an int), and that a normalized filter is sorted, without duplicates
// or covered prefixes, and normalizes to itself.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/validate.h"
#include "fuzz/check.h"
#include "repl/protocol.h"

namespace {

using namespace braid::repl;  // NOLINT(google-build-using-namespace): the file tests it all

void CheckNormalized(const std::vector<std::string>& filter) {
  FUZZ_CHECK(std::is_sorted(filter.begin(), filter.end()));
  for (size_t i = 0; i < filter.size(); ++i) {
    for (size_t j = 0; j < filter.size(); ++j) {
      FUZZ_CHECK(i == j || !braid::PartitionCovers(filter[i], filter[j]));
    }
  }
  const auto again = NormalizeFilter(filter);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == filter);
}

// The "protocol" member of a message the parsers accepted, as a JSON
// integer (the last one, as the parsers take it); nullopt when absent.
std::optional<int64_t> ProtocolSent(std::string_view text) {
  std::optional<int64_t> protocol;
  braid::json::Value(text).ForEachMember([&](std::string_view key, braid::json::Value v) {
    if (key == "protocol") protocol = v.AsInt64();
    return true;
  });
  return protocol;
}

void HandshakeRequestRoundTrips(std::string_view text) {
  const auto r = ParseHandshakeRequest(text);
  if (!r.ok()) return;
  FUZZ_CHECK(ProtocolSent(text) == r->protocol);
  CheckNormalized(r->filter);
  const auto back = ParseHandshakeRequest(HandshakeRequestJson(*r));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->protocol == r->protocol);
  FUZZ_CHECK(back->instance_id == r->instance_id);
  FUZZ_CHECK(back->direction == r->direction);
  FUZZ_CHECK(back->filter == r->filter);
  FUZZ_CHECK(back->fsic == r->fsic);
  FUZZ_CHECK(back->chunk_size == r->chunk_size);
  FUZZ_CHECK(back->compression == r->compression);
}

void HandshakeResponseRoundTrips(std::string_view text) {
  const auto r = ParseHandshakeResponse(text);
  if (!r.ok()) return;
  const auto sent = ProtocolSent(text);
  FUZZ_CHECK(!sent || *sent == r->protocol);
  const auto back = ParseHandshakeResponse(HandshakeResponseJson(*r));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->session == r->session);
  FUZZ_CHECK(back->protocol == r->protocol);
  FUZZ_CHECK(back->instance_id == r->instance_id);
  FUZZ_CHECK(back->fsic == r->fsic);
  FUZZ_CHECK(back->compression == r->compression);
  FUZZ_CHECK(back->chunk_size == r->chunk_size);
  FUZZ_CHECK(back->pull_pending == r->pull_pending);
}

void PullRequestRoundTrips(std::string_view text) {
  const auto p = ParsePullRequest(text);
  if (!p.ok()) return;
  const auto back = ParsePullRequest(PositionJson(*p));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(*back == *p);
}

void PushResultRoundTrips(std::string_view text) {
  const auto r = ParsePushResult(text);
  if (!r.ok()) return;
  const auto back = ParsePushResult(PushResultJson(*r));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(PushResultJson(*back) == PushResultJson(*r));
}

void WaitRequestRoundTrips(std::string_view text) {
  const auto r = ParseWaitRequest(text);
  if (!r.ok()) return;
  CheckNormalized(r->filter);
  FUZZ_CHECK(r->wait_ms >= 0 && r->wait_ms <= kMaxWaitMs);
  const auto back = ParseWaitRequest(WaitRequestJson(*r));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->filter == r->filter);
  FUZZ_CHECK(back->since == r->since);
  FUZZ_CHECK(back->wait_ms == r->wait_ms);
  const auto answer = ParseWaitResponse(WaitResponseJson(r->since));
  FUZZ_CHECK(answer.ok() && *answer == r->since);
}

void NamesRequestRoundTrips(std::string_view text) {
  const auto names = ParseNamesRequest(text);
  if (!names.ok()) return;
  FUZZ_CHECK(names->size() <= kMaxNames);
  for (const auto& [c, id] : *names) {
    FUZZ_CHECK(braid::ValidateCollection(c).ok());
    FUZZ_CHECK(braid::ValidateRecordId(id).ok());
  }
  const auto back = ParseNamesRequest(NamesRequestJson(*names));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(*back == *names);
}

// The input's lines as a filter, the way `braid remote add --filter` and
// braid.toml hand one over.
void FilterNormalizes(std::string_view text) {
  std::vector<std::string> prefixes;
  while (!text.empty() && prefixes.size() < 64) {
    const size_t nl = text.find('\n');
    prefixes.emplace_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  const auto filter = NormalizeFilter(prefixes);
  if (filter.ok()) CheckNormalized(*filter);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  HandshakeRequestRoundTrips(text);
  HandshakeResponseRoundTrips(text);
  PullRequestRoundTrips(text);
  PushResultRoundTrips(text);
  WaitRequestRoundTrips(text);
  NamesRequestRoundTrips(text);
  FilterNormalizes(text);
  return 0;
}
