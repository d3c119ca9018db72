// The PostgreSQL server the tests use, and throwaway databases on it.
//
// One server serves a whole test run. Under CTest it is the one the fixture
// braid_pg started (tests/CMakeLists.txt): BRAID_TEST_PG_DIR names its
// directory, which holds its unix socket. A test binary run by hand starts
// its own with tests/tools/pg-test-server in a temporary directory and stops
// it when the process exits, or, should the process die some other way
// (a crash, SIGKILL), as soon as it is gone.
//
// Each test takes databases of its own (TestDatabase), so tests and test
// processes running at once never see each other's data. The server speaks
// on its unix socket only, to the superuser "braid" without a password.
//
// Thread-safe. Failures of the harness itself (no server, CREATE DATABASE
// failing) abort the test binary with a message saying what to do; they are
// not failures of the code under test.

#ifndef BRAID_TESTS_SUPPORT_PG_SERVER_H_
#define BRAID_TESTS_SUPPORT_PG_SERVER_H_

#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace braid::testing {

class PgServer {
 public:
  // The server of this test run, reachable: the fixture's, or one started on
  // first use. Aborts if no server can be had (PostgreSQL not installed, the
  // fixture's server not running).
  static PgServer& Shared();

  // Stops the server if this process started it.
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // Makes a new, empty database and returns its libpq URI, e.g.
  // "postgresql:///braid_store_1234_5?host=/tmp/braid-pg-x&port=5432&user=braid".
  // The name is `hint` (lowercased, [a-z0-9_] kept, shortened) with this
  // process's id and a counter, so it is unique among concurrent test
  // processes too. Aborts on failure.
  std::string NewDatabase(const std::string& hint);
  // NewDatabase, for a database dropped when this process exits (for
  // tests that cannot tell when they are done with it: data directories
  // made through `braid init`, stores opened by spec).
  std::string NewDatabaseUntilExit(const std::string& hint);
  // Drops a database NewDatabase made, ending its connections first.
  // A failure is a test failure (ADD_FAILURE), not an abort.
  void DropDatabase(const std::string& uri);

  // The directory of the server's socket (libpq's host).
  const std::string& socket_dir() const { return socket_dir_; }
  // libpq URI of database `name` on this server.
  std::string Uri(const std::string& name) const;

 private:
  PgServer() = default;
  // Starts a server of this process's own in a temporary directory.
  void StartOwn();
  // Ends a server StartOwn started; does nothing in any other process
  // (a forked child such as a death test's).
  void StopOwn();

  std::string socket_dir_;
  std::atomic<int> next_database_{0};
  std::mutex until_exit_mu_;
  std::vector<std::string> until_exit_;  // URIs NewDatabaseUntilExit made
  // For a server this process started: the process that started it, and a
  // pipe to the watchdog that stops it when this end closes.
  pid_t owner_pid_ = -1;
  pid_t watchdog_pid_ = -1;
  int watchdog_fd_ = -1;
};

// A database of its own for one test, dropped when destroyed (kept, and its
// URI printed, when BRAID_KEEP_TEMP is set, as TempDir does).
class TestDatabase {
 public:
  explicit TestDatabase(const std::string& hint);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& uri() const { return uri_; }

 private:
  std::string uri_;
};

}  // namespace braid::testing

#endif  // BRAID_TESTS_SUPPORT_PG_SERVER_H_
