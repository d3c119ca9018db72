#include "store/codec.h"

#include <utility>

namespace braid {
namespace {

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    result |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace

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
