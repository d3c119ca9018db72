#include "repl/imports.h"

#include <map>
#include <optional>

#include "auth/password.h"
#include "base/json.h"
#include "base/log.h"
#include "base/validate.h"
#include "http/client.h"
#include "repl/client.h"

namespace braid::repl {
namespace {

struct Settings {
  std::string collection;
  ConflictPolicy policy = ConflictPolicy::kMerge;
  std::optional<std::string> index;
  std::vector<Reference> refs;
};

Result<std::string> Get(http::Client& client, const Remote& remote, const std::string& path,
                        std::string_view what) {
  BRAID_ASSIGN_OR_RETURN(const auto r, client.Send("GET", remote.url + path, "", {}));
  if (r.status != 200) return AnswerError(remote, r, what);
  BRAID_RETURN_IF_ERROR(json::Validate(r.body, nullptr).WithContext(std::string(what)));
  return r.body;
}

Status Bad(const Remote& remote, std::string_view what) {
  return Status::InvalidArgument("remote \"" + remote.name + "\" answered " + std::string(what) +
                                 " with something braid does not send; nothing was imported");
}

// GET /api/v1/collections, checked whole.
Result<std::vector<Settings>> ReadSettings(http::Client& client, const Remote& remote) {
  BRAID_ASSIGN_OR_RETURN(const std::string body,
                         Get(client, remote, "/api/v1/collections", "the collection settings"));
  const auto list = json::Value(body).Find("collections");
  if (!list || !list->IsArray()) return Bad(remote, "the collection settings");
  std::vector<Settings> out;
  Status s;
  list->ForEachElement([&](json::Value v) {
    Settings c;
    c.collection = v.Find("collection").value_or(json::Value()).AsString().value_or("");
    auto policy = ParsePolicy(v.Find("conflicts").value_or(json::Value()).AsString().value_or(""));
    s = ValidateCollection(c.collection);
    if (s.ok()) s = policy.status();
    if (!s.ok()) return false;
    c.policy = *policy;
    if (auto index = v.Find("index"); index && index->IsString()) c.index = index->AsString();
    if (auto refs = v.Find("refs"); refs && refs->IsArray()) {
      auto parsed = ParseReferencesJson(refs->raw());
      s = parsed.status();
      if (!s.ok()) return false;
      c.refs = std::move(*parsed);
    }
    out.push_back(std::move(c));
    return true;
  });
  if (!s.ok()) return s.WithContext("remote \"" + remote.name + "\"'s collection settings");
  return out;
}

// GET /api/v1/users: the rows that hold, and why the others do not.
Result<std::vector<User>> ReadUsers(http::Client& client, const Remote& remote,
                                    std::vector<std::string>* refused) {
  BRAID_ASSIGN_OR_RETURN(const std::string body, Get(client, remote, "/api/v1/users", "its users"));
  const auto list = json::Value(body).Find("users");
  if (!list || !list->IsArray()) return Bad(remote, "its users");
  std::vector<User> out;
  list->ForEachElement([&](json::Value v) {
    User u;
    auto text = [&](std::string_view key) {
      return v.Find(key).value_or(json::Value()).AsString().value_or("");
    };
    u.name = text("name");
    u.password_hash = text("password_hash");
    auto role = ParseRole(text("role"));
    Status ok = role.status();
    if (ok.ok()) u.role = *role;
    if (auto scope = v.Find("scope"); scope && scope->IsArray()) {
      scope->ForEachElement([&](json::Value p) {
        u.scope.push_back(p.AsString().value_or(""));
        return true;
      });
    }
    u.source = remote.name;
    if (ok.ok()) ok = ValidateUser(u);
    if (ok.ok() && !auth::ImportableHash(u.password_hash)) {
      ok = Status::InvalidArgument("its password hash is not one this build accepts");
    }
    if (!ok.ok()) {
      refused->push_back((u.name.empty() ? std::string("?") : u.name) + ": " + ok.message());
    } else {
      out.push_back(std::move(u));
    }
    return true;
  });
  return out;
}

}  // namespace

Result<ImportSummary> Import(Store& store, const Remote& remote, const std::string& authorization) {
  ImportSummary sum;
  const RemoteRules& rules = remote.rules;
  if (!rules.import_settings && !rules.import_users) return sum;
  sum.ran = true;
  http::ClientOptions options;
  options.ca_cert = remote.ca_cert;
  options.authorization = authorization;
  BRAID_ASSIGN_OR_RETURN(auto client, http::Client::Create(options));
  std::vector<Settings> settings;
  std::vector<User> users;
  if (rules.import_settings) {
    BRAID_ASSIGN_OR_RETURN(settings, ReadSettings(*client, remote));
  }
  if (rules.import_users) {
    BRAID_ASSIGN_OR_RETURN(users, ReadUsers(*client, remote, &sum.users_kept));
  }
  // What is here, to write only what changes.
  BRAID_ASSIGN_OR_RETURN(const auto policies, store.Policies());
  BRAID_ASSIGN_OR_RETURN(const auto fields, store.SearchFields());
  BRAID_ASSIGN_OR_RETURN(const auto references, store.References());
  std::map<std::string, Settings> here;
  for (const auto& [name, p] : policies) here[name].policy = p;
  for (const auto& [name, spec] : fields) here[name].index = spec;
  for (const auto& [name, refs] : references) here[name].refs = refs;
  BRAID_ASSIGN_OR_RETURN(auto txn, store.BeginWrite());
  for (const Settings& c : settings) {
    const Settings& mine = here[c.collection];
    bool changed = false;
    if (mine.policy != c.policy) {
      BRAID_RETURN_IF_ERROR(txn->SetPolicy(c.collection, c.policy));
      changed = true;
    }
    if (mine.index != c.index) {
      BRAID_RETURN_IF_ERROR(txn->SetSearchFields(
          c.collection, c.index ? std::optional<std::string_view>(*c.index) : std::nullopt));
      changed = true;
    }
    if (mine.refs != c.refs) {
      BRAID_RETURN_IF_ERROR(txn->SetReferences(c.collection, c.refs));
      changed = true;
    }
    sum.settings += changed ? 1 : 0;
  }
  for (const User& u : users) {
    BRAID_ASSIGN_OR_RETURN(const auto mine, store.GetUser(u.name));
    if (mine && mine->source != remote.name) {
      sum.users_kept.push_back(u.name + ": a user of that name " +
                               (mine->source.empty()
                                    ? std::string("was made here")
                                    : "came from remote \"" + mine->source + "\"") +
                               "; it is not overwritten");
      continue;
    }
    if (mine && mine->role == u.role && mine->scope == u.scope &&
        mine->password_hash == u.password_hash) {
      continue;
    }
    BRAID_RETURN_IF_ERROR(txn->PutUser(u));
    ++(mine ? sum.users_updated : sum.users_created);
  }
  BRAID_RETURN_IF_ERROR(txn->Commit());
  for (const auto& k : sum.users_kept) {
    spdlog::warn("remote {}: user not imported: {}", remote.name, k);
  }
  return sum;
}

std::string ImportSummaryJson(const ImportSummary& s) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("settings")
      .Uint(s.settings)
      .Key("users_created")
      .Uint(s.users_created)
      .Key("users_updated")
      .Uint(s.users_updated)
      .Key("users_kept")
      .BeginArray();
  for (const auto& k : s.users_kept) w.String(k);
  w.EndArray().EndObject();
  return out;
}

}  // namespace braid::repl
