#include "store/codec.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "base/json.h"

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

using Fields = std::vector<std::pair<std::string, std::string_view>>;  // key -> raw value

Fields SortedFields(std::string_view body) {
  Fields fields;
  json::Value(body).ForEachMember([&](std::string_view key, json::Value value) {
    fields.emplace_back(std::string(key), value.raw());
    return true;
  });
  std::sort(fields.begin(), fields.end());
  return fields;
}

std::vector<std::pair<std::string, uint64_t>> SortedClocks(std::string_view clocks) {
  std::vector<std::pair<std::string, uint64_t>> out;
  if (clocks.empty()) return out;
  json::Value(clocks).ForEachMember([&](std::string_view key, json::Value value) {
    out.emplace_back(std::string(key), static_cast<uint64_t>(value.AsInt64().value_or(0)));
    return true;
  });
  std::sort(out.begin(), out.end());
  return out;
}

template <typename V>
const V* Lookup(const std::vector<std::pair<std::string, V>>& sorted, std::string_view key) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), key,
                             [](const auto& e, std::string_view k) { return e.first < k; });
  return it != sorted.end() && it->first == key ? &it->second : nullptr;
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

std::string NextFieldClocks(std::string_view old_body, uint64_t old_hlc,
                            std::string_view old_clocks, std::string_view new_body,
                            uint64_t new_hlc) {
  const Fields old_fields = SortedFields(old_body);
  const Fields new_fields = SortedFields(new_body);
  const auto clocks = SortedClocks(old_clocks);

  std::vector<std::pair<std::string_view, uint64_t>> out;
  for (const auto& [key, raw] : new_fields) {
    const std::string_view* old_raw = Lookup(old_fields, key);
    if (old_raw != nullptr && *old_raw == raw) {
      const uint64_t* c = Lookup(clocks, key);
      const uint64_t clock = c != nullptr ? *c : old_hlc;
      if (clock != new_hlc) out.emplace_back(key, clock);
    }
  }
  for (const auto& [key, raw] : old_fields) {
    if (Lookup(new_fields, key) == nullptr) out.emplace_back(key, new_hlc);  // removed now
  }
  for (const auto& [key, clock] : clocks) {
    // Removed earlier and still absent: keep the time of removal.
    if (Lookup(old_fields, key) == nullptr && Lookup(new_fields, key) == nullptr) {
      out.emplace_back(key, clock);
    }
  }
  if (out.empty()) return {};
  std::sort(out.begin(), out.end());
  std::string json;
  json::Writer w(&json);
  w.BeginObject();
  for (const auto& [key, clock] : out) w.Key(key).Uint(clock);
  w.EndObject();
  return json;
}

}  // namespace braid
