#include "tests/support/pg_server.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/process.h"

#ifndef BRAID_PG_TEST_SERVER
#error "BRAID_PG_TEST_SERVER (the path of tests/tools/pg-test-server) must be defined"
#endif

namespace braid::testing {
namespace {

constexpr char kScript[] = BRAID_PG_TEST_SERVER;
// The script's server port: it names the socket file DIR/.s.PGSQL.5432. Given
// explicitly so a PGPORT in the environment cannot redirect libpq.
constexpr char kPort[] = "5432";
constexpr char kUser[] = "braid";
// PostgreSQL's limit on identifiers (NAMEDATALEN - 1).
constexpr size_t kMaxNameLength = 63;
// SQLSTATE duplicate_database: a database of an earlier process with our pid.
constexpr char kDuplicateDatabase[] = "42P04";

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "pg_server: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// A connection to `dbname` on the server whose socket is in `socket_dir`;
// PQstatus tells whether it worked.
Conn Connect(const std::string& socket_dir, const std::string& dbname) {
  const char* keys[] = {"host", "port", "user", "dbname", "connect_timeout", nullptr};
  const char* values[] = {socket_dir.c_str(), kPort, kUser, dbname.c_str(), "10", nullptr};
  return Conn(PQconnectdbParams(keys, values, /*expand_dbname=*/0));
}

struct ExecError {
  std::string message;  // empty: success
  std::string sqlstate;
};

ExecError Exec(PGconn* conn, const std::string& sql) {
  PgResult result(PQexec(conn, sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return {};
  const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
  std::string message = PQerrorMessage(conn);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return {sql + ": " + message, sqlstate != nullptr ? sqlstate : ""};
}

std::string QuoteIdentifier(const std::string& name) { return "\"" + name + "\""; }

// `hint` as part of a database name: lowercase letters, digits and '_'.
std::string SanitizeHint(const std::string& hint) {
  std::string out;
  for (char c : hint) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    out += keep ? c : '_';
  }
  return out.empty() ? "db" : out;
}

// libpq URI query values: '/' and unreserved characters as they are.
std::string PercentEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string TempBase() {
  const char* base = std::getenv("TMPDIR");
  return base != nullptr && *base ? base : "/tmp";
}

}  // namespace

PgServer& PgServer::Shared() {
  // Destroyed at exit, which stops a server of this process's own.
  static PgServer server;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* dir = std::getenv("BRAID_TEST_PG_DIR");
    if (dir == nullptr || *dir == '\0') {
      server.StartOwn();
      return;
    }
    server.socket_dir_ = dir;
    Conn conn = Connect(server.socket_dir_, "postgres");
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      Die("BRAID_TEST_PG_DIR=" + server.socket_dir_ + " names no running PostgreSQL server (" +
          PQerrorMessage(conn.get()) +
          "). CTest's fixture test pg_server_start starts it: run the tests with ctest, or "
          "unset BRAID_TEST_PG_DIR to have the test binary start a server of its own.");
    }
  });
  return server;
}

void PgServer::StartOwn() {
  std::string dir = TempBase() + "/braid-pg-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) Die("mkdtemp " + dir + " failed");
  RunResult run = Run({kScript, "start", dir});
  if (run.exit_code != 0) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    Die(std::string(kScript) + " start " + dir + " failed (exit code " +
        std::to_string(run.exit_code) + "):\n" + run.out + run.err);
  }
  socket_dir_ = dir;
  owner_pid_ = ::getpid();

  // The watchdog stops the server once the write end of its pipe closes:
  // at exit (StopOwn), or when this process dies any other way, as the kernel
  // then closes it. A byte down the pipe instead tells it to leave the server
  // be. Its own session keeps it out of a Ctrl-C to
  // the test. Everything it runs before exec is async-signal-safe, as this
  // process may have threads.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) Die("pipe2 failed");
  std::string stop = "stop";
  std::vector<char*> argv = {const_cast<char*>(kScript), stop.data(), dir.data(), nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    ::setsid();
    ::signal(SIGPIPE, SIG_IGN);
    ::close(fds[1]);
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDIN_FILENO);
      ::dup2(null_fd, STDOUT_FILENO);
    }
    // Holds no file of the test open (its stderr is for the script's errors).
    ::close_range(3, fds[0] - 1, 0);
    ::close_range(fds[0] + 1, ~0U, 0);
    char byte;
    ssize_t n;
    while ((n = ::read(fds[0], &byte, 1)) < 0 && errno == EINTR) {
    }
    if (n == 1) ::_exit(0);  // StopOwn keeps the server (BRAID_KEEP_TEMP)
    ::execv(kScript, argv.data());
    ::_exit(127);
  }
  ::close(fds[0]);
  watchdog_pid_ = pid;
  watchdog_fd_ = fds[1];
}

void PgServer::StopOwn() {
  if (owner_pid_ != ::getpid() || watchdog_fd_ < 0) return;
  const bool keep = std::getenv("BRAID_KEEP_TEMP") != nullptr;
  if (keep && ::write(watchdog_fd_, "k", 1) == 1) {
    std::fprintf(stderr, "kept the PostgreSQL server in %s; stop it with: %s stop %s\n",
                 socket_dir_.c_str(), kScript, socket_dir_.c_str());
  }
  ::close(watchdog_fd_);
  watchdog_fd_ = -1;
  int status = 0;
  while (::waitpid(watchdog_pid_, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "pg_server: %s stop %s failed; a postgres server may be left running\n",
                 kScript, socket_dir_.c_str());
  }
}

PgServer::~PgServer() {
  // A server of this process's own goes with everything in it; the
  // fixture's outlives this process, so its databases are dropped here.
  if (owner_pid_ == -1 && std::getenv("BRAID_KEEP_TEMP") == nullptr) {
    std::lock_guard lock(until_exit_mu_);
    for (const std::string& uri : until_exit_) DropDatabase(uri);
  }
  StopOwn();
}

std::string PgServer::NewDatabaseUntilExit(const std::string& hint) {
  std::string uri = NewDatabase(hint);
  std::lock_guard lock(until_exit_mu_);
  until_exit_.push_back(uri);
  return uri;
}

std::string PgServer::Uri(const std::string& name) const {
  return "postgresql:///" + name + "?host=" + PercentEncode(socket_dir_) + "&port=" + kPort +
         "&user=" + kUser;
}

std::string PgServer::NewDatabase(const std::string& hint) {
  Conn conn = Connect(socket_dir_, "postgres");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    Die("cannot connect to the test PostgreSQL server in " + socket_dir_ + ": " +
        PQerrorMessage(conn.get()));
  }
  // FILE_COPY (PostgreSQL 15+) copies the template's files and checkpoints,
  // which fsync=off makes cheap; the default WAL_LOG writes every page of
  // the template to the WAL. Measured on PostgreSQL 15 with the cluster on
  // tmpfs: 12 ms against 15 ms a database (drop: 5 ms either way). The
  // template makes no difference to the time; template0 because no one can
  // be connected to it (CREATE DATABASE fails while its template has
  // sessions).
  const std::string options = PQserverVersion(conn.get()) >= 150000
                                  ? " TEMPLATE template0 STRATEGY = FILE_COPY"
                                  : " TEMPLATE template0";
  const std::string base = SanitizeHint(hint);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string suffix =
        "_" + std::to_string(::getpid()) + "_" + std::to_string(next_database_++);
    const std::string prefix = "braid_" + base;
    const std::string name = prefix.substr(0, kMaxNameLength - suffix.size()) + suffix;
    const ExecError error = Exec(conn.get(), "CREATE DATABASE " + QuoteIdentifier(name) + options);
    if (error.message.empty()) return Uri(name);
    // A database left by a killed process that had our pid: take the next name.
    if (error.sqlstate != kDuplicateDatabase) Die(error.message);
  }
  Die("CREATE DATABASE: 100 names taken in a row on the server in " + socket_dir_);
}

void PgServer::DropDatabase(const std::string& uri) {
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), nullptr);
  std::string name;
  if (options != nullptr) {
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (std::string(o->keyword) == "dbname" && o->val != nullptr) name = o->val;
    }
    PQconninfoFree(options);
  }
  if (name.empty() || name == "postgres") {
    ADD_FAILURE() << "DropDatabase: no test database in \"" << uri << "\"";
    return;
  }
  Conn conn = Connect(socket_dir_, "postgres");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    ADD_FAILURE() << "DropDatabase " << name << ": " << PQerrorMessage(conn.get());
    return;
  }
  const ExecError error =
      Exec(conn.get(), "DROP DATABASE IF EXISTS " + QuoteIdentifier(name) + " WITH (FORCE)");
  if (!error.message.empty()) ADD_FAILURE() << error.message;
}

TestDatabase::TestDatabase(const std::string& hint) : uri_(PgServer::Shared().NewDatabase(hint)) {}

TestDatabase::~TestDatabase() {
  if (std::getenv("BRAID_KEEP_TEMP") != nullptr) {
    std::fprintf(stderr, "kept database %s\n", uri_.c_str());
    return;
  }
  PgServer::Shared().DropDatabase(uri_);
}

}  // namespace braid::testing
