// The serving side of replication in one process, with an executor the test
// controls (tests/integration runs it in real `braid serve` processes).

#include "repl/server.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include "repl/protocol.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace braid::repl {
namespace {

// Queues posted tasks; runs them only when the test says so. Stands for an
// executor whose threads are all busy.
class QueueExecutor : public http::Executor {
 public:
  void Post(std::function<void()> fn) override { tasks_.push_back(std::move(fn)); }
  std::shared_ptr<http::Timer> RunAfter(std::chrono::milliseconds /*delay*/,
                                        std::function<void()> /*fn*/) override {
    return nullptr;
  }
  size_t queued() const { return tasks_.size(); }
  void RunAll() {
    while (!tasks_.empty()) {
      auto fn = std::move(tasks_.front());
      tasks_.pop_front();
      fn();
    }
  }

 private:
  std::deque<std::function<void()>> tasks_;
};

class SyncServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenTestStore(dir_.File("a.db"));
    who_.kind = auth::Principal::Kind::kToken;
    who_.name = "t";
    who_.role = Role::kWriter;
    auto txn = std::move(*store_->BeginWrite());
    for (int i = 0; i < 10; ++i) {
      const std::string id = "n" + std::to_string(i);  // PutRequest holds views
      PutRequest r;
      r.collection = "notes";
      r.id = id;
      r.body = R"({"i":1})";
      ASSERT_TRUE(txn->Put(r).ok());
    }
    ASSERT_TRUE(txn->Commit().ok());
    server_ = std::make_unique<SyncServer>(*store_, &executor_, nullptr);
  }

  http::Response Post(const std::vector<std::string>& segments, std::string body) {
    http::Request r;
    r.method = "POST";
    r.path = "/api/v1/sync";
    r.body = std::move(body);
    return server_->Handle(r, segments, who_);
  }

  std::string Open() {
    HandshakeRequest h;
    h.instance_id = *InstanceId::FromHex(std::string(32, 'b'));
    h.direction = Direction::kPull;
    h.chunk_size = 3;
    auto resp = Post({"sessions"}, HandshakeRequestJson(h));
    EXPECT_EQ(resp.status, 201) << resp.body;
    return ParseHandshakeResponse(resp.body)->session;
  }

  Result<Chunk> Pull(const std::string& session, const std::optional<Position>& after) {
    auto resp = Post({"sessions", session, "pull"}, PositionJson(after));
    if (resp.status != 200) return Status::Internal(resp.body);
    return ParseChunk(resp.body);
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  auth::Principal who_;
  QueueExecutor executor_;
  std::unique_ptr<SyncServer> server_;
};

TEST_F(SyncServerTest, SessionsStayInsideThePrincipalsScope) {
  HandshakeRequest h;
  h.instance_id = *InstanceId::FromHex(std::string(32, 'b'));
  h.chunk_size = 3;
  who_.scope = {"lab-a"};
  // No filter means every partition: outside a scope of lab-a.
  h.direction = Direction::kPull;
  auto r = Post({"sessions"}, HandshakeRequestJson(h));
  EXPECT_EQ(r.status, 403) << r.body;
  h.filter = {"lab-a:x"};
  r = Post({"sessions"}, HandshakeRequestJson(h));
  EXPECT_EQ(r.status, 201) << r.body;
  const std::string session = ParseHandshakeResponse(r.body)->session;
  // Another principal cannot use that session.
  auth::Principal other = who_;
  other.name = "u";
  http::Request pull;
  pull.method = "POST";
  pull.body = PositionJson(std::nullopt);
  auto refused = server_->Handle(pull, {"sessions", session, "pull"}, other);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("belongs to token t"), std::string::npos) << refused.body;
  // A reader may pull, not push.
  who_.role = Role::kReader;
  h.direction = Direction::kBoth;
  r = Post({"sessions"}, HandshakeRequestJson(h));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("needs the writer role"), std::string::npos) << r.body;
}

TEST_F(SyncServerTest, APullDoesNotWaitForAPrefetchThatHasNotStarted) {
  // Opening the session posts the first chunk's prefetch and every pull
  // the next one's; none of them runs. A pull that waited for its prefetch
  // would never return.
  const std::string session = Open();
  std::optional<Position> after;
  size_t records = 0;
  int chunks = 0;
  do {
    auto chunk = Pull(session, after);
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    records += chunk->records.size();
    after = chunk->next;
    ++chunks;
  } while (after && chunks < 100);
  EXPECT_EQ(records, 10u);
  EXPECT_EQ(chunks, 4);
  // The queued prefetches find their chunk already built and do nothing.
  EXPECT_EQ(executor_.queued(), 4u);
  executor_.RunAll();
}

TEST_F(SyncServerTest, PrefetchedAndRebuiltChunksAreTheSame) {
  const std::string session = Open();
  executor_.RunAll();  // builds chunk 1, which the first pull takes
  auto first = Pull(session, std::nullopt);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->records.size(), 3u);
  ASSERT_TRUE(first->next.has_value());
  executor_.RunAll();  // builds chunk 2
  auto second = Pull(session, first->next);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->records.size(), 3u);
  // Asking again for chunk 2 (a retry) builds it afresh.
  executor_.RunAll();
  auto again = Pull(session, first->next);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->records.size(), 3u);
  EXPECT_EQ(again->records[0].id, second->records[0].id);
}

}  // namespace
}  // namespace braid::repl
