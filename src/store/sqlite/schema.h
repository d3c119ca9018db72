// Schema of the SQLite store (docs/storage.md is the prose version).
//
// The database header identifies a braid store: PRAGMA application_id is
// kApplicationId and PRAGMA user_version the schema version. Version 1 is
// kSchemaV1; every later version is a migration from the one before
// (kMigrations). A new store is made the same way, schema 1 and then every
// migration, so an upgraded store and a new one cannot differ.
//
// Rules for a migration: it is appended, never edited once released; it is
// SQL that runs in one transaction; and tests/fixtures gets a store written
// by the release before it (tests/fixtures/make-fixture).

#ifndef BRAID_STORE_SQLITE_SCHEMA_H_
#define BRAID_STORE_SQLITE_SCHEMA_H_

#include <cstdint>

namespace braid::sqlite {

inline constexpr int32_t kApplicationId = 0x62726964;  // "brid"

extern const char* const kSchemaV1;

// A migration to schema version `to` from `to - 1`: `sql` runs in one
// transaction, which also sets user_version; `what` is logged.
struct Migration {
  int to;
  const char* what;
  const char* sql;
};
inline constexpr int kMigrationCount = 7;
extern const Migration kMigrations[kMigrationCount];  // kMigrations[i].to == i + 2

// The schema this braid writes.
inline constexpr int kSchemaVersion = 1 + kMigrationCount;

}  // namespace braid::sqlite

#endif  // BRAID_STORE_SQLITE_SCHEMA_H_
