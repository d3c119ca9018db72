// A SQLite store for unit tests: created on open, synchronous=NORMAL (tests
// need no power-loss durability), optionally on a test clock.

#ifndef BRAID_TESTS_SUPPORT_TEST_STORE_H_
#define BRAID_TESTS_SUPPORT_TEST_STORE_H_

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "braid/store.h"

namespace braid::testing {

inline StoreOptions TestStoreOptions(const Clock* clock = nullptr) {
  StoreOptions o;
  o.create_if_missing = true;
  o.durability = Durability::kNormal;
  if (clock != nullptr) o.clock = clock;
  return o;
}

// Opens (creating) the store at `path`; a test cannot go on without it, so
// a failure ends the test binary with the reason.
inline std::unique_ptr<Store> OpenTestStore(const std::string& path, const Clock* clock = nullptr) {
  auto store = Store::Open("sqlite:" + path, TestStoreOptions(clock));
  if (!store.ok()) {
    std::fprintf(stderr, "cannot open test store %s: %s\n", path.c_str(),
                 store.status().ToString().c_str());
    std::abort();
  }
  return std::move(*store);
}

}  // namespace braid::testing

#endif  // BRAID_TESTS_SUPPORT_TEST_STORE_H_
