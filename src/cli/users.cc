// Account commands: user add, list, passwd, remove; and the first admin that
// `braid init` makes.

#include <cstdio>

#include "auth/password.h"
#include "base/json.h"
#include "cli/cli.h"

namespace braid::cli {
namespace {

struct UserArgs {
  std::string name;
  std::string role;
  std::vector<std::string> scope;
  std::string password_file;
};

// The password from --password-file, or a new one (then `*generated`).
Result<std::string> PasswordFor(const std::string& password_file, bool* generated) {
  *generated = password_file.empty();
  if (*generated) return auth::NewPassword();
  BRAID_ASSIGN_OR_RETURN(std::string password, ReadSecretFile(password_file, "password"));
  BRAID_RETURN_IF_ERROR(auth::ValidatePassword(password).WithContext(password_file));
  return password;
}

void TellPassword(const Globals& g, const std::string& name, const std::string& password,
                  bool generated) {
  if (!generated) return;
  if (!g.json) {
    std::fprintf(stderr,
                 "password of user \"%s\" (shown this once; `braid user passwd %s` sets "
                 "another):\n",
                 name.c_str(), name.c_str());
  }
  Print(password);  // the last line of stdout, for scripts
}

Status RunUserAdd(const Globals& g, const UserArgs& a) {
  User u;
  u.name = a.name;
  BRAID_ASSIGN_OR_RETURN(u.role, ParseRole(a.role));
  BRAID_ASSIGN_OR_RETURN(u.scope, ParseScope(a.scope));
  if (u.role == Role::kAdmin && !u.scope.empty()) {
    return Status::InvalidArgument(
        "an admin manages every partition: drop --scope, or use the "
        "writer or reader role");
  }
  bool generated = false;
  BRAID_ASSIGN_OR_RETURN(const std::string password, PasswordFor(a.password_file, &generated));
  BRAID_ASSIGN_OR_RETURN(u.password_hash, auth::HashPassword(password));
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto existing, inst->store().GetUser(u.name));
  if (existing) {
    return Status::AlreadyExists("user \"" + u.name + "\" exists; `braid user passwd " + u.name +
                                 "` changes its password, `braid user remove` removes it");
  }
  BRAID_ASSIGN_OR_RETURN(auto txn, inst->store().BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->PutUser(u));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  if (!g.json) Print("user " + u.name + " (" + std::string(RoleName(u.role)) + ") added");
  TellPassword(g, u.name, password, generated);
  return Status::OK();
}

Status RunUserList(const Globals& g) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto users, inst->store().ListUsers());
  if (g.json) {
    std::string out;
    json::Writer w(&out);
    w.BeginArray();
    for (const auto& u : users) {
      // With the remote it was imported from (--import-users); null: made here.
      std::string account = AccountJson(u.name, u.role, u.scope, u.created_ms);
      account.pop_back();
      std::string source;
      json::Writer(&source).OptionalString(u.source.empty() ? std::nullopt
                                                            : std::optional(u.source));
      w.Raw(account + ",\"source\":" + source + "}");
    }
    w.EndArray();
    Print(out);
    return Status::OK();
  }
  for (const auto& u : users) {
    Print(AccountLine(u.name, u.role, u.scope) +
          (u.source.empty() ? "" : "\tfrom remote " + u.source));
  }
  return Status::OK();
}

Status RunUserPasswd(const Globals& g, const UserArgs& a) {
  bool generated = false;
  BRAID_ASSIGN_OR_RETURN(const std::string password, PasswordFor(a.password_file, &generated));
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto user, inst->store().GetUser(a.name));
  if (!user) return Status::NotFound("no user named \"" + a.name + "\"; see `braid user list`");
  BRAID_ASSIGN_OR_RETURN(user->password_hash, auth::HashPassword(password));
  BRAID_ASSIGN_OR_RETURN(auto txn, inst->store().BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->PutUser(*user));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  if (!g.json) Print("password of user " + a.name + " changed");
  TellPassword(g, a.name, password, generated);
  return Status::OK();
}

Status RunUserRemove(const Globals& g, const std::string& name) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto txn, inst->store().BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->DeleteUser(name));
  return txn->Commit();
}

}  // namespace

Status CreateFirstAdmin(Instance& inst, const std::string& password_path) {
  const std::string password = auth::NewPassword();
  User u;
  u.name = "admin";
  u.role = Role::kAdmin;
  BRAID_ASSIGN_OR_RETURN(u.password_hash, auth::HashPassword(password));
  // The file first: a user nobody knows the password of would be useless.
  BRAID_RETURN_IF_ERROR(WriteSecretFile(password_path, password));
  BRAID_ASSIGN_OR_RETURN(auto txn, inst.store().BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->PutUser(u));
  return txn->Commit();
}

void AddUserCommands(CLI::App& app, Globals& g, Action& action) {
  CLI::App* user = app.add_subcommand(
      "user", "Manage the accounts that may use this instance's server (HTTP Basic: curl -u NAME)");
  user->require_subcommand(1);
  auto args = std::make_shared<UserArgs>();
  const char* password_help =
      "File whose first line is the password (8 to 1024 bytes); without it, one is made and "
      "printed once";
  CLI::App* add = user->add_subcommand("add", "Add a user");
  add->add_option("name", args->name, "User name: [a-z][a-z0-9_.-]{0,63}")->required();
  add->add_option("--role", args->role,
                  "admin (everything: settings, metrics), writer (read and write records, push) "
                  "or reader (read records, pull)")
      ->required();
  add->add_option("--scope", args->scope,
                  "A partition prefix the user is limited to (repeatable; default: all)");
  add->add_option("--password-file", args->password_file, password_help);
  add->callback([&g, &action, args] { action = [&g, args] { return RunUserAdd(g, *args); }; });

  user->add_subcommand("list", "List users with their role and scope")->callback([&g, &action] {
    action = [&g] { return RunUserList(g); };
  });

  CLI::App* passwd = user->add_subcommand("passwd", "Set a user's password");
  passwd->add_option("name", args->name, "User name")->required();
  passwd->add_option("--password-file", args->password_file, password_help);
  passwd->callback(
      [&g, &action, args] { action = [&g, args] { return RunUserPasswd(g, *args); }; });

  CLI::App* remove = user->add_subcommand("remove", "Remove a user (effective at once)");
  remove->add_option("name", args->name, "User name")->required();
  remove->callback(
      [&g, &action, args] { action = [&g, args] { return RunUserRemove(g, args->name); }; });
}

}  // namespace braid::cli
