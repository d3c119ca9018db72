// The text forms of references, auto-sync periods and remote rules
// (include/braid/catalog.h), and the checks a remote's rules make of each
// other.

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "base/json.h"
#include "base/validate.h"
#include "braid/catalog.h"

namespace braid {
namespace {

bool ValidField(std::string_view f) {
  if (f.empty() || f.size() > 255 || !IsValidUtf8(f)) return false;
  return std::none_of(f.begin(), f.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f || c == '=' || c == '"' || c == '\\';
  });
}

void WriteList(json::Writer& w, std::string_view key, const std::vector<std::string>& list) {
  if (list.empty()) return;
  w.Key(key).BeginArray();
  for (const auto& c : list) w.String(c);
  w.EndArray();
}

Status ReadList(json::Value v, std::string_view key, std::vector<std::string>* out) {
  if (!v.IsArray()) return Status::InvalidArgument(std::string(key) + " must be an array");
  Status s = Status::OK();
  v.ForEachElement([&](json::Value e) {
    auto text = e.AsString();
    if (!text) {
      s = Status::InvalidArgument(std::string(key) + " must hold collection names");
      return false;
    }
    out->push_back(std::move(*text));
    return true;
  });
  return s;
}

// A prefix goes before ids: letters, digits and `_ . : -`, starting with a
// letter or digit, at most 32 bytes.
Status ValidatePrefix(std::string_view p, std::string_view what) {
  bool ok = !p.empty() && p.size() <= 32 && std::isalnum(static_cast<unsigned char>(p[0]));
  for (char c : p) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
                c == '-');
  }
  if (ok) return Status::OK();
  return Status::InvalidArgument(std::string(what) + " \"" + std::string(p) +
                                 "\" must be 1 to 32 letters, digits or _ . : -, starting with a "
                                 "letter or digit (e.g. \"lab_a_\")");
}

}  // namespace

std::string_view MarkKindName(MarkKind k) {
  switch (k) {
    case MarkKind::kPull:
      return "pull";
    case MarkKind::kPush:
      return "push";
    case MarkKind::kPullFloor:
      return "pull-floor";
    case MarkKind::kPushFloor:
      return "push-floor";
  }
  return "pull";
}

Result<Reference> ParseReference(std::string_view spec) {
  const size_t eq = spec.find('=');
  auto bad = [&](std::string why) {
    return Status::InvalidArgument("reference \"" + std::string(spec) + "\": " + why +
                                   "; write FIELD=COLLECTION, or FIELD[]=COLLECTION for an array "
                                   "of ids (e.g. client=clients, analyses[]=analyses)");
  };
  if (eq == std::string_view::npos) return bad("no '='");
  Reference r;
  std::string_view field = spec.substr(0, eq);
  if (field.size() > 2 && field.substr(field.size() - 2) == "[]") {
    r.array = true;
    field.remove_suffix(2);
  }
  if (!ValidField(field)) return bad("the field must be a body member's name");
  r.field = std::string(field);
  r.target = std::string(spec.substr(eq + 1));
  if (Status s = ValidateCollection(r.target); !s.ok()) return bad(s.message());
  return r;
}

std::string ReferenceSpec(const Reference& ref) {
  return ref.field + (ref.array ? "[]=" : "=") + ref.target;
}

std::string ReferencesJson(const std::vector<Reference>& refs) {
  std::string out;
  json::Writer w(&out);
  w.BeginArray();
  for (const auto& r : refs) w.String(ReferenceSpec(r));
  w.EndArray();
  return out;
}

Result<std::vector<Reference>> ParseReferencesJson(std::string_view text) {
  BRAID_RETURN_IF_ERROR(json::Validate(text, nullptr));
  std::vector<std::string> specs;
  BRAID_RETURN_IF_ERROR(ReadList(json::Value(text), "references", &specs));
  std::vector<Reference> out;
  for (const auto& spec : specs) {
    BRAID_ASSIGN_OR_RETURN(Reference r, ParseReference(spec));
    out.push_back(std::move(r));
  }
  return out;
}

Result<AutoSync> ParseAutoSync(std::string_view text) {
  AutoSync a;
  if (text == "off") return a;
  if (text == "live") {
    a.live = true;
    return a;
  }
  auto bad = [&] {
    return Status::InvalidArgument("auto-sync \"" + std::string(text) +
                                   "\": use off, live, or a period of 1s to 30d such as 30s, 10m, "
                                   "1h, 1d");
  };
  if (text.size() < 2 || text.size() > 9) return bad();
  int64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return bad();
    n = n * 10 + (c - '0');
  }
  switch (text.back()) {
    case 's':
      break;
    case 'm':
      n *= 60;
      break;
    case 'h':
      n *= 3600;
      break;
    case 'd':
      n *= 86400;
      break;
    default:
      return bad();
  }
  if (n < 1 || n > 30 * 86400) return bad();
  a.period_seconds = n;
  return a;
}

std::string AutoSyncText(const AutoSync& a) {
  if (a.live) return "live";
  const int64_t n = a.period_seconds;
  if (n <= 0) return "off";
  if (n % 86400 == 0) return std::to_string(n / 86400) + "d";
  if (n % 3600 == 0) return std::to_string(n / 3600) + "h";
  if (n % 60 == 0) return std::to_string(n / 60) + "m";
  return std::to_string(n) + "s";
}

std::string RulesJson(const RemoteRules& r) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject();
  if (!r.prefix.empty()) w.Key("prefix").String(r.prefix);
  if (!r.local_prefix.empty()) w.Key("local_prefix").String(r.local_prefix);
  WriteList(w, "include", r.include);
  WriteList(w, "skip", r.skip);
  WriteList(w, "prefixable", r.prefixable);
  WriteList(w, "read_only", r.read_only);
  WriteList(w, "update_only", r.update_only);
  if (!r.conflicts.empty()) {
    w.Key("conflicts").BeginObject();
    for (const auto& [c, p] : r.conflicts) w.Key(c).String(PolicyName(p));
    w.EndObject();
  }
  if (r.import_settings) w.Key("import_settings").Bool(true);
  if (r.import_users) w.Key("import_users").Bool(true);
  if (r.auto_sync.on()) w.Key("auto_sync").String(AutoSyncText(r.auto_sync));
  w.EndObject();
  return out;
}

Result<RemoteRules> ParseRulesJson(std::string_view text) {
  BRAID_RETURN_IF_ERROR(json::Validate(text, nullptr).WithContext("remote rules"));
  const json::Value v(text);
  if (!v.IsObject()) return Status::InvalidArgument("remote rules must be a JSON object");
  RemoteRules r;
  Status s = Status::OK();
  v.ForEachMember([&](std::string_view key, json::Value m) {
    auto text_of = [&](std::string* out) {
      auto t = m.AsString();
      if (!t) s = Status::InvalidArgument("remote rules: " + std::string(key) + " is no string");
      if (t) *out = std::move(*t);
    };
    if (key == "prefix") {
      text_of(&r.prefix);
    } else if (key == "local_prefix") {
      text_of(&r.local_prefix);
    } else if (key == "include") {
      s = ReadList(m, key, &r.include);
    } else if (key == "skip") {
      s = ReadList(m, key, &r.skip);
    } else if (key == "prefixable") {
      s = ReadList(m, key, &r.prefixable);
    } else if (key == "read_only") {
      s = ReadList(m, key, &r.read_only);
    } else if (key == "update_only") {
      s = ReadList(m, key, &r.update_only);
    } else if (key == "conflicts") {
      m.ForEachMember([&](std::string_view c, json::Value p) {
        auto policy = ParsePolicy(p.AsString().value_or(""));
        if (!policy.ok()) {
          s = policy.status();
          return false;
        }
        r.conflicts.emplace_back(std::string(c), *policy);
        return true;
      });
    } else if (key == "import_settings" || key == "import_users") {
      (key == "import_settings" ? r.import_settings : r.import_users) = m.AsBool().value_or(false);
    } else if (key == "auto_sync") {
      auto a = ParseAutoSync(m.AsString().value_or(""));
      if (a.ok()) r.auto_sync = *a;
      s = a.status();
    } else {
      s = Status::InvalidArgument("remote rules: unknown member \"" + std::string(key) + "\"");
    }
    return s.ok();
  });
  BRAID_RETURN_IF_ERROR(s);
  return r;
}

Status ValidateRemoteRules(const Remote& remote) {
  const RemoteRules& r = remote.rules;
  const std::string name = "remote \"" + remote.name + "\": ";
  auto fail = [&](std::string why) { return Status::InvalidArgument(name + why); };
  std::map<std::string, std::vector<std::string_view>> lists;  // collection -> its lists
  auto check_list = [&](const std::vector<std::string>& list, std::string_view what) -> Status {
    std::set<std::string_view> seen;
    for (const auto& c : list) {
      BRAID_RETURN_IF_ERROR(ValidateCollection(c).WithContext(name + std::string(what)));
      if (!seen.insert(c).second) {
        return fail("collection \"" + c + "\" is listed twice in " + std::string(what));
      }
      lists[c].push_back(what);
    }
    return Status::OK();
  };
  BRAID_RETURN_IF_ERROR(check_list(r.include, "--include"));
  BRAID_RETURN_IF_ERROR(check_list(r.skip, "--skip"));
  BRAID_RETURN_IF_ERROR(check_list(r.prefixable, "--prefixable"));
  BRAID_RETURN_IF_ERROR(check_list(r.read_only, "--read-only"));
  BRAID_RETURN_IF_ERROR(check_list(r.update_only, "--update-only"));
  // Lists that contradict each other.
  static constexpr std::pair<std::string_view, std::string_view> kExclusive[] = {
      {"--include", "--skip"},
      {"--skip", "--update-only"},
      {"--prefixable", "--update-only"},
      {"--read-only", "--update-only"},
  };
  for (const auto& [c, in] : lists) {
    for (const auto& [a, b] : kExclusive) {
      if (std::find(in.begin(), in.end(), a) != in.end() &&
          std::find(in.begin(), in.end(), b) != in.end()) {
        return fail("collection \"" + c + "\" cannot be in both " + std::string(a) + " and " +
                    std::string(b));
      }
    }
  }
  if (!r.prefix.empty()) BRAID_RETURN_IF_ERROR(ValidatePrefix(r.prefix, name + "prefix"));
  if (!r.local_prefix.empty()) {
    BRAID_RETURN_IF_ERROR(ValidatePrefix(r.local_prefix, name + "local prefix"));
  }
  if (!r.prefixable.empty() && r.prefix.empty()) {
    return fail("--prefixable collections need --prefix (the prefix their ids get here)");
  }
  if (r.prefixable.empty() && !r.prefix.empty()) {
    return fail("--prefix \"" + r.prefix +
                "\" names no collection: list the collections whose ids get it with --prefixable");
  }
  if (!r.update_only.empty() && r.local_prefix.empty()) {
    return fail(
        "--update-only collections need --local-prefix (the prefix this instance's records "
        "carry on the remote)");
  }
  if (r.update_only.empty() && !r.local_prefix.empty()) {
    return fail("--local-prefix \"" + r.local_prefix +
                "\" names no collection: list the collections it applies to with --update-only");
  }
  if (!r.prefix.empty() && !r.local_prefix.empty() &&
      (r.prefix.starts_with(r.local_prefix) || r.local_prefix.starts_with(r.prefix))) {
    return fail("--prefix \"" + r.prefix + "\" and --local-prefix \"" + r.local_prefix +
                "\" would make ids from both sides look alike");
  }
  std::set<std::string_view> overridden;
  for (const auto& [c, policy] : r.conflicts) {
    BRAID_RETURN_IF_ERROR(ValidateCollection(c).WithContext(name + "--conflicts"));
    if (!overridden.insert(c).second) {
      return fail("collection \"" + c + "\" has two --conflicts policies");
    }
    if (NeedsOneWay(policy) && remote.direction == Direction::kBoth) {
      return fail("--conflicts " + c + "=" + std::string(PolicyName(policy)) +
                  " needs a one-way remote (--direction pull or push); this one goes both ways");
    }
  }
  if (remote.direction == Direction::kPush) {
    const std::pair<bool, std::string_view> pull_only[] = {
        {!r.include.empty(), "--include"},     {!r.skip.empty(), "--skip"},
        {!r.read_only.empty(), "--read-only"}, {r.import_settings, "--import-settings"},
        {r.import_users, "--import-users"},
    };
    for (const auto& [set, what] : pull_only) {
      if (set) {
        return fail(std::string(what) +
                    " is about what is pulled, and this remote only pushes (--direction push)");
      }
    }
  }
  return Status::OK();
}

}  // namespace braid
