// Shared pieces of the `braid` command line (docs/cli.md): global options,
// how commands report results and errors, and the command registrations.
//
// A command is a function returning Status. main() prints a failed Status as
// "braid: <message>" on stderr and exits with the code's exit status from
// the central error table (braid/status.h), so exit codes are the same for
// every command.

#ifndef BRAID_CLI_CLI_H_
#define BRAID_CLI_CLI_H_

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "braid/catalog.h"
#include "braid/status.h"
#include "instance/instance.h"
#include "repl/client.h"

namespace braid::auth {
class Keyring;
}

namespace braid::cli {

struct Globals {
  std::string data = "./braid-data";
  bool json = false;
  bool debug = false;
};

// The command chosen on the command line, run after parsing.
using Action = std::function<Status()>;

// Opens the data directory named by --data / BRAID_DATA.
Result<std::unique_ptr<Instance>> OpenInstance(const Globals& g);

// Prints one line (or block) of output to stdout.
void Print(std::string_view text);

// Prints JSON objects, one per thing a command did (remotes synced,
// containers passed): the object alone when `one`, else an array of them.
void PrintJsonResults(const std::vector<std::string>& objects, bool one);

// The first line of a secret's file (a token, a password), without its line
// end. `what` names it in errors: "the token file x is empty".
Result<std::string> ReadSecretFile(const std::string& path, std::string_view what);

// Writes `secret` and a newline to a new file readable only by its owner
// (0600), synced. Errors: AlreadyExists, IoError.
Status WriteSecretFile(const std::string& path, std::string_view secret);

// Repeatable `--scope PREFIX` options of user and token commands.
Result<Scope> ParseScope(const std::vector<std::string>& prefixes);

// One line of `user list` / `token list`: "NAME\tROLE\tevery partition" or
// "NAME\tROLE\tscope P1 P2"; and the JSON object of --json:
// {"name","role","scope","created_ms"}.
std::string AccountLine(const std::string& name, Role role, const Scope& scope);
std::string AccountJson(const std::string& name, Role role, const Scope& scope, int64_t created_ms);

void AddRecordCommands(CLI::App& app, Globals& g, Action& action);
void AddAttachmentCommands(CLI::App& app, Globals& g, Action& action);
void AddAdminCommands(CLI::App& app, Globals& g, Action& action);
void AddRemoteCommands(CLI::App& app, Globals& g, Action& action);
void AddSyncCommands(CLI::App& app, Globals& g, Action& action);
void AddConflictCommands(CLI::App& app, Globals& g, Action& action);
void AddUserCommands(CLI::App& app, Globals& g, Action& action);
void AddCertCommands(CLI::App& app, Globals& g, Action& action);
void AddMirrorCommands(CLI::App& app, Globals& g, Action& action);
void AddContainerCommands(CLI::App& app, Globals& g, Action& action);

// The index step of `braid sync` (cli/mirror.cc): brings DIR/index in line
// with the store, records the run; returns its JSON summary.
Result<std::string> RunIndexStep(const Globals& g, Instance& inst, bool full, bool live);

// One auto-sync of `remote` by `braid serve` (cli/sync.cc): under the
// instance's sync lock (Busy when another sync holds it), the cache step,
// then the attachments step unless the remote is push-only; each step's run
// recorded as `braid sync` records it, nothing printed.
Status AutoSyncRemote(Instance& inst, const Remote& remote, auth::Keyring* keys);
// One session of a live remote (autosync/live.h) by `braid serve`: under
// the sync lock (waiting for another process's sync), the cache step in the
// direction `remote` has; its run recorded at most every 5 s, and on
// failure.
Result<repl::SyncSummary> LiveSession(Instance& inst, const Remote& remote, auth::Keyring* keys);

// `braid init`: the user "admin", with a new password written to
// `password_path` (0600) before the user is stored.
Status CreateFirstAdmin(Instance& inst, const std::string& password_path);

}  // namespace braid::cli

#endif  // BRAID_CLI_CLI_H_
