// A mirror's sync steps against a real upstream `braid serve`: the cache
// step (replication) brings the records, the attachments step their files;
// after changes and deletes upstream the steps bring the mirror in line and
// orphans go; a step killed mid-file resumes with Range and fetches no
// complete file again; each bad input (bytes that do not match their hash,
// a blob the upstream lacks, bad credentials, a second sync at once) gets
// its clear error and leaves nothing behind.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "http/client.h"
#include "tests/support/bytes.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::RandomBytes;
using testing::RunResult;
using testing::Sha256Hex;
using testing::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class MirrorStepsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    c_.Add("up");
    c_.Add("mirror", /*serve=*/false);
    ASSERT_EQ(c_.Link("mirror", "up", {"--direction", "pull"}).exit_code, 0);
  }

  // Attaches `bytes` as `name` to up's record books/ID (made when new).
  void Attach(const std::string& id, const std::string& name, const std::string& bytes) {
    if (c_.Cli("up", {"get", "books", id}).exit_code != 0) {
      ASSERT_EQ(c_.Cli("up", {"put", "books", id, "-"}, R"({"title":")" + id + "\"}").exit_code, 0);
    }
    const std::string file = dir_.File("upload");
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    const RunResult r = c_.Cli("up", {"attach", "books", id, name, "--file", file});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  RunResult Sync(const std::vector<std::string>& args, const std::string& env = "") {
    std::vector<std::string> a = {"up"};
    a.insert(a.end(), args.begin(), args.end());
    return c_.Sync("mirror", a, env);
  }
  // The mirror's blob store: SHA-256 -> bytes, and whatever else is there.
  std::map<std::string, std::string> Blobs(std::vector<std::string>* others = nullptr) {
    std::map<std::string, std::string> out;
    const std::string root = c_["mirror"].dir + "/blobs";
    if (!fs::exists(root)) return out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      if (!e.is_regular_file()) continue;
      const std::string rel = fs::relative(e.path(), root).string();
      if (rel.size() == 65 && rel[2] == '/') {
        out[rel.substr(0, 2) + rel.substr(3)] = ReadAll(e.path().string());
      } else if (others != nullptr) {
        others->push_back(rel);
      }
    }
    return out;
  }
  std::string UpBlobPath(const std::string& sha) {
    return c_["up"].dir + "/blobs/" + sha.substr(0, 2) + "/" + sha.substr(2);
  }

  testing::Cluster c_;
  TempDir dir_;
};

TEST_F(MirrorStepsTest, TheStepsBringRecordsAndFilesInLineAndOrphansGo) {
  // Upstream: three records, five files, one of them attached twice.
  std::map<std::string, std::string> want;  // sha -> bytes the mirror must hold
  auto add = [&](const std::string& id, const std::string& name, const std::string& bytes) {
    Attach(id, name, bytes);
    want[Sha256Hex(bytes)] = bytes;
  };
  add("b1", "scan.pdf", RandomBytes(3 << 20, 1));
  add("b1", "notes.txt", "first notes\n");
  add("b2", "cover.png", RandomBytes(70'000, 2));
  add("b2", "same.pdf", RandomBytes(3 << 20, 1));  // the bytes of b1's scan.pdf
  add("b3", "gone-soon.bin", RandomBytes(100'000, 3));
  add("b3", "kept.bin", RandomBytes(5'000, 4));
  RunResult r = Sync({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json s = json::parse(r.out);
  EXPECT_EQ(s["received"], 3);
  EXPECT_EQ(s["attachments"]["full"], true);
  EXPECT_EQ(s["attachments"]["fetched"], 5);
  EXPECT_EQ(Blobs(), want);

  // Upstream changes: notes.txt gets new bytes, gone-soon.bin is detached,
  // b2 is deleted (same.pdf's bytes stay named by b1, cover.png's by no
  // one), a new record brings a new file.
  Attach("b1", "notes.txt", "second notes\n");
  ASSERT_EQ(c_.Cli("up", {"detach", "books", "b3", "gone-soon.bin"}).exit_code, 0);
  ASSERT_EQ(c_.Cli("up", {"delete", "books", "b2"}).exit_code, 0);
  Attach("b4", "new.txt", "a new file");
  want.erase(Sha256Hex("first notes\n"));
  want.erase(Sha256Hex(RandomBytes(100'000, 3)));
  want.erase(Sha256Hex(RandomBytes(70'000, 2)));
  want[Sha256Hex("second notes\n")] = "second notes\n";
  want[Sha256Hex("a new file")] = "a new file";

  // Each step alone: the cache step brings the records; the files wait.
  r = Sync({"cache"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["received"], 4) << r.out;
  EXPECT_EQ(Blobs().size(), 5u);
  r = Sync({"attachments"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  s = json::parse(r.out);
  EXPECT_EQ(s["full"], false);  // only the records changed since the last run
  EXPECT_EQ(s["fetched"], 2);
  EXPECT_EQ(s["removed"], 3);
  std::vector<std::string> others;
  EXPECT_EQ(Blobs(&others), want);
  EXPECT_TRUE(others.empty()) << others[0];  // no temp file, partial or marker left

  // Nothing changed: nothing compared, nothing fetched.
  r = Sync({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  s = json::parse(r.out);
  EXPECT_EQ(s["received"], 0);
  EXPECT_EQ(s["attachments"]["checked"], 0);
  EXPECT_EQ(s["attachments"]["fetched"], 0);

  // --full compares every one, and finds them all here.
  r = Sync({"attachments", "--full"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  s = json::parse(r.out);
  EXPECT_EQ(s["checked"], want.size());
  EXPECT_EQ(s["fetched"], 0);
  EXPECT_EQ(Blobs(), want);

  // The mirror serves what it fetched.
  r = c_.Cli("mirror", {"attachments", "books", "b1", "notes.txt", "-o", dir_.File("out")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadAll(dir_.File("out")), "second notes\n");

  // Each step's last run: braid status, and /api/last-sync (Kerko's); the
  // upstream never ran a step.
  r = c_.Cli("mirror", {"--json", "status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  s = json::parse(r.out);
  EXPECT_EQ(s["steps"]["cache"]["ok"], true);
  EXPECT_EQ(s["steps"]["attachments"]["ok"], true);
  EXPECT_EQ(s["steps"]["attachments"]["result"]["checked"], want.size());
  auto last_sync = [&](const std::string& node, const std::string& token) {
    auto client = http::Client::Create({});
    auto got = (*client)->Send("GET", c_[node].server->url() + "/api/last-sync", "",
                               {{"Authorization", "Bearer " + token}});
    EXPECT_TRUE(got.ok());
    EXPECT_EQ(got->status, 200) << got->body;
    return json::parse(got->body);
  };
  const std::string up_token = testing::LastLine(c_.Cli("up", {"token", "create", "t"}).out);
  EXPECT_EQ(last_sync("up", up_token), json::object());
  const std::string token = testing::LastLine(c_.Cli("mirror", {"token", "create", "t"}).out);
  auto served = testing::BraidServer::Start(c_["mirror"].dir);
  ASSERT_TRUE(served.ok()) << served.status().ToString();
  c_["mirror"].server = std::move(*served);
  const json when = last_sync("mirror", token);
  EXPECT_EQ(when["when"].get<std::string>().size(), 24u);  // 2026-12-03T22:01:47.123Z
  EXPECT_LT(when["hours_ago"].get<double>(), 0.1);
  EXPECT_EQ(when["when"].get<std::string>().back(), 'Z');
}

TEST_F(MirrorStepsTest, AStepKilledMidFileResumesWithRangeAndFetchesNoCompleteFileAgain) {
  // Two large files (one request each, written in 256 KiB pieces) and small
  // ones (fetched together, after them). With one download at a time the
  // large ones come in SHA-256 order.
  std::vector<std::string> bigs = {RandomBytes(16 << 20, 7), RandomBytes(16 << 20, 8)};
  std::sort(bigs.begin(), bigs.end(),
            [](const std::string& a, const std::string& b) { return Sha256Hex(a) < Sha256Hex(b); });
  Attach("b1", "big1.bin", bigs[0]);
  Attach("b2", "big2.bin", bigs[1]);
  std::map<std::string, std::string> smalls;
  for (uint32_t i = 0; i < 12; ++i) {
    const std::string bytes = RandomBytes(3000, 100 + i);
    smalls[Sha256Hex(bytes)] = bytes;
    Attach("s" + std::to_string(i), "small.bin", bytes);
  }
  ASSERT_EQ(Sync({"cache"}).exit_code, 0);

  // Killed (SIGKILL) at the 84th piece written: the first large file is
  // complete (at most 64 pieces), the second one partly there.
  RunResult r = Sync({"attachments", "--parallel", "1"}, "BRAID_FAILPOINTS=blob-append=84");
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  std::vector<std::string> others;
  auto held = Blobs(&others);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held.begin()->second, bigs[0]);
  const std::string partial = c_["mirror"].dir + "/blobs/partial/" + Sha256Hex(bigs[1]);
  ASSERT_TRUE(fs::exists(partial));
  const uint64_t had = fs::file_size(partial);
  EXPECT_GT(had, 0u);
  EXPECT_LT(had, bigs[1].size());

  // The next run fetches the rest of the second one (Range) and the small
  // ones: the bytes it downloads say the complete one did not come again.
  r = Sync({"attachments", "--parallel", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json s = json::parse(r.out);
  EXPECT_EQ(s["resumed"], 1);
  EXPECT_EQ(s["fetched"], 1 + 12);
  EXPECT_EQ(s["bytes"], (bigs[1].size() - had) + 12 * 3000u);
  others.clear();
  held = Blobs(&others);
  EXPECT_EQ(held.size(), 14u);
  EXPECT_EQ(held[Sha256Hex(bigs[1])], bigs[1]);
  for (const auto& [sha, bytes] : smalls) EXPECT_EQ(held[sha], bytes);
  EXPECT_TRUE(others.empty()) << others[0];
}

TEST_F(MirrorStepsTest, BadBytesMissingBlobsAndBadCredentialsLeaveNothing) {
  const std::string good = RandomBytes(50'000, 11), bad = RandomBytes(60'000, 12);
  Attach("b1", "good.bin", good);
  Attach("b2", "bad.bin", bad);
  Attach("b3", "lost.bin", "these bytes are lost upstream");
  // Upstream's copy of bad.bin rots (same size, other bytes); lost.bin's
  // bytes are gone.
  {
    std::fstream f(UpBlobPath(Sha256Hex(bad)), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f << "rot";
  }
  fs::remove(UpBlobPath(Sha256Hex("these bytes are lost upstream")));

  RunResult r = Sync({});
  EXPECT_EQ(r.exit_code, 6) << r.err;  // unavailable: try again later
  EXPECT_NE(r.err.find("2 attachment(s) could not be fetched"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("do not match"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not here yet"), std::string::npos) << r.err;
  std::vector<std::string> others;
  auto held = Blobs(&others);
  ASSERT_EQ(held.size(), 1u);  // good.bin only: nothing of the others
  EXPECT_EQ(held.begin()->second, good);
  EXPECT_TRUE(others.empty()) << others[0];
  // The failed ones are tried again by the next run (the cursor stayed).
  r = Sync({"attachments"});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.err.find("2 attachment(s)"), std::string::npos) << r.err;

  // Bad credentials end the step with exit 8; nothing is written.
  ASSERT_EQ(c_.Cli("mirror", {"remote", "add", "up", c_["up"].server->url(), "--token",
                              "not-a-token", "--direction", "pull"})
                .exit_code,
            0);
  r = Sync({"attachments", "--full"});
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_EQ(Blobs().size(), 1u);

  // One sync at a time: a held DIR/sync.lock names its holder.
  const std::string lock_path = c_["mirror"].dir + "/sync.lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  const std::string pid = std::to_string(::getpid()) + "\n";
  ASSERT_EQ(::pwrite(fd, pid.data(), pid.size(), 0), static_cast<ssize_t>(pid.size()));
  r = Sync({"cache"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("another sync of this instance is running (process " +
                       std::to_string(::getpid()) + ")"),
            std::string::npos)
      << r.err;
  // --wait waits for the holder, then syncs (and fails here on the bad
  // token, past the lock).
  auto waiting = testing::Process::Start(
      {testing::BraidBin(), "--data", c_["mirror"].dir, "sync", "up", "cache", "--wait"},
      dir_.File("wait.log"));
  ASSERT_TRUE(waiting.ok());
  EXPECT_FALSE((*waiting)->Wait(std::chrono::milliseconds(500)).ok());  // still waiting
  ::close(fd);
  auto code = (*waiting)->Wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 8) << ReadAll(dir_.File("wait.log"));
}

}  // namespace
}  // namespace braid
