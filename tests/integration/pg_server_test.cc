// The PostgreSQL harness (tests/support/pg_server.h): databases of their own
// on a real server, dropped when asked, and a server a test process started
// stopped however that process ends.

#include "tests/support/pg_server.h"

#include <libpq-fe.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace braid::testing {
namespace {

// Child mode, before main: with BRAID_PG_HARNESS_CHILD set the binary starts
// a server of its own (the parent unsets BRAID_TEST_PG_DIR), prints
// "socket_dir=DIR", and then exits normally ("exit") or dies of SIGKILL
// ("kill"), for the parent to see the server gone.
[[maybe_unused]] const bool kChildMode = [] {
  const char* mode = std::getenv("BRAID_PG_HARNESS_CHILD");
  if (mode == nullptr) return false;
  PgServer& server = PgServer::Shared();
  std::printf("socket_dir=%s\n", server.socket_dir().c_str());
  std::fflush(stdout);
  if (std::string(mode) == "kill") ::raise(SIGKILL);
  std::exit(0);
}();

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

Conn Connect(const std::string& uri) {
  Conn conn(PQconnectdb(uri.c_str()));
  EXPECT_EQ(PQstatus(conn.get()), CONNECTION_OK) << uri << ": " << PQerrorMessage(conn.get());
  return conn;
}

// The first value of the first row of `sql`'s answer; "" after an error,
// which fails the test.
std::string Query(PGconn* conn, const std::string& sql) {
  PGresult* result = PQexec(conn, sql.c_str());
  std::string value;
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_TUPLES_OK && PQntuples(result) > 0) {
    value = PQgetvalue(result, 0, 0);
  } else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    ADD_FAILURE() << sql << ": " << PQerrorMessage(conn);
  }
  PQclear(result);
  return value;
}

std::string DatabaseName(const std::string& uri) {
  const size_t start = uri.find(":///") + 4;
  return uri.substr(start, uri.find('?') - start);
}

TEST(PgServerTest, DatabasesAreSeparate) {
  TestDatabase a("harness A");
  TestDatabase b("harness A");
  ASSERT_NE(a.uri(), b.uri());
  EXPECT_EQ(DatabaseName(a.uri()).rfind("braid_harness_a_", 0), 0u) << a.uri();

  Conn conn_a = Connect(a.uri());
  Conn conn_b = Connect(b.uri());
  ASSERT_EQ(PQstatus(conn_a.get()), CONNECTION_OK);
  ASSERT_EQ(PQstatus(conn_b.get()), CONNECTION_OK);
  EXPECT_EQ(Query(conn_a.get(), "SELECT current_database()"), DatabaseName(a.uri()));
  EXPECT_EQ(Query(conn_b.get(), "SELECT current_database()"), DatabaseName(b.uri()));

  Query(conn_a.get(), "CREATE TABLE docs (id text PRIMARY KEY, body text)");
  Query(conn_a.get(), "INSERT INTO docs VALUES ('x', 'y')");
  EXPECT_EQ(Query(conn_a.get(), "SELECT body FROM docs WHERE id = 'x'"), "y");
  EXPECT_EQ(Query(conn_a.get(), "SELECT to_regclass('public.docs') IS NULL"), "f");
  EXPECT_EQ(Query(conn_b.get(), "SELECT to_regclass('public.docs') IS NULL"), "t");
}

TEST(PgServerTest, NamesFitAndStayUnique) {
  PgServer& server = PgServer::Shared();
  const std::string hint(200, 'Q');
  const std::string first = server.NewDatabase(hint);
  const std::string second = server.NewDatabase(hint);
  EXPECT_NE(first, second);
  EXPECT_LE(DatabaseName(first).size(), 63u) << first;
  EXPECT_EQ(DatabaseName(first).find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_"),
            std::string::npos)
      << first;
  EXPECT_NE(first.find("host=" + server.socket_dir()), std::string::npos) << first;
  server.DropDatabase(first);
  server.DropDatabase(second);
}

TEST(PgServerTest, DropDatabaseRemovesItEvenWhileConnected) {
  PgServer& server = PgServer::Shared();
  const std::string uri = server.NewDatabase("drop");
  const std::string name = DatabaseName(uri);
  Conn admin = Connect(server.Uri("postgres"));
  ASSERT_EQ(PQstatus(admin.get()), CONNECTION_OK);
  const std::string count = "SELECT count(*) FROM pg_database WHERE datname = '" + name + "'";
  ASSERT_EQ(Query(admin.get(), count), "1");

  Conn user = Connect(uri);  // WITH (FORCE) ends this session
  ASSERT_EQ(PQstatus(user.get()), CONNECTION_OK);
  server.DropDatabase(uri);
  EXPECT_EQ(Query(admin.get(), count), "0");
  Conn again(PQconnectdb(uri.c_str()));
  EXPECT_NE(PQstatus(again.get()), CONNECTION_OK);
}

TEST(PgServerTest, UsesTheFixtureServerUnderCTest) {
  const char* dir = std::getenv("BRAID_TEST_PG_DIR");
  if (dir == nullptr || *dir == '\0') GTEST_SKIP() << "not run by ctest";
  EXPECT_EQ(PgServer::Shared().socket_dir(), dir);
}

// Runs this binary in child mode; returns the server directory it printed.
std::string RunChild(const std::string& mode, int expected_exit_code) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  RunResult run = Run({"/usr/bin/env", "-u", "BRAID_TEST_PG_DIR", "-u", "BRAID_KEEP_TEMP",
                       "BRAID_PG_HARNESS_CHILD=" + mode, self});
  EXPECT_EQ(run.exit_code, expected_exit_code) << run.out << run.err;
  const std::string prefix = "socket_dir=";
  const size_t at = run.out.find(prefix);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no socket_dir in the child's output:\n" << run.out << run.err;
    return "";
  }
  const size_t end = run.out.find('\n', at);
  return run.out.substr(at + prefix.size(), end - at - prefix.size());
}

TEST(PgServerTest, OwnServerStopsAtExit) {
  const std::string dir = RunChild("exit", 0);
  ASSERT_FALSE(dir.empty());
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " outlived its process";
}

TEST(PgServerTest, OwnServerStopsWhenItsProcessIsKilled) {
  const std::string dir = RunChild("kill", 128 + SIGKILL);
  ASSERT_FALSE(dir.empty());
  // The watchdog stops the server (and removes its directory) after the
  // process is gone; that takes a fraction of a second.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::filesystem::exists(dir) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " outlived its process by 30 s";
}

}  // namespace
}  // namespace braid::testing
