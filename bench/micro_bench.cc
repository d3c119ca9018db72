// Micro benchmarks (Google Benchmark) of the per-record hot paths:
// body validation, field clocks, delta compression and JSON output.
// Run: build/bench/micro_bench --benchmark_format=json

#include <benchmark/benchmark.h>

#include "base/json.h"
#include "base/validate.h"
#include "braid/delta.h"
#include "feed/format.h"
#include "store/content.h"

namespace braid {
namespace {

const std::string kBody =
    R"({"title":"Record number 123456","author":"user42","n":123456,"tags":["a","b3"],)"
    R"("done":true,"text":"lorem ipsum dolor sit amet consectetur adipiscing elit 9e3779b97f4a7c15"})";

void BM_NormalizeBody(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(NormalizeBody(kBody, 1 << 20, &out));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBody.size()));
}
BENCHMARK(BM_NormalizeBody);

void BM_ContentAfterPut(benchmark::State& state) {
  Record old;
  old.version = {InstanceId::Random(), 1};
  old.hlc = 100;
  old.body = kBody;
  std::string changed = kBody;
  changed.replace(changed.find("user42"), 6, "user43");
  const FieldWrite write{200, old.version.origin, 2};
  for (auto _ : state) {
    auto c = ContentAfterPut(old, changed, write);
    benchmark::DoNotOptimize(ClocksFor(*c, write));
  }
}
BENCHMARK(BM_ContentAfterPut);

std::vector<ChangeEvent> Events(size_t n) {
  std::vector<ChangeEvent> events;
  for (size_t i = 0; i < n; ++i) {
    ChangeEvent& e = events.emplace_back();
    e.seq = i + 1;
    e.op = i % 5 == 0 ? ChangeOp::kUpdate : ChangeOp::kCreate;
    e.collection = "notes";
    e.id = "note-" + std::to_string(i % 5 == 0 ? i / 2 : i);
    Record& r = e.record.emplace();
    r.collection = e.collection;
    r.id = e.id;
    r.partition = "notes";
    r.body = kBody;
  }
  return events;
}

void BM_CompressPage200(benchmark::State& state) {
  const auto events = Events(200);
  for (auto _ : state) {
    benchmark::DoNotOptimize(CompressEvents(events));
  }
}
BENCHMARK(BM_CompressPage200);

void BM_DeltaPageJson200(benchmark::State& state) {
  DeltaPage page;
  page.items = CompressEvents(Events(200));
  page.cursor = EncodeCursor({1, 2});
  for (auto _ : state) {
    benchmark::DoNotOptimize(DeltaPageJson(page));
  }
}
BENCHMARK(BM_DeltaPageJson200);

}  // namespace
}  // namespace braid

BENCHMARK_MAIN();
