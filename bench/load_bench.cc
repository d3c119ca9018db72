// One `braid serve` over TLS (a self-signed certificate made by `braid init
// --tls-self-signed`) under load, all on loopback:
//   1. --longpolls clients (default 1,000) wait on the delta feed at once,
//      each on its own TLS connection with a token; one write wakes them
//      all: errors, and the time from the write to the last answer;
//   2. --syncers `braid sync` processes (default 100) pull --records records
//      each, all at once: failures and the wall time;
//   3. --halfopen TCP connections (default 5,000) that never send a byte,
//      from 127.0.0.2 to 127.0.0.4 (so the per-address cap does not apply
//      to them), while one client on 127.0.0.1 keeps asking GET
//      /api/v1/info: its latencies (p50, p99, max), and how many of the idle
//      connections the server closed after its header timeout (10 s).
// The server's peak RSS is reported after each phase.
//
// Usage: load_bench [--longpolls N] [--syncers N] [--halfopen N] [--records N]
// Prints one JSON object on stdout.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_data.h"
#include "http/client.h"
#include "tests/support/process.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using Clock = std::chrono::steady_clock;
using testing::Braid;
using testing::RunResult;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "load_bench: %s\n", what.c_str());
  std::exit(1);
}

std::string LastLine(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') + 1);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// A TCP connection from `source` (a loopback address) to 127.0.0.1:port
// that sends nothing. -1 on failure.
int HalfOpen(const std::string& source, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the server closed `fd` (a read returns end of file or an error).
bool ClosedByPeer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

int Main(int argc, char** argv) {
  size_t longpolls = 1000, syncers = 100, halfopen = 5000, records = 2000;
  bench::Flags("load_bench", "one braid serve over TLS under many clients at once")
      .Count("longpolls", &longpolls, "delta-feed long-polls waiting at once")
      .Count("syncers", &syncers, "braid sync processes pulling at once")
      .Count("halfopen", &halfopen, "idle connections that never send a request")
      .Count("records", &records, "records each syncer pulls")
      .Parse(argc, argv);

  testing::TempDir dir;
  const std::string data = dir.File("server");
  RunResult r = Braid(data, {"init", "--no-admin", "--tls-self-signed", "localhost", "127.0.0.1"});
  if (r.exit_code != 0) Die("init: " + r.err);
  const std::string ca = data + "/tls/cert.pem";
  r = Braid(data, {"token", "create", "load"});
  if (r.exit_code != 0) Die("token: " + r.err);
  const std::string token = LastLine(r.out);
  auto started = testing::BraidServer::Start(data);
  if (!started.ok()) Die(started.status().ToString());
  auto& server = *started;
  const std::string url = server->url();
  const uint16_t port = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  http::ClientOptions options;
  options.ca_cert = ca;
  options.authorization = "Bearer " + token;
  options.timeout = std::chrono::milliseconds(120000);

  // The records the syncers pull.
  {
    auto client = std::move(*http::Client::Create(options));
    const auto rows = bench::MakeRows(records);
    for (size_t from = 0; from < rows.size(); from += 1000) {
      std::string batch = R"({"records":[)";
      for (size_t i = from; i < std::min(rows.size(), from + 1000); ++i) {
        if (i > from) batch += ",";
        batch +=
            R"({"collection":"notes","id":")" + rows[i].id + R"(","body":)" + rows[i].body + "}";
      }
      batch += "]}";
      auto resp = client->Post(url + "/api/v1/batch", batch);
      if (!resp.ok() || resp->status != 200) Die("loading records failed");
    }
  }
  std::string out = "{";
  auto add = [&](const std::string& key, const std::string& value) {
    out += (out.size() > 1 ? "," : "") + std::string("\"") + key + "\":" + value;
  };
  add("server", "\"" + url + "\"");

  // 1. Long-polls.
  {
    auto client = std::move(*http::Client::Create(options));
    std::string cursor;
    // Read to the end of the feed, so the long-polls wait for new writes.
    for (;;) {
      auto page = client->Get(url + "/api/v1/delta?limit=1000" +
                              (cursor.empty() ? "" : "&cursor=" + cursor));
      if (!page.ok() || page->status != 200) Die("delta failed");
      const size_t at = page->body.find("\"cursor\":\"") + 10;
      cursor = page->body.substr(at, page->body.find('"', at) - at);
      if (page->body.find("\"has_more\":false") != std::string::npos) break;
    }
    std::atomic<int> connected{0}, errors{0}, woken{0};
    std::atomic<int64_t> last_answer_ns{0};
    std::vector<std::thread> threads;
    threads.reserve(longpolls);
    for (size_t i = 0; i < longpolls; ++i) {
      threads.emplace_back([&] {
        auto c = http::Client::Create(options);
        if (!c.ok()) {
          ++errors;
          return;
        }
        // A first request makes the TLS connection; the long-poll reuses it.
        auto hello = (*c)->Get(url + "/healthz");
        if (!hello.ok() || hello->status != 200) {
          ++errors;
          return;
        }
        ++connected;
        auto resp = (*c)->Get(url + "/api/v1/delta?wait=60&cursor=" + cursor);
        const int64_t now = Clock::now().time_since_epoch().count();
        int64_t prev = last_answer_ns.load();
        while (prev < now && !last_answer_ns.compare_exchange_weak(prev, now)) {
        }
        if (!resp.ok() || resp->status != 200 ||
            resp->body.find("\"id\":\"wake\"") == std::string::npos) {
          ++errors;
        } else {
          ++woken;
        }
      });
    }
    while (connected.load() + errors.load() < static_cast<int>(longpolls)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));  // every poll is waiting
    const long rss_waiting = testing::PeakRssKib(server->process().pid());
    const auto write_at = Clock::now();
    auto w = client->Put(url + "/api/v1/collections/notes/records/wake", R"({"body":{}})");
    if (!w.ok() || w->status != 201) Die("the waking write failed");
    for (auto& t : threads) t.join();
    const double wake_s = std::chrono::duration<double>(
                              Clock::time_point(Clock::duration(last_answer_ns.load())) - write_at)
                              .count();
    add("longpolls", std::to_string(longpolls));
    add("longpoll_woken", std::to_string(woken.load()));
    add("longpoll_errors", std::to_string(errors.load()));
    add("longpoll_last_answer_s", std::to_string(wake_s));
    add("server_peak_rss_kib_longpolls", std::to_string(rss_waiting));
  }

  // 2. Syncers.
  {
    std::vector<std::string> dirs;
    for (size_t i = 0; i < syncers; ++i) {
      dirs.push_back(dir.File("s" + std::to_string(i)));
      if (Braid(dirs.back(), {"init", "--no-admin"}).exit_code != 0) Die("init syncer");
      if (Braid(dirs.back(), {"remote", "add", "src", url, "--token", token, "--direction", "pull",
                              "--ca-cert", ca})
              .exit_code != 0) {
        Die("remote add");
      }
    }
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (size_t i = 0; i < syncers; ++i) {
      threads.emplace_back([&, i] {
        const RunResult s = Braid(dirs[i], {"--json", "sync", "src", "cache"});
        if (s.exit_code != 0 ||
            s.out.find("\"received\":" + std::to_string(records + 1)) == std::string::npos) {
          if (failures++ == 0)
            std::fprintf(stderr, "sync failed: %s%s\n", s.out.c_str(), s.err.c_str());
        }
      });
    }
    for (auto& t : threads) t.join();
    add("syncers", std::to_string(syncers));
    add("sync_failures", std::to_string(failures.load()));
    add("sync_all_s", std::to_string(bench::SecondsSince(start)));
    add("server_peak_rss_kib_syncs", std::to_string(testing::PeakRssKib(server->process().pid())));
  }

  // 3. Idle half-open connections, and ordinary requests meanwhile.
  {
    std::vector<int> fds;
    fds.reserve(halfopen);
    const char* sources[] = {"127.0.0.2", "127.0.0.3", "127.0.0.4"};
    const auto opened_at = Clock::now();
    for (size_t i = 0; i < halfopen; ++i) {
      const int fd = HalfOpen(sources[i % 3], port);
      if (fd >= 0) fds.push_back(fd);
    }
    const double open_s = bench::SecondsSince(opened_at);
    std::vector<double> latencies_ms;
    int errors = 0;
    auto client = std::move(*http::Client::Create(options));
    size_t closed = 0;
    double all_closed_s = -1;
    std::vector<bool> seen(fds.size(), false);
    while (bench::SecondsSince(opened_at) < 16) {
      const auto t0 = Clock::now();
      auto resp = client->Get(url + "/api/v1/info");
      latencies_ms.push_back(bench::SecondsSince(t0) * 1000);
      if (!resp.ok() || resp->status != 200) ++errors;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!seen[i] && ClosedByPeer(fds[i])) {
          seen[i] = true;
          ++closed;
        }
      }
      if (closed == fds.size() && all_closed_s < 0) all_closed_s = bench::SecondsSince(opened_at);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (const int fd : fds) ::close(fd);
    add("halfopen_opened", std::to_string(fds.size()));
    add("halfopen_open_s", std::to_string(open_s));
    add("halfopen_closed_by_server", std::to_string(closed));
    add("halfopen_all_closed_after_s", std::to_string(all_closed_s));
    add("ordinary_requests", std::to_string(latencies_ms.size()));
    add("ordinary_errors", std::to_string(errors));
    add("ordinary_p50_ms", std::to_string(Percentile(latencies_ms, 0.5)));
    add("ordinary_p99_ms", std::to_string(Percentile(latencies_ms, 0.99)));
    add("ordinary_max_ms", std::to_string(Percentile(latencies_ms, 1.0)));
    add("server_peak_rss_kib", std::to_string(testing::PeakRssKib(server->process().pid())));
  }
  if (!server->Stop().ok()) Die("stop");
  out += "}";
  std::printf("%s\n", out.c_str());
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
