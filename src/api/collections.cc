// Collection settings: GET|PUT /api/v1/collections/C, the conflict policy
// and the fields of the search index.

#include <optional>

#include "api/api.h"
#include "base/json.h"
#include "index/text.h"

namespace braid::api {
namespace {

constexpr char kShape[] =
    "collection settings are {\"conflicts\": \"merge|lww|skip|remote-wins|local-wins\", "
    "\"index\": \"FIELD[:WEIGHT],...\" or null (every string field)}";

}  // namespace

http::Response Api::CollectionSettings(std::string_view collection, const http::Request& request) {
  if (request.method == "PUT") {
    std::string text;
    auto body = ParseBody(request, &text);
    if (!body.ok()) return ErrorResponse(body.status());
    if (!body->IsObject()) return ErrorResponse(Status::InvalidArgument(kShape));
    std::optional<ConflictPolicy> policy;
    bool set_index = false;
    std::optional<std::string> spec;  // with set_index: nullopt = every string field
    Status status;
    body->ForEachMember([&](std::string_view key, json::Value v) {
      const auto s = v.AsString();
      if (key == "conflicts" && s) {
        auto p = ParsePolicy(*s);
        status = p.status();
        if (p.ok()) policy = *p;
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
    if (!policy && !set_index) {
      return ErrorResponse(Status::InvalidArgument("give \"conflicts\" or \"index\""));
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
  std::string out;
  json::Writer(&out)
      .BeginObject()
      .Key("collection")
      .String(collection)
      .Key("conflicts")
      .String(PolicyName(*policy))
      .Key("index")
      .OptionalString(spec)
      .EndObject();
  return JsonResponse(200, std::move(out));
}

}  // namespace braid::api
