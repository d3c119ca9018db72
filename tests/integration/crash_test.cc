// Crash test: a client writes batches to `braid serve` in a loop while the
// server is killed with SIGKILL at random moments. After every restart:
//   - every acknowledged batch is fully present;
//   - the batch in flight at the kill is either fully present or absent;
//   - the delta feed from the start has every seq from 1 to the last, once.
// BRAID_CRASH_ROUNDS overrides the number of kills (default 24).

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "http/client.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using nlohmann::json;

constexpr int kBatchSize = 40;

std::string BatchBody(int batch) {
  std::string body = R"({"records":[)";
  for (int i = 0; i < kBatchSize; ++i) {
    if (i > 0) body += ",";
    body += R"({"collection":"crash","id":"b)" + std::to_string(batch) + "-" + std::to_string(i) +
            R"(","body":{"batch":)" + std::to_string(batch) + R"(,"i":)" + std::to_string(i) +
            R"(,"pad":"0123456789012345678901234567890123456789"}})";
  }
  return body + "]}";
}

// Reads the whole feed from the start: seq of each item, and ids per batch.
struct Feed {
  std::vector<uint64_t> seqs;
  std::map<int, int> per_batch;  // batch -> records present
};

Feed ReadFeed(http::Client& client, const std::string& url) {
  Feed feed;
  std::string cursor;
  for (;;) {
    auto r =
        client.Get(url + "/api/v1/delta?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
    EXPECT_TRUE(r.ok() && r->status == 200);
    if (!r.ok() || r->status != 200) return feed;
    const json page = json::parse(r->body);
    for (const auto& item : page["items"]) {
      feed.seqs.push_back(item["seq"]);
      EXPECT_EQ(item["type"], "create");
      feed.per_batch[item["record"]["body"]["batch"].get<int>()]++;
    }
    cursor = page["cursor"];
    if (!page["has_more"]) return feed;
  }
}

TEST(CrashTest, KilledServersKeepEveryAcknowledgedBatch) {
  const char* env = std::getenv("BRAID_CRASH_ROUNDS");
  const int rounds = env != nullptr ? std::atoi(env) : 24;
  testing::TempDir dir;
  auto started = testing::BraidServer::Start(dir.File("data"));
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto& server = *started;
  std::mt19937 rng(std::random_device{}());
  std::set<int> acknowledged;
  int next_batch = 0;
  int kills_mid_batch = 0;

  for (int round = 0; round < rounds; ++round) {
    std::atomic<bool> stop{false};
    std::atomic<int> in_flight{-1};
    std::vector<int> acked_now;
    const std::string url = server->url();
    auto writer_client = server->AdminClient();
    std::thread writer([&] {
      auto& client = writer_client;
      while (!stop) {
        const int batch = next_batch++;
        in_flight = batch;
        auto r = client->Post(url + "/api/v1/batch", BatchBody(batch));
        if (!r.ok()) return;  // the server is gone: this batch is unacknowledged
        ASSERT_EQ(r->status, 200) << r->body;
        acked_now.push_back(batch);
        in_flight = -1;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 250));
    server->Kill();
    stop = true;
    writer.join();
    const int unacked = in_flight.load();
    if (unacked >= 0) ++kills_mid_batch;
    acknowledged.insert(acked_now.begin(), acked_now.end());

    ASSERT_TRUE(server->Restart().ok()) << server->LogTail();
    auto client = server->AdminClient();
    const Feed feed = ReadFeed(*client, server->url());
    for (size_t i = 0; i < feed.seqs.size(); ++i) {
      ASSERT_EQ(feed.seqs[i], i + 1) << "gap in the delta feed after round " << round;
    }
    for (int b : acknowledged) {
      auto it = feed.per_batch.find(b);
      ASSERT_TRUE(it != feed.per_batch.end() && it->second == kBatchSize)
          << "acknowledged batch " << b << " is not fully present after round " << round;
    }
    for (const auto& [b, n] : feed.per_batch) {
      ASSERT_EQ(n, kBatchSize) << "batch " << b << " is half present after round " << round;
      if (!acknowledged.count(b)) {
        // Committed but killed before the answer: it may stay, and counts
        // as acknowledged from now on (its ids are never reused).
        ASSERT_EQ(b, unacked) << "batch " << b << " appeared without being sent";
        acknowledged.insert(b);
      }
    }
  }
  RecordProperty("kills", rounds);
  RecordProperty("kills_mid_batch", kills_mid_batch);
  RecordProperty("batches_acknowledged", static_cast<int>(acknowledged.size()));
  std::printf("crash test: %d kills (%d during a batch), %zu batches of %d acknowledged\n", rounds,
              kills_mid_batch, acknowledged.size(), kBatchSize);
  EXPECT_GT(acknowledged.size(), static_cast<size_t>(rounds));
  auto code = server->Stop();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

std::string InstanceOf(const testing::BraidServer& server) {
  auto client = server.AdminClient();
  auto r = client->Get(server.url() + "/api/v1/info");
  EXPECT_TRUE(r.ok() && r->status == 200);
  return r.ok() ? json::parse(r->body)["instance_id"].get<std::string>() : "";
}

void Put(const testing::BraidServer& server, const std::string& id) {
  auto client = server.AdminClient();
  auto r = client->Put(server.url() + "/api/v1/collections/c/records/" + id, R"({"body":{"v":1}})");
  ASSERT_TRUE(r.ok() && r->status == 201) << (r.ok() ? r->body : r.status().ToString());
}

// Commits at durability normal may be lost to a power cut after peers saw
// their versions: after a reboot (another boot id) the store continues
// under a new instance id, so none of those names is issued again. A
// killed process on a machine that stayed up loses nothing, and a clean
// stop syncs: neither renews the identity. (tests/powercut checks the
// versions themselves.)
TEST(CrashTest, OnlyARebootAfterUnsyncedCommitsRenewsTheIdentity) {
  testing::TempDir dir;
  const std::string data = dir.File("data");
  ASSERT_EQ(testing::Braid(data, {"init"}).exit_code, 0);
  ASSERT_TRUE(testing::SetConfig(data, "durability", "\"normal\"").ok());
  auto started = testing::BraidServer::Start(data);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto& server = *started;
  ASSERT_TRUE(server->Restart("BRAID_BOOT_ID=boot-1").ok());
  const std::string first = InstanceOf(*server);
  Put(*server, "r1");

  server->Kill();  // the machine stays up
  ASSERT_TRUE(server->Restart("BRAID_BOOT_ID=boot-1").ok()) << server->LogTail();
  EXPECT_EQ(InstanceOf(*server), first);
  Put(*server, "r2");

  server->Kill();  // and then the machine goes down
  ASSERT_TRUE(server->Restart("BRAID_BOOT_ID=boot-2").ok()) << server->LogTail();
  const std::string second = InstanceOf(*server);
  if (testing::TestStoreKind() == "postgresql") {
    // Every PostgreSQL commit is synchronous whatever store.durability says:
    // nothing was unsynced, so nothing is renewed.
    EXPECT_EQ(second, first);
  } else {
    EXPECT_NE(second, first);
    EXPECT_NE(server->LogTail().find("the machine restarted"), std::string::npos);
  }
  Put(*server, "r3");

  auto code = server->Stop();  // a clean stop syncs
  ASSERT_TRUE(code.ok() && *code == 0);
  ASSERT_TRUE(server->Restart("BRAID_BOOT_ID=boot-3").ok()) << server->LogTail();
  EXPECT_EQ(InstanceOf(*server), second);
  auto client = server->AdminClient();
  for (const char* id : {"r1", "r2", "r3"}) {
    auto r = client->Get(server->url() + "/api/v1/collections/c/records/" + id);
    EXPECT_TRUE(r.ok() && r->status == 200) << id;
  }
}

}  // namespace
}  // namespace braid
