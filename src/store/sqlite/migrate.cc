#include "store/sqlite/migrate.h"

#include "base/failpoint.h"
#include "base/log.h"
#include "store/sqlite/schema.h"

namespace braid::sqlite {
namespace {

Status SetVersion(Db& db, int version) {
  return db.Exec(("PRAGMA user_version=" + std::to_string(version)).c_str());
}

}  // namespace

Status CreateSchema(Db& db) {
  BRAID_RETURN_IF_ERROR(db.Exec(kSchemaV1));
  for (const Migration& m : kMigrations) BRAID_RETURN_IF_ERROR(db.Exec(m.sql));
  BRAID_RETURN_IF_ERROR(
      db.Exec(("PRAGMA application_id=" + std::to_string(kApplicationId)).c_str()));
  return SetVersion(db, kSchemaVersion);
}

Status Migrate(Db& db, const std::string& path) {
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const int64_t seen, db.QueryInt("PRAGMA user_version"));
    if (seen > kSchemaVersion) {
      return Status::Corruption(path + " was written by a newer braid (schema " +
                                std::to_string(seen) + "); this braid reads schema " +
                                std::to_string(kSchemaVersion) +
                                " at most: upgrade braid to open it");
    }
    if (seen == kSchemaVersion) return Status::OK();
    BRAID_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE").WithContext("upgrading " + path));
    auto step = [&]() -> Status {
      // Another process may have run this step while we waited.
      BRAID_ASSIGN_OR_RETURN(const int64_t version, db.QueryInt("PRAGMA user_version"));
      if (version != seen) return Status::OK();
      if (version < 1) return Status::Corruption(path + " has no schema version");
      const Migration& m = kMigrations[version - 1];
      // A warning, so the command line shows it too: braid releases older
      // than this schema cannot open the store afterwards.
      spdlog::warn(
          "{}: upgrading the store from schema {} to {} ({}); older braid releases "
          "cannot open it afterwards",
          path, version, m.to, m.what);
      BRAID_RETURN_IF_ERROR(db.Exec(m.sql));
      BRAID_RETURN_IF_ERROR(Failpoint("migrate"));
      return SetVersion(db, m.to);
    };
    Status s = step();
    if (s.ok()) s = db.Exec("COMMIT");
    if (!s.ok()) {
      (void)db.Exec("ROLLBACK");
      return s.WithContext("upgrading " + path + " from schema " + std::to_string(seen) +
                           " (it is unchanged; the upgrade runs again at the next open)");
    }
  }
}

}  // namespace braid::sqlite
