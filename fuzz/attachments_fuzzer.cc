// Attachment lists and byte ranges: a record's "_attachments" member comes
// from peers (blob/attachments.h), and every attachment download's Range
// header from clients (api/query.h).
//
// Checks that a list that parses is written back in canonical form and
// parses back the same, that every name and hash in it passed the checks
// that keep blob paths inside the blob store, and that a byte range always
// lies within the body it was asked of.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/query.h"
#include "base/json.h"
#include "blob/attachments.h"
#include "fuzz/check.h"

namespace {

void CheckAttachments(std::string_view text) {
  std::string body;
  if (!braid::json::Validate(text, &body).ok() || !braid::json::Value(body).IsObject()) return;
  const auto list = braid::blob::ParseAttachments(body);
  if (!list.ok()) {
    FUZZ_CHECK(list.status().code() == braid::Code::kInvalidArgument);
    return;
  }
  for (const auto& a : *list) {
    FUZZ_CHECK(braid::blob::ValidateAttachmentName(a.name).ok());
    FUZZ_CHECK(braid::blob::IsSha256Hex(a.sha256) && braid::blob::IsMd5Hex(a.md5));
    FUZZ_CHECK(a.name.find('/') == std::string::npos);
  }
  const std::string canonical = braid::blob::BodyWithAttachments(body, *list);
  std::string minified;
  FUZZ_CHECK(braid::json::Validate(canonical, &minified).ok());
  const auto back = braid::blob::ParseAttachments(canonical);
  FUZZ_CHECK(back.ok() && *back == *list);
  FUZZ_CHECK(braid::blob::BodyWithAttachments(canonical, *back) == canonical);
}

void CheckRange(std::string_view header, uint64_t size) {
  const auto range = braid::api::ParseByteRange(header, size);
  if (!range) return;
  const auto [offset, length] = *range;
  if (length == 0) {
    FUZZ_CHECK(offset == size || size == 0);  // unsatisfiable
    return;
  }
  FUZZ_CHECK(offset < size && length <= size - offset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  CheckAttachments(text);
  for (const uint64_t body_size : {uint64_t{0}, uint64_t{1}, uint64_t{100}, ~uint64_t{0}}) {
    CheckRange(text, body_size);
  }
  return 0;
}
