// Schema of the PostgreSQL store (docs/storage.md, "PostgreSQL", is the
// prose version).
//
// meta's row 'schema' holds the version. The backend's first layout is
// that of SQLite's schema 7 (kPgFirstSchema, schema.cc's base); every later
// version is a migration from the one before, numbered as SQLite's are (a
// change of the store's semantics changes both backends at one version). A
// new store is made the same way, the base and then every migration, so an
// upgraded store and a new one cannot differ.
//
// Rules for a migration: it is appended, never edited once released; it is
// SQL that runs in one transaction, under the advisory lock that creating a
// store takes (kPgSchemaLock), with meta's version set in the same
// transaction.

#ifndef BRAID_STORE_POSTGRES_SCHEMA_H_
#define BRAID_STORE_POSTGRES_SCHEMA_H_

#include <cstdint>
#include <string>

#include "braid/status.h"
#include "pg/conn.h"

namespace braid::postgres {

inline constexpr int kPgFirstSchema = 7;

// A migration to schema version `to` from `to - 1`: `sql` runs in one
// transaction, which also sets meta's version; `what` is logged.
struct PgMigration {
  int to;
  const char* what;
  const char* sql;
};
inline constexpr int kPgMigrationCount = 1;
// kPgMigrations[i].to == kPgFirstSchema + 1 + i
extern const PgMigration kPgMigrations[kPgMigrationCount];

// The schema this braid writes.
inline constexpr int kPgSchemaVersion = kPgFirstSchema + kPgMigrationCount;

// The transaction-level advisory lock under which a store is created and
// upgraded: one process at a time does either.
inline constexpr int64_t kPgSchemaLock = 4242424242;

// Creates the newest schema in an empty database, inside the caller's
// transaction: the base, then every migration (meta's version is the
// caller's to write).
Status CreateSchema(pg::Conn& conn);

// Upgrades the store on `conn` (outside any transaction) from schema
// `version` to kPgSchemaVersion, one migration per transaction, each
// logged. A migration that fails or is interrupted leaves the store at the
// version before it, usable and upgraded again at the next open. Several
// processes may open an old store at once: each step re-reads the version
// under the lock. `where` names the store in messages. Returns the version
// the store has then: kPgSchemaVersion, or a newer one when a newer braid
// upgraded it meanwhile. Errors: storage errors, Corruption for a version
// older than kPgFirstSchema.
Result<int64_t> MigrateSchema(pg::Conn& conn, const std::string& where, int64_t version);

}  // namespace braid::postgres

#endif  // BRAID_STORE_POSTGRES_SCHEMA_H_
