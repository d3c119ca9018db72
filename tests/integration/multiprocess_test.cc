// Several `braid serve` processes, each with a data directory of its own,
// over one PostgreSQL database: one instance (issue 18; docs/storage.md,
// "PostgreSQL"). Real processes, a real PostgreSQL server
// (tests/support/pg_server.h), real HTTP.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "braid/store.h"
#include "tests/support/pg_server.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using nlohmann::json;
using testing::Braid;
using testing::BraidServer;
using testing::RunResult;

json Ok(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return json::object();
  const size_t start = r.out.rfind("\n{");
  return json::parse(start == std::string::npos ? r.out : r.out.substr(start + 1));
}

// Three processes over one database, made the way a user makes them:
// `braid init --store URL` on three data directories (the first creates
// the instance, the others join it).
class MultiProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      const std::string dir = dir_.File("p" + std::to_string(i));
      const RunResult init = Braid(dir, {"--json", "init", "--store", db_.uri()});
      ASSERT_EQ(init.exit_code, 0) << init.err;
      EXPECT_EQ(Ok(init).value("joined", false), i > 0) << init.out;
      // Attachments in one folder for all (docs/storage.md, "PostgreSQL store").
      std::ofstream(dir + "/braid.toml", std::ios::app)
          << "blobs = \"" << dir_.File("blobs") << "\"\n";
      dirs_.push_back(dir);
    }
    // Users and tokens are the instance's, whichever process made them.
    const RunResult token = Braid(dirs_[0], {"token", "create", "peers"});
    ASSERT_EQ(token.exit_code, 0) << token.err;
    token_ = testing::LastLine(token.out);
    token_file_ = dir_.File("token");
    std::ofstream(token_file_) << token_ << "\n";
    for (const std::string& dir : dirs_) {
      auto server = BraidServer::Start(dir);
      ASSERT_TRUE(server.ok()) << server.status().ToString();
      servers_.push_back(std::move(*server));
    }
  }

  std::unique_ptr<http::Client> Client() const {
    http::ClientOptions o;
    o.authorization = "Bearer " + token_;
    return std::move(*http::Client::Create(o));
  }

  // Every item of process `p`'s delta feed from the start: (seq, id).
  std::vector<std::pair<uint64_t, std::string>> Feed(size_t p) {
    std::vector<std::pair<uint64_t, std::string>> out;
    auto client = Client();
    std::string cursor;
    for (;;) {
      auto r = client->Get(servers_[p]->url() + "/api/v1/delta?limit=1000" +
                           (cursor.empty() ? "" : "&cursor=" + cursor));
      EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
      if (!r.ok() || r->status != 200) return out;
      const json page = json::parse(r->body);
      for (const auto& item : page["items"]) {
        out.emplace_back(item["seq"].get<uint64_t>(), item["id"].get<std::string>());
      }
      cursor = page["cursor"].get<std::string>();
      if (!page["has_more"].get<bool>()) return out;
    }
  }

  testing::TempDir dir_;
  testing::TestDatabase db_{"multiprocess"};
  std::vector<std::string> dirs_;
  std::vector<std::unique_ptr<BraidServer>> servers_;
  std::string token_, token_file_;
};

TEST_F(MultiProcessTest, EveryWriteReachesEveryProcesssFeedOnceInOneOrder) {
  // One instance: the same id from every process.
  std::set<std::string> ids;
  for (const auto& s : servers_) {
    auto r = Client()->Get(s->url() + "/api/v1/info");
    ASSERT_TRUE(r.ok() && r->status == 200);
    ids.insert(json::parse(r->body)["instance_id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 1u);

  constexpr int kPerWriter = 60;
  constexpr size_t kAll = 3 * kPerWriter;
  // A long-poll on each process, from the start, until it has seen every
  // write: what it receives, in order.
  std::vector<std::vector<std::pair<uint64_t, std::string>>> polled(3);
  std::vector<std::thread> pollers;
  std::atomic<int> polling{0};
  for (size_t p = 0; p < 3; ++p) {
    pollers.emplace_back([&, p] {
      auto client = Client();
      std::string cursor;
      ++polling;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (polled[p].size() < kAll && std::chrono::steady_clock::now() < deadline) {
        auto r = client->Get(servers_[p]->url() + "/api/v1/delta?limit=1000&wait=5" +
                             (cursor.empty() ? "" : "&cursor=" + cursor));
        if (!r.ok() || r->status != 200) {
          ADD_FAILURE() << "long-poll on process " << p << ": "
                        << (r.ok() ? r->body : r.status().ToString());
          return;
        }
        const json page = json::parse(r->body);
        for (const auto& item : page["items"]) {
          polled[p].emplace_back(item["seq"].get<uint64_t>(), item["id"].get<std::string>());
        }
        cursor = page["cursor"].get<std::string>();
      }
    });
  }
  while (polling < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Writers through all three processes at once.
  std::vector<std::thread> writers;
  for (size_t p = 0; p < 3; ++p) {
    writers.emplace_back([&, p] {
      auto client = Client();
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string id = "p" + std::to_string(p) + "-" + std::to_string(i);
        auto r = client->Put(
            servers_[p]->url() + "/api/v1/collections/notes/records/" + id,
            R"({"body":{"by":)" + std::to_string(p) + R"(,"i":)" + std::to_string(i) + "}}");
        EXPECT_TRUE(r.ok() && r->status < 300) << (r.ok() ? r->body : r.status().ToString());
      }
    });
  }
  for (auto& t : writers) t.join();
  for (auto& t : pollers) t.join();

  const auto first = Feed(0);
  ASSERT_EQ(first.size(), kAll);
  std::set<std::string> distinct;
  for (size_t i = 0; i < first.size(); ++i) {
    distinct.insert(first[i].second);
    if (i > 0) {
      EXPECT_LT(first[i - 1].first, first[i].first) << "seqs in order";
    }
  }
  EXPECT_EQ(distinct.size(), kAll) << "every write once";
  EXPECT_EQ(first.back().first, kAll) << "seqs are dense";
  for (size_t p = 1; p < 3; ++p) EXPECT_EQ(Feed(p), first) << "process " << p;
  // The long-polls woke for other processes' commits too, and saw the same.
  for (size_t p = 0; p < 3; ++p) EXPECT_EQ(polled[p], first) << "long-poll on process " << p;
}

TEST_F(MultiProcessTest, APeerSyncingWithEachProcessInTurnGetsEverythingOnce) {
  // The peer: an instance of its own (SQLite), a remote per process.
  const std::string peer = dir_.File("peer");
  ASSERT_EQ(Braid(peer, {"init", "--no-admin"}).exit_code, 0);
  for (size_t p = 0; p < 3; ++p) {
    ASSERT_EQ(Braid(peer, {"remote", "add", "p" + std::to_string(p), servers_[p]->url(),
                           "--token-file", token_file_, "--chunk-size", "10"})
                  .exit_code,
              0);
  }
  auto client = Client();
  uint64_t received = 0, written = 0;
  for (int round = 0; round < 6; ++round) {
    const size_t p = static_cast<size_t>(round) % 3;
    for (int i = 0; i < 25; ++i, ++written) {
      const std::string id = "r" + std::to_string(round) + "-" + std::to_string(i);
      auto r = client->Put(servers_[(p + 1) % 3]->url() + "/api/v1/collections/notes/records/" + id,
                           R"({"body":{"round":)" + std::to_string(round) + "}}");
      ASSERT_TRUE(r.ok() && r->status < 300);
    }
    const json s = Ok(Braid(peer, {"--json", "sync", "p" + std::to_string(p)}));
    received += s.value("received", uint64_t{0});
    EXPECT_EQ(s.value("skipped", uint64_t{1}), 0u) << "round " << round << ": " << s.dump();
  }
  EXPECT_EQ(received, written) << "each write received once";

  // One process killed with SIGKILL in the middle of a long pull: the
  // others keep serving, and the peer finishes through another.
  std::string batch = R"({"records":[)";
  for (int i = 0; i < 3000; ++i) {
    batch += std::string(i == 0 ? "" : ",") + R"({"collection":"bulk","id":"b)" +
             std::to_string(i) + R"(","body":{"text":")" + std::string(200, 'x') + R"("}})";
  }
  batch += "]}";
  auto put = client->Post(servers_[0]->url() + "/api/v1/batch", batch);
  ASSERT_TRUE(put.ok() && put->status == 200) << (put.ok() ? put->body : "");
  written += 3000;
  auto sync =
      testing::Process::Start({testing::BraidBin(), "--data", peer, "--json", "sync", "p1"});
  ASSERT_TRUE(sync.ok());
  // Killed once the peer holds part of the pull (it commits chunk by chunk).
  const uint64_t before = written - 3000;
  for (int i = 0; i < 2000; ++i) {
    auto seen = Store::Open(testing::StoreSpecOf(peer), StoreOptions());
    if (seen.ok() && (*seen)->Stats()->live > before + 100) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  servers_[1]->Kill();
  auto code = (*sync)->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.ok());
  EXPECT_NE(*code, 0) << "the pull through process 1 was cut off";
  const auto cut = Store::Open(testing::StoreSpecOf(peer), StoreOptions());
  ASSERT_TRUE(cut.ok());
  EXPECT_LT((*cut)->Stats()->live, written) << "killed mid-sync";
  for (size_t p : {0, 2}) {
    auto r = client->Get(servers_[p]->url() + "/api/v1/info");
    EXPECT_TRUE(r.ok() && r->status == 200) << "process " << p << " still serves";
  }
  const json rest = Ok(Braid(peer, {"--json", "sync", "p2"}));
  EXPECT_EQ(rest.value("skipped", uint64_t{1}), 0u) << rest.dump();

  // The peer ends equal to the database.
  const auto peer_store = Store::Open(testing::StoreSpecOf(peer), StoreOptions());
  const auto db_store = Store::Open(db_.uri(), StoreOptions());
  ASSERT_TRUE(peer_store.ok() && db_store.ok());
  const auto ps = (*peer_store)->Stats();
  const auto ds = (*db_store)->Stats();
  ASSERT_TRUE(ps.ok() && ds.ok());
  EXPECT_EQ(ps->live, written);
  EXPECT_EQ(ds->live, written);
  EXPECT_EQ((*peer_store)->Fsic({})->Get((*db_store)->instance_id()), ds->counter);
  // Nothing twice: the peer's change log has one event per write.
  EXPECT_EQ(ps->changes, written);
}

TEST_F(MultiProcessTest, AnAttachmentPutThroughOneProcessIsServedByTheOthers) {
  auto client = Client();
  const std::string record = "/api/v1/collections/notes/records/a1";
  auto put = client->Put(servers_[0]->url() + record, R"({"body":{"title":"scan"}})");
  ASSERT_TRUE(put.ok() && put->status < 300);
  const std::string bytes(300000, 'z');
  auto att = client->Put(servers_[0]->url() + record + "/attachments/scan.bin", bytes);
  ASSERT_TRUE(att.ok() && att->status < 300) << (att.ok() ? att->body : "");
  for (size_t p : {1, 2}) {
    auto got = client->Get(servers_[p]->url() + record + "/attachments/scan.bin");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->status, 200) << got->body.substr(0, 200);
    EXPECT_EQ(got->body, bytes) << "process " << p;
  }
}

// The instance's key is the database's: certificates any process signs
// chain to one root, and certificate sessions work with every process.
TEST_F(MultiProcessTest, EveryProcessSignsAsTheOneInstance) {
  auto client = Client();
  auto put = client->Put(servers_[2]->url() + "/api/v1/collections/notes/records/c1",
                         R"({"body":{"v":1}})");
  ASSERT_TRUE(put.ok() && put->status < 300);
  const std::string peer = dir_.File("certpeer");
  ASSERT_EQ(Braid(peer, {"init", "--no-admin"}).exit_code, 0);
  std::set<std::string> roots;
  for (size_t p : {0, 1}) {
    const std::string name = "p" + std::to_string(p);
    ASSERT_EQ(Braid(peer, {"remote", "add", name, servers_[p]->url()}).exit_code, 0);
    const RunResult cert =
        Braid(peer, {"--json", "cert", "request", name, "--user", "admin", "--password-file",
                     dirs_[0] + "/admin-password", "--read", "*", "--write", "*"});
    ASSERT_EQ(cert.exit_code, 0) << cert.err;
    roots.insert(Ok(cert)["root"].get<std::string>());
    const json s = Ok(Braid(peer, {"--json", "sync", name}));
    EXPECT_TRUE(s.value("pulled", false)) << s.dump();
  }
  EXPECT_EQ(roots.size(), 1u) << "one root for the instance, whichever process signed";
  const auto got = Store::Open(testing::StoreSpecOf(peer), StoreOptions());
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE((*got)->Get("notes", "c1")->has_value());
}

// `braid init --store` with what cannot be a store: a clear error, the
// exit code of its kind, and nothing left in the directory.
TEST(MultiProcessInitTest, BadStoreUrlsAreRefusedAndLeaveNothing) {
  testing::TempDir dir;
  struct Case {
    std::string url;
    int exit_code;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"mysql://db/braid", 2, "not a PostgreSQL URI"},
           {"postgresql://127.0.0.1/braid?colour=blue", 2, "invalid URI query parameter"},
           {"postgresql://127.0.0.1:1/braid?connect_timeout=2", 6, "cannot connect"},
       }) {
    const std::string data = dir.File("d");
    const RunResult r = Braid(data, {"init", "--store", c.url});
    EXPECT_EQ(r.exit_code, c.exit_code) << c.url << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(data + "/braid.toml")) << c.url;
    EXPECT_FALSE(std::filesystem::exists(data + "/store.db")) << c.url;
  }
  // A directory that names a store already is refused; its settings stay.
  testing::TestDatabase db("initagain");
  const std::string data = dir.File("e");
  ASSERT_EQ(Braid(data, {"init", "--no-admin", "--store", db.uri()}).exit_code, 0);
  const RunResult again = Braid(data, {"init", "--store", db.uri()});
  EXPECT_EQ(again.exit_code, 4) << again.err;
  EXPECT_NE(again.err.find("already names a braid store"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace braid
