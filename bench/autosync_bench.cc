// autosync_bench: what a hub's `braid serve` costs when it auto-syncs many
// remotes with nothing to sync (docs/remotes.md, "Auto-sync").
//
// A hub with --remotes remotes (default 50) over --spokes spokes (each a
// real `braid serve`; remotes share them round-robin, each with its own
// name and schedule), every remote on `--auto-sync 1s`. Reported, over a
// window of --seconds: the hub's CPU (user + system, % of one core), its
// resident memory, and the auto-syncs it ran per second; and the same hub
// with auto-sync off, measured first in the same run, as the reference.
//
//   build/bench/autosync_bench [--remotes N] [--spokes N] [--seconds N]

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_data.h"
#include "tests/support/process.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "autosync_bench: %s\n", what.c_str());
  std::exit(1);
}

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) Die("cannot read /proc stat");
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stoull(f);
    if (i == 15) {
      stime = std::stoull(f);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double RssMib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0)
      return std::strtod(line.c_str() + key.size() + 1, nullptr) / 1024.0;
  }
  return 0;
}

// braid_autosync_runs_total from the hub's /metrics (loopback needs no
// credentials).
double Runs(const std::string& url) {
  auto client = http::Client::Create({});
  if (!client.ok()) Die("client");
  auto r = (*client)->Send("GET", url + "/metrics", "", {});
  if (!r.ok() || r->status != 200) Die("GET /metrics");
  std::istringstream lines(r->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("braid_autosync_runs_total ", 0) == 0) return std::stod(line.substr(26));
  }
  return 0;
}

struct Window {
  double cpu_pct = 0, syncs_per_s = 0, rss_mib = 0;
};

Window Measure(testing::BraidServer& hub, size_t seconds) {
  const pid_t pid = hub.process().pid();
  const double runs0 = Runs(hub.url()), cpu0 = CpuSeconds(pid);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double cpu1 = CpuSeconds(pid), runs1 = Runs(hub.url());
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Window w;
  w.cpu_pct = 100.0 * (cpu1 - cpu0) / wall;
  w.syncs_per_s = (runs1 - runs0) / wall;
  w.rss_mib = RssMib(pid, "VmRSS");
  return w;
}

void SetAll(const std::string& hub, size_t remotes, const std::string& auto_sync) {
  for (size_t i = 0; i < remotes; ++i) {
    const std::string name = "r" + std::to_string(i);
    if (testing::Braid(hub, {"remote", "set", name, "--auto-sync", auto_sync}).exit_code != 0) {
      Die("remote set " + name);
    }
  }
}

int Main(int argc, char** argv) {
  size_t remotes = 50, spokes = 5, seconds = 20;
  bench::Flags flags("autosync_bench",
                     "a hub's CPU and memory while it auto-syncs many idle remotes every second");
  flags.Count("remotes", &remotes, "remotes on the hub (default 50)")
      .Count("spokes", &spokes, "braid serve processes the remotes point at (default 5)")
      .Count("seconds", &seconds, "length of each measured window (default 20)");
  flags.Parse(argc, argv);
  testing::TempDir temp;
  std::vector<std::unique_ptr<testing::BraidServer>> servers;
  std::vector<std::string> tokens;
  for (size_t k = 0; k < spokes; ++k) {
    const std::string dir = temp.File("spoke" + std::to_string(k));
    if (testing::Braid(dir, {"init", "--no-admin"}).exit_code != 0) Die("init spoke");
    if (!testing::SetConfig(dir, "search", "false").ok()) Die("config");
    const testing::RunResult t = testing::Braid(dir, {"token", "create", "hub"});
    if (t.exit_code != 0) Die("token");
    tokens.push_back(temp.File("spoke" + std::to_string(k) + ".token"));
    std::ofstream(tokens.back()) << testing::LastLine(t.out) << "\n";
    auto s = testing::BraidServer::Start(dir);
    if (!s.ok()) Die("serve spoke: " + s.status().ToString());
    servers.push_back(std::move(*s));
  }
  const std::string hub_dir = temp.File("hub");
  if (testing::Braid(hub_dir, {"init", "--no-admin"}).exit_code != 0) Die("init hub");
  if (!testing::SetConfig(hub_dir, "search", "false").ok()) Die("config");
  for (size_t i = 0; i < remotes; ++i) {
    const size_t k = i % spokes;
    if (testing::Braid(hub_dir, {"remote", "add", "r" + std::to_string(i), servers[k]->url(),
                                 "--token-file", tokens[k]})
            .exit_code != 0) {
      Die("remote add");
    }
  }
  auto hub = testing::BraidServer::Start(hub_dir);
  if (!hub.ok()) Die("serve hub: " + hub.status().ToString());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const Window off = Measure(**hub, seconds);
  SetAll(hub_dir, remotes, "1s");
  // Every remote synced at least once (its first sync does the most).
  for (int i = 0; i < 600 && Runs((*hub)->url()) < static_cast<double>(2 * remotes); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const Window on = Measure(**hub, seconds);
  const double hwm = RssMib((*hub)->process().pid(), "VmHWM");
  std::printf(
      "{\"benchmark\":\"autosync\",\"remotes\":%zu,\"spokes\":%zu,\"period_s\":1,"
      "\"window_s\":%zu,\"syncs_per_s\":%.1f,\"hub_cpu_pct\":%.2f,\"hub_rss_mib\":%.1f,"
      "\"hub_peak_rss_mib\":%.1f,\"cpu_ms_per_sync\":%.3f,"
      "\"reference_auto_sync_off\":{\"hub_cpu_pct\":%.2f,\"hub_rss_mib\":%.1f}}\n",
      remotes, spokes, seconds, on.syncs_per_s, on.cpu_pct, on.rss_mib, hwm,
      on.syncs_per_s > 0 ? 10.0 * on.cpu_pct / on.syncs_per_s : 0.0, off.cpu_pct, off.rss_mib);
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
