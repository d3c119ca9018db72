// Linked into the PostgreSQL flavour of a test binary (braid_test's
// ALSO_POSTGRESQL): its instances keep their stores in databases of the
// tests' PostgreSQL server (tests/support/server.h, TestStoreKind).
// Set before main, so before any test reads it; an explicit
// BRAID_TEST_STORE wins.

#include <cstdlib>

namespace {

const bool kUsePostgresql = [] { return ::setenv("BRAID_TEST_STORE", "postgresql", 0) == 0; }();

}  // namespace
