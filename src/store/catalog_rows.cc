#include "store/catalog_rows.h"

#include "base/json.h"
#include "store/wire.h"

namespace braid {

std::string FilterJson(const std::vector<std::string>& filter) {
  std::string out;
  json::Writer w(&out);
  w.BeginArray();
  for (const auto& p : filter) w.String(p);
  w.EndArray();
  return out;
}

std::vector<std::string> DecodeFilter(std::string_view json) {
  std::vector<std::string> out;
  json::Value(json).ForEachElement([&](json::Value v) {
    out.push_back(v.AsString().value_or(""));
    return true;
  });
  return out;
}

Result<RemoteRules> DecodeRules(std::string_view remote, std::string_view json) {
  auto rules = ParseRulesJson(json);
  if (!rules.ok()) return rules.status().WithContext("remote \"" + std::string(remote) + "\"");
  return rules;
}

Result<std::vector<Reference>> DecodeReferences(std::string_view collection,
                                                std::string_view json) {
  auto refs = ParseReferencesJson(json);
  if (!refs.ok()) return refs.status().WithContext("collection " + std::string(collection));
  return refs;
}

Result<Record> DecodeHeld(std::string_view wire) { return ParseWireRecord(json::Value(wire)); }

std::string EndsJson(const std::vector<std::pair<InstanceId, uint64_t>>& ends) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject();
  for (const auto& [origin, end] : ends) w.Key(origin.Hex()).Uint(end);
  w.EndObject();
  return out;
}

Result<std::vector<std::pair<InstanceId, uint64_t>>> DecodeEnds(std::string_view text) {
  auto bad = [] { return Status::Corruption("a session's stream ends are not readable"); };
  if (!json::Validate(text, nullptr).ok()) return bad();
  const json::Value v(text);
  if (!v.IsObject()) return bad();
  std::vector<std::pair<InstanceId, uint64_t>> out;
  bool ok = true;
  v.ForEachMember([&](std::string_view key, json::Value end) {
    auto id = InstanceId::FromHex(key);
    const auto n = end.AsInt64();
    if (!id.ok() || !n || *n < 0 || (!out.empty() && !(out.back().first < *id))) {
      ok = false;
      return false;
    }
    out.emplace_back(*id, static_cast<uint64_t>(*n));
    return true;
  });
  if (!ok) return bad();
  return out;
}

Result<VersionVector> DecodeSessionVector(std::string_view json) {
  auto vv = VersionVectorFromJson(json);
  if (!vv.ok())
    return Status::Corruption("a session's FSIC is not readable: " + vv.status().message());
  return vv;
}

}  // namespace braid
