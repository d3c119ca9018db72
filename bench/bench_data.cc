#include "bench/bench_data.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace braid::bench {
namespace {

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "raw sqlite %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

}  // namespace

std::vector<Row> MakeRows(size_t n) {
  std::vector<Row> rows(n);
  uint64_t x = 0x9E3779B97F4A7C15ULL;  // xorshift64
  char buf[320];
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::snprintf(buf, sizeof buf, "%016llx-%07zu", static_cast<unsigned long long>(x), i);
    rows[i].id = buf;
    std::snprintf(
        buf, sizeof buf,
        R"({"title":"Record number %zu","author":"user%llu","n":%zu,"tags":["a","b%llu"],)"
        R"("done":%s,"text":"lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do %016llx"})",
        i, static_cast<unsigned long long>(x % 1000), i, static_cast<unsigned long long>(x % 7),
        (x & 1) ? "true" : "false", static_cast<unsigned long long>(x));
    rows[i].body = buf;
  }
  return rows;
}

double RawSqliteInsert(const std::vector<Row>& rows, const std::string& path, size_t txn) {
  if (txn == 0) txn = rows.size();
  sqlite3* db;
  Check(sqlite3_open(path.c_str(), &db), db, "open");
  Check(sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;"
                     "CREATE TABLE records(collection TEXT NOT NULL, id TEXT NOT NULL, "
                     "body TEXT NOT NULL, PRIMARY KEY (collection, id));",
                     nullptr, nullptr, nullptr),
        db, "schema");
  sqlite3_stmt* ins;
  Check(sqlite3_prepare_v2(db, "INSERT INTO records(collection, id, body) VALUES ('bench', ?, ?)",
                           -1, &ins, nullptr),
        db, "prepare");
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i % txn == 0) Check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    sqlite3_bind_text(ins, 1, rows[i].id.data(), static_cast<int>(rows[i].id.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(ins, 2, rows[i].body.data(), static_cast<int>(rows[i].body.size()),
                      SQLITE_STATIC);
    Check(sqlite3_step(ins), db, "insert");
    sqlite3_reset(ins);
    if (i % txn == txn - 1 || i + 1 == rows.size()) {
      Check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
    }
  }
  const double s = SecondsSince(start);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return s;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace braid::bench
