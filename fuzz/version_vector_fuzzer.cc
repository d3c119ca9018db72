// Version vectors and versions in their text forms
// (include/braid/version_vector.h, src/store/wire.h): peers send them in
// handshakes, chunks and records; clients in If-Match headers.
//
// Checks that a parsed vector keeps its invariants (sorted, unique keys, no
// zero counters or keys, at most kMaxVersionVectorEntries), writes back to
// text that parses to an equal vector, and compares as a partial order
// should with itself and with a merge; and that a parsed version prints
// back to text that parses to the same version.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "braid/version_vector.h"
#include "fuzz/check.h"
#include "store/wire.h"

namespace {

using braid::Ordering;
using braid::VersionVector;

void CheckVersionVector(std::string_view text) {
  const auto vv = braid::VersionVectorFromJson(text);
  if (!vv.ok()) {
    FUZZ_CHECK(vv.status().code() == braid::Code::kInvalidArgument);
    return;
  }
  const auto& entries = vv->entries();
  FUZZ_CHECK(entries.size() <= braid::kMaxVersionVectorEntries);
  for (size_t i = 0; i < entries.size(); ++i) {
    FUZZ_CHECK(!entries[i].first.IsZero());
    FUZZ_CHECK(entries[i].second > 0 && entries[i].second <= uint64_t{INT64_MAX});
    FUZZ_CHECK(i == 0 || entries[i - 1].first < entries[i].first);
  }

  const auto back = braid::VersionVectorFromJson(braid::VersionVectorToJson(*vv));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(*back == *vv);

  FUZZ_CHECK(vv->Compare(*vv) == Ordering::kEqual);
  VersionVector grown = *vv;
  if (!entries.empty()) grown.Set(entries.back().first, entries.back().second + 1);
  if (!entries.empty()) {
    FUZZ_CHECK(vv->Compare(grown) == Ordering::kBefore);
    FUZZ_CHECK(grown.Compare(*vv) == Ordering::kAfter);
  }
  VersionVector merged;
  merged.MergeFrom(*vv);
  FUZZ_CHECK(merged == *vv);
}

void CheckVersion(std::string_view text) {
  const auto v = braid::ParseVersion(text);
  if (!v.ok()) return;
  FUZZ_CHECK(v->counter > 0 && v->counter <= uint64_t{INT64_MAX});
  // Not the same text: hex digits may come in either case, counters with
  // leading zeros.
  const auto back = braid::ParseVersion(v->ToString());
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(*back == *v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  CheckVersionVector(text);
  CheckVersion(text);
  return 0;
}
