// braid: the command-line tool. See docs/cli.md, or `braid --help`.

#include <cstdio>

#include "base/log.h"
#include "braid/version.h"
#include "cli/cli.h"

namespace braid::cli {

Result<std::unique_ptr<Instance>> OpenInstance(const Globals& g) { return Instance::Open(g.data); }

void Print(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

namespace {

int Main(int argc, char** argv) {
  CLI::App app(
      "braid keeps records in sync between instances, application clients and directories.\n"
      "Each instance is a data directory (--data, default ./braid-data) holding an embedded\n"
      "store; `braid serve` exposes it over HTTP, the other commands work on it directly,\n"
      "whether or not a server runs on it.",
      "braid");
  app.set_version_flag("--version", BRAID_VERSION_STRING);
  Globals g;
  app.add_option("--data", g.data, "Data directory of the instance")
      ->envname("BRAID_DATA")
      ->capture_default_str();
  app.add_flag("--json", g.json, "Print results as JSON (one document on stdout)");
  app.add_flag("--debug", g.debug, "Log debug messages on stderr");
  app.require_subcommand(1);
  // Global options may also follow the command: `braid sync lab-b --json`.
  app.fallthrough();
  app.footer(
      "Exit codes: 0 ok, 1 internal error, 2 invalid input, 3 not found, 4 already exists or\n"
      "conflict, 5 resync required, 6 busy or unavailable (retry), 7 I/O error or corruption,\n"
      "8 unauthorized. See docs/cli.md.");
  Action action;
  AddAdminCommands(app, g, action);
  AddRecordCommands(app, g, action);
  AddSyncCommands(app, g, action);
  AddConflictCommands(app, g, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // CLI11 says "A subcommand is required" for a misspelt command; say what
    // was wrong instead.
    for (int i = 1; i < argc && app.get_subcommands().empty(); ++i) {
      const std::string arg = argv[i];
      if (arg.empty() || arg[0] == '-') {
        if (arg == "--data") ++i;  // skip its value
        continue;
      }
      std::string names;
      for (const CLI::App* sub : app.get_subcommands({})) {
        names += (names.empty() ? "" : ", ") + sub->get_name();
      }
      std::fprintf(stderr, "braid: unknown command \"%s\"; the commands are %s\n", arg.c_str(),
                   names.c_str());
      return InfoFor(Code::kInvalidArgument).exit_code;
    }
    std::fprintf(stderr, "braid: %s\nRun `braid --help` (or `braid COMMAND --help`) for usage.\n",
                 e.what());
    return InfoFor(Code::kInvalidArgument).exit_code;
  }
  InitLogging(g.debug ? spdlog::level::debug : spdlog::level::warn);
  const Status s = action ? action() : Status::Internal("no command");
  std::fflush(stdout);
  if (s.ok()) return 0;
  std::fprintf(stderr, "braid: %s\n", s.message().c_str());
  return InfoFor(s.code()).exit_code;
}

}  // namespace
}  // namespace braid::cli

int main(int argc, char** argv) { return braid::cli::Main(argc, argv); }
