// The backends the store test suites run against (store_test.cc,
// apply_test.cc): each names a new store in a test's temporary directory.
// A backend joins by adding itself here; every store test then runs on it.

#ifndef BRAID_STORE_TEST_BACKENDS_H_
#define BRAID_STORE_TEST_BACKENDS_H_

#include <functional>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/pg_server.h"

namespace braid::testing {

struct TestBackend {
  std::string name;
  // The spec (Store::Open) of a store kept under `dir`, a fresh temporary
  // directory of the test's; `name` tells stores of one test apart.
  std::function<std::string(const std::string& dir, const std::string& name)> spec;
};

inline void PrintTo(const TestBackend& b, std::ostream* os) { *os << b.name; }

// A database of the tests' PostgreSQL server (tests/support/pg_server.h)
// per (dir, name): a test that opens "a store" twice gets the same one.
// They are dropped when the test process exits.
inline std::string PostgresSpec(const std::string& dir, const std::string& name) {
  static std::mutex mu;
  static std::map<std::pair<std::string, std::string>, std::string> made;
  std::lock_guard lock(mu);
  auto& uri = made[{dir, name}];
  if (uri.empty()) uri = PgServer::Shared().NewDatabaseUntilExit(name);
  return uri;
}

inline std::vector<TestBackend> TestBackends() {
  return {{"sqlite", [](const std::string& dir,
                        const std::string& name) { return "sqlite:" + dir + "/" + name + ".db"; }},
          {"postgresql", PostgresSpec}};
}

}  // namespace braid::testing

#endif  // BRAID_STORE_TEST_BACKENDS_H_
