// /api/v1/remotes[/NAME]: the remotes and their rules, as `braid remote`
// manages them (docs/remotes.md). Admins only; a token or password is
// written, never read back.

#include <filesystem>
#include <fstream>

#include "api/api.h"
#include "base/json.h"
#include "base/validate.h"
#include "repl/rules.h"

namespace braid::api {
namespace {

constexpr char kShape[] =
    "a remote is {\"url\": \"https://...\", \"direction\": \"pull|push|both\", \"filter\": "
    "[PREFIX, ...], \"chunk_size\": N, \"token\": T | \"user\": U, \"password\": P, "
    "\"ca_cert\": PATH, \"rules\": {...}} (docs/remotes.md)";

// The remote a PUT describes, over `old` (its certificate stays).
Result<Remote> ParseRemote(std::string_view name, const json::Value& body,
                           const std::optional<Remote>& old) {
  if (!body.IsObject()) return Status::InvalidArgument(kShape);
  Remote r;
  r.name = std::string(name);
  if (old) r.cert = old->cert;
  std::string password;
  Status s;
  body.ForEachMember([&](std::string_view key, json::Value v) {
    auto text = [&](std::string* out) {
      auto t = v.AsString();
      if (!t) s = Status::InvalidArgument(std::string(key) + " must be a string; " + kShape);
      if (t) *out = std::move(*t);
    };
    if (key == "url") {
      text(&r.url);
      while (!r.url.empty() && r.url.back() == '/') r.url.pop_back();
    } else if (key == "direction") {
      std::string d;
      text(&d);
      if (s.ok()) {
        auto parsed = ParseDirection(d);
        s = parsed.status();
        if (parsed.ok()) r.direction = *parsed;
      }
    } else if (key == "filter" && v.IsArray()) {
      v.ForEachElement([&](json::Value p) {
        auto t = p.AsString();
        if (!t) s = Status::InvalidArgument("filter holds partition prefixes (strings)");
        if (t) r.filter.push_back(std::move(*t));
        return s.ok();
      });
    } else if (key == "chunk_size") {
      auto n = v.AsInt64();
      if (!n || *n < 1) s = Status::InvalidArgument("chunk_size must be a positive integer");
      if (n) r.chunk_size = static_cast<size_t>(*n);
    } else if (key == "token") {
      text(&r.token);
    } else if (key == "user") {
      text(&r.user);
    } else if (key == "password") {
      text(&password);
    } else if (key == "ca_cert") {
      text(&r.ca_cert);
    } else if (key == "rules") {
      auto rules = ParseRulesJson(v.raw());
      s = rules.status();
      if (rules.ok()) r.rules = std::move(*rules);
    } else {
      s = Status::InvalidArgument("unknown member \"" + std::string(key) + "\"; " + kShape);
    }
    return s.ok();
  });
  BRAID_RETURN_IF_ERROR(s);
  if (r.url.empty()) return Status::InvalidArgument("url is missing; " + std::string(kShape));
  if (!r.user.empty() || !password.empty()) {
    if (r.user.empty() || password.empty() || !r.token.empty()) {
      return Status::InvalidArgument("sign in either with a token or with user and password");
    }
    r.token = password;  // a user's password is kept where the token goes
  }
  if (!r.ca_cert.empty()) {
    // A file on the server's machine, read as the CLI reads it.
    std::ifstream in(r.ca_cert);
    std::string first;
    std::getline(in, first);
    if (!std::filesystem::path(r.ca_cert).is_absolute() || !in ||
        first.rfind("-----BEGIN ", 0) != 0) {
      return Status::InvalidArgument("ca_cert " + r.ca_cert +
                                     ": not an absolute path of a readable PEM certificate");
    }
  }
  return r;
}

}  // namespace

http::Response Api::Remotes(const http::Request& request, const std::vector<std::string>& seg) {
  if (seg.empty()) {
    if (request.method != "GET") return ErrorResponse(Status::MethodNotAllowed("use GET"));
    auto remotes = store_.ListRemotes();
    if (!remotes.ok()) return ErrorResponse(remotes.status());
    std::string out = "{\"remotes\":[";
    for (size_t i = 0; i < remotes->size(); ++i) {
      out += (i ? "," : "") + repl::RemoteJson((*remotes)[i]);
    }
    return JsonResponse(200, out + "]}");
  }
  const std::string& name = seg[0];
  if (Status s = ValidateCollection(name).WithContext("remote name"); !s.ok()) {
    return ErrorResponse(s);
  }
  auto old = store_.GetRemote(name);
  if (!old.ok()) return ErrorResponse(old.status());
  const std::string missing = "no remote named \"" + name + "\"";
  if (request.method == "GET") {
    if (!*old) return ErrorResponse(Status::NotFound(missing));
    return JsonResponse(200, repl::RemoteJson(**old));
  }
  if (request.method == "DELETE") {
    auto txn = store_.BeginWrite();
    if (!txn.ok()) return ErrorResponse(txn.status());
    if (Status s = (*txn)->DeleteRemote(name); !s.ok()) return ErrorResponse(s);
    if (Status s = (*txn)->Commit(); !s.ok()) return ErrorResponse(s);
    return JsonResponse(200, "{}");
  }
  if (request.method != "PUT") {
    return ErrorResponse(Status::MethodNotAllowed("use GET, PUT or DELETE"));
  }
  std::string text;
  auto body = ParseBody(request, &text);
  if (!body.ok()) return ErrorResponse(body.status());
  auto remote = ParseRemote(name, *body, *old);
  if (!remote.ok()) return ErrorResponse(remote.status());
  // Checked against the other remotes and the collections there are;
  // nothing saved when they do not hold.
  if (Status s = repl::CheckRules(store_, *remote); !s.ok()) return ErrorResponse(s);
  auto txn = store_.BeginWrite();
  if (!txn.ok()) return ErrorResponse(txn.status());
  if (Status s = (*txn)->PutRemote(*remote); !s.ok()) return ErrorResponse(s);
  if (Status s = (*txn)->Commit(); !s.ok()) return ErrorResponse(s);
  auto saved = store_.GetRemote(name);
  if (!saved.ok() || !*saved)
    return ErrorResponse(saved.ok() ? Status::Internal(missing) : saved.status());
  return JsonResponse(*old ? 200 : 201, repl::RemoteJson(**saved));
}

}  // namespace braid::api
