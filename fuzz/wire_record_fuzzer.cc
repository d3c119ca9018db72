// Records on the wire (src/store/wire.h): ReadWireRecord, which reads each
// record of a chunk from a peer, ParseWireRecord, which reads held versions
// back, and CheckPeerVersion, which a receiver runs on every record before
// applying it.
//
// Checks that both parsers agree on what they both accept, that an accepted
// record written back reads back the same, and that CheckPeerVersion gives
// the same answer for a body ReadWireRecord normalized whether it is told
// so or has to normalize it again (and then leaves it as it was).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/json.h"
#include "braid/store.h"
#include "fuzz/check.h"
#include "store/wire.h"

namespace {

using braid::Record;

// 2023-11-14: any fixed time; HLCs an hour past it are refused.
constexpr int64_t kNowMs = 1'700'000'000'000;
constexpr size_t kMaxBodyBytes = 1 << 20;

braid::Result<Record> Read(std::string_view text) {
  braid::json::Reader in(text);
  auto r = braid::ReadWireRecord(in);
  if (r.ok()) BRAID_RETURN_IF_ERROR(in.Finish());
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  const auto read = Read(text);

  if (braid::json::Validate(text, nullptr).ok()) {
    auto parsed = braid::ParseWireRecord(braid::json::Value(text));
    // ParseWireRecord leaves the body as written (held versions are stored
    // normalized); ReadWireRecord also refuses a field given twice.
    if (read.ok()) {
      FUZZ_CHECK(parsed.ok());
      std::string minified;
      FUZZ_CHECK(braid::json::Validate(parsed->body, &minified).ok());
      parsed->body = minified;
      FUZZ_CHECK(braid::WireRecordJson(*parsed) == braid::WireRecordJson(*read));
    }
  }
  if (!read.ok()) return 0;

  const std::string written = braid::WireRecordJson(*read);
  const auto again = Read(written);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(braid::WireRecordJson(*again) == written);

  const braid::Status checked =
      braid::CheckPeerVersion(*read, braid::BodyForm::kNormalized, kMaxBodyBytes, kNowMs, nullptr);
  std::string normalized;
  const braid::Status unchecked = braid::CheckPeerVersion(*read, braid::BodyForm::kUnchecked,
                                                          kMaxBodyBytes, kNowMs, &normalized);
  FUZZ_CHECK(checked.code() == unchecked.code());
  FUZZ_CHECK(checked.message() == unchecked.message());
  if (unchecked.ok() && !read->deleted) FUZZ_CHECK(normalized == read->body);
  // A small limit takes the PayloadTooLarge path for most bodies.
  (void)braid::CheckPeerVersion(*read, braid::BodyForm::kNormalized, 16, kNowMs, nullptr);
  return 0;
}
