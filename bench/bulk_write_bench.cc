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
#include "sqlite/db.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using bench::Median;
using bench::Row;

double RunBraid(const std::vector<Row>& rows, const std::string& path, size_t txn_size) {
  StoreOptions o;
  o.create_if_missing = true;
  o.durability = Durability::kFull;
  auto store = Store::Open("sqlite:" + path, o);
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

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

int Main(int argc, char** argv) {
  // The reference runs on SQLite configured as braid configures it, so the
  // ratio measures braid's own work, not a process setting.
  sqlite::ConfigureProcess();
  size_t n = 1'000'000, txn = 0, rounds = 3;
  std::string dir, only;
  bench::Flags("bulk_write_bench",
               "Writes N records through braid's Store and the same rows through raw SQLite, in\n"
               "alternating rounds, and prints one JSON object (bench/README.md).")
      .Count("records", &n, "records to write")
      .Count("txn", &txn, "records per transaction (default 0: all in one)", 0)
      .Count("rounds", &rounds, "rounds of each side; medians are reported")
      .Text("dir", &dir, "where the databases go (default: a temporary directory)", "DIR")
      .Text("only", &only, "run one side only, for profiling", "", {"braid", "raw"})
      .Parse(argc, argv);
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
  for (size_t round = 0; round < rounds; ++round) {
    const std::string raw_path = dir + "/raw" + std::to_string(round) + ".db";
    const std::string braid_path = dir + "/braid" + std::to_string(round) + ".db";
    if (only != "braid") raw_s.push_back(bench::RawSqliteInsert(rows, raw_path, txn));
    if (only != "raw") braid_s.push_back(RunBraid(rows, braid_path, txn));
    for (const std::string& p : {raw_path, braid_path}) {
      for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(p + ext);
    }
  }
  // One side alone (--only) reports its own figures and no ratio.
  auto side = [n](const char* name, const std::vector<double>& s) {
    const double median = Median(s);
    return "\"" + std::string(name) + "\":{\"median_seconds\":" + Fixed(median, 3) +
           ",\"records_per_s\":" + Fixed(n / median, 0) + "}";
  };
  std::string json = "{\"bench\":\"bulk_write\",\"records\":" + std::to_string(n) +
                     ",\"txn_records\":" + std::to_string(txn) +
                     ",\"avg_body_bytes\":" + std::to_string(body_bytes / n) +
                     ",\"rounds\":" + std::to_string(rounds);
  if (!braid_s.empty()) json += "," + side("braid", braid_s);
  if (!raw_s.empty()) json += "," + side("raw_sqlite", raw_s);
  if (!braid_s.empty() && !raw_s.empty()) {
    const double ratio = Median(raw_s) / Median(braid_s);
    json += ",\"braid_over_raw\":" + Fixed(ratio, 3) +
            ",\"target\":0.5,\"meets_target\":" + (ratio >= 0.5 ? "true" : "false");
  } else {
    json += ",\"only\":\"" + only + "\"";
  }
  std::printf("%s}\n", json.c_str());
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
