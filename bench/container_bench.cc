// Directory containers (issue: directory containers): passes of the real
// `braid container sync` over a tree of small files, beside `find DIR
// -printf '%s %T@ %i\n'` over the same tree in the same run (the reference:
// the walk and stat of every file that any pass needs, with no state to
// compare and nothing to write):
//   - first pass of N files (default 100,000): every file read and hashed,
//     every record written;
//   - warm pass with nothing changed: wall time, and its ratio to find's;
//   - a pass after 1,000 files changed, beside the first pass of a
//     container of 1,000 files; and the same under `braid container
//     watch`, whose passes look only at the files the events name (cost
//     follows the changes, not the tree): the passes' own time, and the
//     time from the last write until they had taken all 1,000 in;
//   - peak RSS of the warm pass at N and at 3N files: the bytes per file
//     above a fixed base.
// Files are 1 to 2 KiB, 1,000 per folder. The page cache is warm for both
// braid and find (each runs once before it is timed).
//
// Usage: container_bench [--files N] [--rounds R] [--dir DIR]
// Prints one JSON object on stdout.

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_data.h"
#include "tests/support/process.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

namespace fs = std::filesystem;
using testing::RunResult;

void Die(const std::string& what) {
  std::fprintf(stderr, "container_bench: %s\n", what.c_str());
  std::exit(1);
}

std::string Fixed(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Files `from` .. `to`-1 of a tree: folder i/1000, 1-2 KiB each.
void MakeFiles(const std::string& root, size_t from, size_t to, int version) {
  std::string text;
  for (size_t i = from; i < to; ++i) {
    const std::string folder = root + "/d" + std::to_string(i / 1000);
    if (i % 1000 == 0 || i == from) fs::create_directories(folder);
    text.assign(1024 + (i * 7919) % 1024, static_cast<char>('a' + (i + version) % 26));
    std::ofstream(folder + "/f" + std::to_string(i) + ".dat", std::ios::trunc) << text;
  }
}

struct Timed {
  double seconds = 0;
  RunResult r;
};

Timed Sync(const std::string& data, const std::string& name) {
  const auto start = std::chrono::steady_clock::now();
  Timed t;
  t.r = testing::Braid(data, {"--json", "container", "sync", name});
  t.seconds = bench::SecondsSince(start);
  if (t.r.exit_code != 0) Die("container sync: " + t.r.err);
  return t;
}

double Find(const std::string& root) {
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = testing::Run({"/usr/bin/find", root, "-printf", "%s %T@ %i\\n"});
  if (r.exit_code != 0) Die("find: " + r.err);
  return bench::SecondsSince(start);
}

std::string Field(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return "";
  const size_t start = at + key.size() + 3;
  return json.substr(start, json.find_first_of(",}", start) - start);
}

int Main(int argc, char** argv) {
  size_t n = 100'000, rounds = 3;
  std::string dir_flag;
  bench::Flags flags("container_bench",
                     "braid container sync over a tree of small files, beside find -printf");
  flags.Count("files", &n, "files in the tree (default 100000; 3N for the memory figure)", 1000)
      .Count("rounds", &rounds, "warm passes and finds timed; medians reported (default 3)")
      .Text("dir", &dir_flag, "where the files go (default: a temporary directory)", "DIR");
  flags.Parse(argc, argv);
  testing::TempDir temp;
  const std::string base = dir_flag.empty() ? temp.path() : dir_flag;
  const std::string data = base + "/data", tree = base + "/tree", small = base + "/small";
  if (testing::Braid(data, {"init", "--no-admin"}).exit_code != 0) Die("init");
  if (!testing::SetConfig(data, "search", "false").ok()) Die("config");

  MakeFiles(tree, 0, n, 0);
  MakeFiles(small, 0, 1000, 0);
  for (const auto& [name, path] : {std::pair{"tree", tree}, std::pair{"small", small}}) {
    if (testing::Braid(data, {"container", "add", name, "--dir", path}).exit_code != 0) {
      Die("container add");
    }
  }
  Find(tree);  // the page cache holds the tree's inodes for both
  const Timed first = Sync(data, "tree");
  const Timed small_first = Sync(data, "small");
  std::vector<double> warm, find;
  long warm_rss = 0;
  for (size_t r = 0; r < rounds; ++r) {
    const Timed w = Sync(data, "tree");
    if (Field(w.r.out, "unchanged") != std::to_string(n)) Die("warm pass: " + w.r.out);
    warm.push_back(w.seconds);
    warm_rss = std::max(warm_rss, w.r.max_rss_kib);
    find.push_back(Find(tree));
  }
  // 1,000 files changed, spread over the tree.
  for (size_t i = 0; i < 1000; ++i) {
    const size_t k = (i * (n / 1000)) % n;
    std::ofstream(tree + "/d" + std::to_string(k / 1000) + "/f" + std::to_string(k) + ".dat",
                  std::ios::app)
        << "changed";
  }
  const Timed changed = Sync(data, "tree");
  if (Field(changed.r.out, "updated") != "1000") Die("changed pass: " + changed.r.out);

  // The same 1,000 changes under `braid container watch`, whose passes look
  // at the files the events name: from the last write to the end of the
  // pass (or passes) that took all 1,000 in.
  auto watch = testing::Process::Start(
      {testing::BraidBin(), "--data", data, "--json", "container", "watch", "tree"},
      base + "/watch.log");
  if (!watch.ok()) Die("watch: " + watch.status().ToString());
  if (!(*watch)->ReadLine(std::chrono::seconds(120)).ok()) Die("watch: no first pass");
  for (size_t i = 0; i < 1000; ++i) {
    const size_t k = (i * (n / 1000) + 1) % n;
    std::ofstream(tree + "/d" + std::to_string(k / 1000) + "/f" + std::to_string(k) + ".dat",
                  std::ios::app)
        << "again";
  }
  const auto written = std::chrono::steady_clock::now();
  uint64_t updated = 0, watch_unchanged = 0;
  double watch_pass_s = 0;
  while (updated < 1000) {
    auto line = (*watch)->ReadLine(std::chrono::seconds(60));
    if (!line.ok()) Die("watch: the changes were not seen");
    updated += std::stoull(Field(*line, "updated"));
    watch_unchanged += std::stoull(Field(*line, "unchanged"));
    watch_pass_s += std::stod(Field(*line, "seconds"));
  }
  const double watch_seen = bench::SecondsSince(written);
  (*watch)->Signal(SIGTERM);
  (void)(*watch)->Wait(std::chrono::seconds(30));

  // Memory at 3N: the same pass over three times the files.
  MakeFiles(tree, n, 3 * n, 0);
  Sync(data, "tree");
  long big_rss = 0;
  double big_warm = 0;
  for (size_t r = 0; r < 2; ++r) {
    const Timed w = Sync(data, "tree");
    big_rss = std::max(big_rss, w.r.max_rss_kib);
    big_warm = r == 0 ? w.seconds : std::min(big_warm, w.seconds);
  }
  const double per_file =
      static_cast<double>(big_rss - warm_rss) * 1024.0 / static_cast<double>(2 * n);
  const double warm_s = bench::Median(warm), find_s = bench::Median(find);
  std::printf(
      "{\"bench\":\"container\",\"files\":%zu,\"first_pass_s\":%s,\"first_pass_files_per_s\":%.0f,"
      "\"warm_pass_s\":%s,\"find_s\":%s,\"warm_over_find\":%s,\"changed_1000_pass_s\":%s,"
      "\"first_pass_of_1000_files_s\":%s,\"watch_1000_changes_pass_s\":%s,"
      "\"watch_1000_changes_seen_s\":%s,\"watch_unchanged_looked_at\":%llu,"
      "\"warm_pass_rss_mib\":%s,\"files_3n\":%zu,"
      "\"warm_pass_3n_s\":%s,\"warm_pass_3n_rss_mib\":%s,\"bytes_per_file\":%.1f,"
      "\"goals\":{\"warm_pass_max_s\":0.5,\"warm_over_find_max\":3,\"bytes_per_file_max\":100}}\n",
      n, Fixed(first.seconds).c_str(), static_cast<double>(n) / first.seconds,
      Fixed(warm_s).c_str(), Fixed(find_s).c_str(), Fixed(warm_s / find_s, 2).c_str(),
      Fixed(changed.seconds).c_str(), Fixed(small_first.seconds).c_str(),
      Fixed(watch_pass_s).c_str(), Fixed(watch_seen).c_str(),
      static_cast<unsigned long long>(watch_unchanged),
      Fixed(static_cast<double>(warm_rss) / 1024, 1).c_str(), 3 * n, Fixed(big_warm).c_str(),
      Fixed(static_cast<double>(big_rss) / 1024, 1).c_str(), per_file);
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
