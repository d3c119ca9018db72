#include "store/codec.h"

#include <utility>

#include "base/varint.h"

namespace braid {

bool IsImpliedVector(const LocalVector& vv, uint32_t origin, uint64_t counter) {
  return vv.entries().size() == 1 && vv.entries()[0].first == origin &&
         vv.entries()[0].second == counter;
}

LocalVector ImpliedVector(uint32_t origin, uint64_t counter) {
  LocalVector vv;
  vv.Set(origin, counter);
  return vv;
}

std::string EncodeLocalVector(const LocalVector& vv) {
  std::string out;
  out.reserve(vv.entries().size() * 6);
  for (const auto& [num, counter] : vv.entries()) {
    PutVarint(&out, num);
    PutVarint(&out, counter);
  }
  return out;
}

Result<LocalVector> DecodeLocalVector(std::string_view blob) {
  LocalVector vv;
  uint64_t prev = 0;
  bool first = true;
  while (!blob.empty()) {
    uint64_t num, counter;
    if (!GetVarint(&blob, &num) || !GetVarint(&blob, &counter) || num > UINT32_MAX ||
        (!first && num <= prev) || counter == 0) {
      return Status::Corruption("malformed version vector in the store");
    }
    vv.Set(static_cast<uint32_t>(num), counter);
    prev = num;
    first = false;
  }
  return vv;
}

}  // namespace braid
