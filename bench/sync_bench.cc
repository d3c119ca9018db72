// Replication between two `braid serve` processes on loopback, with
// ~200-byte records, run by the real `braid sync` command:
//   - initial pull of N records (default 1M) into an empty instance:
//     records/s, and the peak RSS of the serving process and of the sync;
//   - a no-op sync of that replica: HTTP round trips and the whole command's
//     wall time;
//   - an incremental sync of 1k changed records against a 100k and an
//     N-record store, alternating, medians of --rounds: the ratio shows that
//     cost follows the changes, not the store.
//
// Usage: sync_bench [--records N] [--small N] [--changes N] [--rounds R] [--braid PATH]
//                   [--keep DIR]  (DIR/<n>/source and replica stay, for profiling)
// Prints one JSON object on stdout.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "bench/bench_data.h"
#include "http/client.h"
#include "instance/instance.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using bench::Median;
using testing::BraidServer;
using testing::PeakRssKib;
using testing::RunResult;

void Die(const std::string& what) {
  std::fprintf(stderr, "sync_bench: %s\n", what.c_str());
  std::exit(1);
}

uint64_t Metric(const std::string& url, const std::string& name) {
  auto c = http::Client::Create();
  auto r = (*c)->Get(url + "/metrics");
  const std::regex re("\\n" + name + " ([0-9]+)");
  std::smatch m;
  const std::string body = r.ok() ? "\n" + r->body : "";
  return std::regex_search(body, m, re) ? std::stoull(m[1]) : 0;
}

std::string Body(size_t n, int version) {
  char buf[256];
  std::snprintf(
      buf, sizeof buf,
      R"({"title":"Record number %zu","author":"user%zu","n":%zu,"v":%d,)"
      R"("tags":["a","b"],"text":"lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor"})",
      n, n % 1000, n, version);
  return buf;
}

// An instance with `n` records, served, with a token; and an empty replica
// that has it as a pull remote.
struct Pair {
  std::unique_ptr<testing::TempDir> dir;
  std::unique_ptr<BraidServer> source, replica;
  std::string source_dir, replica_dir;
  std::string token;  // a writer token of the source
};

std::string keep_dir;  // --keep DIR: build the pairs there and leave them

Pair MakePair(size_t n) {
  Pair p;
  p.dir = std::make_unique<testing::TempDir>();
  const std::string base = keep_dir.empty() ? p.dir->path() : keep_dir + "/" + std::to_string(n);
  p.source_dir = base + "/source";
  p.replica_dir = base + "/replica";
  {
    auto inst = Instance::Init(p.source_dir);
    if (!inst.ok()) Die(inst.status().ToString());
    std::unique_ptr<WriteTransaction> txn;
    for (size_t i = 0; i < n; ++i) {
      if (i % 100'000 == 0) {
        if (txn && !txn->Commit().ok()) Die("commit");
        txn = std::move(*(*inst)->store().BeginWrite());
      }
      const std::string id = "note-" + std::to_string(i), body = Body(i, 0);
      PutRequest r;
      r.collection = "notes";
      r.id = id;
      r.body = body;
      if (!txn->Put(r).ok()) Die("put");
    }
    if (txn && !txn->Commit().ok()) Die("commit");
  }
  const RunResult token = testing::Braid(p.source_dir, {"token", "create", "bench"});
  if (token.exit_code != 0) Die(token.err);
  std::string value = token.out.substr(0, token.out.size() - 1);
  value = value.substr(value.rfind('\n') + 1);
  // The source was filled offline: its serve would index all of it while
  // the pull is timed. Pulls write nothing there, so its index has no part
  // in what is measured; the replica keeps the default (search on), whose
  // follower indexes what each sync brings.
  if (Status s = testing::SetConfig(p.source_dir, "search", "false"); !s.ok()) Die(s.ToString());
  auto source = BraidServer::Start(p.source_dir);
  if (!source.ok()) Die(source.status().ToString());
  p.source = std::move(*source);
  auto replica = BraidServer::Start(p.replica_dir);  // runs `braid init` too
  if (!replica.ok()) Die(replica.status().ToString());
  p.replica = std::move(*replica);
  const RunResult add = testing::Braid(p.replica_dir, {"remote", "add", "source", p.source->url(),
                                                       "--direction", "pull", "--token", value});
  if (add.exit_code != 0) Die(add.err);
  p.token = value;
  return p;
}

struct Timed {
  double seconds;
  RunResult result;
};

Timed Sync(const Pair& p) {
  const auto start = std::chrono::steady_clock::now();
  // The cache step: replication alone (a whole `braid sync` also updates
  // the search index and fetches attachments).
  RunResult r = testing::Braid(p.replica_dir, {"--json", "sync", "source", "cache"});
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (r.exit_code != 0) Die("sync failed: " + r.err);
  return {s, std::move(r)};
}

// Changes `count` records of the source through its HTTP batch API.
void Change(const Pair& p, size_t n, size_t count, int version) {
  std::string batch = R"({"records":[)";
  for (size_t i = 0; i < count; ++i) {
    const size_t id = (i * 7919 + static_cast<size_t>(version) * 104729) % n;
    if (i > 0) batch += ",";
    batch += R"({"collection":"notes","id":"note-)" + std::to_string(id) + R"(","body":)" +
             Body(id, version) + "}";
  }
  batch += "]}";
  http::ClientOptions options;
  options.authorization = "Bearer " + p.token;
  auto c = http::Client::Create(options);
  auto r = (*c)->Post(p.source->url() + "/api/v1/batch", batch);
  if (!r.ok() || r->status != 200) Die("batch failed");
}

int Main(int argc, char** argv) {
  size_t records = 1'000'000, small = 100'000, changes = 1000, rounds = 5;
  std::string braid;
  bench::Flags("sync_bench",
               "Two braid serve processes on loopback and the real braid sync between them:\n"
               "initial pull, no-op sync, and incremental syncs against a small and a big\n"
               "store. Prints one JSON object (bench/README.md).")
      .Count("records", &records, "records of the big source")
      .Count("small", &small, "records of the small source")
      .Count("changes", &changes, "records changed before each incremental sync")
      .Count("rounds", &rounds, "incremental syncs of each store; medians are reported")
      .Text("braid", &braid, "the braid binary (default: $BRAID_BIN, else ./braid)", "PATH")
      .Text("keep", &keep_dir, "leave both pairs in this directory, for profiling", "DIR")
      .Parse(argc, argv);
  if (!braid.empty()) setenv("BRAID_BIN", braid.c_str(), 1);

  Pair big = MakePair(records);
  const Timed initial = Sync(big);
  const double pull_rate = records / initial.seconds;
  const long source_rss = PeakRssKib(big.source->process().pid());
  const long sync_rss = initial.result.max_rss_kib;

  // No-op: nothing changed since.
  const uint64_t requests_before = Metric(big.source->url(), "braid_http_requests_total");
  const Timed noop = Sync(big);
  const uint64_t round_trips =
      Metric(big.source->url(), "braid_http_requests_total") - requests_before - 1;  // the probe

  Pair little = MakePair(small);
  (void)Sync(little);
  std::vector<double> t_small, t_big;
  for (int r = 1; r <= static_cast<int>(rounds); ++r) {
    Change(little, small, changes, r);
    t_small.push_back(Sync(little).seconds);
    Change(big, records, changes, r);
    t_big.push_back(Sync(big).seconds);
  }
  const double inc_small = Median(t_small), inc_big = Median(t_big);
  const long replica_rss = PeakRssKib(big.replica->process().pid());

  std::printf(
      "{\"bench\":\"sync\",\"records\":%zu,"
      "\"initial_pull\":{\"seconds\":%.3f,\"records_per_s\":%.0f,\"target_records_per_s\":100000,"
      "\"source_serve_peak_rss_mib\":%.1f,\"sync_command_peak_rss_mib\":%.1f,"
      "\"replica_serve_peak_rss_mib\":%.1f,\"target_rss_mib\":256},"
      "\"noop_sync\":{\"command_ms\":%.1f,\"round_trips\":%llu,\"target_ms\":50},"
      "\"incremental\":{\"changes\":%zu,\"small_store\":%zu,\"small_ms\":%.1f,\"big_ms\":%.1f,"
      "\"big_over_small\":%.3f,\"target_ratio\":1.2},"
      "\"meets_targets\":%s}\n",
      records, initial.seconds, pull_rate, source_rss / 1024.0, sync_rss / 1024.0,
      replica_rss / 1024.0, noop.seconds * 1000, static_cast<unsigned long long>(round_trips),
      changes, small, inc_small * 1000, inc_big * 1000, inc_big / inc_small,
      pull_rate >= 100000 && source_rss <= 256 * 1024 && sync_rss <= 256 * 1024 &&
              noop.seconds <= 0.05 && inc_big / inc_small <= 1.2
          ? "true"
          : "false");
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
