// Process metrics exposed at GET /metrics in the Prometheus text format
// (version 0.0.4): counters and gauges, optionally with one set of labels.
//
// Registration returns a stable pointer; updating it is one relaxed atomic
// operation, so hot paths can count freely.
//
// Thread-safety: everything may be called from any thread.

#ifndef BRAID_BASE_METRICS_H_
#define BRAID_BASE_METRICS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/mutex.h"

namespace braid {

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  // An empty registry; tests use their own instead of Global().
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The process-wide registry. Never destroyed.
  static Metrics& Global();

  // Returns the counter for (name, labels), creating it on first use with
  // `help` as its description. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*
  // (a programming error otherwise: asserts). Label values are escaped.
  // Labels match in the order given: {a,b} and {b,a} are two series. The
  // first registration of a name fixes its help text.
  //
  // Asking for a name already registered with the other type, or an invalid
  // metric or label name, is a programming error: asserts in debug builds. In
  // release builds the call returns a fresh object that works but is never
  // rendered, so the exposition stays valid and the caller does not crash.
  // The returned pointer lives as long as this registry.
  Counter* GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge* GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});

  // The Prometheus text exposition of every metric, families in name order,
  // one "# HELP" and "# TYPE" line per family.
  std::string Render() const;

 private:
  struct Series;
  // The T (Counter or Gauge) of the series (name, labels), created on first use.
  template <typename T>
  T* GetOrCreate(std::string_view name, std::string_view help, const Labels& labels);

  mutable Mutex mu_;
  std::vector<std::unique_ptr<Series>> series_ GUARDED_BY(mu_);
};

}  // namespace braid

#endif  // BRAID_BASE_METRICS_H_
