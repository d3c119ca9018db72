// A replication session belongs to the store, not to a process: a `braid
// serve` killed with SIGKILL in the middle of a pull and restarted goes on
// with it, and so does another process serving the same PostgreSQL
// database. The peer here is raw HTTP, so the test sees every chunk.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/cluster.h"

namespace braid {
namespace {

using nlohmann::json;
using testing::Cluster;

constexpr int kRecords = 50;
constexpr int kChunk = 10;

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    c_.Add("a");
    client_ = c_["a"].TokenClient();
    std::string batch = R"({"records":[)";
    for (int i = 0; i < kRecords; ++i) {
      batch += std::string(i == 0 ? "" : ",") + R"({"collection":"notes","id":"n)" +
               std::to_string(i) + R"(","body":{"i":)" + std::to_string(i) + "}}";
    }
    batch += "]}";
    auto r = client_->Post(Url() + "/api/v1/batch", batch);
    ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
  }

  std::string Url() { return c_["a"].server->url(); }

  // Opens a pull session as peer `peer_` holding `fsic`; returns its id.
  std::string Open(const std::string& url, const json& fsic = json::object()) {
    const json hello = {{"protocol", 1},           {"instance_id", peer_}, {"direction", "pull"},
                        {"filter", json::array()}, {"fsic", fsic},         {"chunk_size", kChunk}};
    auto r = client_->Post(url + "/api/v1/sync/sessions", hello.dump());
    EXPECT_TRUE(r.ok() && r->status == 201) << (r.ok() ? r->body : r.status().ToString());
    if (!r.ok() || r->status != 201) return "";
    return json::parse(r->body).value("session", "");
  }

  // The chunk after `after` (null: the first); keeps its records' ids and
  // its claims. False when the request failed (status in *status).
  bool Pull(const std::string& url, const std::string& session, int* status = nullptr) {
    auto r = client_->Post(url + "/api/v1/sync/sessions/" + session + "/pull",
                           json{{"after", after_}}.dump());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (status != nullptr) *status = r.ok() ? r->status : 0;
    if (!r.ok() || r->status != 200) return false;
    const json chunk = json::parse(r->body);
    for (const json& record : chunk["records"]) ids_.insert(record["id"].get<std::string>());
    received_ += chunk["records"].size();
    const json claims = chunk.value("complete_to", json::object());
    for (const auto& [origin, counter] : claims.items()) {
      const uint64_t held = fsic_.value(origin, uint64_t{0});
      fsic_[origin] = std::max(held, counter.get<uint64_t>());
    }
    after_ = chunk["next"];
    ++chunks_;
    return true;
  }
  bool Done() const { return chunks_ > 0 && after_.is_null(); }

  // Every record once, none twice, and nothing written after the handshake.
  void ExpectEverythingOnce() {
    EXPECT_TRUE(Done());
    EXPECT_EQ(received_, static_cast<size_t>(kRecords)) << "a record was sent twice";
    EXPECT_EQ(ids_.size(), static_cast<size_t>(kRecords));
    for (int i = 0; i < kRecords; ++i) EXPECT_EQ(ids_.count("n" + std::to_string(i)), 1u) << i;
  }

  Cluster c_;
  std::unique_ptr<http::Client> client_;
  const std::string peer_ = std::string(32, 'e');
  json after_ = nullptr;
  json fsic_ = json::object();
  std::multiset<std::string> ids_;
  size_t received_ = 0;
  int chunks_ = 0;
};

TEST_F(SessionTest, APullGoesOnAfterTheServerIsKilledAndRestarted) {
  const std::string session = Open(Url());
  ASSERT_FALSE(session.empty());
  ASSERT_TRUE(Pull(Url(), session));
  ASSERT_TRUE(Pull(Url(), session));
  c_["a"].server->Kill();
  ASSERT_TRUE(c_["a"].server->Restart().ok()) << c_["a"].server->LogTail();
  // Written after the handshake: the next session's, not this one's.
  auto late = client_->Put(Url() + "/api/v1/collections/notes/records/late", R"({"body":{}})");
  ASSERT_TRUE(late.ok() && late->status == 201) << (late.ok() ? late->body : "");
  while (!Done() && chunks_ < 2 * kRecords) {
    int status = 0;
    ASSERT_TRUE(Pull(Url(), session, &status)) << status << "\n" << c_["a"].server->LogTail();
  }
  ExpectEverythingOnce();
  EXPECT_EQ(ids_.count("late"), 0u);
  EXPECT_NE(c_["a"].server->LogTail().find("sync session " + session + " of"), std::string::npos)
      << "the restarted server did not say it went on with the session";
  // Ended, it is gone for good; the next session sends only what is new.
  auto end = client_->Send("DELETE", Url() + "/api/v1/sync/sessions/" + session, "", {});
  ASSERT_TRUE(end.ok() && end->status == 200);
  int status = 0;
  EXPECT_FALSE(Pull(Url(), session, &status));
  EXPECT_EQ(status, 404);
  const std::string next = Open(Url(), fsic_);
  after_ = nullptr;
  ids_.clear();
  ASSERT_TRUE(Pull(Url(), next));
  EXPECT_EQ(ids_, std::multiset<std::string>({"late"}));
  EXPECT_TRUE(after_.is_null());
}

// Two `braid serve` processes, each with a data directory of its own, over
// one PostgreSQL database serve one instance: a peer's requests of one
// session may reach either.
TEST_F(SessionTest, ASessionGoesOnInAnotherProcessOfTheSameDatabase) {
  if (testing::TestStoreKind() != "postgresql") {
    GTEST_SKIP() << "two processes over one store: PostgreSQL (repl_integration_test_pg)";
  }
  testing::TempDir dir;
  const std::string second_dir = dir.File("second");
  const auto init = testing::Braid(
      second_dir, {"init", "--no-admin", "--store", testing::StoreSpecOf(c_["a"].dir)});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  auto second = testing::BraidServer::Start(second_dir);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  const std::string one = Url(), two = (*second)->url();
  const std::string session = Open(one);
  ASSERT_FALSE(session.empty());
  for (int turn = 0; !Done() && turn < 2 * kRecords; ++turn) {
    int status = 0;
    ASSERT_TRUE(Pull(turn % 2 == 0 ? two : one, session, &status))
        << "turn " << turn << ": " << status << "\n"
        << (*second)->LogTail();
  }
  ExpectEverythingOnce();
  EXPECT_GE(chunks_, 3);
  // Ended through one process, it is over in the other too.
  auto end = client_->Send("DELETE", two + "/api/v1/sync/sessions/" + session, "", {});
  ASSERT_TRUE(end.ok() && end->status == 200);
  int status = 0;
  after_ = nullptr;
  EXPECT_FALSE(Pull(one, session, &status));
  EXPECT_EQ(status, 404);
  ASSERT_TRUE((*second)->Stop().ok());
}

}  // namespace
}  // namespace braid
