// Upgrading the PostgreSQL store's schema (schema.h).

#include "base/failpoint.h"
#include "base/log.h"
#include "store/postgres/schema.h"

namespace braid::postgres {
namespace {

Result<int64_t> ReadVersion(pg::Conn& conn, const std::string& where) {
  BRAID_ASSIGN_OR_RETURN(pg::Rows v, conn.Query("SELECT value FROM meta WHERE key = 'schema'"));
  if (v.empty()) return Status::Corruption(where + " is not a braid store (meta has no schema)");
  return std::stoll(std::string(v.Text(0, 0)));
}

}  // namespace

Result<int64_t> MigrateSchema(pg::Conn& conn, const std::string& where, int64_t version) {
  while (version < kPgSchemaVersion) {
    const int64_t seen = version;
    BRAID_RETURN_IF_ERROR(
        conn.Exec("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(kPgSchemaLock) + ")")
            .WithContext("upgrading " + where));
    auto step = [&]() -> Status {
      // Another process may have run this step while we waited.
      BRAID_ASSIGN_OR_RETURN(version, ReadVersion(conn, where));
      if (version != seen) return Status::OK();
      if (version < kPgFirstSchema) {
        return Status::Corruption(where + " has schema " + std::to_string(version) +
                                  ", older than any PostgreSQL store braid wrote");
      }
      const PgMigration& m = kPgMigrations[version - kPgFirstSchema];
      // A warning, so the command line shows it too: braid releases older
      // than this schema cannot open the store afterwards (every process
      // serving it must be upgraded).
      spdlog::warn(
          "{}: upgrading the store from schema {} to {} ({}); older braid releases cannot open "
          "it afterwards",
          where, version, m.to, m.what);
      BRAID_RETURN_IF_ERROR(conn.Exec(m.sql));
      BRAID_RETURN_IF_ERROR(Failpoint("migrate"));
      const std::string to = std::to_string(m.to);
      BRAID_RETURN_IF_ERROR(
          conn.Query("UPDATE meta SET value = $1 WHERE key = 'schema'", pg::Params().Add(to))
              .status());
      version = m.to;
      return Status::OK();
    };
    Status s = step();
    if (s.ok()) s = conn.Exec("COMMIT");
    if (!s.ok()) {
      (void)conn.Exec("ROLLBACK");
      return s.WithContext("upgrading " + where + " from schema " + std::to_string(seen) +
                           " (it is unchanged; the upgrade runs again at the next open)");
    }
  }
  return version;
}

}  // namespace braid::postgres
