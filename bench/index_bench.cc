// Search index: a full rebuild of N records, an incremental update of 1,000
// changes, and searches, through braid's SearchIndex on a braid store;
// beside the same text in a bare SQLite FTS5 table in the same run, the
// reference (FTS5's own cost, with no store, no change log, no map from
// records to rows).
//
// Records are bibliographic: a title of 6-10 words, an abstract of 40, two
// authors and a year, words drawn from a Zipf (s=1) vocabulary of 20,000
// made-up words, the same on every machine. Queries are one or two words
// drawn uniformly from vocabulary ranks 100 to 20,000 (the top 100 words are
// stop words no one searches for alone), 20 results each.
//
// Each phase runs in a child process so its peak RSS is its own.
//
// Both use the same FTS5 merge settings (index/search_index.h). Updates are
// timed over 20 rounds, so that the merges FTS5 does every few commits are
// in the maximum. braid's are timed twice: called directly, as `braid sync
// index` does (searchable at the commit, then a merge of kMergePages), and
// through the follower of `braid serve` (from the commit of the writes to
// the index holding them; merges run while no write waits, and each round
// starts when they are done). Searches run after that, on the index the
// follower keeps.
//
// Usage: index_bench [--records N] [--changes N] [--searches N] [--rounds R]
//                    [--dir DIR]
// Prints one JSON object on stdout.

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_data.h"
#include "braid/store.h"
#include "index/follower.h"
#include "index/search_index.h"
#include "index/text.h"
#include "sqlite/db.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

constexpr size_t kVocabulary = 20'000;

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "index_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

// The made-up words, by rank: syllables from the rank's digits in base 20.
const std::vector<std::string>& Words() {
  static const std::vector<std::string> words = [] {
    static const char* kSyl[] = {"ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "bo",
                                 "da", "fe", "gu", "hi", "jo", "pa", "qu", "ri", "su", "wy"};
    std::vector<std::string> out;
    for (size_t r = 0; r < kVocabulary; ++r) {
      std::string w;
      size_t x = r + 20;  // at least two syllables
      while (x > 0) {
        w += kSyl[x % 20];
        x /= 20;
      }
      out.push_back(w);
    }
    return out;
  }();
  return words;
}

// Zipf(s=1) ranks by inverse transform over the cumulative weights.
class Zipf {
 public:
  Zipf() : cdf_(kVocabulary) {
    double sum = 0;
    for (size_t r = 0; r < kVocabulary; ++r) cdf_[r] = (sum += 1.0 / static_cast<double>(r + 1));
    for (double& c : cdf_) c /= sum;
  }
  size_t Rank(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return std::min<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin(),
                            kVocabulary - 1);
  }

 private:
  std::vector<double> cdf_;
};

std::string Phrase(std::mt19937_64& rng, const Zipf& zipf, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) s += ' ';
    s += Words()[zipf.Rank(rng)];
  }
  return s;
}

// Record i's body at `version` (0: as first written).
std::string Body(size_t i, int version) {
  static const Zipf zipf;
  std::mt19937_64 rng(i * 7919 + static_cast<size_t>(version) * 104729 + 1);
  std::string b = R"({"title":")" + Phrase(rng, zipf, 6 + i % 5) + R"(","abstract":")" +
                  Phrase(rng, zipf, 40) + R"(","authors":[")" + Phrase(rng, zipf, 2) + R"(",")" +
                  Phrase(rng, zipf, 2) + R"("],"year":)" + std::to_string(1950 + i % 75) + "}";
  return b;
}
std::string Id(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "r%08zu", i);
  return buf;
}

std::unique_ptr<Store> OpenStore(const std::string& path) {
  StoreOptions o;
  o.create_if_missing = true;
  o.durability = Durability::kNormal;
  auto store = Store::Open("sqlite:" + path, o);
  if (!store.ok()) Die("opening the store", store.status());
  return std::move(*store);
}

double PeakRssMib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0;
}

// Runs `fn` in a child process; returns what it printed (one line).
template <typename Fn>
std::string InChild(Fn fn) {
  int fds[2];
  if (::pipe(fds) != 0) std::exit(1);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const std::string out = fn();
    if (::write(fds[1], out.data(), out.size()) < 0) ::_exit(1);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "index_bench: a phase failed\n");
    std::exit(1);
  }
  return out;
}

std::string Fixed(double v, int decimals = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Writes record index(k) at `version`, for k in [begin, end), in one
// transaction.
template <typename IndexFn>
void Write(Store& store, size_t begin, size_t end, int version, IndexFn index) {
  auto txn = store.BeginWrite(Durability::kNormal);
  if (!txn.ok()) Die("begin", txn.status());
  for (size_t k = begin; k < end; ++k) {
    const size_t i = index(k);
    const std::string id = Id(i), body = Body(i, version);
    PutRequest req;
    req.collection = "books";
    req.id = id;
    req.body = body;
    if (auto r = (*txn)->Put(req); !r.ok()) Die("put", r.status());
  }
  if (Status s = (*txn)->Commit(); !s.ok()) Die("commit", s);
}

void Fill(const std::string& path, size_t n) {
  auto store = OpenStore(path);
  const size_t txn_size = 50'000;
  for (size_t start = 0; start < n; start += txn_size) {
    Write(*store, start, std::min(n, start + txn_size), 0, [](size_t k) { return k; });
  }
}

// Changes `changes` records spread over the store, a new text for each.
void Change(Store& store, size_t n, size_t changes, int version) {
  Write(store, 0, changes, version,
        [&](size_t k) { return (k * 7907 + static_cast<size_t>(version) * 13) % n; });
}

std::vector<std::string> Queries(size_t count) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<size_t> rank(100, kVocabulary - 1);
  std::vector<std::string> out;
  for (size_t q = 0; q < count; ++q) {
    out.push_back(q % 2 == 0 ? Words()[rank(rng)]
                             : Words()[rank(rng) / 10 + 100] + " " + Words()[rank(rng) / 10 + 100]);
  }
  return out;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// The reference: the same text in one bare FTS5 table (title and abstract
// and authors as the index takes them), rowid = record number.
void RawCheck(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "index_bench: raw %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

std::string RawPhases(const std::string& path, size_t n, size_t changes, size_t rounds,
                      const std::vector<std::string>& queries) {
  sqlite3* db;
  RawCheck(nullptr, sqlite3_open(path.c_str(), &db), "open");
  RawCheck(db,
           sqlite3_exec(db,
                        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16384;"
                        "CREATE VIRTUAL TABLE fts USING fts5(w1, tokenize = 'unicode61 "
                        "remove_diacritics 2'); BEGIN",
                        nullptr, nullptr, nullptr),
           "schema");
  RawCheck(db, sqlite3_exec(db, index::kFtsMergeSettings, 0, 0, 0), "settings");
  sqlite3_stmt* ins;
  RawCheck(db,
           sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO fts(rowid, w1) VALUES (?, ?)", -1, &ins,
                              nullptr),
           "prepare");
  index::RecordText text;
  auto put = [&](size_t i, int version) {
    index::ExtractText(Body(i, version), nullptr, &text);
    sqlite3_bind_int64(ins, 1, static_cast<int64_t>(i + 1));
    sqlite3_bind_text(ins, 2, text.by_weight[0].data(), static_cast<int>(text.by_weight[0].size()),
                      SQLITE_STATIC);
    RawCheck(db, sqlite3_step(ins), "insert");
    sqlite3_reset(ins);
  };
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    put(i, 0);
    if (i % 50'000 == 49'999) RawCheck(db, sqlite3_exec(db, "COMMIT; BEGIN", 0, 0, 0), "commit");
  }
  RawCheck(db, sqlite3_exec(db, "COMMIT; PRAGMA journal_mode=WAL", 0, 0, 0), "commit");
  const double build = bench::SecondsSince(start);
  std::vector<double> incr;
  for (size_t r = 0; r < rounds; ++r) {
    start = std::chrono::steady_clock::now();
    RawCheck(db, sqlite3_exec(db, "BEGIN", 0, 0, 0), "begin");
    for (size_t k = 0; k < changes; ++k) {
      put((k * 7907 + (r + 1) * 13) % n, static_cast<int>(r + 1));
    }
    RawCheck(db, sqlite3_exec(db, "COMMIT", 0, 0, 0), "commit");
    incr.push_back(bench::SecondsSince(start));
  }
  std::sort(incr.begin(), incr.end());
  sqlite3_stmt* q;
  RawCheck(db,
           sqlite3_prepare_v2(db,
                              "SELECT rowid, snippet(fts, -1, char(1), char(2), '…', 16) "
                              "FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT 20",
                              -1, &q, nullptr),
           "prepare");
  std::vector<double> times;
  for (const std::string& query : queries) {
    const std::string expr = *index::ToFtsExpression(query);
    start = std::chrono::steady_clock::now();
    sqlite3_bind_text(q, 1, expr.data(), static_cast<int>(expr.size()), SQLITE_STATIC);
    while (sqlite3_step(q) == SQLITE_ROW) {
    }
    sqlite3_reset(q);
    times.push_back(bench::SecondsSince(start) * 1000);
  }
  sqlite3_finalize(q);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return "{\"rebuild_s\":" + Fixed(build) +
         ",\"incremental_ms\":" + Fixed(bench::Median(incr) * 1000, 1) +
         ",\"incremental_max_ms\":" + Fixed(incr.back() * 1000, 1) +
         ",\"search_p50_ms\":" + Fixed(Percentile(times, 0.5), 2) +
         ",\"search_p95_ms\":" + Fixed(Percentile(times, 0.95), 2) +
         ",\"peak_rss_mib\":" + Fixed(PeakRssMib(), 1) + "}";
}

int Main(int argc, char** argv) {
  sqlite::ConfigureProcess();
  size_t n = 1'000'000, changes = 1'000, searches = 200, rounds = 20;
  std::string dir_flag;
  bench::Flags flags("index_bench",
                     "search index: full rebuild, incremental update, search latency, beside "
                     "bare SQLite FTS5");
  flags.Count("records", &n, "records in the store (default 1000000)")
      .Count("changes", &changes, "records changed per incremental update (default 1000)")
      .Count("searches", &searches, "queries timed (default 200)")
      .Count("rounds", &rounds,
             "incremental updates timed; their median and maximum are reported (default 20)")
      .Text("dir", &dir_flag, "where the files go (default: a temporary directory)", "DIR");
  flags.Parse(argc, argv);
  testing::TempDir temp;
  const std::string dir = dir_flag.empty() ? temp.path() : dir_flag;
  const std::string store_path = dir + "/store.db", index_dir = dir + "/index";
  const std::vector<std::string> queries = Queries(searches);

  auto start = std::chrono::steady_clock::now();
  InChild([&] {
    Fill(store_path, n);
    return std::string();
  });
  const double fill = bench::SecondsSince(start);

  const std::string braid = InChild([&] {
    auto store = OpenStore(store_path);
    auto index = index::SearchIndex::Open(index_dir);
    if (!index.ok()) Die("opening the index", index.status());
    index::UpdateOptions full;
    full.full = true;
    auto built = (*index)->Update(*store, full);
    if (!built.ok()) Die("rebuild", built.status());
    const double rebuild_rss = PeakRssMib();
    std::vector<double> incr, total;
    for (size_t r = 0; r < rounds; ++r) {
      Change(*store, n, changes, static_cast<int>(r + 1));
      auto s = (*index)->Update(*store, {});
      if (!s.ok()) Die("update", s.status());
      if (s->full || s->indexed != changes) {
        std::fprintf(stderr, "index_bench: the update indexed %llu records\n",
                     static_cast<unsigned long long>(s->indexed));
        std::exit(1);
      }
      incr.push_back(s->searchable_seconds);
      total.push_back(s->seconds);
    }
    std::sort(incr.begin(), incr.end());
    std::sort(total.begin(), total.end());

    index::Follower follower(*store, **index);
    auto wait_idle = [&] {
      const auto t = std::chrono::steady_clock::now();
      while (follower.state().merging) usleep(2'000);
      return bench::SecondsSince(t);
    };
    auto head = LogHead(*store);
    if (!head.ok()) Die("log head", head.status());
    const auto settle_start = std::chrono::steady_clock::now();
    follower.WaitFor(head->last_seq, std::chrono::seconds(60));
    wait_idle();
    const double settle = bench::SecondsSince(settle_start);
    std::vector<double> followed, idle_merge;
    for (size_t r = 0; r < rounds; ++r) {
      Change(*store, n, changes, static_cast<int>(rounds + r + 1));
      const auto t = std::chrono::steady_clock::now();
      head = LogHead(*store);
      if (!head.ok()) Die("log head", head.status());
      const index::Follower::State st = follower.WaitFor(head->last_seq, std::chrono::seconds(60));
      if (st.cursor < head->last_seq) Die("follower", Status::Internal(st.error));
      followed.push_back(bench::SecondsSince(t));
      const double merged_before = follower.state().merge_seconds;
      wait_idle();
      idle_merge.push_back(follower.state().merge_seconds - merged_before);
    }
    std::sort(followed.begin(), followed.end());
    std::sort(idle_merge.begin(), idle_merge.end());
    std::vector<double> times;
    size_t hits = 0;
    for (const std::string& query : queries) {
      index::SearchRequest req;
      req.query = query;
      const auto t = std::chrono::steady_clock::now();
      auto page = (*index)->Search(req);
      times.push_back(bench::SecondsSince(t) * 1000);
      if (!page.ok()) Die("search", page.status());
      hits += page->hits.size();
    }
    return "{\"rebuild_s\":" + Fixed(built->seconds) + ",\"docs\":" + std::to_string(built->docs) +
           ",\"rebuild_peak_rss_mib\":" + Fixed(rebuild_rss, 1) +
           ",\"incremental_ms\":" + Fixed(bench::Median(incr) * 1000, 1) +
           ",\"incremental_max_ms\":" + Fixed(incr.back() * 1000, 1) +
           ",\"incremental_with_merge_ms\":" + Fixed(bench::Median(total) * 1000, 1) +
           ",\"incremental_with_merge_max_ms\":" + Fixed(total.back() * 1000, 1) +
           ",\"follower_settle_s\":" + Fixed(settle) +
           ",\"follower_searchable_ms\":" + Fixed(bench::Median(followed) * 1000, 1) +
           ",\"follower_searchable_max_ms\":" + Fixed(followed.back() * 1000, 1) +
           ",\"follower_idle_merge_ms\":" + Fixed(bench::Median(idle_merge) * 1000, 1) +
           ",\"search_p50_ms\":" + Fixed(Percentile(times, 0.5), 2) +
           ",\"search_p95_ms\":" + Fixed(Percentile(times, 0.95), 2) +
           ",\"search_max_ms\":" + Fixed(Percentile(times, 1.0), 2) + ",\"mean_hits\":" +
           Fixed(static_cast<double>(hits) / static_cast<double>(queries.size()), 1) +
           ",\"peak_rss_mib\":" + Fixed(PeakRssMib(), 1) + "}";
  });
  const std::string raw =
      InChild([&] { return RawPhases(dir + "/raw.db", n, changes, rounds, queries); });
  std::printf(
      "{\"bench\":\"index\",\"records\":%zu,\"changes\":%zu,\"searches\":%zu,\"fill_s\":%s,"
      "\"braid\":%s,\"raw_fts5\":%s}\n",
      n, changes, searches, Fixed(fill).c_str(), braid.c_str(), raw.c_str());
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
