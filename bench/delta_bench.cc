// Delta page latency: a store with an N-event change log (default 1M,
// ~200-byte bodies), served by a real `braid serve`; pages of `limit` items
// (default 200) are read over HTTP with keep-alive from random cursors.
// The same pages are also read through the library, to show what HTTP adds.
//
// Usage: delta_bench [--events N] [--limit L] [--requests R] [--braid PATH]
// Prints one JSON object on stdout.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_data.h"
#include "braid/delta.h"
#include "http/client.h"
#include "instance/instance.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

struct Percentiles {
  double p50, p90, p99, mean;
};

Percentiles Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  double sum = 0;
  for (double v : ms) sum += v;
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  return {at(0.5), at(0.9), at(0.99), sum / ms.size()};
}

int Main(int argc, char** argv) {
  size_t events = 1'000'000, limit = 200, requests = 2000;
  std::string braid;
  bench::Flags("delta_bench",
               "Fills a store with a change log, serves it with braid serve and reads delta\n"
               "pages from random cursors over HTTP and through the library. Prints one JSON\n"
               "object (bench/README.md).")
      .Count("events", &events, "change-log events to fill")
      .Count("limit", &limit, "items per page")
      .Count("requests", &requests, "pages to read")
      .Text("braid", &braid, "the braid binary (default: $BRAID_BIN, else ./braid)", "PATH")
      .Parse(argc, argv);
  if (!braid.empty()) setenv("BRAID_BIN", braid.c_str(), 1);
  testing::TempDir tmp;
  const std::string data = tmp.File("data");
  uint64_t epoch = 0;
  const auto fill_start = std::chrono::steady_clock::now();
  {
    auto inst = Instance::Init(data);
    if (!inst.ok()) Die("init", inst.status());
    Store& store = (*inst)->store();
    // 80% creates of new records, 20% updates of earlier ones: a log with
    // both kinds of events, and pages where compression has work to do.
    std::mt19937_64 rng(1);
    std::unique_ptr<WriteTransaction> txn;
    size_t created = 0;
    char body[300];
    for (size_t i = 0; i < events; ++i) {
      if (i % 50'000 == 0) {
        if (txn && !txn->Commit().ok()) Die("commit", Status::IoError("commit"));
        txn = std::move(*store.BeginWrite());
      }
      const bool update = created > 0 && rng() % 5 == 0;
      const size_t n = update ? rng() % created : created++;
      std::snprintf(
          body, sizeof body,
          R"({"title":"Record number %zu","n":%zu,"tags":["a","b"],"v":%zu,)"
          R"("text":"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod"})",
          n, n, i);
      PutRequest req;
      req.collection = "notes";
      const std::string id = "note-" + std::to_string(n);
      req.id = id;
      req.body = body;
      auto r = txn->Put(req);
      if (!r.ok()) Die("put", r.status());
    }
    if (Status s = txn->Commit(); !s.ok()) Die("commit", s);
    auto page = ReadDelta(store, {});
    if (!page.ok()) Die("delta", page.status());
    epoch = DecodeCursor(page->cursor)->epoch;
  }
  const double fill_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count();

  std::mt19937_64 rng(2);
  std::vector<std::string> cursors(requests);
  for (auto& c : cursors) c = EncodeCursor({epoch, rng() % (events - limit)});

  // Library: the same pages without HTTP.
  std::vector<double> lib_ms;
  {
    auto inst = Instance::Open(data);
    if (!inst.ok()) Die("open", inst.status());
    for (size_t i = 0; i < requests; ++i) {
      DeltaRequest req;
      req.cursor = cursors[i];
      req.limit = limit;
      const auto t = std::chrono::steady_clock::now();
      auto page = ReadDelta((*inst)->store(), req);
      lib_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
      if (!page.ok()) Die("delta", page.status());
    }
  }

  // Filled offline: a search index of it would be built while the feed is
  // timed, and the feed does not use it.
  if (Status s = testing::SetConfig(data, "search", "false"); !s.ok()) Die("config", s);
  auto server = testing::BraidServer::Start(data);
  if (!server.ok()) Die("serve", server.status());
  auto client = (*server)->AdminClient();
  const std::string base = (*server)->url() + "/api/v1/delta?limit=" + std::to_string(limit);
  for (int i = 0; i < 50; ++i) (void)client->Get(base + "&cursor=" + cursors[i]);  // warm up
  std::vector<double> http_ms;
  size_t bytes = 0;
  for (size_t i = 0; i < requests; ++i) {
    const auto t = std::chrono::steady_clock::now();
    auto r = client->Get(base + "&cursor=" + cursors[i]);
    http_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    if (!r.ok() || r->status != 200)
      Die("GET delta", r.ok() ? Status::Internal(r->body) : r.status());
    bytes += r->body.size();
  }
  (void)(*server)->Stop();
  const Percentiles h = Summarize(http_ms), l = Summarize(lib_ms);
  std::printf(
      "{\"bench\":\"delta_page\",\"events\":%zu,\"limit\":%zu,\"requests\":%zu,"
      "\"fill_seconds\":%.1f,\"avg_response_bytes\":%zu,"
      "\"http_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"mean\":%.3f},"
      "\"library_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"mean\":%.3f},"
      "\"target_p50_ms\":2.0,\"meets_target\":%s}\n",
      events, limit, requests, fill_s, bytes / requests, h.p50, h.p90, h.p99, h.mean, l.p50, l.p90,
      l.p99, l.mean, h.p50 <= 2.0 ? "true" : "false");
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
