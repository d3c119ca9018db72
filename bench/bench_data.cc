#include "bench/bench_data.h"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "base/log.h"

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

Flags& Flags::Count(const char* name, size_t* out, const char* help, size_t min) {
  const std::string flag = name;
  std::string text = help;
  if (text.find("(default") == std::string::npos) text += " (default " + std::to_string(*out) + ")";
  flags_.push_back({flag, "N", text, [flag, out, min](const std::string& v) -> std::string {
                      char* end = nullptr;
                      errno = 0;
                      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
                      if (v.empty() || v[0] == '-' || *end != '\0' || errno == ERANGE || n < min) {
                        return "--" + flag + " needs a whole number of at least " +
                               std::to_string(min) + ", not \"" + v + "\"";
                      }
                      *out = static_cast<size_t>(n);
                      return "";
                    }});
  return *this;
}

Flags& Flags::Text(const char* name, std::string* out, const char* help, const char* value,
                   std::vector<std::string> allowed) {
  const std::string flag = name;
  std::string value_name = value;
  if (!allowed.empty()) {
    value_name.clear();
    for (const auto& a : allowed) value_name += (value_name.empty() ? "" : "|") + a;
  }
  flags_.push_back(
      {flag, value_name, help, [flag, out, allowed](const std::string& v) -> std::string {
         if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
           return "--" + flag + " is not \"" + v + "\"";
         }
         if (v.empty()) return "--" + flag + " needs a value";
         *out = v;
         return "";
       }});
  return *this;
}

void Flags::Parse(int argc, char** argv) {
  InitLogging(spdlog::level::info);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") Usage(0, "");
    auto f = std::find_if(flags_.begin(), flags_.end(),
                          [&a](const Flag& f) { return a == "--" + f.name; });
    if (f == flags_.end()) Usage(2, "unknown option " + a);
    if (i + 1 >= argc) Usage(2, a + " needs a value");
    if (const std::string problem = f->set(argv[++i]); !problem.empty()) Usage(2, problem);
  }
}

void Flags::Usage(int code, const std::string& problem) const {
  if (!problem.empty()) {
    std::fprintf(stderr, "%s: %s (%s --help lists the options)\n", program_.c_str(),
                 problem.c_str(), program_.c_str());
    std::exit(code);
  }
  FILE* out = stdout;
  std::fprintf(out, "usage: %s", program_.c_str());
  for (const Flag& f : flags_) {
    std::fprintf(out, " [--%s%s%s]", f.name.c_str(), f.value_name.empty() ? "" : " ",
                 f.value_name.c_str());
  }
  std::fprintf(out, "\n\n%s\n\n", synopsis_.c_str());
  for (const Flag& f : flags_) {
    const std::string left = "--" + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    std::fprintf(out, "  %-22s %s\n", left.c_str(), f.help.c_str());
  }
  std::exit(code);
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace braid::bench
