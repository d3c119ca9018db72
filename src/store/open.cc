// Store::Open: from a spec to a backend.

#include <charconv>

#include "braid/store.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace braid {
namespace {

// "key=value&key=value" after a spec's '?'.
Status ParseSqliteParams(std::string_view spec, std::string_view params,
                         sqlite::SqliteOptions* out) {
  while (!params.empty()) {
    const size_t amp = params.find('&');
    const std::string_view item = params.substr(0, amp);
    params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
    const size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    if (key == "cache_mib") {
      int mib = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), mib);
      if (ec != std::errc() || end != value.data() + value.size() || mib < 1 || mib > 65536) {
        return Status::InvalidArgument("store \"" + std::string(spec) +
                                       "\": cache_mib must be a whole number of MiB from 1 to "
                                       "65536");
      }
      out->cache_mib = mib;
    } else {
      return Status::InvalidArgument("store \"" + std::string(spec) + "\": unknown setting \"" +
                                     std::string(key) + "\" (sqlite: knows cache_mib)");
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(std::string_view spec, const StoreOptions& options) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (spec.substr(0, kSqlite.size()) == kSqlite) {
    std::string_view rest = spec.substr(kSqlite.size());
    sqlite::SqliteOptions sqlite;
    const size_t question = rest.find('?');
    if (question != std::string_view::npos) {
      BRAID_RETURN_IF_ERROR(ParseSqliteParams(spec, rest.substr(question + 1), &sqlite));
      rest = rest.substr(0, question);
    }
    if (rest.empty()) {
      return Status::InvalidArgument("store \"" + std::string(spec) +
                                     "\" names no file: sqlite:PATH");
    }
    sqlite.path.assign(rest);
    return sqlite::SqliteStore::Open(sqlite, options);
  }
  if (spec.rfind("postgresql://", 0) == 0 || spec.rfind("postgres://", 0) == 0) {
    // The whole spec is a libpq URI: host, port, user, database and
    // libpq's own settings (sslmode, connect_timeout, ...) in its query.
    postgres::PgOptions pg;
    pg.conninfo.assign(spec);
    return postgres::PgStore::Open(pg, options);
  }
  return Status::InvalidArgument("unknown store \"" + std::string(spec) +
                                 "\": expected sqlite:PATH[?cache_mib=N] or "
                                 "postgresql://[USER@]HOST[:PORT]/DATABASE[?PARAMS]");
}

}  // namespace braid
