// Bulk write: N records (~200-byte JSON bodies) through braid's Store, and
// the same rows through raw SQLite in the same run, as the reference.
//
// braid writes each record with validation and minification of the body, a
// version (counter, version vector, HLC), and a change-log event. The
// reference inserts (collection, id, body) with one prepared statement into
// a table keyed by (collection, id). Both use WAL, the same synchronous
// setting, the same page cache and the same transaction size.
//
// Usage: bulk_write_bench [--records N] [--txn N] [--rounds R] [--dir DIR]
//                         [--only braid|raw]
// Prints one JSON object on stdout.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_data.h"
#include "braid/store.h"
#include "store/sqlite/db.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using bench::Median;
using bench::Row;

double RunBraid(const std::vector<Row>& rows, const std::string& path, size_t txn_size) {
  StoreOptions o;
  o.path = path;
  o.create_if_missing = true;
  o.durability = Durability::kFull;
  auto store = Store::OpenSqlite(o);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<WriteTransaction> txn;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i % txn_size == 0) txn = std::move(*(*store)->BeginWrite());
    PutRequest req;
    req.collection = "bench";
    req.id = rows[i].id;
    req.body = rows[i].body;
    auto r = txn->Put(req);
    if (!r.ok()) {
      std::fprintf(stderr, "put: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
    if (i % txn_size == txn_size - 1 || i + 1 == rows.size()) {
      if (Status s = txn->Commit(); !s.ok()) {
        std::fprintf(stderr, "commit: %s\n", s.ToString().c_str());
        std::exit(1);
      }
      txn.reset();
    }
  }
  return bench::SecondsSince(start);
}

int Main(int argc, char** argv) {
  // The reference runs on SQLite configured as braid configures it, so the
  // ratio measures braid's own work, not a process setting.
  sqlite::ConfigureProcess();
  size_t n = 1'000'000, txn = 0;
  int rounds = 3;
  std::string dir, only;  // --only braid|raw: run one side (for profiling)
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--records")) n = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--txn")) txn = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  if (txn == 0) txn = n;  // one transaction, as in the reference of bench/compare
  testing::TempDir tmp;
  if (dir.empty()) dir = tmp.path();
  std::filesystem::create_directories(dir);
  const auto rows = bench::MakeRows(n);
  size_t body_bytes = 0;
  for (const auto& r : rows) body_bytes += r.body.size();

  // Rounds alternate raw and braid (A B A B ...) and each side reports its
  // median, so a slow moment of this shared machine does not land on one
  // side only.
  std::vector<double> raw_s, braid_s;
  for (int round = 0; round < rounds; ++round) {
    const std::string raw_path = dir + "/raw" + std::to_string(round) + ".db";
    const std::string braid_path = dir + "/braid" + std::to_string(round) + ".db";
    if (only != "braid") raw_s.push_back(bench::RawSqliteInsert(rows, raw_path, txn));
    if (only != "raw") braid_s.push_back(RunBraid(rows, braid_path, txn));
    for (const std::string& p : {raw_path, braid_path}) {
      for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(p + ext);
    }
  }
  const double raw = Median(raw_s), braid = Median(braid_s);
  const double ratio = raw / braid;
  std::printf(
      "{\"bench\":\"bulk_write\",\"records\":%zu,\"txn_records\":%zu,\"avg_body_bytes\":%zu,"
      "\"rounds\":%d,\"braid\":{\"median_seconds\":%.3f,\"records_per_s\":%.0f},"
      "\"raw_sqlite\":{\"median_seconds\":%.3f,\"records_per_s\":%.0f},"
      "\"braid_over_raw\":%.3f,\"target\":0.5,\"meets_target\":%s}\n",
      n, txn, body_bytes / n, rounds, braid, n / braid, raw, n / raw, ratio,
      ratio >= 0.5 ? "true" : "false");
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
