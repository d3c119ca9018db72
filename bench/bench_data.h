// What the benchmarks share: the deterministic dataset of ~200-byte JSON
// records, the raw-SQLite reference insert, and small timing helpers.

#ifndef BRAID_BENCH_BENCH_DATA_H_
#define BRAID_BENCH_BENCH_DATA_H_

#include <chrono>
#include <cstddef>
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

}  // namespace braid::bench

#endif  // BRAID_BENCH_BENCH_DATA_H_
