// braid on PostgreSQL, against a PostgreSQL server this benchmark starts
// itself (tests/tools/pg-test-server with PG_TEST_SERVER_FSYNC=on: fsync,
// full-page writes and synchronous commit at PostgreSQL's defaults, the
// cluster on disk):
//   - initial pull: N records (default 1M, bench_data's ~200-byte rows) from
//     a SQLite source served by `braid serve` into a fresh PostgreSQL-backed
//     instance, by the real `braid sync` (process start to exit); the
//     reference, on the same server in the same run, is one `COPY ... FROM
//     STDIN` of the same rows into a table with the columns and unique
//     indexes of braid's `records`, in one transaction, from this process.
//     The same pull into a SQLite-backed instance is measured too, to tell
//     the backend's share from the rest of the pull. Rounds alternate;
//     medians.
//   - delta pages: one PostgreSQL database with an E-event change log
//     (default 100k), served by 1, 2 and 4 `braid serve` processes (data
//     directories joined with `braid init --store`); C clients (default 8,
//     spread round-robin over the processes) read pages of 100 items from
//     random cursors: p50/p99 latency and pages/s per process count.
//
// Usage: pg_bench [--records N] [--events E] [--clients C] [--requests R]
//                 [--rounds R] [--braid PATH]
// Prints one JSON object on stdout; logs go to stderr.

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_data.h"
#include "braid/delta.h"
#include "braid/store.h"
#include "http/client.h"
#include "instance/instance.h"
#include "pg/conn.h"
#include "tests/support/pg_server.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using bench::Median;
using bench::SecondsSince;
using testing::BraidServer;
using testing::PgServer;
using testing::RunResult;

constexpr char kCollection[] = "notes";
constexpr size_t kLimit = 100;  // items per delta page

// What Die leaves nothing of: the `braid serve` processes this benchmark
// started and its temporary directories (the PostgreSQL server goes at exit
// with PgServer::Shared()).
std::vector<pid_t> g_children;
std::vector<std::string> g_dirs;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "pg_bench: %s\n", what.c_str());
  for (pid_t pid : g_children) ::kill(pid, SIGKILL);
  if (std::getenv("BRAID_KEEP_TEMP") == nullptr) {
    for (const std::string& d : g_dirs) {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  }
  std::exit(1);
}

// A temporary directory that Die removes too.
struct BenchDir : testing::TempDir {
  BenchDir() { g_dirs.push_back(path()); }
};

std::unique_ptr<BraidServer> Serve(const std::string& data) {
  auto s = BraidServer::Start(data);
  if (!s.ok()) Die("serve " + data + ": " + s.status().ToString());
  g_children.push_back((*s)->process().pid());
  return std::move(*s);
}

void Log(const std::string& what) {
  std::fprintf(stderr, "pg_bench: %s\n", what.c_str());
  std::fflush(stderr);
}

// --- PostgreSQL helpers -----------------------------------------------------

std::unique_ptr<pg::Conn> Connect(const std::string& uri) {
  auto c = pg::Conn::Open(uri);
  if (!c.ok()) Die("connect " + uri + ": " + c.status().ToString());
  return std::move(*c);
}

std::string QueryOne(pg::Conn& conn, const std::string& sql) {
  auto r = conn.QueryText(sql, pg::Params());
  if (!r.ok()) Die(sql + ": " + r.status().ToString());
  if (r->empty()) Die(sql + ": no row");
  return std::string(r->Text(0, 0));
}

void Exec(pg::Conn& conn, const std::string& sql) {
  if (Status s = conn.Exec(sql); !s.ok()) Die(sql + ": " + s.ToString());
}

// Before each timed measurement: nothing the last one wrote is still to be
// written back, by PostgreSQL (its dirty buffers) or by the kernel.
void Quiesce(PgServer& pg) {
  auto conn = Connect(pg.Uri("postgres"));
  Exec(*conn, "CHECKPOINT");
  ::sync();
}

// --- CPU time from /proc ----------------------------------------------------

double Ticks() { return static_cast<double>(::sysconf(_SC_CLK_TCK)); }

// Fields of /proc/PID/stat after the command name: [0] is field 3 (state).
std::vector<std::string> StatFields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = all.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(all.substr(close + 2));
  std::vector<std::string> f;
  for (std::string s; rest >> s;) f.push_back(s);
  return f;
}

// User + system seconds of a live process (all its threads); with
// `children`, also those of its children it has reaped.
double CpuSeconds(pid_t pid, bool children = false) {
  const auto f = StatFields(pid);
  if (f.size() < 15) return 0;
  // utime, stime, cutime, cstime are fields 14-17: f[11] to f[14].
  double t = std::stod(f[11]) + std::stod(f[12]);
  if (children) t += std::stod(f[13]) + std::stod(f[14]);
  return t / Ticks();
}

// All of the PostgreSQL server's CPU so far: the postmaster, its live
// children (backends, checkpointer, WAL writer...) and those it reaped.
double PostgresCpuSeconds(pid_t postmaster) {
  double t = CpuSeconds(postmaster, /*children=*/true);
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return t;
  while (dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
    if (pid <= 0) continue;
    const auto f = StatFields(pid);
    if (f.size() >= 15 && std::atol(f[1].c_str()) == postmaster) {
      t += (std::stod(f[11]) + std::stod(f[12])) / Ticks();
    }
  }
  ::closedir(d);
  return t;
}

pid_t Postmaster(const PgServer& pg) {
  std::ifstream in(pg.socket_dir() + "/data/postmaster.pid");
  long pid = 0;
  in >> pid;
  if (pid <= 0) Die("no postmaster.pid in " + pg.socket_dir() + "/data");
  return static_cast<pid_t>(pid);
}

// CPU of this process's reaped children (the `braid sync` commands).
double ChildrenCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_CHILDREN, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

// --- Part 1: the initial pull -----------------------------------------------

struct Source {
  BenchDir dir;
  std::string data;
  std::string token;
  std::unique_ptr<BraidServer> server;
};

// A SQLite instance holding `rows`, filled through the Store API as
// sync_bench fills its source, served with search off, with a token.
void MakeSource(const std::vector<bench::Row>& rows, Source* s) {
  s->data = s->dir.File("source");
  {
    auto inst = Instance::Init(s->data);
    if (!inst.ok()) Die("init source: " + inst.status().ToString());
    std::unique_ptr<WriteTransaction> txn;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i % 100'000 == 0) {
        if (txn && !txn->Commit().ok()) Die("commit");
        auto t = (*inst)->store().BeginWrite();
        if (!t.ok()) Die("begin: " + t.status().ToString());
        txn = std::move(*t);
      }
      PutRequest r;
      r.collection = kCollection;
      r.id = rows[i].id;
      r.body = rows[i].body;
      if (auto p = txn->Put(r); !p.ok()) Die("put: " + p.status().ToString());
    }
    if (txn && !txn->Commit().ok()) Die("commit");
  }
  const RunResult token = testing::Braid(s->data, {"token", "create", "bench"});
  if (token.exit_code != 0) Die("token create: " + token.err);
  s->token = testing::LastLine(token.out);
  // Filled offline: its serve would index all of it while the pull is timed.
  if (Status st = testing::SetConfig(s->data, "search", "false"); !st.ok()) Die(st.ToString());
  s->server = Serve(s->data);
}

struct Pull {
  double seconds = 0;
  double sync_cpu_s = 0;      // the `braid sync` command
  double postgres_cpu_s = 0;  // the whole PostgreSQL server
  double source_cpu_s = 0;    // the source's `braid serve`
  long sync_rss_kib = 0;
  // PostgreSQL targets: autovacuum's ANALYZEs of `records` during and
  // right after the pull, and when the last one was, from the pull's start
  // (-1: none). Until the first, the planner knows nothing of the table's
  // growth, so this tells runs apart.
  int64_t autoanalyze_count = 0;
  double autoanalyze_after_s = -1;
};

// `braid sync` of a fresh instance (its store at `store`, or DIR/store.db
// when empty) from the source: the cache step, replication alone, as in
// sync_bench. Checks that every record arrived.
Pull PullInto(PgServer& pg, const Source& src, const std::string& data, const std::string& store,
              size_t n) {
  std::vector<std::string> init = {"init", "--no-admin"};
  if (!store.empty()) init.insert(init.end(), {"--store", store});
  if (RunResult r = testing::Braid(data, init); r.exit_code != 0) Die("init: " + r.err);
  if (RunResult r = testing::Braid(data, {"remote", "add", "source", src.server->url(),
                                          "--direction", "pull", "--token", src.token});
      r.exit_code != 0) {
    Die("remote add: " + r.err);
  }
  Quiesce(pg);
  const pid_t postmaster = Postmaster(pg);
  const pid_t source_pid = src.server->process().pid();
  const double pg0 = PostgresCpuSeconds(postmaster), src0 = CpuSeconds(source_pid),
               me0 = ChildrenCpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  const double wall_start =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  RunResult r = testing::Braid(data, {"--json", "sync", "source", "cache"});
  Pull p;
  p.seconds = SecondsSince(start);
  if (r.exit_code != 0) Die("braid sync failed: " + r.err);
  p.sync_cpu_s = ChildrenCpuSeconds() - me0;
  p.postgres_cpu_s = PostgresCpuSeconds(postmaster) - pg0;
  p.source_cpu_s = CpuSeconds(source_pid) - src0;
  p.sync_rss_kib = r.max_rss_kib;
  if (!store.empty()) {
    auto conn = Connect(store);
    auto a = conn->Query(
        "SELECT autoanalyze_count, coalesce(extract(epoch FROM last_autoanalyze)::float8, 0) "
        "FROM pg_stat_user_tables WHERE relname = 'records'");
    if (!a.ok() || a->empty()) Die("pg_stat_user_tables: " + a.status().ToString());
    p.autoanalyze_count = a->Int(0, 0);
    if (p.autoanalyze_count > 0)
      p.autoanalyze_after_s = std::stod(std::string(a->Text(0, 1))) - wall_start;
  }
  // Every record arrived.
  auto inst = Instance::Open(data);
  if (!inst.ok()) Die("open " + data + ": " + inst.status().ToString());
  auto stats = (*inst)->store().Stats();
  if (!stats.ok()) Die("stats: " + stats.status().ToString());
  if (stats->live != n) {
    Die("the pull brought " + std::to_string(stats->live) + " records, not " + std::to_string(n));
  }
  return p;
}

// The reference table: braid's `records` as the backend makes it (its
// columns, keys and indexes), copied from a store made in the same
// database, so the two cannot drift apart.
constexpr char kRefTable[] = "CREATE TABLE records_ref (LIKE records INCLUDING ALL)";

// The rows in COPY's text format, with what braid stores for a record
// pulled from one origin: no partition, parent, version vector (implied),
// field clocks or conflicts (src/store/postgres/row_txn.cc).
std::string CopyText(const std::vector<bench::Row>& rows) {
  std::string out;
  out.reserve(rows.size() * 300);
  const uint64_t hlc0 = 0x0190'0000'0000'0000ULL;
  for (size_t i = 0; i < rows.size(); ++i) {
    out += std::to_string(i + 1);
    out += '\t';
    out += kCollection;
    out += '\t';
    pg::AppendCopyText(rows[i].id, &out);
    out += "\t\\N\t\\N\tf\t2\t";
    out += std::to_string(i + 1);
    out += "\t\\N\t";
    out += std::to_string(hlc0 + i * 16);
    out += "\t\\N\t";
    pg::AppendCopyText(rows[i].body, &out);
    out += "\t\\N\n";
  }
  return out;
}

struct Copy {
  double seconds = 0;
  double postgres_cpu_s = 0;
};

Copy CopyReference(PgServer& pg, const std::string& text, size_t n) {
  const std::string uri = pg.NewDatabase("pg_bench_copy");
  Copy c;
  {
    {
      StoreOptions o;
      o.create_if_missing = true;
      auto made = Store::Open(uri, o);
      if (!made.ok()) Die("making a store for the reference table: " + made.status().ToString());
    }
    auto conn = Connect(uri);
    Exec(*conn, kRefTable);
    Quiesce(pg);
    const pid_t postmaster = Postmaster(pg);
    const double pg0 = PostgresCpuSeconds(postmaster);
    const auto start = std::chrono::steady_clock::now();
    Exec(*conn, "BEGIN");
    if (Status s = conn->CopyIn("COPY records_ref FROM STDIN", text); !s.ok()) {
      Die("COPY: " + s.ToString());
    }
    Exec(*conn, "COMMIT");
    c.seconds = SecondsSince(start);
    c.postgres_cpu_s = PostgresCpuSeconds(postmaster) - pg0;
    const std::string count = QueryOne(*conn, "SELECT count(*) FROM records_ref");
    if (count != std::to_string(n)) Die("COPY stored " + count + " rows, not " + std::to_string(n));
  }
  pg.DropDatabase(uri);
  return c;
}

// --- Part 2: delta pages through 1, 2 and 4 processes -----------------------

struct Percentiles {
  double p50 = 0, p99 = 0, mean = 0;
};

Percentiles Summarize(std::vector<double> ms) {
  Percentiles p;
  if (ms.empty()) return p;
  std::sort(ms.begin(), ms.end());
  double sum = 0;
  for (double v : ms) sum += v;
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  p.p50 = at(0.5);
  p.p99 = at(0.99);
  p.mean = sum / ms.size();
  return p;
}

// One database, `events` change-log events (as delta_bench makes them: 80%
// creates, 20% updates of earlier records), and `processes` data
// directories that serve it. Returns the change log's epoch.
uint64_t MakeDeltaStore(const std::string& uri, const std::vector<std::string>& dirs,
                        size_t events) {
  if (RunResult r = testing::Braid(dirs[0], {"init", "--store", uri}); r.exit_code != 0) {
    Die("init: " + r.err);
  }
  uint64_t epoch = 0;
  {
    auto inst = Instance::Open(dirs[0]);
    if (!inst.ok()) Die("open: " + inst.status().ToString());
    Store& store = (*inst)->store();
    std::mt19937_64 rng(1);
    std::unique_ptr<WriteTransaction> txn;
    size_t created = 0;
    char body[300];
    for (size_t i = 0; i < events; ++i) {
      if (i % 50'000 == 0) {
        if (txn) {
          if (Status s = txn->Commit(); !s.ok()) Die("commit: " + s.ToString());
        }
        auto t = store.BeginWrite();
        if (!t.ok()) Die("begin: " + t.status().ToString());
        txn = std::move(*t);
      }
      const bool update = created > 0 && rng() % 5 == 0;
      const size_t n = update ? rng() % created : created++;
      std::snprintf(
          body, sizeof body,
          R"({"title":"Record number %zu","n":%zu,"tags":["a","b"],"v":%zu,)"
          R"("text":"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod"})",
          n, n, i);
      PutRequest req;
      req.collection = kCollection;
      const std::string id = "note-" + std::to_string(n);
      req.id = id;
      req.body = body;
      if (auto r = txn->Put(req); !r.ok()) Die("put: " + r.status().ToString());
    }
    if (Status s = txn->Commit(); !s.ok()) Die("commit: " + s.ToString());
    auto page = ReadDelta(store, {});
    if (!page.ok()) Die("delta: " + page.status().ToString());
    epoch = DecodeCursor(page->cursor)->epoch;
  }
  for (size_t i = 1; i < dirs.size(); ++i) {
    const RunResult r = testing::Braid(dirs[i], {"--json", "init", "--store", uri});
    if (r.exit_code != 0) Die("init (join): " + r.err);
    if (r.out.find("\"joined\":true") == std::string::npos) {
      Die("braid init --store of a second directory did not join: " + r.out);
    }
  }
  // Filled offline: a search index of it would be built while the feed is
  // timed, and the feed does not use it.
  for (const auto& d : dirs) {
    if (Status s = testing::SetConfig(d, "search", "false"); !s.ok()) Die(s.ToString());
  }
  return epoch;
}

struct DeltaRun {
  size_t processes = 0;
  Percentiles ms;
  double pages_per_s = 0;
  double seconds = 0;
  size_t errors = 0;
  double serve_cpu_s = 0, postgres_cpu_s = 0;
  size_t avg_bytes = 0;
};

DeltaRun ReadPages(PgServer& pg, const std::vector<std::string>& dirs, size_t processes,
                   size_t clients, size_t requests, uint64_t epoch, size_t events,
                   const std::string& authorization) {
  std::vector<std::unique_ptr<BraidServer>> servers;
  for (size_t i = 0; i < processes; ++i) {
    servers.push_back(Serve(dirs[i]));
  }
  const size_t span = events > kLimit ? events - kLimit : 1;
  std::vector<std::vector<double>> ms(clients);
  std::vector<size_t> errors(clients, 0), bytes(clients, 0);
  std::atomic<double> last_end{0};
  const pid_t postmaster = Postmaster(pg);
  double pg0 = 0, serve0 = 0;
  std::chrono::steady_clock::time_point start;
  // Warm-up done by every client: the clock starts.
  std::barrier ready(static_cast<std::ptrdiff_t>(clients), [&]() noexcept {
    pg0 = PostgresCpuSeconds(postmaster);
    serve0 = 0;
    for (auto& s : servers) serve0 += CpuSeconds(s->process().pid());
    start = std::chrono::steady_clock::now();
  });
  std::vector<std::thread> threads;
  for (size_t c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      http::ClientOptions options;
      options.authorization = authorization;
      auto client = http::Client::Create(options);
      if (!client.ok()) Die("client: " + client.status().ToString());
      const std::string base = servers[c % processes]->url() +
                               "/api/v1/delta?limit=" + std::to_string(kLimit) + "&cursor=";
      std::mt19937_64 rng(1000 + c);
      auto url = [&] { return base + EncodeCursor({epoch, rng() % span}); };
      for (int i = 0; i < 20; ++i) {  // warm up: connection, password check, caches
        auto r = (*client)->Get(url());
        if (!r.ok() || r->status != 200) {
          Die("warm-up GET delta: " +
              (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString()));
        }
      }
      const size_t mine = requests / clients + (c < requests % clients ? 1 : 0);
      ms[c].reserve(mine);
      ready.arrive_and_wait();
      for (size_t i = 0; i < mine; ++i) {
        const std::string u = url();
        const auto t = std::chrono::steady_clock::now();
        auto r = (*client)->Get(u);
        ms[c].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t)
                .count());
        if (!r.ok() || r->status != 200) {
          if (errors[c]++ == 0) {
            Log("GET delta: " +
                (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString()));
          }
        } else {
          bytes[c] += r->body.size();
        }
      }
      const double end = SecondsSince(start);
      double seen = last_end.load();
      while (end > seen && !last_end.compare_exchange_weak(seen, end)) {
      }
    });
  }
  for (auto& t : threads) t.join();
  DeltaRun run;
  run.processes = processes;
  run.seconds = last_end.load();
  run.postgres_cpu_s = PostgresCpuSeconds(postmaster) - pg0;
  for (auto& s : servers) run.serve_cpu_s += CpuSeconds(s->process().pid());
  run.serve_cpu_s -= serve0;
  std::vector<double> all;
  size_t total_bytes = 0;
  for (size_t c = 0; c < clients; ++c) {
    all.insert(all.end(), ms[c].begin(), ms[c].end());
    run.errors += errors[c];
    total_bytes += bytes[c];
  }
  run.ms = Summarize(all);
  run.pages_per_s = all.size() / run.seconds;
  run.avg_bytes = all.size() > run.errors ? total_bytes / (all.size() - run.errors) : 0;
  for (auto& s : servers) (void)s->Stop();
  return run;
}

// --- main ---------------------------------------------------------------

std::string JsonList(const std::vector<double>& v, const char* format) {
  std::string out = "[";
  char buf[64];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, format, v[i]);
    out += (i ? "," : "") + std::string(buf);
  }
  return out + "]";
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

int Main(int argc, char** argv) {
  size_t records = 1'000'000, events = 100'000, clients = 8, requests = 4000, rounds = 1;
  std::string braid;
  bench::Flags("pg_bench",
               "braid on a PostgreSQL server it starts itself, with fsync on: the initial pull\n"
               "of N records into a PostgreSQL-backed instance by braid sync, against COPY of\n"
               "the same rows; and delta pages read by C clients through 1, 2 and 4 braid\n"
               "serve processes over one database. Prints one JSON object (bench/README.md).")
      .Count("records", &records, "records pulled")
      .Count("events", &events, "change-log events of the delta store", kLimit + 1)
      .Count("clients", &clients, "concurrent delta clients, round-robin over the processes")
      .Count("requests", &requests, "delta pages read per process count, by all clients")
      .Count("rounds", &rounds, "pulls and COPYs, alternating; medians are reported")
      .Text("braid", &braid, "the braid binary (default: $BRAID_BIN, else ./braid)", "PATH")
      .Parse(argc, argv);
  if (!braid.empty()) setenv("BRAID_BIN", braid.c_str(), 1);
  if (requests < clients) {
    std::fprintf(stderr,
                 "pg_bench: --requests %zu is fewer than --clients %zu (pg_bench --help lists the "
                 "options)\n",
                 requests, clients);
    return 2;
  }
  const auto bench_start = std::chrono::steady_clock::now();

  // A server of our own, durable: never the tests' (BRAID_TEST_PG_DIR).
  ::unsetenv("BRAID_TEST_PG_DIR");
  ::setenv("PG_TEST_SERVER_FSYNC", "on", 1);
  Log("starting PostgreSQL (fsync on, cluster on disk)");
  PgServer& pg = PgServer::Shared();
  std::string version, fsync, full_page_writes, synchronous_commit, shared_buffers, max_wal_size;
  {
    auto conn = Connect(pg.Uri("postgres"));
    version = QueryOne(*conn, "SHOW server_version");
    fsync = QueryOne(*conn, "SHOW fsync");
    full_page_writes = QueryOne(*conn, "SHOW full_page_writes");
    synchronous_commit = QueryOne(*conn, "SHOW synchronous_commit");
    shared_buffers = QueryOne(*conn, "SHOW shared_buffers");
    max_wal_size = QueryOne(*conn, "SHOW max_wal_size");
  }
  if (fsync != "on") Die("the server runs with fsync=" + fsync + ", not on");

  // Part 1.
  Log("making " + std::to_string(records) + " rows and the source");
  const auto fill_start = std::chrono::steady_clock::now();
  std::vector<bench::Row> rows = bench::MakeRows(records);
  Source source;
  MakeSource(rows, &source);
  const double source_fill_s = SecondsSince(fill_start);
  const std::string copy_text = CopyText(rows);
  rows.clear();
  rows.shrink_to_fit();

  std::vector<double> t_braid, t_copy, t_sqlite;
  std::vector<Pull> pulls;
  std::vector<Copy> copies;
  BenchDir targets;
  for (size_t round = 0; round < rounds; ++round) {
    // Alternate which goes first.
    for (int step = 0; step < 3; ++step) {
      const int what = (step + static_cast<int>(round)) % 3;
      const std::string dir = targets.File(std::to_string(round) + "-" + std::to_string(what));
      if (what == 0) {
        const std::string uri = pg.NewDatabase("pg_bench_pull");
        Pull p = PullInto(pg, source, dir, uri, records);
        Log("round " + std::to_string(round) + ": braid sync into PostgreSQL " +
            std::to_string(p.seconds) + " s");
        t_braid.push_back(p.seconds);
        pulls.push_back(p);
        pg.DropDatabase(uri);
      } else if (what == 1) {
        Copy c = CopyReference(pg, copy_text, records);
        Log("round " + std::to_string(round) + ": COPY " + std::to_string(c.seconds) + " s");
        t_copy.push_back(c.seconds);
        copies.push_back(c);
      } else {
        Pull p = PullInto(pg, source, dir, "", records);
        Log("round " + std::to_string(round) + ": braid sync into SQLite " +
            std::to_string(p.seconds) + " s");
        t_sqlite.push_back(p.seconds);
      }
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
  (void)source.server->Stop();
  const double braid_s = Median(t_braid), copy_s = Median(t_copy), sqlite_s = Median(t_sqlite);
  auto median_of = [&](auto field) {
    std::vector<double> v;
    for (const Pull& p : pulls) v.push_back(field(p));
    return Median(v);
  };
  const double sync_cpu = median_of([](const Pull& p) { return p.sync_cpu_s; });
  const double pg_cpu = median_of([](const Pull& p) { return p.postgres_cpu_s; });
  const double src_cpu = median_of([](const Pull& p) { return p.source_cpu_s; });
  long sync_rss = 0;
  for (const Pull& p : pulls) sync_rss = std::max(sync_rss, p.sync_rss_kib);
  std::vector<double> analyzed_after;
  for (const Pull& p : pulls) analyzed_after.push_back(p.autoanalyze_after_s);
  std::vector<double> copy_cpu;
  for (const Copy& c : copies) copy_cpu.push_back(c.postgres_cpu_s);

  // Part 2.
  Log("filling a PostgreSQL store with " + std::to_string(events) + " events");
  BenchDir delta_dir;
  std::vector<std::string> dirs;
  for (int i = 0; i < 4; ++i) dirs.push_back(delta_dir.File("serve" + std::to_string(i)));
  const std::string delta_uri = pg.NewDatabase("pg_bench_delta");
  const auto delta_fill_start = std::chrono::steady_clock::now();
  const uint64_t epoch = MakeDeltaStore(delta_uri, dirs, events);
  const double delta_fill_s = SecondsSince(delta_fill_start);
  const std::string authorization =
      testing::BasicAuthorization("admin", testing::AdminPassword(dirs[0]));
  std::vector<DeltaRun> runs;
  for (size_t processes : {1, 2, 4}) {
    Quiesce(pg);
    DeltaRun run = ReadPages(pg, dirs, processes, clients, requests, epoch, events, authorization);
    Log(std::to_string(processes) + " process(es): p50 " + std::to_string(run.ms.p50) +
        " ms, p99 " + std::to_string(run.ms.p99) + " ms, " + std::to_string(run.pages_per_s) +
        " pages/s");
    runs.push_back(run);
  }
  pg.DropDatabase(delta_uri);

  const double ratio = copy_s / braid_s;
  std::string delta_json;
  size_t delta_errors = 0;
  for (const DeltaRun& r : runs) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s{\"processes\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"mean_ms\":%.3f,"
                  "\"pages_per_s\":%.0f,\"seconds\":%.2f,\"errors\":%zu,\"avg_response_bytes\":%zu,"
                  "\"serve_cpu_s\":%.2f,\"postgres_cpu_s\":%.2f}",
                  delta_json.empty() ? "" : ",", r.processes, r.ms.p50, r.ms.p99, r.ms.mean,
                  r.pages_per_s, r.seconds, r.errors, r.avg_bytes, r.serve_cpu_s, r.postgres_cpu_s);
    delta_json += buf;
    delta_errors += r.errors;
  }
  std::printf(
      "{\"bench\":\"pg\",\"cores\":%u,"
      "\"postgres\":{\"version\":%s,\"fsync\":%s,\"full_page_writes\":%s,"
      "\"synchronous_commit\":%s,\"shared_buffers\":%s,\"max_wal_size\":%s},"
      "\"records\":%zu,\"events\":%zu,\"clients\":%zu,\"requests\":%zu,\"rounds\":%zu,"
      "\"initial_pull\":{\"braid_seconds\":%.3f,\"braid_records_per_s\":%.0f,"
      "\"copy_seconds\":%.3f,\"copy_records_per_s\":%.0f,\"braid_over_copy\":%.3f,"
      "\"target_ratio\":0.5,"
      "\"sqlite_target_seconds\":%.3f,\"sqlite_target_records_per_s\":%.0f,"
      "\"pg_pull_over_sqlite_pull\":%.3f,"
      "\"records_autoanalyzed_after_s\":%s,"
      "\"cpu_s\":{\"braid_sync\":%.2f,\"postgres\":%.2f,\"source_serve\":%.2f,"
      "\"copy_postgres\":%.2f},"
      "\"sync_command_peak_rss_mib\":%.1f,\"source_fill_seconds\":%.1f,"
      "\"samples_s\":{\"braid\":%s,\"copy\":%s,\"sqlite_target\":%s}},"
      "\"delta\":{\"events\":%zu,\"limit\":%zu,\"fill_seconds\":%.1f,\"by_processes\":[%s]},"
      "\"seconds\":%.0f,\"meets_target\":%s}\n",
      std::thread::hardware_concurrency(), JsonString(version).c_str(), JsonString(fsync).c_str(),
      JsonString(full_page_writes).c_str(), JsonString(synchronous_commit).c_str(),
      JsonString(shared_buffers).c_str(), JsonString(max_wal_size).c_str(), records, events,
      clients, requests, rounds, braid_s, records / braid_s, copy_s, records / copy_s, ratio,
      sqlite_s, records / sqlite_s, sqlite_s / braid_s, JsonList(analyzed_after, "%.1f").c_str(),
      sync_cpu, pg_cpu, src_cpu, Median(copy_cpu), sync_rss / 1024.0, source_fill_s,
      JsonList(t_braid, "%.3f").c_str(), JsonList(t_copy, "%.3f").c_str(),
      JsonList(t_sqlite, "%.3f").c_str(), events, kLimit, delta_fill_s, delta_json.c_str(),
      SecondsSince(bench_start), ratio >= 0.5 && delta_errors == 0 ? "true" : "false");
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
