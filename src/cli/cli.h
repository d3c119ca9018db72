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

#include "braid/status.h"
#include "instance/instance.h"

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

void AddRecordCommands(CLI::App& app, Globals& g, Action& action);
void AddAdminCommands(CLI::App& app, Globals& g, Action& action);
void AddSyncCommands(CLI::App& app, Globals& g, Action& action);
void AddConflictCommands(CLI::App& app, Globals& g, Action& action);

}  // namespace braid::cli

#endif  // BRAID_CLI_CLI_H_
