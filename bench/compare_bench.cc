// braid beside PouchDB (CouchDB's replication protocol) and beside raw
// SQLite, on one dataset, in one run. Started by bench/compare, which
// installs the Node peers first; see bench/README.md.
//
// Each round measures, in this order (so the sides alternate A B A B):
//   pouch_pull   express-pouchdb (leveldb) -> PouchDB client, batch_size 1000
//   braid_pull   `braid serve` -> `braid sync` into an empty instance, at
//                braid's default chunk size (up to 50,000 records or 8 MiB per
//                transfer and per commit, from 2,500 at the start)
//   braid_pull_1000  the same with --chunk-size 1000, PouchDB's batch size
//                (reported, not a target: what small commits cost)
//   pouch_push   PouchDB client -> empty express-pouchdb database
//   braid_push   `braid sync` -> empty `braid serve` instance (default chunk)
//   raw_sqlite   the same rows, one prepared statement, one transaction
// Every process is started fresh for its measurement, so its peak RSS is
// that measurement's. Each figure is the median over rounds; peak RSS is
// the largest seen.
//
// Usage: compare_bench --braid PATH --node PATH --peers DIR
//                      [--docs N] [--rounds R] [--quick] [--dir DIR] [--only braid]
// (--only braid: skip PouchDB and raw SQLite, for profiling braid.)
// Prints a table, then one JSON line (last line of stdout).

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "base/log.h"
#include "bench/bench_data.h"
#include "instance/instance.h"
#include "tests/support/process.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using namespace std::chrono_literals;
using testing::BraidServer;
using testing::Process;
using testing::RunResult;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "compare_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Config {
  std::string node, peers, dir;
  size_t docs = 100'000;
  int rounds = 5;
};

// One measurement: how long the transfer took and the peak RSS of the
// process that initiated it (client) and of the server.
struct Sample {
  double seconds = 0;
  long client_rss_kib = 0;
  long server_rss_kib = 0;
};

struct Series {
  std::vector<double> seconds;
  long client_rss_kib = 0, server_rss_kib = 0;
  void Add(const Sample& s) {
    seconds.push_back(s.seconds);
    client_rss_kib = std::max(client_rss_kib, s.client_rss_kib);
    server_rss_kib = std::max(server_rss_kib, s.server_rss_kib);
  }
  double DocsPerS(size_t docs) const { return docs / bench::Median(seconds); }
};

std::string Field(const std::string& json, const std::string& key) {
  const std::regex re("\"" + key + "\":([0-9.eE+-]+)");
  std::smatch m;
  if (!std::regex_search(json, m, re)) Die("no \"" + key + "\" in " + json);
  return m[1];
}

std::string LastLine(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
}

// --- PouchDB -------------------------------------------------------------

std::vector<std::string> Node(const Config& c, const std::string& script) {
  return {c.node, c.peers + "/" + script};
}

// A running express-pouchdb server on `data`.
struct PouchServer {
  std::unique_ptr<Process> process;
  std::string url;
};

PouchServer StartPouch(const Config& c, const std::string& data) {
  auto argv = Node(c, "server.js");
  argv.insert(argv.end(), {"--dir", data});
  auto p = Process::Start(argv, data + ".log");
  if (!p.ok()) Die("cannot start node: " + p.status().ToString());
  auto url = (*p)->ReadLine(60s);
  if (!url.ok()) Die("express-pouchdb did not start; see " + data + ".log");
  return {std::move(*p), *url};
}

void StopPouch(PouchServer& s) {
  s.process->Signal(SIGTERM);
  (void)s.process->Wait(10s);
}

Sample PouchClient(const Config& c, const PouchServer& server, const std::vector<std::string>& args,
                   size_t docs) {
  auto argv = Node(c, "client.js");
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = testing::Run(argv);
  if (r.exit_code != 0) Die("PouchDB client failed: " + r.err);
  const std::string line = LastLine(r.out);
  if (std::stoull(Field(line, "docs")) != docs) Die("PouchDB replicated too few docs: " + line);
  Sample s;
  s.seconds = std::stod(Field(line, "seconds"));
  s.client_rss_kib = std::stol(Field(line, "peak_rss_kib"));
  s.server_rss_kib = testing::PeakRssKib(server.process->pid());
  return s;
}

// --- braid ---------------------------------------------------------------

void Check(const RunResult& r, const std::string& what) {
  if (r.exit_code != 0) Die(what + " failed: " + r.err);
}

std::string CreateToken(const std::string& data) {
  const RunResult r = testing::Braid(data, {"token", "create", "bench"});
  Check(r, "braid token create");
  return LastLine(r.out);
}

void NoSearch(const std::string& data) {
  if (Status s = testing::SetConfig(data, "search", "false"); !s.ok()) Die(s.ToString());
}

// A braid instance in `data` holding every row (not timed).
void LoadBraid(const std::string& data, const std::vector<bench::Row>& rows) {
  auto inst = Instance::Init(data);
  if (!inst.ok()) Die(inst.status().ToString());
  auto txn = (*inst)->store().BeginWrite();
  if (!txn.ok()) Die(txn.status().ToString());
  for (const auto& row : rows) {
    PutRequest r;
    r.collection = "docs";
    r.id = row.id;
    r.body = row.body;
    if (auto put = (*txn)->Put(r); !put.ok()) Die(put.status().ToString());
  }
  if (Status s = (*txn)->Commit(); !s.ok()) Die(s.ToString());
}

// Times `braid --json sync NAME` in `data`; checks that `key` ("received"
// or "sent") counts every doc.
Sample BraidSync(const std::string& data, const std::string& remote, const std::string& key,
                 size_t docs, BraidServer& server) {
  const auto start = std::chrono::steady_clock::now();
  // The cache step: replication alone, as the peers do (no search index).
  const RunResult r = testing::Braid(data, {"--json", "sync", remote, "cache"});
  Sample s;
  s.seconds = bench::SecondsSince(start);
  Check(r, "braid sync");
  if (std::stoull(Field(r.out, key)) != docs) Die("braid sync moved too few records: " + r.out);
  s.client_rss_kib = r.max_rss_kib;
  s.server_rss_kib = testing::PeakRssKib(server.process().pid());
  return s;
}

// --- the run ---------------------------------------------------------------

void WriteNdjson(const std::vector<bench::Row>& rows, const std::string& path) {
  std::ofstream out(path);
  for (const auto& row : rows) {
    out << R"({"_id":")" << row.id << "\"," << std::string_view(row.body).substr(1) << '\n';
  }
  if (!out.flush()) Die("cannot write " + path);
}

void RemoveAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

// Before each timed measurement: writes out what earlier ones left dirty in
// the page cache, so that the measured syncs and commits do not queue
// behind it. (PouchDB's leveldb writes several times braid's bytes; without
// this, braid's pull and push right after PouchDB's took ~20% longer than
// with PouchDB not run at all.)
void Settle() { ::sync(); }

int Main(int argc, char** argv) {
  InitLogging(spdlog::level::info);  // stderr: stdout has the table and the JSON line
  Config c;
  std::string braid;
  bool quick = false, only_braid = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--quick") {
      quick = true;
    } else if (a == "--docs" && has_value) {
      c.docs = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--rounds" && has_value) {
      c.rounds = std::atoi(argv[++i]);
    } else if (a == "--braid" && has_value) {
      braid = argv[++i];
    } else if (a == "--node" && has_value) {
      c.node = argv[++i];
    } else if (a == "--peers" && has_value) {
      c.peers = argv[++i];
    } else if (a == "--dir" && has_value) {
      c.dir = argv[++i];
    } else if (a == "--only" && has_value && std::string(argv[i + 1]) == "braid") {
      only_braid = true;
      ++i;
    } else {
      Die("unknown or incomplete option " + a +
          "; usage: compare_bench --braid PATH --node PATH --peers DIR [--docs N] [--rounds R] "
          "[--quick] [--dir DIR] [--only braid]");
    }
  }
  if (quick) {
    c.docs = 10'000;
    c.rounds = 1;
  }
  if (braid.empty() || c.node.empty() || c.peers.empty())
    Die("--braid, --node and --peers are required");
  if (c.docs == 0 || c.rounds < 1) Die("--docs and --rounds must be at least 1");
  if (!std::filesystem::exists(c.peers + "/node_modules")) {
    Die(c.peers + "/node_modules is missing: run bench/compare (it installs the peers)");
  }
  setenv("BRAID_BIN", braid.c_str(), 1);
  testing::TempDir tmp;
  if (c.dir.empty()) c.dir = tmp.path();
  std::filesystem::create_directories(c.dir);

  std::fprintf(stderr, "compare: %zu docs, %d round(s), in %s\n", c.docs, c.rounds, c.dir.c_str());
  const auto rows = bench::MakeRows(c.docs);
  size_t body_bytes = 0;
  for (const auto& r : rows) body_bytes += r.body.size();
  const std::string dataset = c.dir + "/dataset.ndjson";
  WriteNdjson(rows, dataset);

  // Sources, filled once (not timed).
  const std::string pouch_source = c.dir + "/pouch-source";
  if (!only_braid) {
    auto argv2 = Node(c, "server.js");
    argv2.insert(argv2.end(), {"--dir", pouch_source, "--load", dataset, "--db", "docs"});
    const RunResult r = testing::Run(argv2);
    if (r.exit_code != 0) Die("loading express-pouchdb failed: " + r.err);
  }
  const std::string braid_source = c.dir + "/braid-source";
  LoadBraid(braid_source, rows);
  const std::string source_token = CreateToken(braid_source);
  // The peers keep no search index: neither do braid's served instances here
  // (the source, and push targets below).
  NoSearch(braid_source);
  const std::string braid_pusher = c.dir + "/braid-pusher";
  LoadBraid(braid_pusher, rows);
  std::fprintf(stderr, "compare: sources loaded\n");

  Series pouch_pull, braid_pull, braid_pull_1000, pouch_push, braid_push;
  std::vector<double> raw;
  for (int round = 1; round <= c.rounds; ++round) {
    const std::string r = std::to_string(round);
    if (!only_braid) {  // (a) PouchDB pull
      Settle();
      PouchServer server = StartPouch(c, pouch_source);
      const std::string local = c.dir + "/pouch-pull-" + r;
      pouch_pull.Add(PouchClient(
          c, server, {"--mode", "pull", "--remote", server.url + "/docs", "--dir", local}, c.docs));
      StopPouch(server);
      RemoveAll(local);
    }
    // (c) braid pull into an empty instance: at braid's default chunk size,
    // and at PouchDB's batch size (not a target; shows what commit size
    // costs a receiver).
    auto pull = [&](Series& series, const std::vector<std::string>& chunk_args) {
      auto server = BraidServer::Start(braid_source);
      if (!server.ok()) Die(server.status().ToString());
      const std::string replica = c.dir + "/braid-pull-" + r;
      Check(testing::Braid(replica, {"init"}), "braid init");
      std::vector<std::string> add = {"remote",      "add",  "source",  (*server)->url(),
                                      "--direction", "pull", "--token", source_token};
      add.insert(add.end(), chunk_args.begin(), chunk_args.end());
      Check(testing::Braid(replica, add), "braid remote add");
      Settle();
      series.Add(BraidSync(replica, "source", "received", c.docs, **server));
      (void)(*server)->Stop();
      RemoveAll(replica);
    };
    pull(braid_pull, {});
    pull(braid_pull_1000, {"--chunk-size", "1000"});
    if (!only_braid) {  // (b) PouchDB push into an empty database
      const std::string target = c.dir + "/pouch-push-target-" + r;
      PouchServer server = StartPouch(c, target);
      const std::string local = c.dir + "/pouch-push-" + r;
      Settle();
      pouch_push.Add(PouchClient(
          c, server,
          {"--mode", "push", "--remote", server.url + "/docs", "--dir", local, "--load", dataset},
          c.docs));
      StopPouch(server);
      RemoveAll(local);
      RemoveAll(target);
    }
    {  // (d) braid push into an empty instance
      const std::string target = c.dir + "/braid-push-target-" + r;
      Check(testing::Braid(target, {"init"}), "braid init");
      const std::string token = CreateToken(target);
      NoSearch(target);
      auto server = BraidServer::Start(target);
      if (!server.ok()) Die(server.status().ToString());
      Check(testing::Braid(braid_pusher, {"remote", "add", "target", (*server)->url(),
                                          "--direction", "push", "--token", token}),
            "braid remote add");
      Settle();
      braid_push.Add(BraidSync(braid_pusher, "target", "sent", c.docs, **server));
      (void)(*server)->Stop();
      RemoveAll(target);
    }
    if (!only_braid) {  // (e) raw SQLite
      const std::string path = c.dir + "/raw-" + r + ".db";
      Settle();
      raw.push_back(bench::RawSqliteInsert(rows, path, rows.size()));
      for (const char* ext : {"", "-wal", "-shm"}) RemoveAll(path + ext);
    }
    std::fprintf(stderr, "compare: round %d of %d done\n", round, c.rounds);
  }

  const double n = static_cast<double>(c.docs);
  const double raw_rate = n / bench::Median(raw);
  const double pull_ratio = braid_pull.DocsPerS(c.docs) / pouch_pull.DocsPerS(c.docs);
  const double push_ratio = braid_push.DocsPerS(c.docs) / pouch_push.DocsPerS(c.docs);
  const double receive_ratio = braid_pull.DocsPerS(c.docs) / raw_rate;
  const long braid_rss = std::max(braid_pull.client_rss_kib, braid_push.client_rss_kib);
  const long pouch_rss = std::max(pouch_pull.client_rss_kib, pouch_push.client_rss_kib);
  const double rss_ratio = static_cast<double>(braid_rss) / static_cast<double>(pouch_rss);

  std::printf("%zu docs (~%zu-byte bodies), median of %d round(s)\n", c.docs, body_bytes / c.docs,
              c.rounds);
  std::printf("%-16s %12s %10s %18s %18s\n", "measurement", "docs/s", "seconds", "client peak MiB",
              "server peak MiB");
  auto row = [&](const char* name, const Series& s) {
    if (s.seconds.empty()) return;  // not measured (--only braid)
    std::printf("%-16s %12.0f %10.3f %18.1f %18.1f\n", name, s.DocsPerS(c.docs),
                bench::Median(s.seconds), s.client_rss_kib / 1024.0, s.server_rss_kib / 1024.0);
  };
  row("pouch_pull", pouch_pull);
  row("braid_pull", braid_pull);
  row("braid_pull_1000", braid_pull_1000);
  row("pouch_push", pouch_push);
  row("braid_push", braid_push);
  auto json = [&](const char* name, const Series& s) {
    if (s.seconds.empty()) return;
    std::printf(
        "\"%s\":{\"docs_per_s\":%.0f,\"seconds\":%.3f,\"client_peak_rss_mib\":%.1f,"
        "\"server_peak_rss_mib\":%.1f},",
        name, s.DocsPerS(c.docs), bench::Median(s.seconds), s.client_rss_kib / 1024.0,
        s.server_rss_kib / 1024.0);
  };
  if (only_braid) {
    std::printf("{\"bench\":\"compare\",\"docs\":%zu,\"rounds\":%d,", c.docs, c.rounds);
    json("braid_pull", braid_pull);
    json("braid_pull_1000", braid_pull_1000);
    json("braid_push", braid_push);
    std::printf("\"only\":\"braid\"}\n");
    return 0;
  }
  std::printf("%-16s %12.0f %10.3f %18s %18s\n", "raw_sqlite", raw_rate, bench::Median(raw), "-",
              "-");
  std::printf("braid/pouch pull %.1fx (target >= 20), push %.1fx (target >= 20)\n", pull_ratio,
              push_ratio);
  std::printf("braid receiving / raw SQLite %.2fx (target >= 0.5)\n", receive_ratio);
  std::printf("braid client peak RSS / PouchDB client peak RSS %.2f (target <= 0.5)\n", rss_ratio);

  std::printf("{\"bench\":\"compare\",\"docs\":%zu,\"avg_body_bytes\":%zu,\"rounds\":%d,", c.docs,
              body_bytes / c.docs, c.rounds);
  json("pouch_pull", pouch_pull);
  json("braid_pull", braid_pull);
  json("braid_pull_1000", braid_pull_1000);
  json("pouch_push", pouch_push);
  json("braid_push", braid_push);
  const bool met = pull_ratio >= 20 && push_ratio >= 20 && receive_ratio >= 0.5 && rss_ratio <= 0.5;
  std::printf(
      "\"raw_sqlite\":{\"docs_per_s\":%.0f,\"seconds\":%.3f},"
      "\"braid_over_pouch_pull\":%.2f,\"braid_over_pouch_push\":%.2f,"
      "\"braid_receive_over_raw_sqlite\":%.3f,\"braid_over_pouch_client_rss\":%.3f,"
      "\"meets_targets\":%s}\n",
      raw_rate, bench::Median(raw), pull_ratio, push_ratio, receive_ratio, rss_ratio,
      met ? "true" : "false");
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
