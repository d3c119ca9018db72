// GET /api/v1/users: every user, for another instance's --import-users
// (docs/remotes.md). Admins only: it carries the password hashes.

#include "api/api.h"
#include "base/json.h"

namespace braid::api {

http::Response Api::UserList() {
  auto users = store_.ListUsers();
  if (!users.ok()) return ErrorResponse(users.status());
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("users").BeginArray();
  for (const User& u : *users) {
    w.BeginObject()
        .Key("name")
        .String(u.name)
        .Key("role")
        .String(RoleName(u.role))
        .Key("scope")
        .BeginArray();
    for (const auto& p : u.scope) w.String(p);
    w.EndArray()
        .Key("password_hash")
        .String(u.password_hash)
        .Key("created_ms")
        .Int(u.created_ms)
        .Key("source")
        .String(u.source)
        .EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(200, std::move(out));
}

}  // namespace braid::api
