// The attachments step of a mirror against the physical limits of a copy
// (issue 15's goals): the first sync of 1 GiB of attachments (by default
// 1,000 files of 1 MiB and 10,000 of 4 KiB) into a fresh mirror, against,
// in the same run and on the same disk:
//   - cp: `cp -r` of the same files followed by `sync` (the durable-copy
//     limit: braid's blobs are durable when the step ends); the goal is at
//     least 0.7x its throughput;
//   - rsync: `rsync -a` from an rsync daemon on loopback into a fresh
//     directory, then `sync`; the goal is to be faster.
// Then a resync with nothing changed (goal: <= 0.3 s for the whole
// `braid sync REMOTE attachments` command), and the peak RSS of the sync
// command and of the upstream server (goal: <= 128 MiB each).
//
// The upstream store and the reference directory are written by this
// program first, and stay in the page cache for all three (the copies
// measure writing, hashing and moving bytes, not reading a cold disk).
// Every method is timed from a flushed page cache's dirty state (`sync`
// before each), in a rotating order, and medians are reported; no copy is
// deleted before the end (below: ext4's inode allocator).
//
// Usage: attachments_bench [--large N] [--small N] [--large-kib K]
//                          [--small-kib K] [--rounds R] [--braid PATH]
// Prints one JSON object on stdout.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_data.h"
#include "blob/attachments.h"
#include "blob/blob_store.h"
#include "instance/instance.h"
#include "tests/support/process.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

namespace fs = std::filesystem;
using bench::Median;
using testing::BraidServer;
using testing::RunResult;

void Die(const std::string& what) {
  std::fprintf(stderr, "attachments_bench: %s\n", what.c_str());
  std::exit(1);
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

RunResult Must(const std::vector<std::string>& argv) {
  RunResult r = testing::Run(argv);
  if (r.exit_code != 0) Die(argv[0] + " failed (" + std::to_string(r.exit_code) + "): " + r.err);
  return r;
}

RunResult Braid(const std::string& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {testing::BraidBin(), "--data", dir};
  argv.insert(argv.end(), args.begin(), args.end());
  return Must(argv);
}

void Flush() { ::sync(); }

// Distinct bytes for file `i`.
std::string FileBytes(size_t size, uint64_t i) {
  std::mt19937_64 rng(i * 7919 + 1);
  std::string s(size, '\0');
  for (size_t at = 0; at < size; at += 8) {
    const uint64_t v = rng();
    std::memcpy(s.data() + at, &v, std::min<size_t>(8, size - at));
  }
  return s;
}

// The upstream instance with `large` + `small` records, one attachment
// each, and the same files under `files`.
uint64_t MakeUpstream(const std::string& dir, const std::string& files, size_t large,
                      size_t large_bytes, size_t small, size_t small_bytes) {
  auto inst = Instance::Init(dir);
  if (!inst.ok()) Die(inst.status().ToString());
  auto blobs = blob::BlobStore::Open(dir + "/blobs");
  if (!blobs.ok()) Die(blobs.status().ToString());
  if (!(*blobs)->BeginBatch().ok()) Die("batch");
  fs::create_directories(files + "/large");
  fs::create_directories(files + "/small");
  uint64_t total = 0;
  std::unique_ptr<WriteTransaction> txn;
  for (size_t i = 0; i < large + small; ++i) {
    if (i % 1000 == 0) {
      if (txn && !txn->Commit().ok()) Die("commit");
      txn = std::move(*(*inst)->store().BeginWrite());
    }
    const bool is_large = i < large;
    const std::string bytes = FileBytes(is_large ? large_bytes : small_bytes, i);
    const std::string name = std::to_string(i) + ".bin";
    std::ofstream(files + (is_large ? "/large/" : "/small/") + name, std::ios::binary) << bytes;
    auto w = (*blobs)->Create(bytes.size());
    if (!w.ok() || !(*w)->Append(bytes).ok()) Die("blob write");
    auto info = (*w)->Commit({}, blob::Sync::kDeferred);
    if (!info.ok()) Die(info.status().ToString());
    blob::Attachment a;
    a.name = name;
    a.sha256 = info->sha256;
    a.md5 = info->md5;
    a.size = info->size;
    const std::string body = blob::BodyWithAttachments(R"({"title":"file )" + name + "\"}", {a});
    PutRequest req;
    req.collection = is_large ? "scans" : "notes";
    req.id = "r" + std::to_string(i);
    req.body = body;
    req.attachments = PutRequest::AttachmentsMode::kSet;
    if (auto r = txn->Put(req); !r.ok()) Die(r.status().ToString());
    total += bytes.size();
  }
  if (!txn->Commit().ok()) Die("commit");
  if (!(*blobs)->EndBatch().ok()) Die("end batch");
  return total;
}

// [1.234,5.678]
std::string List(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.3f", i == 0 ? "" : ",", v[i]);
    out += buf;
  }
  return out + "]";
}

uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    Die("no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

int Main(int argc, char** argv) {
  size_t large = 1000, small = 10'000, large_kib = 1024, small_kib = 4, rounds = 2;
  std::string braid, only;
  bench::Flags("attachments_bench",
               "The first attachments sync of a mirror against cp -r + sync and an rsync\n"
               "daemon on loopback, the resync with nothing changed, and peak RSS.\n"
               "Prints one JSON object (bench/README.md).")
      .Count("large", &large, "large files (records with one attachment each)", 0)
      .Count("large-kib", &large_kib, "size of a large file, KiB")
      .Count("small", &small, "small files", 0)
      .Count("small-kib", &small_kib, "size of a small file, KiB")
      .Count("rounds", &rounds, "first syncs of each kind; medians are reported")
      .Text("braid", &braid, "the braid binary (default: $BRAID_BIN, else ./braid)", "PATH")
      .Text("only", &only, "time only this way of copying (for profiles)", "KIND",
            {"braid", "cp", "rsync"})
      .Parse(argc, argv);
  if (!braid.empty()) setenv("BRAID_BIN", braid.c_str(), 1);
  if (large + small == 0) Die("no files: give --large or --small");

  testing::TempDir dir;
  const std::string up_dir = dir.File("up"), files = dir.File("files");
  const uint64_t bytes =
      MakeUpstream(up_dir, files, large, large_kib * 1024, small, small_kib * 1024);
  const size_t count = large + small;
  const std::string token =
      testing::LastLine(Braid(up_dir, {"token", "create", "mirror", "--role", "reader"}).out);
  auto up = BraidServer::Start(up_dir);
  if (!up.ok()) Die(up.status().ToString());

  // The rsync daemon, serving the same files read-only.
  const uint16_t port = FreePort();
  const std::string conf = dir.File("rsyncd.conf");
  std::ofstream(conf) << "use chroot = no\npid file = " << dir.File("rsyncd.pid")
                      << "\n[files]\npath = " << files << "\nread only = yes\n";
  auto rsyncd =
      testing::Process::Start({"/usr/bin/rsync", "--daemon", "--no-detach", "--address=127.0.0.1",
                               "--port=" + std::to_string(port), "--config=" + conf},
                              dir.File("rsyncd.log"));
  if (!rsyncd.ok()) Die(rsyncd.status().ToString());
  for (int i = 0; i < 100; ++i) {  // until it listens
    if (testing::Run({"/usr/bin/rsync", "rsync://127.0.0.1:" + std::to_string(port) + "/"})
            .exit_code == 0) {
      break;
    }
    usleep(50'000);
  }

  // Nothing is deleted while copies are timed: ext4 (without a journal,
  // as on this machine) skips inodes freed in the last 30 seconds when it
  // allocates new ones, scanning past each of them, so a copy right after
  // another's tree was deleted pays for it (measured: 11,000 creates went
  // from 0.24 s to 4.9 s). The copies stay until the end, and the timing
  // starts 31 s after this program deleted or wrote anything.
  std::vector<std::string> copies;
  std::this_thread::sleep_for(std::chrono::seconds(31));
  int n = 0;
  long sync_rss_kib = 0;
  std::string mirror;  // the last mirror, kept for the resyncs
  auto run = [&](const std::string& kind) {
    const std::string to = dir.File(kind + "-" + std::to_string(++n));
    if (kind == "braid") {
      Braid(to, {"init", "--no-admin"});
      Braid(to, {"remote", "add", "up", (*up)->url(), "--direction", "pull", "--token", token});
    }
    Flush();
    const auto start = std::chrono::steady_clock::now();
    if (kind == "cp") {
      Must({"/bin/sh", "-c", "cp -r '" + files + "' '" + to + "' && sync"});
    } else if (kind == "rsync") {
      Must(
          {"/bin/sh", "-c",
           "rsync -a rsync://127.0.0.1:" + std::to_string(port) + "/files/ '" + to + "/' && sync"});
    } else {
      const RunResult r = Braid(to, {"--json", "sync", "up"});
      if (r.out.find("\"fetched\":" + std::to_string(count)) == std::string::npos) {
        Die("the mirror did not fetch every file: " + r.out);
      }
      sync_rss_kib = std::max(sync_rss_kib, r.max_rss_kib);
    }
    const double s = Seconds(start);
    if (kind == "braid") mirror = to;
    copies.push_back(to);
    return s;
  };

  const std::vector<std::string> kinds = {"cp", "rsync", "braid"};
  std::vector<std::vector<double>> seconds(kinds.size());
  for (size_t round = 0; round < rounds; ++round) {
    for (size_t k = 0; k < kinds.size(); ++k) {
      const size_t i = (k + round) % kinds.size();
      if (!only.empty() && kinds[i] != only) {
        seconds[i].push_back(0);
        continue;
      }
      seconds[i].push_back(run(kinds[i]));
    }
  }

  // Resyncs of the last mirror with nothing changed: the step alone, the
  // whole sync, and a full comparison of every attachment.
  auto timed = [&](const std::vector<std::string>& args) {
    std::vector<double> s;
    for (int i = 0; i < 5; ++i) {
      const auto start = std::chrono::steady_clock::now();
      const RunResult r = Braid(mirror, args);
      s.push_back(Seconds(start));
      if (r.out.find("\"fetched\":0") == std::string::npos) Die("a resync fetched: " + r.out);
      sync_rss_kib = std::max(sync_rss_kib, r.max_rss_kib);
    }
    return Median(s);
  };
  double resync_step = 0, resync_all = 0, resync_full = 0;  // 0: not run (--only)
  if (!mirror.empty()) {
    resync_step = timed({"--json", "sync", "up", "attachments"});
    resync_all = timed({"--json", "sync", "up"});
    resync_full = timed({"--json", "sync", "up", "attachments", "--full"});
  }
  const long server_rss_kib = testing::PeakRssKib((*up)->process().pid());

  const double cp_s = Median(seconds[0]), rsync_s = Median(seconds[1]),
               braid_s = Median(seconds[2]);
  const double mib = static_cast<double>(bytes) / (1 << 20);
  std::printf(
      "{\"bench\":\"attachments\",\"files\":%zu,\"bytes\":%llu,\"rounds\":%zu,"
      "\"first_sync\":{\"braid_s\":%.3f,\"cp_sync_s\":%.3f,\"rsync_daemon_sync_s\":%.3f,"
      "\"braid_mib_s\":%.1f,\"cp_sync_mib_s\":%.1f,\"rsync_daemon_sync_mib_s\":%.1f,"
      "\"braid_vs_cp\":%.3f,\"braid_vs_rsync\":%.3f},"
      "\"resync_unchanged\":{\"attachments_step_s\":%.3f,\"whole_sync_s\":%.3f,"
      "\"full_compare_s\":%.3f},"
      "\"samples_s\":{\"braid\":%s,\"cp_sync\":%s,\"rsync_daemon_sync\":%s},"
      "\"peak_rss_mib\":{\"sync\":%.1f,\"server\":%.1f},"
      "\"goals\":{\"braid_vs_cp_min\":0.7,\"braid_vs_rsync_min\":1.0,\"resync_max_s\":0.3,"
      "\"rss_max_mib\":128}}\n",
      count, static_cast<unsigned long long>(bytes), rounds, braid_s, cp_s, rsync_s, mib / braid_s,
      mib / cp_s, mib / rsync_s, cp_s / braid_s, rsync_s / braid_s, resync_step, resync_all,
      resync_full, List(seconds[2]).c_str(), List(seconds[0]).c_str(), List(seconds[1]).c_str(),
      sync_rss_kib / 1024.0, server_rss_kib / 1024.0);
  for (const auto& c : copies) fs::remove_all(c);
  (*rsyncd)->Signal(SIGTERM);
  (void)(*up)->Stop();
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
