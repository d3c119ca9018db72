// live_bench: how soon a write on one instance is visible on another that
// replicates with it live (`--auto-sync live`; docs/remotes.md).
//
// Two `braid serve` processes on loopback, stores at durability full. For
// each of --writes writes (one at a time): a PUT of a small record to A
// over a kept-alive connection, and a delta long-poll on B opened before
// it; the latency is from sending the PUT to the long-poll's answer naming
// the record. Twice: B pulling from A live (B's remote A: --direction pull
// --auto-sync live), then A pushing to B live (A's remote B: --direction
// push). The reference, measured in the same run: the same long-poll on A
// itself, the write's own instance (its commit and wake-up, no
// replication).
//
//   build/bench/live_bench [--writes 1000]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_data.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "live_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Node {
  std::string dir, token_file, token;
  std::unique_ptr<testing::BraidServer> server;
};

Node Make(testing::TempDir& temp, const std::string& name) {
  Node n;
  n.dir = temp.File(name);
  if (testing::Braid(n.dir, {"init", "--no-admin"}).exit_code != 0) Die("init");
  if (!testing::SetConfig(n.dir, "search", "false").ok()) Die("config");
  const testing::RunResult t = testing::Braid(n.dir, {"token", "create", "bench"});
  if (t.exit_code != 0) Die("token");
  n.token = testing::LastLine(t.out);
  n.token_file = temp.File(name + ".token");
  std::ofstream(n.token_file) << n.token << "\n";
  auto s = testing::BraidServer::Start(n.dir);
  if (!s.ok()) Die("serve: " + s.status().ToString());
  n.server = std::move(*s);
  return n;
}

std::unique_ptr<http::Client> ClientOf(const Node& n) {
  http::ClientOptions o;
  o.authorization = "Bearer " + n.token;
  auto c = http::Client::Create(o);
  if (!c.ok()) Die("client");
  return std::move(*c);
}

// The delta cursor at the end of `n`'s feed.
std::string Tail(http::Client& c, const Node& n) {
  std::string cursor;
  for (;;) {
    std::string url = n.server->url() + "/api/v1/delta?limit=1000";
    if (!cursor.empty()) url += "&cursor=" + cursor;
    auto r = c.Send("GET", url, "", {});
    if (!r.ok() || r->status != 200) Die("delta");
    auto j = nlohmann::json::parse(r->body);
    cursor = j["cursor"];
    if (!j["has_more"].get<bool>()) return cursor;
  }
}

struct Stats {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

Stats Of(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  return {at(0.5), at(0.9), at(0.99), ms.back()};
}

// `writes` writes on `writer`, each until `watched`'s delta feed shows it.
std::vector<double> Measure(const Node& writer, const Node& watched, size_t writes,
                            const std::string& tag) {
  auto put = ClientOf(writer);
  auto poll = ClientOf(watched);
  std::string cursor = Tail(*poll, watched);
  std::vector<double> out;
  for (size_t i = 0; i < writes; ++i) {
    const std::string id = tag + "-" + std::to_string(i);
    // The long-poll first, then the write.
    auto seen = std::async(std::launch::async, [&] {
      for (;;) {
        auto r = poll->Send(
            "GET", watched.server->url() + "/api/v1/delta?limit=100&wait=10&cursor=" + cursor, "",
            {});
        if (!r.ok() || r->status != 200) Die("delta long-poll");
        auto j = nlohmann::json::parse(r->body);
        cursor = j["cursor"];
        for (const auto& item : j["items"]) {
          if (item.value("id", "") == id) return Clock::now();
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::microseconds(300));  // the long-poll is waiting
    const auto t0 = Clock::now();
    auto r = put->Send("PUT", writer.server->url() + "/api/v1/collections/notes/records/" + id,
                       R"({"body":{"n":)" + std::to_string(i) + "}}", {});
    if (!r.ok() || r->status >= 300) Die("PUT");
    const auto t1 = seen.get();
    out.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return out;
}

void Print(const char* key, const Stats& s, bool comma) {
  std::printf("\"%s\":{\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}%s", key,
              s.p50, s.p90, s.p99, s.max, comma ? "," : "");
}

int Main(int argc, char** argv) {
  size_t writes = 1000;
  bench::Flags flags("live_bench",
                     "write-to-visible latency between two instances replicating live");
  flags.Count("writes", &writes, "writes measured per case (default 1000)", 10);
  flags.Parse(argc, argv);
  testing::TempDir temp;
  Node a = Make(temp, "a"), b = Make(temp, "b");
  // Reference: the write's own instance.
  const Stats local = Of(Measure(a, a, writes, "local"));
  // B pulls from A live.
  if (testing::Braid(b.dir, {"remote", "add", "a", a.server->url(), "--token-file", a.token_file,
                             "--direction", "pull", "--auto-sync", "live"})
          .exit_code != 0) {
    Die("remote add");
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // serve picks the remote up
  const Stats pulled = Of(Measure(a, b, writes, "pull"));
  if (testing::Braid(b.dir, {"remote", "set", "a", "--auto-sync", "off"}).exit_code != 0) {
    Die("remote set");
  }
  // A pushes to B live.
  if (testing::Braid(a.dir, {"remote", "add", "b", b.server->url(), "--token-file", b.token_file,
                             "--direction", "push", "--auto-sync", "live"})
          .exit_code != 0) {
    Die("remote add");
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const Stats pushed = Of(Measure(a, b, writes, "push"));
  std::printf("{\"benchmark\":\"live\",\"writes\":%zu,\"durability\":\"full\",", writes);
  Print("pull_live", pulled, true);
  Print("push_live", pushed, true);
  Print("reference_same_instance", local, false);
  std::printf("}\n");
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
