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

}  // namespace braid
