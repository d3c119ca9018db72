#include "repl/rules.h"

#include <algorithm>

#include "base/json.h"
#include "base/validate.h"

namespace braid::repl {
namespace {

constexpr size_t kMaxIdBytes = 255;  // base/validate.h's limit

std::set<std::string, std::less<>> SetOf(const std::vector<std::string>& list) {
  return {list.begin(), list.end()};
}

}  // namespace

Rules::Rules(const RemoteRules& rules,
             const std::vector<std::pair<std::string, std::vector<Reference>>>& refs)
    : shapes_(rules.ShapesStream()),
      prefix_(rules.prefix),
      local_prefix_(rules.local_prefix),
      include_(SetOf(rules.include)),
      skip_(SetOf(rules.skip)),
      prefixable_(SetOf(rules.prefixable)),
      update_only_(SetOf(rules.update_only)) {
  for (const auto& [collection, list] : refs) refs_.emplace(collection, list);
}

bool Rules::Renames(std::string_view collection) const {
  return prefixable_.contains(collection) || update_only_.contains(collection);
}

std::optional<std::string> Rules::PullId(std::string_view collection, std::string_view id) const {
  if (prefixable_.contains(collection)) {
    if (prefix_.size() + id.size() > kMaxIdBytes) return std::nullopt;
    return prefix_ + std::string(id);
  }
  if (update_only_.contains(collection)) {
    if (!id.starts_with(local_prefix_) || id.size() == local_prefix_.size()) return std::nullopt;
    return std::string(id.substr(local_prefix_.size()));
  }
  return std::string(id);
}

std::optional<std::string> Rules::PushId(std::string_view collection, std::string_view id) const {
  if (prefixable_.contains(collection)) {
    if (!id.starts_with(prefix_) || id.size() == prefix_.size()) return std::nullopt;
    return std::string(id.substr(prefix_.size()));
  }
  if (update_only_.contains(collection)) {
    if (local_prefix_.size() + id.size() > kMaxIdBytes) return std::nullopt;
    return local_prefix_ + std::string(id);
  }
  return std::string(id);
}

std::optional<std::string> Rules::RemoteId(std::string_view collection, std::string_view id) const {
  return PushId(collection, id);
}

template <typename Map>
bool Rules::RenameReferences(Record* r, const Map& map) const {
  if (r->deleted) return false;
  auto it = refs_.find(r->collection);
  if (it == refs_.end()) return false;
  const std::vector<Reference>& refs = it->second;
  // Only references to collections whose ids change are rewritten.
  auto find = [&](std::string_view field) -> const Reference* {
    for (const Reference& ref : refs) {
      if (ref.field == field && Renames(ref.target)) return &ref;
    }
    return nullptr;
  };
  bool any = false;
  for (const Reference& ref : refs) any = any || Renames(ref.target);
  if (!any) return false;
  // The body is minified: it is rebuilt from its own bytes (keys and
  // values as written, escapes included), with renamed ids written anew.
  const std::string_view body = r->body;
  std::string out;
  out.reserve(body.size() + 64);
  bool changed = false;
  // A value that is no record id, or that no id of its collection there
  // has (another remote's record, say), is left as it is.
  auto rename = [&](const Reference& ref, json::Value v) {
    auto id = v.AsString();
    std::optional<std::string> renamed;
    if (id && ValidateRecordId(*id).ok()) renamed = map(ref.target, *id);
    if (!renamed || *renamed == *id) {
      out += v.raw();
      return;
    }
    json::Writer(&out).String(*renamed);
    changed = true;
  };
  out += '{';
  size_t prev_end = 1;  // just past '{' or the last member's value
  bool first = true;
  json::Value(body).ForEachMember([&](std::string_view key, json::Value v) {
    const size_t value_at = static_cast<size_t>(v.raw().data() - body.data());
    if (!first) out += ',';
    first = false;
    // The key as written, from after the separator to the ':'.
    const size_t key_at = prev_end + (body[prev_end] == ',' ? 1 : 0);
    out.append(body.substr(key_at, value_at - key_at));
    prev_end = value_at + v.raw().size();
    const Reference* ref = find(key);
    if (ref == nullptr) {
      out += v.raw();
    } else if (!ref->array) {
      rename(*ref, v);
    } else if (v.IsArray()) {
      out += '[';
      bool first_element = true;
      v.ForEachElement([&](json::Value e) {
        if (!first_element) out += ',';
        first_element = false;
        rename(*ref, e);
        return true;
      });
      out += ']';
    } else {
      out += v.raw();
    }
    return true;
  });
  out += '}';
  if (changed) r->body = std::move(out);
  return changed;
}

Rules::Fate Rules::Incoming(Record* r) const {
  auto id = PullId(r->collection, r->id);
  if (!id) return Fate::kDrop;
  r->id = std::move(*id);
  RenameReferences(r, [this](std::string_view c, std::string_view i) { return PullId(c, i); });
  if (skip_.contains(r->collection)) return Fate::kIfWanted;
  if (!include_.empty() && !include_.contains(r->collection)) return Fate::kIfWanted;
  return Fate::kTake;
}

bool Rules::Outgoing(Record* r, const Here& here) const {
  auto id = PushId(r->collection, r->id);
  if (!id) return false;
  r->id = std::move(*id);
  RenameReferences(r, [&](std::string_view c, std::string_view i) -> std::optional<std::string> {
    if (update_only_.contains(c) && !here(c, i)) return std::nullopt;
    return PushId(c, i);
  });
  return true;
}

void Rules::AddWanted(const Record& r, std::set<RecordName>* wanted) const {
  if (r.deleted) return;
  auto it = refs_.find(r.collection);
  if (it == refs_.end()) return;
  auto wanted_target = [&](const std::string& c) {
    return skip_.contains(c) || (!include_.empty() && !include_.contains(c));
  };
  const json::Value body(r.body);
  for (const Reference& ref : it->second) {
    if (!wanted_target(ref.target)) continue;
    auto v = body.Find(ref.field);
    if (!v) continue;
    auto add = [&](json::Value e) {
      if (auto id = e.AsString(); id && ValidateRecordId(*id).ok()) {
        wanted->emplace(ref.target, std::move(*id));
      }
      return true;
    };
    if (ref.array) {
      v->ForEachElement(add);
    } else {
      add(*v);
    }
  }
}

std::string RemoteJson(const Remote& r) {
  std::string out;
  json::Writer w(&out);
  auto optional = [&](std::string_view key, const std::string& s) {
    w.Key(key);
    if (s.empty()) {
      w.Null();
    } else {
      w.String(s);
    }
  };
  w.BeginObject()
      .Key("name")
      .String(r.name)
      .Key("url")
      .String(r.url)
      .Key("direction")
      .String(DirectionName(r.direction))
      .Key("filter")
      .BeginArray();
  for (const auto& p : r.filter) w.String(p);
  w.EndArray().Key("chunk_size").Uint(r.chunk_size).Key("last_sync_ms").Int(r.last_sync_ms);
  optional("user", r.user);
  optional("cert", r.cert);
  optional("ca_cert", r.ca_cert);
  w.Key("rules").Raw(RulesJson(r.rules));
  w.Key("auto_sync").String(AutoSyncText(r.rules.auto_sync));
  w.Key("next_sync_ms").Int(r.next_sync_ms).Key("failures").Int(r.failures);
  w.Key("last_result");
  if (r.last_result.empty()) {
    w.Null();
  } else {
    w.Raw(r.last_result);
  }
  w.EndObject();
  return out;
}

Status CheckRules(Store& store, const Remote& remote) {
  BRAID_RETURN_IF_ERROR(ValidateRemote(remote));
  const RemoteRules& rules = remote.rules;
  const std::string name = "remote \"" + remote.name + "\": ";
  BRAID_ASSIGN_OR_RETURN(const auto remotes, store.ListRemotes());
  for (const Remote& other : remotes) {
    if (other.name == remote.name) continue;
    const std::string& theirs = other.rules.prefix;
    if (rules.prefix.empty() || theirs.empty()) continue;
    if (rules.prefix.starts_with(theirs) || theirs.starts_with(rules.prefix)) {
      return Status::InvalidArgument(
          name + "--prefix \"" + rules.prefix + "\" collides with remote \"" + other.name +
          "\"'s prefix \"" + theirs +
          "\": the ids one puts before records could be the other's; give each remote a prefix "
          "that does not begin another's");
    }
  }
  std::set<std::string, std::less<>> known;
  BRAID_ASSIGN_OR_RETURN(const auto policies, store.Policies());
  for (const auto& [c, p] : policies) known.insert(c);
  BRAID_ASSIGN_OR_RETURN(const auto refs, store.References());
  for (const auto& [c, list] : refs) {
    known.insert(c);
    for (const Reference& r : list) known.insert(r.target);
  }
  BRAID_ASSIGN_OR_RETURN(const StoreStats stats, store.Stats());
  for (const auto& c : stats.collections) known.insert(c.name);
  auto check = [&](const std::vector<std::string>& list, std::string_view what) -> Status {
    for (const auto& c : list) {
      if (known.contains(c)) continue;
      return Status::InvalidArgument(
          name + std::string(what) + " names collection \"" + c +
          "\", which this instance does not know (no records, settings or references); check "
          "the name, or declare it with `braid collection set " +
          c + " --ref ...` or `--conflicts ...`");
    }
    return Status::OK();
  };
  BRAID_RETURN_IF_ERROR(check(rules.include, "--include"));
  BRAID_RETURN_IF_ERROR(check(rules.skip, "--skip"));
  BRAID_RETURN_IF_ERROR(check(rules.prefixable, "--prefixable"));
  BRAID_RETURN_IF_ERROR(check(rules.read_only, "--read-only"));
  BRAID_RETURN_IF_ERROR(check(rules.update_only, "--update-only"));
  std::vector<std::string> overridden;
  for (const auto& [c, p] : rules.conflicts) overridden.push_back(c);
  BRAID_RETURN_IF_ERROR(check(overridden, "--conflicts"));
  return Status::OK();
}

}  // namespace braid::repl
