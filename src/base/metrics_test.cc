#include "base/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace braid {
namespace {

TEST(MetricsTest, TheSameSeriesIsTheSameObject) {
  Metrics m;
  Counter* requests = m.GetCounter("requests_total", "Requests.");
  EXPECT_EQ(m.GetCounter("requests_total", "Requests."), requests);
  EXPECT_EQ(m.GetCounter("requests_total", "other help is ignored"), requests);

  Counter* get = m.GetCounter("requests_total", "Requests.", {{"method", "GET"}});
  Counter* put = m.GetCounter("requests_total", "Requests.", {{"method", "PUT"}});
  EXPECT_NE(get, requests);
  EXPECT_NE(get, put);
  EXPECT_EQ(m.GetCounter("requests_total", "Requests.", {{"method", "GET"}}), get);

  // Label order is part of the identity.
  Counter* ab = m.GetCounter("x_total", "X.", {{"a", "1"}, {"b", "2"}});
  Counter* ba = m.GetCounter("x_total", "X.", {{"b", "2"}, {"a", "1"}});
  EXPECT_NE(ab, ba);
  EXPECT_EQ(m.GetCounter("x_total", "X.", {{"a", "1"}, {"b", "2"}}), ab);

  Gauge* open = m.GetGauge("open_connections", "Open connections.");
  EXPECT_EQ(m.GetGauge("open_connections", "Open connections."), open);

  // Another registry is independent.
  Metrics other;
  EXPECT_NE(other.GetCounter("requests_total", "Requests."), requests);
}

TEST(MetricsTest, CountersAndGaugesUpdate) {
  Metrics m;
  Counter* c = m.GetCounter("c_total", "C.");
  EXPECT_EQ(c->value(), 0u);
  c->Add();
  c->Add(41);
  EXPECT_EQ(c->value(), 42u);
  Gauge* g = m.GetGauge("g", "G.");
  g->Set(10);
  g->Add(-15);
  EXPECT_EQ(g->value(), -5);
}

TEST(MetricsTest, ConcurrentAddsAreExact) {
  constexpr int kThreads = 8;
  constexpr int kAdds = 100000;
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      // Registration races too: every thread must get the same counter.
      Counter* c = m.GetCounter("adds_total", "Adds.", {{"kind", "test"}});
      Gauge* g = m.GetGauge("level", "Level.");
      for (int i = 0; i < kAdds; ++i) {
        c->Add();
        g->Add(i % 2 == 0 ? 2 : -1);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(m.GetCounter("adds_total", "Adds.", {{"kind", "test"}})->value(),
            uint64_t{kThreads} * kAdds);
  EXPECT_EQ(m.GetGauge("level", "Level.")->value(), int64_t{kThreads} * kAdds / 2);
}

TEST(MetricsTest, RenderIsThePrometheusTextFormat) {
  Metrics m;
  EXPECT_EQ(m.Render(), "");
  // Registered out of name order; families come out sorted, series within a
  // family in registration order.
  m.GetGauge("braid_open_connections", "Open HTTP connections.")->Set(-3);
  m.GetCounter("braid_http_requests_total", "HTTP requests served.", {{"code", "200"}})->Add(7);
  m.GetCounter("braid_http_requests_total", "HTTP requests served.",
               {{"code", "404"}, {"route", "/api/v1/records"}})
      ->Add(2);
  m.GetCounter("braid_http_requests_total", "HTTP requests served.", {{"code", "200"}})->Add();
  m.GetCounter("braid_bytes_total", "Bytes.")->Add(18446744073709551615u);
  m.GetGauge("braid_a:b", "Colon names.");

  EXPECT_EQ(m.Render(),
            "# HELP braid_a:b Colon names.\n"
            "# TYPE braid_a:b gauge\n"
            "braid_a:b 0\n"
            "# HELP braid_bytes_total Bytes.\n"
            "# TYPE braid_bytes_total counter\n"
            "braid_bytes_total 18446744073709551615\n"
            "# HELP braid_http_requests_total HTTP requests served.\n"
            "# TYPE braid_http_requests_total counter\n"
            "braid_http_requests_total{code=\"200\"} 8\n"
            "braid_http_requests_total{code=\"404\",route=\"/api/v1/records\"} 2\n"
            "# HELP braid_open_connections Open HTTP connections.\n"
            "# TYPE braid_open_connections gauge\n"
            "braid_open_connections -3\n");
}

TEST(MetricsTest, RenderEscapesLabelValuesAndHelp) {
  Metrics m;
  m.GetCounter("escapes_total", "Help with \\ backslash,\nnewline and \"quotes\".",
               {{"path", "C:\\dir\\"}, {"quote", "say \"hi\""}, {"multi", "a\nb"}})
      ->Add(1);
  EXPECT_EQ(m.Render(),
            "# HELP escapes_total Help with \\\\ backslash,\\nnewline and \"quotes\".\n"
            "# TYPE escapes_total counter\n"
            "escapes_total{path=\"C:\\\\dir\\\\\",quote=\"say \\\"hi\\\"\",multi=\"a\\nb\"} 1\n");
}

TEST(MetricsTest, GlobalIsOneRegistry) {
  EXPECT_EQ(&Metrics::Global(), &Metrics::Global());
  Counter* c = Metrics::Global().GetCounter("braid_metrics_test_total", "Test only.");
  EXPECT_EQ(Metrics::Global().GetCounter("braid_metrics_test_total", "Test only."), c);
}

// Programming errors assert in debug builds; release builds hand out a
// working object that is not rendered.
TEST(MetricsDeathTest, TypeConflictsAndBadNames) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Metrics m;
  m.GetCounter("jobs", "Jobs.")->Add(3);
  const std::string before = m.Render();

  Gauge* g = nullptr;
  EXPECT_DEBUG_DEATH(g = m.GetGauge("jobs", "Jobs."), "another type");
  Counter* bad = nullptr;
  EXPECT_DEBUG_DEATH(bad = m.GetCounter("1jobs", "Bad."), "invalid metric or label name");
  EXPECT_DEBUG_DEATH(bad = m.GetCounter("jobs_total", "Bad.", {{"__reserved", "x"}}),
                     "invalid metric or label name");
  EXPECT_DEBUG_DEATH(bad = m.GetCounter("jobs_total", "Bad.", {{"a", "1"}, {"a", "2"}}),
                     "invalid metric or label name");
  EXPECT_DEBUG_DEATH(bad = m.GetCounter("jobs_total", "Bad.", {{"a-b", "1"}}),
                     "invalid metric or label name");
#ifdef NDEBUG
  ASSERT_NE(g, nullptr);
  g->Set(5);
  EXPECT_EQ(g->value(), 5);
  ASSERT_NE(bad, nullptr);
  bad->Add();
  EXPECT_EQ(m.GetCounter("jobs", "Jobs.")->value(), 3u);
  EXPECT_EQ(m.Render(), before);
#else
  (void)before;  // the statements above ran in forked children
  (void)g;
  (void)bad;
#endif
}

}  // namespace
}  // namespace braid
