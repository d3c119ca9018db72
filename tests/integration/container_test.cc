// Directory containers with real processes and real folders: a pass adds,
// changes, removes and renames; a metadata sidecar changed alone updates
// its file's record; an unreadable subfolder tombstones nothing (exit 9,
// the folder named); a file written during the pass is left for the next;
// a pass killed between a batch's records and its state rows is completed
// by the next with no new version; bad input gets exit 2 and changes
// nothing.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::RunResult;

void Write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::trunc) << text;
}

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.File("data");
    folder_ = dir_.File("folder");
    fs::create_directories(folder_);
    ASSERT_EQ(Braid({"init", "--no-admin"}).exit_code, 0);
  }
  RunResult Braid(const std::vector<std::string>& args, const std::string& env = "") {
    if (env.empty()) return testing::Braid(data_, args);
    std::vector<std::string> argv = {"/usr/bin/env", env, testing::BraidBin(), "--data", data_};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::Run(argv);
  }
  // `braid --json container sync NAME...`: its summary (or summaries).
  json Sync(const std::vector<std::string>& names, int want_exit = 0) {
    std::vector<std::string> args = {"--json", "container", "sync"};
    args.insert(args.end(), names.begin(), names.end());
    const RunResult r = Braid(args);
    EXPECT_EQ(r.exit_code, want_exit) << r.err;
    return r.out.empty() ? json() : json::parse(r.out);
  }
  // The body of record collection/id, or null when missing or deleted.
  json Get(const std::string& collection, const std::string& id) {
    const RunResult r = Braid({"--json", "get", collection, id});
    if (r.exit_code != 0) return json();
    const json rec = json::parse(r.out);
    return rec["deleted"] == true ? json() : rec["body"];
  }

  testing::TempDir dir_;
  std::string data_, folder_;
};

TEST_F(ContainerTest, APassFollowsAddsChangesRemovesRenamesAndSidecars) {
  Write(folder_ + "/2026/01/scene-a.tif", std::string(100'000, 'a'));
  Write(folder_ + "/2026/01/scene-a.tif.json",
        R"({"begin_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:10:00Z",)"
        R"("footprint":[10,40,11,41]})");
  Write(folder_ + "/2026/02/scene-b.tif", "bbbb");
  Write(folder_ + "/2026/02/scene-b.tif.json",
        "begin_time = 2026-02-01T00:00:00Z\nend_time = 2026-02-01T00:10:00Z\n"
        "footprint = 12, 39, 13, 40\n");
  Write(folder_ + "/notes.txt", "not a scene");
  Write(folder_ + "/caf\xe9 100%.tif", "latin-1 name");
  ASSERT_EQ(Braid({"container", "add", "scenes", "--dir", folder_, "--glob", "*.tif", "--metadata",
                   "json"})
                .exit_code,
            0);
  json s = Sync({"scenes"});
  EXPECT_EQ(s["added"], 3) << s;
  EXPECT_EQ(s["failed"], 0);
  const json a = Get("scenes", "2026/01/scene-a.tif");
  ASSERT_FALSE(a.is_null());
  EXPECT_EQ(a["size"], 100'000);
  EXPECT_EQ(a["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(a["md5"].get<std::string>().size(), 32u);
  EXPECT_EQ(a["metadata"]["end_time"], "2026-01-01T00:10:00Z");
  EXPECT_EQ(Get("scenes", "caf%E9 100%25.tif")["path"], "caf%E9 100%25.tif");
  EXPECT_TRUE(Get("scenes", "notes.txt").is_null());
  json summary = Get("scenes", "%%container");
  EXPECT_EQ(summary["files"], 3);
  EXPECT_EQ(summary["bytes"], 100'000 + 4 + 12);
  EXPECT_EQ(summary["begin_time"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(summary["end_time"], "2026-02-01T00:10:00Z");
  EXPECT_EQ(summary["footprint"], json::parse("[10,39,13,41]"));

  // Nothing changed: nothing read, nothing written.
  s = Sync({"scenes"});
  EXPECT_EQ(s["unchanged"], 3);
  EXPECT_EQ(s["bytes_read"], 0);

  // A change, a removal, a rename, and a sidecar changed alone (which
  // EOxServer misses).
  Write(folder_ + "/2026/02/scene-b.tif", "bbbb, longer");
  fs::remove(folder_ + "/caf\xe9 100%.tif");
  fs::rename(folder_ + "/2026/01/scene-a.tif", folder_ + "/2026/01/scene-a2.tif");
  fs::rename(folder_ + "/2026/01/scene-a.tif.json", folder_ + "/2026/01/scene-a2.tif.json");
  Write(folder_ + "/2026/02/scene-b.tif.json",
        "begin_time = 2025-12-31T00:00:00Z\nend_time = 2026-02-01T00:10:00Z\n");
  s = Sync({"scenes"});
  EXPECT_EQ(s["added"], 1) << s;    // scene-a2
  EXPECT_EQ(s["updated"], 1) << s;  // scene-b (bytes and metadata)
  EXPECT_EQ(s["removed"], 2) << s;  // scene-a, the Latin-1 one
  EXPECT_TRUE(Get("scenes", "2026/01/scene-a.tif").is_null());
  EXPECT_EQ(Get("scenes", "2026/01/scene-a2.tif")["sha256"], a["sha256"]);
  EXPECT_EQ(Get("scenes", "2026/02/scene-b.tif")["metadata"]["begin_time"], "2025-12-31T00:00:00Z");
  summary = Get("scenes", "%%container");
  EXPECT_EQ(summary["files"], 2);
  EXPECT_EQ(summary["begin_time"], "2025-12-31T00:00:00Z");

  // Only the sidecar changes.
  Write(folder_ + "/2026/01/scene-a2.tif.json", R"({"begin_time":"2026-01-02T00:00:00Z"})");
  s = Sync({"scenes"});
  EXPECT_EQ(s["updated"], 1) << s;
  EXPECT_EQ(Get("scenes", "2026/01/scene-a2.tif")["metadata"],
            json::parse(R"({"begin_time":"2026-01-02T00:00:00Z"})"));
}

TEST_F(ContainerTest, AnUnreadableFolderTombstonesNothing) {
  Write(folder_ + "/open/a.dat", "a");
  Write(folder_ + "/closed/b.dat", "b");
  Write(folder_ + "/closed/deeper/c.dat", "c");
  ASSERT_EQ(Braid({"container", "add", "files", "--dir", folder_}).exit_code, 0);
  EXPECT_EQ(Sync({"files"})["added"], 3);
  ASSERT_EQ(::chmod((folder_ + "/closed").c_str(), 0), 0);
  Write(folder_ + "/open/d.dat", "d");
  // Root reads every folder whatever its mode: run the pass without the
  // capabilities that allow it, as any other user would be.
  std::vector<std::string> argv;
  if (::geteuid() == 0) {
    argv = {"/usr/bin/setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"};
  }
  argv.insert(argv.end(),
              {testing::BraidBin(), "--data", data_, "--json", "container", "sync", "files"});
  const RunResult r = testing::Run(argv);
  ::chmod((folder_ + "/closed").c_str(), 0755);
  EXPECT_EQ(r.exit_code, 9) << r.err;  // partial
  EXPECT_NE(r.err.find("closed/"), std::string::npos) << r.err;
  const json s = json::parse(r.out);
  EXPECT_EQ(s["added"], 1);
  EXPECT_EQ(s["removed"], 0);
  EXPECT_EQ(s["failed"], 1);
  EXPECT_EQ(s["errors"][0]["path"], "closed/");
  EXPECT_EQ(Get("files", "closed/b.dat")["size"], 1);
  EXPECT_EQ(Get("files", "closed/deeper/c.dat")["size"], 1);
  // Readable again: nothing to do there.
  const json again = Sync({"files"});
  EXPECT_EQ(again["unchanged"], 4);
}

TEST_F(ContainerTest, AFileWrittenDuringThePassIsLeftForTheNext) {
  Write(folder_ + "/steady.dat", "steady");
  Write(folder_ + "/growing.log", std::string(64 << 20, 'g'));
  ASSERT_EQ(Braid({"container", "add", "logs", "--dir", folder_}).exit_code, 0);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::ofstream out(folder_ + "/growing.log", std::ios::app);
    while (!stop) {
      out << std::string(4096, 'x') << std::flush;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  const json s = Sync({"logs"}, /*want_exit=*/9);
  stop = true;
  writer.join();
  EXPECT_EQ(s["added"], 1) << s;
  EXPECT_EQ(s["failed"], 1) << s;
  EXPECT_EQ(s["errors"][0]["path"], "growing.log");
  EXPECT_TRUE(Get("logs", "growing.log").is_null());  // not recorded half
  const json next = Sync({"logs"});
  EXPECT_EQ(next["added"], 1);
  EXPECT_EQ(Get("logs", "growing.log")["size"], fs::file_size(folder_ + "/growing.log"));
}

TEST_F(ContainerTest, APassKilledMidwayIsCompletedByTheNext) {
  for (int i = 0; i < 2500; ++i) Write(folder_ + "/f" + std::to_string(i), std::to_string(i));
  ASSERT_EQ(Braid({"container", "add", "many", "--dir", folder_}).exit_code, 0);
  // Killed after the second batch's records committed, before its state.
  const RunResult killed =
      Braid({"--json", "container", "sync", "many"}, "BRAID_FAILPOINTS=container-state=2");
  EXPECT_NE(killed.exit_code, 0);
  // A file of the second batch (files go in path order): its record was
  // written, its state row was not.
  std::vector<std::string> names;
  for (int i = 0; i < 2500; ++i) names.push_back("f" + std::to_string(i));
  std::sort(names.begin(), names.end());
  auto version = [&](const std::string& id) {
    const RunResult r = Braid({"--json", "get", "many", id});
    return r.exit_code == 0 ? json::parse(r.out)["version"].get<std::string>() : "";
  };
  const std::string before = version(names[1500]);
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(version(names[2100]), "");  // the third batch never came
  json s = Sync({"many"});
  EXPECT_EQ(s["added"], 500) << s;       // the third batch
  EXPECT_EQ(s["unchanged"], 2000) << s;  // 1,000 by their state, 1,000 read again
  EXPECT_EQ(s["failed"], 0);
  EXPECT_EQ(version(names[1500]), before);  // read again, no new version
  s = Sync({"many"});
  EXPECT_EQ(s["unchanged"], 2500);
  EXPECT_EQ(Get("many", "%%container")["files"], 2500);
}

TEST_F(ContainerTest, WatchPassesWhenTheDiskChanges) {
  Write(folder_ + "/old.dat", "old");
  ASSERT_EQ(Braid({"container", "add", "w", "--dir", folder_}).exit_code, 0);
  auto watch = testing::Process::Start(
      {testing::BraidBin(), "--data", data_, "--json", "container", "watch", "w"},
      dir_.File("watch.log"));
  ASSERT_TRUE(watch.ok());
  // The next pass that did `what` (a slow machine may split one change's
  // events over two passes).
  auto until = [&](const char* key, int count) {
    json s;
    for (int seen = 0; seen < count;) {
      auto line = (*watch)->ReadLine(std::chrono::seconds(10));
      if (!line.ok()) {
        ADD_FAILURE() << "no pass with " << key << " after 10 s";
        return s;
      }
      s = json::parse(*line);
      seen += s[key].get<int>();
    }
    return s;
  };
  until("added", 1);  // the first pass
  // A new file, in a folder made after the watch began, then a removal:
  // each seen by a pass of its own (the time is printed, not asserted).
  const auto start = std::chrono::steady_clock::now();
  Write(folder_ + "/new/deeper/a.dat", "a");
  until("added", 1);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("watch: a new file's pass ended %.3f s after it was written\n", took);
  Write(folder_ + "/new/deeper/b.dat", "b");
  until("added", 1);
  fs::remove(folder_ + "/old.dat");
  until("removed", 1);
  EXPECT_TRUE(Get("w", "old.dat").is_null());
  EXPECT_EQ(Get("w", "new/deeper/b.dat")["size"], 1);
  // Passes look at what the events named, not the tree: a change in place
  // is one file read, nothing else counted.
  Write(folder_ + "/new/deeper/a.dat", "a, changed");
  json s = until("updated", 1);
  EXPECT_EQ(s["unchanged"], 0) << s;
  EXPECT_EQ(s["bytes_read"], 10) << s;
  // A folder moved: its files leave one place and appear in the other.
  fs::rename(folder_ + "/new", folder_ + "/moved");
  s = until("added", 2);
  EXPECT_EQ(Get("w", "moved/deeper/a.dat")["size"], 10);
  EXPECT_TRUE(Get("w", "new/deeper/a.dat").is_null());
  EXPECT_TRUE(Get("w", "new/deeper/b.dat").is_null());
  // And the watch goes on in the moved folder.
  Write(folder_ + "/moved/deeper/c.dat", "c");
  until("added", 1);
  EXPECT_EQ(Get("w", "moved/deeper/c.dat")["size"], 1);
  // A full pass now finds nothing left to do.
  const RunResult full = Braid({"--json", "container", "sync", "w", "--wait"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_EQ(json::parse(full.out)["unchanged"], 3) << full.out;
  (*watch)->Signal(SIGTERM);
  auto code = (*watch)->Wait(std::chrono::seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

// --content blobs: the files' bytes go to the blob store as each record's
// attachment "content"; a mirror's sync brings records and bytes.
TEST(ContainerBlobsTest, AContainersFilesReplicateWithTheirBytes) {
  testing::Cluster c;
  c.Add("up");
  c.Add("down", /*serve=*/false);
  ASSERT_EQ(c.Link("down", "up", {"--direction", "pull"}).exit_code, 0);
  const std::string folder = c["up"].dir + "-folder";
  Write(folder + "/a/one.bin", std::string(300'000, '1'));
  Write(folder + "/two.txt", "two");
  ASSERT_EQ(
      c.Cli("up", {"container", "add", "files", "--dir", folder, "--content", "blobs"}).exit_code,
      0);
  RunResult r = c.Cli("up", {"--json", "container", "sync", "files"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["added"], 2);
  r = c.Cli("up", {"--json", "get", "files", "a/one.bin"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json content = json::parse(r.out)["body"]["_attachments"]["content"];
  EXPECT_EQ(content["size"], 300'000);
  const std::string sha = content["sha256"];
  ASSERT_EQ(sha, json::parse(r.out)["body"]["sha256"]);
  auto blob_of = [&](const std::string& node) {
    std::ifstream in(c[node].dir + "/blobs/" + sha.substr(0, 2) + "/" + sha.substr(2));
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(blob_of("up"), std::string(300'000, '1'));
  r = c.Sync("down", {"up"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["attachments"]["fetched"], 2) << r.out;
  EXPECT_EQ(blob_of("down"), std::string(300'000, '1'));
  // Too large for the blob store's limit: named, the rest done (exit 9).
  ASSERT_TRUE(testing::SetConfig(c["up"].dir, "max_attachment_bytes", "100000").ok());
  Write(folder + "/two.txt", "two, changed");
  Write(folder + "/big.bin", std::string(200'000, 'b'));
  r = c.Cli("up", {"--json", "container", "sync", "files"});
  EXPECT_EQ(r.exit_code, 9) << r.err;
  EXPECT_EQ(json::parse(r.out)["updated"], 1) << r.out;
  EXPECT_NE(r.err.find("big.bin"), std::string::npos) << r.err;
}

// checkout on a mirror: the same files byte for byte (diff -r), later
// changes and removals followed, a file changed there kept and listed.
TEST(ContainerCheckoutTest, AMirrorChecksOutTheFilesAndFollowsThem) {
  testing::Cluster c;
  c.Add("up");
  c.Add("down", /*serve=*/false);
  ASSERT_EQ(c.Link("down", "up", {"--direction", "pull"}).exit_code, 0);
  const std::string folder = c["up"].dir + "-folder", out = c["down"].dir + "-checkout";
  Write(folder + "/2026/01/a.tif", std::string(200'000, 'a'));
  Write(folder + "/2026/02/b.tif", "b");
  Write(folder + "/caf\xe9 100%.txt", "latin-1 name");
  Write(folder + "/gone.txt", "soon removed");
  ASSERT_EQ(
      c.Cli("up", {"container", "add", "files", "--dir", folder, "--content", "blobs"}).exit_code,
      0);
  auto pass_and_sync = [&] {
    RunResult r = c.Cli("up", {"container", "sync", "files"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = c.Sync("down", {"up"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  auto checkout = [&](std::vector<std::string> args, int want) {
    args.insert(args.begin(), {"--json", "container", "checkout", "files"});
    const RunResult r = c.Cli("down", args);
    EXPECT_EQ(r.exit_code, want) << r.err;
    return r.out.empty() ? json() : json::parse(r.out);
  };
  auto same = [&] {
    const RunResult d = testing::Run({"/usr/bin/diff", "-r", folder, out});
    EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  };
  pass_and_sync();
  json s = checkout({"--dir", out}, 0);
  EXPECT_EQ(s["written"], 4) << s;
  same();
  EXPECT_EQ(fs::last_write_time(out + "/2026/01/a.tif"),
            fs::last_write_time(folder + "/2026/01/a.tif"));  // mtime kept
  EXPECT_EQ(checkout({}, 0)["written"], 0);                   // nothing new

  // Later: a change, a removal, an addition upstream.
  Write(folder + "/2026/02/b.tif", "b, changed");
  fs::remove(folder + "/gone.txt");
  Write(folder + "/2026/03/c.tif", "c");
  pass_and_sync();
  s = checkout({}, 0);
  EXPECT_EQ(s["written"], 2) << s;
  EXPECT_EQ(s["removed"], 1) << s;
  same();

  // Changed here, and upstream: kept here and listed (exit 9) on every run
  // until resolved; the other files go on.
  Write(out + "/2026/02/b.tif", "local edit");
  Write(folder + "/2026/02/b.tif", "b, changed again");
  Write(folder + "/2026/03/c.tif", "c, changed");
  pass_and_sync();
  s = checkout({}, 9);
  EXPECT_EQ(s["conflict_count"], 1) << s;
  EXPECT_EQ(s["conflicts"][0]["path"], "2026/02/b.tif");
  EXPECT_EQ(s["written"], 1) << s;
  std::ifstream kept(out + "/2026/02/b.tif");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>()),
            "local edit");
  EXPECT_EQ(checkout({}, 9)["conflict_count"], 1);
  fs::remove(out + "/2026/02/b.tif");  // resolved: the local edit dropped
  s = checkout({}, 0);
  EXPECT_EQ(s["written"], 1) << s;
  same();

  // Records naming paths outside the folder (a hostile peer's): named as
  // errors (exit 9), nothing written anywhere, the other files untouched.
  for (const auto& [id, path] : std::vector<std::pair<std::string, std::string>>{
           {"evil1", "../escape.txt"}, {"evil2", "/tmp/escape.txt"}, {"evil3", "a/%2E%2E/x"}}) {
    ASSERT_EQ(c.Cli("down", {"put", "files", id, "-"},
                    R"({"container":"files","path":")" + path + R"("})")
                  .exit_code,
              0);
  }
  s = checkout({}, 9);
  EXPECT_EQ(s["error_count"], 3) << s;
  EXPECT_EQ(s["written"], 0) << s;
  EXPECT_FALSE(fs::exists(c["down"].dir + "-checkout/../escape.txt"));
  EXPECT_FALSE(fs::exists(fs::path(out).parent_path() / "escape.txt"));
  same();
  for (const char* id : {"evil1", "evil2", "evil3"}) {
    ASSERT_EQ(c.Cli("down", {"delete", "files", id}).exit_code, 0);
  }
  EXPECT_EQ(checkout({}, 0)["error_count"], 0);

  // Bad input: another folder for the same checkout, none at all.
  EXPECT_EQ(checkout({"--dir", c["down"].dir + "-elsewhere"}, 2), json());
  EXPECT_EQ(c.Cli("down", {"container", "checkout", "nothing"}).exit_code, 3);
}

TEST_F(ContainerTest, BadInputIsRefusedAndChangesNothing) {
  EXPECT_EQ(Braid({"container", "add", "Bad Name", "--dir", folder_}).exit_code, 2);
  EXPECT_EQ(Braid({"container", "add", "x", "--dir", dir_.File("missing")}).exit_code, 2);
  EXPECT_EQ(Braid({"container", "add", "x", "--dir", folder_, "--glob", "/abs/*"}).exit_code, 2);
  EXPECT_EQ(Braid({"container", "add", "x", "--dir", folder_, "--metadata", "a/b"}).exit_code, 2);
  EXPECT_EQ(Braid({"container", "sync", "nope"}).exit_code, 3);
  EXPECT_EQ(Braid({"container", "sync"}).exit_code, 2);
  EXPECT_EQ(Braid({"container", "show", "nope"}).exit_code, 3);
  EXPECT_EQ(Braid({"container", "remove", "nope"}).exit_code, 3);
  ASSERT_EQ(Braid({"container", "add", "x", "--dir", folder_}).exit_code, 0);
  EXPECT_EQ(Braid({"container", "add", "x", "--dir", folder_}).exit_code, 4);
  // The folder goes away (an unmounted disk): no record is tombstoned.
  Write(folder_ + "/a", "a");
  EXPECT_EQ(Sync({"x"})["added"], 1);
  fs::rename(folder_, dir_.File("moved"));
  const RunResult r = Braid({"container", "sync", "x"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("no record was changed"), std::string::npos) << r.err;
  EXPECT_FALSE(Get("x", "a").is_null());
  // --all goes over every container, one summary each.
  fs::rename(dir_.File("moved"), folder_);
  fs::create_directories(dir_.File("other"));
  ASSERT_EQ(Braid({"container", "add", "y", "--dir", dir_.File("other")}).exit_code, 0);
  const RunResult all = Braid({"--json", "container", "sync", "--all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(json::parse(all.out).size(), 2u);
  ASSERT_EQ(Braid({"container", "remove", "x"}).exit_code, 0);
  EXPECT_FALSE(Get("x", "a").is_null());  // its records stay
}

}  // namespace
}  // namespace braid
