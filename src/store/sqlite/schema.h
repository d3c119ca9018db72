// Schema of the SQLite store (docs/storage.md is the prose version).
//
// The database header identifies a braid store: PRAGMA application_id is
// kApplicationId and PRAGMA user_version the schema version.

#ifndef BRAID_STORE_SQLITE_SCHEMA_H_
#define BRAID_STORE_SQLITE_SCHEMA_H_

#include <cstdint>

namespace braid::sqlite {

inline constexpr int32_t kApplicationId = 0x62726964;  // "brid"
inline constexpr int kSchemaVersion = 1;

extern const char* const kSchemaV1;

}  // namespace braid::sqlite

#endif  // BRAID_STORE_SQLITE_SCHEMA_H_
