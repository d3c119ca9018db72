// Creating and upgrading the SQLite store's schema (schema.h).

#ifndef BRAID_STORE_SQLITE_MIGRATE_H_
#define BRAID_STORE_SQLITE_MIGRATE_H_

#include <string>

#include "braid/status.h"
#include "sqlite/db.h"

namespace braid::sqlite {

// Creates the newest schema in an empty database, inside the caller's
// transaction: schema 1, then every migration, then the header
// (application_id, user_version).
Status CreateSchema(Db& db);

// Upgrades the store on `db` (a connection outside any transaction) to
// kSchemaVersion, one migration per transaction, each logged. A migration
// that fails or is interrupted leaves the store at the version before it,
// usable and upgraded again at the next open. Another process may migrate
// at the same time: each step re-reads the version under the write lock.
// `path` names the store in messages. Errors: Corruption when the store is
// newer than this braid, storage errors.
Status Migrate(Db& db, const std::string& path);

}  // namespace braid::sqlite

#endif  // BRAID_STORE_SQLITE_MIGRATE_H_
