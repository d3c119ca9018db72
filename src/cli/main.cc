// braid: the command-line tool. See docs/cli.md, or `braid --help`.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "base/json.h"
#include "base/log.h"
#include "base/validate.h"
#include "braid/version.h"
#include "cli/cli.h"

namespace braid::cli {

Result<std::unique_ptr<Instance>> OpenInstance(const Globals& g) { return Instance::Open(g.data); }

void Print(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

void PrintJsonResults(const std::vector<std::string>& objects, bool one) {
  if (one && objects.size() == 1) return Print(objects[0]);
  std::string out;
  json::Writer w(&out);
  w.BeginArray();
  for (const auto& o : objects) w.Raw(o);
  w.EndArray();
  Print(out);
}

Result<std::string> ReadSecretFile(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read the " + std::string(what) + " file " + path);
  std::string secret;
  std::getline(in, secret);
  while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  if (secret.empty()) {
    return Status::InvalidArgument("the " + std::string(what) + " file " + path + " is empty");
  }
  return secret;
}

Status WriteSecretFile(const std::string& path, std::string_view secret) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int e = errno;
    if (e == EEXIST) return Status::AlreadyExists(path + " exists; remove it first");
    return Status::IoError("cannot create " + path + ": " + std::strerror(e));
  }
  const std::string text = std::string(secret) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const int e = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return Status::IoError("cannot write " + path + ": " + std::strerror(e));
  }
  return Status::OK();
}

Result<Scope> ParseScope(const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes) BRAID_RETURN_IF_ERROR(ValidatePartition(p).WithContext("--scope"));
  return Scope(prefixes);
}

std::string AccountLine(const std::string& name, Role role, const Scope& scope) {
  std::string text = name + "\t" + std::string(RoleName(role)) + "\t";
  if (scope.empty()) return text + "every partition";
  text += "scope";
  for (const auto& p : scope) text += " " + p;
  return text;
}

std::string AccountJson(const std::string& name, Role role, const Scope& scope,
                        int64_t created_ms) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("name").String(name).Key("role").String(RoleName(role)).Key("scope");
  w.BeginArray();
  for (const auto& p : scope) w.String(p);
  w.EndArray().Key("created_ms").Int(created_ms).EndObject();
  return out;
}

namespace {

int Main(int argc, char** argv) {
  // A file-size limit (ulimit -f) makes a write fail with EFBIG, reported
  // like a full disk, instead of killing the process midway.
  std::signal(SIGXFSZ, SIG_IGN);
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
      "8 unauthorized, 9 partial (done but for what it names). See docs/cli.md.");
  Action action;
  AddAdminCommands(app, g, action);
  AddRecordCommands(app, g, action);
  AddAttachmentCommands(app, g, action);
  AddRemoteCommands(app, g, action);
  AddSyncCommands(app, g, action);
  AddConflictCommands(app, g, action);
  AddUserCommands(app, g, action);
  AddCertCommands(app, g, action);
  AddMirrorCommands(app, g, action);
  AddContainerCommands(app, g, action);
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
