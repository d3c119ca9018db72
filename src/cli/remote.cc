// `braid remote`: the remotes this instance syncs with, their credentials
// and SENAITE.SYNC's rules (docs/remotes.md).

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "base/json.h"
#include "braid/catalog.h"
#include "cli/cli.h"
#include "repl/protocol.h"
#include "repl/rules.h"

namespace braid::cli {
namespace {

struct RemoteArgs {
  std::string name, url, direction = "both", token_file, token, ca_cert, user, password_file;
  std::vector<std::string> filter;
  size_t chunk_size = kDefaultChunkSize;
  // Rules.
  std::string prefix, local_prefix, auto_sync = "off";
  std::vector<std::string> include, skip, prefixable, read_only, update_only, conflicts;
  bool import_settings = false, import_users = false;
  bool no_import_settings = false, no_import_users = false;
  // `remote set`: which options were given (the rest stay as they are).
  std::function<bool(std::string_view)> given = [](std::string_view) { return true; };
};

// A list option's values; one empty value clears the list (`--skip ""`).
std::vector<std::string> ListOf(const std::vector<std::string>& values) {
  if (values.size() == 1 && values[0].empty()) return {};
  return values;
}

// Applies the options given to `r`.
Status ApplyArgs(const RemoteArgs& a, Remote* r) {
  if (a.given("url")) {
    r->url = a.url;
    while (!r->url.empty() && r->url.back() == '/') r->url.pop_back();
  }
  if (a.given("--direction")) {
    BRAID_ASSIGN_OR_RETURN(r->direction, ParseDirection(a.direction));
  }
  if (a.given("--filter")) r->filter = ListOf(a.filter);
  if (a.given("--chunk-size")) r->chunk_size = a.chunk_size;
  const bool token_file = a.given("--token-file") && !a.token_file.empty();
  const bool token = a.given("--token") && !a.token.empty();
  const bool user = (a.given("--user") && !a.user.empty()) ||
                    (a.given("--password-file") && !a.password_file.empty());
  if (token_file && token) {
    return Status::InvalidArgument("give the token either with --token-file or --token");
  }
  if (user) {
    if (a.user.empty() || a.password_file.empty() || token_file || token) {
      return Status::InvalidArgument(
          "sign in either with a token (--token-file) or with --user and --password-file");
    }
    r->user = a.user;
    BRAID_ASSIGN_OR_RETURN(r->token, ReadSecretFile(a.password_file, "password"));
  } else if (token_file) {
    r->user.clear();
    BRAID_ASSIGN_OR_RETURN(r->token, ReadSecretFile(a.token_file, "token"));
  } else if (token) {
    r->user.clear();
    r->token = a.token;
  }
  if (a.given("--ca-cert") && !a.ca_cert.empty()) {
    // Checked now, and kept as an absolute path: syncs run from anywhere.
    std::error_code ec;
    r->ca_cert = std::filesystem::absolute(a.ca_cert, ec).lexically_normal().string();
    std::ifstream in(r->ca_cert);
    std::string first;
    std::getline(in, first);
    if (ec || !in || first.rfind("-----BEGIN ", 0) != 0) {
      return Status::InvalidArgument("--ca-cert " + a.ca_cert +
                                     ": cannot read a PEM certificate from it");
    }
  } else if (a.given("--ca-cert")) {
    r->ca_cert.clear();
  }
  RemoteRules& rules = r->rules;
  if (a.given("--prefix")) rules.prefix = a.prefix;
  if (a.given("--local-prefix")) rules.local_prefix = a.local_prefix;
  if (a.given("--include")) rules.include = ListOf(a.include);
  if (a.given("--skip")) rules.skip = ListOf(a.skip);
  if (a.given("--prefixable")) rules.prefixable = ListOf(a.prefixable);
  if (a.given("--read-only")) rules.read_only = ListOf(a.read_only);
  if (a.given("--update-only")) rules.update_only = ListOf(a.update_only);
  if (a.given("--conflicts")) {
    rules.conflicts.clear();
    for (const auto& spec : ListOf(a.conflicts)) {
      const size_t eq = spec.find('=');
      if (eq == std::string::npos) {
        return Status::InvalidArgument("--conflicts \"" + spec +
                                       "\": write COLLECTION=POLICY, e.g. samples=skip");
      }
      BRAID_ASSIGN_OR_RETURN(const ConflictPolicy p, ParsePolicy(spec.substr(eq + 1)));
      rules.conflicts.emplace_back(spec.substr(0, eq), p);
    }
  }
  if (a.import_settings || a.no_import_settings) rules.import_settings = a.import_settings;
  if (a.import_users || a.no_import_users) rules.import_users = a.import_users;
  if (a.import_settings && a.no_import_settings) {
    return Status::InvalidArgument("give --import-settings or --no-import-settings, not both");
  }
  if (a.import_users && a.no_import_users) {
    return Status::InvalidArgument("give --import-users or --no-import-users, not both");
  }
  if (a.given("--auto-sync")) {
    BRAID_ASSIGN_OR_RETURN(rules.auto_sync, ParseAutoSync(a.auto_sync));
  }
  return Status::OK();
}

// `remote add` (replace = true: every setting as given) and `remote set`
// (the settings given, on the remote there is).
Status RunRemotePut(const Globals& g, const RemoteArgs& a, bool replace) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  Store& store = inst->store();
  BRAID_ASSIGN_OR_RETURN(const auto old, store.GetRemote(a.name));
  Remote r;
  if (!replace) {
    if (!old) {
      return Status::NotFound("no remote named \"" + a.name + "\"; add it with `braid remote add " +
                              a.name + " URL ...`");
    }
    r = *old;
  }
  r.name = a.name;
  BRAID_RETURN_IF_ERROR(ApplyArgs(a, &r));
  // Added again (a new URL, new credentials): its certificate stays.
  if (old) r.cert = old->cert;
  BRAID_RETURN_IF_ERROR(repl::CheckRules(store, r));
  BRAID_ASSIGN_OR_RETURN(auto txn, store.BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->PutRemote(r));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  if (!g.json) {
    Print("remote " + r.name + " -> " + r.url + " (" + std::string(DirectionName(r.direction)) +
          (r.rules == RemoteRules() ? "" : ", rules " + RulesJson(r.rules)) + ")");
    if (r.token.empty() && r.cert.empty()) {
      std::fprintf(stderr,
                   "braid: remote %s has no credentials yet: get a certificate (braid cert "
                   "request %s --user ADMIN ...) or add it again with --token-file or --user\n",
                   r.name.c_str(), r.name.c_str());
    }
  }
  return Status::OK();
}

std::string Describe(const Remote& r) {
  std::string s = r.name + "\t" + r.url + "\t" + std::string(DirectionName(r.direction));
  if (!r.filter.empty()) {
    s += "\tfilter";
    for (const auto& p : r.filter) s += " " + p;
  }
  if (!r.cert.empty()) s += "\tcertificate " + r.cert;
  if (r.rules.auto_sync.on()) s += "\tauto-sync " + AutoSyncText(r.rules.auto_sync);
  if (r.failures > 0) s += "\t" + std::to_string(r.failures) + " failed";
  return s;
}

Status RunRemoteList(const Globals& g) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto remotes, inst->store().ListRemotes());
  if (g.json) {
    std::string out;
    json::Writer w(&out);
    w.BeginArray();
    for (const auto& r : remotes) w.Raw(repl::RemoteJson(r));
    w.EndArray();
    Print(out);
    return Status::OK();
  }
  for (const auto& r : remotes) Print(Describe(r));
  return Status::OK();
}

Status RunRemoteShow(const Globals& g, const std::string& name) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto remote, inst->store().GetRemote(name));
  if (!remote) return Status::NotFound("no remote named \"" + name + "\"; see `braid remote list`");
  const std::string out = repl::RemoteJson(*remote);
  Print(g.json ? out : json::Pretty(out));
  return Status::OK();
}

Status RunRemoteRemove(const Globals& g, const std::string& name) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto txn, inst->store().BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->DeleteRemote(name));
  return txn->Commit();
}

// The options of `remote add` and `remote set`.
void AddRemoteOptions(CLI::App* cmd, RemoteArgs* a) {
  cmd->add_option("--direction", a->direction, "pull, push or both")->capture_default_str();
  cmd->add_option("--filter", a->filter,
                  "Only these partition prefixes (segment-aware: lab_a covers lab_a:x, not "
                  "lab_ab); repeat for several");
  cmd->add_option("--chunk-size", a->chunk_size,
                  "Records per chunk (1 to " + std::to_string(kMaxChunkSize) +
                      "; at most 8 MiB of them), the receiver's unit of commit. A sync "
                      "starts at " +
                      std::to_string(repl::kFirstChunkRecords) +
                      " and doubles each chunk up to this")
      ->capture_default_str();
  cmd->add_option("--token-file", a->token_file,
                  "File with a token from `braid token create` on the remote");
  cmd->add_option("--token", a->token, "The token itself (visible to other users; prefer a file)");
  cmd->add_option("--user", a->user,
                  "Sign in as this user of the remote (HTTP Basic) instead of with a token");
  cmd->add_option("--password-file", a->password_file,
                  "With --user: file whose first line is the user's password");
  cmd->add_option("--ca-cert", a->ca_cert,
                  "For an https:// URL: PEM certificate of the CA that signed the remote's "
                  "certificate (or the remote's self-signed one); default: the system's CAs");
  // SENAITE.SYNC's rules (docs/remotes.md). A list option replaces the
  // list; given once with an empty value it clears it.
  cmd->add_option("--prefix", a->prefix,
                  "Put before the ids of --prefixable records pulled from this remote (and "
                  "taken off when they are pushed back), e.g. lab_a_");
  cmd->add_option("--local-prefix", a->local_prefix,
                  "This instance's prefix on the remote: --update-only records are pulled only "
                  "with it (and stored without it)");
  cmd->add_option("--include", a->include,
                  "Pull only these collections (repeat), with the records theirs reference; "
                  "default: all");
  cmd->add_option("--skip", a->skip,
                  "Do not pull these collections (repeat), unless a pulled record references "
                  "their records");
  cmd->add_option("--prefixable", a->prefixable,
                  "Collections whose records from this remote get --prefix here (repeat)");
  cmd->add_option("--read-only", a->read_only,
                  "Collections this remote keeps: no writes here (repeat)");
  cmd->add_option("--update-only", a->update_only,
                  "Collections pulled only for records made here (id with --local-prefix "
                  "there; repeat)");
  cmd->add_option("--auto-sync", a->auto_sync,
                  "How often `braid serve` syncs this remote by itself: off, live (continuously: "
                  "a long-poll for its changes, a push at each commit here), or a period from "
                  "1s to 30d such as 30s, 10m, 1h (with jitter; after failures it backs off, "
                  "doubling up to an hour)")
      ->capture_default_str();
  cmd->add_flag("--import-settings", a->import_settings,
                "Take the remote's collection settings (policies, references, index fields) "
                "before each pull");
  cmd->add_flag("--no-import-settings", a->no_import_settings, "Stop taking them");
  cmd->add_flag("--import-users", a->import_users,
                "Make the remote's users here, with their roles and passwords (its credentials "
                "must be an admin's; a user made here is never overwritten)");
  cmd->add_flag("--no-import-users", a->no_import_users, "Stop making them");
  cmd->add_option("--conflicts", a->conflicts,
                  "COLLECTION=POLICY for what this remote sends (repeat): merge, lww, skip, "
                  "remote-wins, local-wins (the last two with --direction pull or push)");
}

}  // namespace

void AddRemoteCommands(CLI::App& app, Globals& g, Action& action) {
  CLI::App* remote = app.add_subcommand("remote", "Manage the remotes this instance syncs with");
  remote->require_subcommand(1);
  {
    auto a = std::make_shared<RemoteArgs>();
    CLI::App* add = remote->add_subcommand(
        "add", "Add a remote, or replace one (its certificate stays; rules as given)");
    add->add_option("name", a->name, "Name, [a-z][a-z0-9_.-]{0,63}")->required();
    add->add_option("url", a->url, "The remote's `braid serve` URL, e.g. http://10.0.0.2:8470")
        ->required();
    AddRemoteOptions(add, a.get());
    add->callback(
        [&g, &action, a] { action = [&g, a] { return RunRemotePut(g, *a, /*replace=*/true); }; });
  }
  {
    auto a = std::make_shared<RemoteArgs>();
    CLI::App* set = remote->add_subcommand(
        "set", "Change some settings of a remote; those not given stay as they are");
    set->add_option("name", a->name, "Remote")->required();
    set->add_option("url", a->url, "A new URL");
    AddRemoteOptions(set, a.get());
    set->callback([&g, &action, a, set] {
      a->given = [set](std::string_view option) {
        const CLI::Option* o = set->get_option_no_throw(std::string(option));
        return o != nullptr && o->count() > 0;
      };
      action = [&g, a] { return RunRemotePut(g, *a, /*replace=*/false); };
    });
  }
  remote->add_subcommand("list", "List remotes")->callback([&g, &action] {
    action = [&g] { return RunRemoteList(g); };
  });
  {
    auto name = std::make_shared<std::string>();
    CLI::App* show = remote->add_subcommand("show", "Show a remote: its rules and its last sync");
    show->add_option("name", *name, "Remote")->required();
    show->callback(
        [&g, &action, name] { action = [&g, name] { return RunRemoteShow(g, *name); }; });
    CLI::App* rm = remote->add_subcommand("remove", "Remove a remote");
    rm->add_option("name", *name, "Remote")->required();
    rm->callback(
        [&g, &action, name] { action = [&g, name] { return RunRemoteRemove(g, *name); }; });
  }
}

}  // namespace braid::cli
