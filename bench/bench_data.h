// What the benchmarks share: the deterministic dataset of ~200-byte JSON
// records, the raw-SQLite reference insert, command-line flags, and small
// timing helpers.

#ifndef BRAID_BENCH_BENCH_DATA_H_
#define BRAID_BENCH_BENCH_DATA_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace braid::bench {

struct Row {
  std::string id;
  std::string body;  // a JSON object
};

// `n` rows, the same for the same `n` on every machine: ids in hash order
// (not insertion order), bodies of about 200 bytes.
std::vector<Row> MakeRows(size_t n);

// Inserts (collection, id, body) with one prepared statement into a new
// database at `path`, keyed by (collection, id), committing every `txn` rows:
// WAL, synchronous=FULL, a 64 MiB page cache and SQLite's default 4 KiB
// pages, as braid configures SQLite.
// The physical limit of storing these rows at all. Returns the seconds the
// inserts and commits took. Exits on error.
double RawSqliteInsert(const std::vector<Row>& rows, const std::string& path, size_t txn);

double Median(std::vector<double> v);

inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A benchmark's command line: flags of the form `--name VALUE`, declared
// with their help, then parsed.
// `--help` prints the usage and exits 0; an unknown flag, a missing value,
// a number that does not parse or is out of range, or a value not among
// those allowed print what is wrong and the usage, and exit 2.
class Flags {
 public:
  // `synopsis`: what the program does, first line of the usage.
  explicit Flags(std::string program, std::string synopsis)
      : program_(std::move(program)), synopsis_(std::move(synopsis)) {}

  Flags& Count(const char* name, size_t* out, const char* help, size_t min = 1);
  // `value_name` shows in the usage; with `allowed`, only those values.
  Flags& Text(const char* name, std::string* out, const char* help,
              const char* value_name = "VALUE", std::vector<std::string> allowed = {});

  // Also sends braid's log to stderr, so stdout has the JSON alone.
  void Parse(int argc, char** argv);

 private:
  struct Flag {
    std::string name, value_name, help;
    std::function<std::string(const std::string&)> set;  // "": ok, else what is wrong
  };
  [[noreturn]] void Usage(int code, const std::string& problem) const;

  std::string program_, synopsis_;
  std::vector<Flag> flags_;
};

}  // namespace braid::bench

#endif  // BRAID_BENCH_BENCH_DATA_H_
