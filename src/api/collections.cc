// Collection settings: GET|PUT /api/v1/collections/C, the conflict policy,
// the fields of the search index and the references; GET
// /api/v1/collections, every collection with a setting.

#include <map>
#include <optional>

#include "api/api.h"
#include "base/json.h"
#include "index/text.h"

namespace braid::api {
namespace {

constexpr char kShape[] =
    "collection settings are {\"conflicts\": \"merge|lww|skip|remote-wins|local-wins\", "
    "\"index\": \"FIELD[:WEIGHT],...\" or null (every string field), \"refs\": "
    "[\"FIELD=COLLECTION\" or \"FIELD[]=COLLECTION\", ...]}";

void WriteSettings(json::Writer& w, std::string_view collection, ConflictPolicy policy,
                   const std::optional<std::string>& index, const std::vector<Reference>& refs) {
  w.BeginObject()
      .Key("collection")
      .String(collection)
      .Key("conflicts")
      .String(PolicyName(policy))
      .Key("index")
      .OptionalString(index)
      .Key("refs")
      .BeginArray();
  for (const auto& r : refs) w.String(ReferenceSpec(r));
  w.EndArray().EndObject();
}

}  // namespace

http::Response Api::CollectionList() {
  auto policies = store_.Policies();
  if (!policies.ok()) return ErrorResponse(policies.status());
  auto fields = store_.SearchFields();
  if (!fields.ok()) return ErrorResponse(fields.status());
  auto refs = store_.References();
  if (!refs.ok()) return ErrorResponse(refs.status());
  struct Row {
    ConflictPolicy policy = ConflictPolicy::kMerge;
    std::optional<std::string> index;
    std::vector<Reference> refs;
  };
  std::map<std::string, Row> rows;
  for (const auto& [name, p] : *policies) rows[name].policy = p;
  for (const auto& [name, spec] : *fields) rows[name].index = spec;
  for (const auto& [name, list] : *refs) rows[name].refs = list;
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("collections").BeginArray();
  for (const auto& [name, row] : rows) WriteSettings(w, name, row.policy, row.index, row.refs);
  w.EndArray().EndObject();
  return JsonResponse(200, std::move(out));
}

http::Response Api::CollectionSettings(std::string_view collection, const http::Request& request) {
  if (request.method == "PUT") {
    std::string text;
    auto body = ParseBody(request, &text);
    if (!body.ok()) return ErrorResponse(body.status());
    if (!body->IsObject()) return ErrorResponse(Status::InvalidArgument(kShape));
    std::optional<ConflictPolicy> policy;
    std::optional<std::vector<Reference>> refs;
    bool set_index = false;
    std::optional<std::string> spec;  // with set_index: nullopt = every string field
    Status status;
    body->ForEachMember([&](std::string_view key, json::Value v) {
      const auto s = v.AsString();
      if (key == "conflicts" && s) {
        auto p = ParsePolicy(*s);
        status = p.status();
        if (p.ok()) policy = *p;
      } else if (key == "refs" && v.IsArray()) {
        refs.emplace();
        v.ForEachElement([&](json::Value e) {
          auto r = ParseReference(e.AsString().value_or(""));
          status = r.status();
          if (r.ok()) refs->push_back(std::move(*r));
          return status.ok();
        });
      } else if (key == "index" && (s || v.IsNull())) {
        set_index = true;
        if (s) {
          auto parsed = index::ParseIndexSpec(*s);
          status = parsed.status();
          if (parsed.ok()) spec = index::FormatIndexSpec(*parsed);
        }
      } else {
        status = Status::InvalidArgument(kShape);
      }
      return status.ok();
    });
    if (!status.ok()) return ErrorResponse(status);
    if (!policy && !set_index && !refs) {
      return ErrorResponse(Status::InvalidArgument("give \"conflicts\", \"index\" or \"refs\""));
    }
    auto txn = store_.BeginWrite();
    if (!txn.ok()) return ErrorResponse(txn.status());
    if (policy) {
      if (Status s = (*txn)->SetPolicy(collection, *policy); !s.ok()) return ErrorResponse(s);
    }
    if (set_index) {
      Status s = (*txn)->SetSearchFields(
          collection, spec ? std::optional<std::string_view>(*spec) : std::nullopt);
      if (!s.ok()) return ErrorResponse(s);
    }
    if (refs) {
      if (Status s = (*txn)->SetReferences(collection, *refs); !s.ok()) return ErrorResponse(s);
    }
    if (Status s = (*txn)->Commit(); !s.ok()) return ErrorResponse(s);
  }
  auto policy = store_.Policy(collection);
  if (!policy.ok()) return ErrorResponse(policy.status());
  auto fields = store_.SearchFields();
  if (!fields.ok()) return ErrorResponse(fields.status());
  std::optional<std::string> spec;
  for (const auto& [name, s] : *fields) {
    if (name == collection) spec = s;
  }
  auto refs = store_.References();
  if (!refs.ok()) return ErrorResponse(refs.status());
  std::vector<Reference> mine;
  for (const auto& [name, list] : *refs) {
    if (name == collection) mine = list;
  }
  std::string out;
  json::Writer w(&out);
  WriteSettings(w, collection, *policy, spec, mine);
  return JsonResponse(200, std::move(out));
}

}  // namespace braid::api
