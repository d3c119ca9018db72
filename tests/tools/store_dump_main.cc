// store_dump STORE [--fsic PREFIX]...: prints tests/support/store_dump.h's
// JSON dump of a store (a store.db path). Used by tests/fixtures/make-fixture
// to write a fixture's expected contents, and by people comparing stores.

#include <cstdio>
#include <string>
#include <vector>

#include "braid/store.h"
#include "tests/support/store_dump.h"

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr, "usage: store_dump STORE_DB [--fsic PREFIX]...\n");
    return 2;
  }
  std::vector<std::string> prefixes;
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--fsic" && i + 1 < argc) {
      prefixes.emplace_back(argv[++i]);
    } else {
      std::fprintf(stderr, "store_dump: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  auto store = braid::Store::Open(std::string("sqlite:") + argv[1], braid::StoreOptions());
  if (!store.ok()) {
    std::fprintf(stderr, "store_dump: %s\n", store.status().ToString().c_str());
    return 1;
  }
  auto dump = braid::testing::DumpStore(**store, prefixes);
  if (!dump.ok()) {
    std::fprintf(stderr, "store_dump: %s\n", dump.status().ToString().c_str());
    return 1;
  }
  std::fwrite(dump->data(), 1, dump->size(), stdout);
  return 0;
}
