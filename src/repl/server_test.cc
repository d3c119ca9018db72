// The serving side of replication in one process, with an executor the test
// controls, and as two processes serving one store would run it: a
// SyncServer each, over Store objects of their own (tests/integration runs
// it in real `braid serve` processes).

#include "repl/server.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <set>

#include "auth/keyring.h"
#include "auth/token.h"
#include "base/ids.h"
#include "repl/protocol.h"
#include "repl/stream.h"
#include "store/test_backends.h"
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

// Two processes serving one store (the PostgreSQL deployment, or braid
// serve beside a CLI on SQLite): a SyncServer each, over a Store of its
// own. Sessions live in the store, so either goes on with the other's.
class SharedSessionTest : public ::testing::TestWithParam<testing::TestBackend> {
 protected:
  void SetUp() override {
    first_ = OpenStore();
    second_ = OpenStore();
    ASSERT_NE(first_, nullptr);
    ASSERT_NE(second_, nullptr);
    who_.kind = auth::Principal::Kind::kToken;
    who_.name = "t";
    who_.role = Role::kWriter;
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(Write(*first_, "n" + std::to_string(i)).ok());
    one_ = std::make_unique<SyncServer>(*first_, nullptr, nullptr);
    two_ = std::make_unique<SyncServer>(*second_, nullptr, nullptr);
  }

  std::unique_ptr<Store> OpenStore(const std::string& name = "served") {
    auto s = Store::Open(GetParam().spec(dir_.path(), name), testing::TestStoreOptions(&clock_));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static Status Write(Store& store, const std::string& id,
                      std::optional<std::string_view> partition = std::nullopt) {
    BRAID_ASSIGN_OR_RETURN(auto txn, store.BeginWrite());
    PutRequest r;
    r.collection = "notes";
    r.id = id;
    r.body = R"({"i":1})";
    r.partition = partition;
    BRAID_RETURN_IF_ERROR(txn->Put(r).status());
    return txn->Commit();
  }

  http::Response Send(SyncServer& server, const std::string& method,
                      const std::vector<std::string>& segments, std::string body,
                      const auth::Principal& who) {
    http::Request r;
    r.method = method;
    r.path = "/api/v1/sync";
    r.body = std::move(body);
    return server.Handle(r, segments, who);
  }
  http::Response Post(SyncServer& server, const std::vector<std::string>& segments,
                      std::string body) {
    return Send(server, "POST", segments, std::move(body), who_);
  }

  std::string Open(SyncServer& server, Direction direction = Direction::kPull,
                   const VersionVector& fsic = {}, std::vector<std::string> filter = {}) {
    HandshakeRequest h;
    h.instance_id = client_;
    h.direction = direction;
    h.chunk_size = 3;
    h.fsic = fsic;
    h.filter = std::move(filter);
    auto resp = Post(server, {"sessions"}, HandshakeRequestJson(h));
    EXPECT_EQ(resp.status, 201) << resp.body;
    auto parsed = ParseHandshakeResponse(resp.body);
    return parsed.ok() ? parsed->session : "";
  }

  Result<Chunk> Pull(SyncServer& server, const std::string& session,
                     const std::optional<Position>& after) {
    auto resp = Post(server, {"sessions", session, "pull"}, PositionJson(after));
    if (resp.status != 200) return Status::Internal(std::to_string(resp.status) + " " + resp.body);
    return ParseChunk(resp.body);
  }

  testing::TempDir dir_;
  FakeClock clock_{1'700'000'000'000};
  std::unique_ptr<Store> first_, second_;
  auth::Principal who_;
  InstanceId client_ = *InstanceId::FromHex(std::string(32, 'b'));
  std::unique_ptr<SyncServer> one_, two_;
};

// A pull goes on chunk by chunk in whichever process the request reaches,
// and in a process restarted meanwhile: every record once, none twice, and
// nothing written after the handshake (the next session's).
TEST_P(SharedSessionTest, APullGoesOnInAnotherProcessSendingNothingTwice) {
  const std::string session = Open(*one_);
  std::multiset<std::string> ids;
  VersionVector fsic;  // what the client holds, by the chunks' claims
  std::optional<Position> after;
  int chunks = 0;
  auto take = [&](SyncServer& server) {
    auto chunk = Pull(server, session, after);
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    for (const Record& r : chunk->records) ids.insert(r.id);
    for (const auto& [origin, counter] : chunk->complete_to) {
      if (counter > fsic.Get(origin)) fsic.Set(origin, counter);
    }
    after = chunk->next;
    ++chunks;
  };
  take(*one_);
  ASSERT_EQ(ids.size(), 3u);
  // Written after the handshake, in the other process: not this session's.
  ASSERT_TRUE(Write(*second_, "late").ok());
  take(*two_);
  // The first process restarts: it goes on from the store alone.
  one_.reset();
  first_ = OpenStore();
  ASSERT_NE(first_, nullptr);
  one_ = std::make_unique<SyncServer>(*first_, nullptr, nullptr);
  take(*one_);
  ASSERT_TRUE(after.has_value());
  take(*two_);
  EXPECT_FALSE(after.has_value()) << "the pull did not end";
  EXPECT_EQ(chunks, 4);
  EXPECT_EQ(ids.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ids.count("n" + std::to_string(i)), 1u) << i;
  EXPECT_EQ(ids.count("late"), 0u);
  // The next session, in the other process, sends what was left: only that.
  ASSERT_EQ(Send(*two_, "DELETE", {"sessions", session}, "", who_).status, 200);
  const std::string next = Open(*two_, Direction::kPull, fsic);
  auto rest = Pull(*one_, next, std::nullopt);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  ASSERT_EQ(rest->records.size(), 1u);
  EXPECT_EQ(rest->records[0].id, "late");
  EXPECT_FALSE(rest->next.has_value());
}

// Unused for the idle timeout (and the minute its last use is kept to), a
// session ends in every process, with the error of a session that never
// was; used meanwhile in either process, it stays.
TEST_P(SharedSessionTest, AnIdleSessionExpiresEverywhere) {
  const std::string session = Open(*one_);
  auto first = Pull(*one_, session, std::nullopt);
  ASSERT_TRUE(first.ok());
  clock_.Advance(4 * 60 * 1000);
  auto second = Pull(*two_, session, first->next);  // its last use is written
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  clock_.Advance(4 * 60 * 1000);
  auto third = Pull(*one_, session, second->next);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  clock_.Advance(6 * 60 * 1000 + 1);
  // The answer for a session that never was (JSON-quoted).
  const std::string gone =
      "no session \\\"" + session + "\\\" (it ended, expired or was aborted); start a new one";
  for (SyncServer* server : {two_.get(), one_.get()}) {
    auto r = Post(*server, {"sessions", session, "pull"}, PositionJson(third->next));
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_NE(r.body.find(gone), std::string::npos) << r.body;
  }
  auto row = first_->GetSyncSession(HexEncode(auth::TokenHash(session)));
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(row->has_value()) << "the expired session's row stayed";
}

TEST_P(SharedSessionTest, OnlyItsOpenerGoesOnWithASession) {
  const std::string session = Open(*one_);
  auth::Principal other = who_;
  other.name = "u";
  auth::Principal nobody;
  nobody.kind = auth::Principal::Kind::kNone;
  for (const auth::Principal* p : {&other, &nobody}) {
    auto r = Send(*two_, "POST", {"sessions", session, "pull"}, PositionJson(std::nullopt), *p);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_NE(r.body.find("belongs to token t"), std::string::npos) << r.body;
    r = Send(*two_, "DELETE", {"sessions", session}, "", *p);
    EXPECT_EQ(r.status, 403) << r.body;
  }
  EXPECT_FALSE(two_->IsCertificateSession(session));
  auto chunk = Pull(*two_, session, std::nullopt);
  EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
}

TEST_P(SharedSessionTest, ASessionEndedInOneProcessEndsInTheOther) {
  const std::string session = Open(*one_);
  auto first = Pull(*one_, session, std::nullopt);  // one_ holds it in memory
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(Send(*two_, "DELETE", {"sessions", session}, "", who_).status, 200);
  auto r = Post(*one_, {"sessions", session, "pull"}, PositionJson(first->next));
  EXPECT_EQ(r.status, 404) << r.body;
}

// A push goes on in another process within what its opener may write.
TEST_P(SharedSessionTest, APushGoesOnWithinTheOpenersScope) {
  who_.scope = {"lab-a", "lab-b"};
  auto client = OpenStore("client");
  ASSERT_NE(client, nullptr);
  client_ = client->instance_id();
  const std::string session = Open(*one_, Direction::kPush, {}, {"lab-a"});
  auto push = [&](const std::string& id, std::string_view partition) {
    auto txn = std::move(*client->BeginWrite());
    PutRequest r;
    r.collection = "notes";
    r.id = id;
    r.body = "{}";
    r.partition = partition;
    EXPECT_TRUE(txn->Put(r).ok());
    EXPECT_TRUE(txn->Commit().ok());
    auto record = client->Get("notes", id);
    EXPECT_TRUE(record.ok() && record->has_value());
    Chunk chunk;
    chunk.records.push_back(**record);
    return Post(*two_, {"sessions", session, "push"}, ChunkJson(chunk));
  };
  auto ok = push("in", "lab-a:x");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ParsePushResult(ok.body)->applied, 1u);
  auto got = first_->Get("notes", "in");
  ASSERT_TRUE(got.ok() && got->has_value());
  // Outside what the token may write: refused as in the process that
  // opened the session, and the session ends.
  auto refused = push("out", "lab-c");
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("which token t may not write"), std::string::npos) << refused.body;
  auto after = push("again", "lab-a");
  EXPECT_EQ(after.status, 404) << after.body;
}

// A certificate session: the challenge from one process, the handshake in
// the other, its requests in either; a challenge is still good once.
TEST_P(SharedSessionTest, ACertificateSessionGoesOnInAnotherProcess) {
  auto ring1 = auth::Keyring::Open(*first_, dir_.File("keys"), clock_);
  auto ring2 = auth::Keyring::Open(*second_, dir_.File("keys"), clock_);
  ASSERT_TRUE(ring1.ok() && ring2.ok());
  one_ = std::make_unique<SyncServer>(*first_, nullptr, ring1->get());
  two_ = std::make_unique<SyncServer>(*second_, nullptr, ring2->get());
  const auth::KeyPair key = auth::KeyPair::Generate();
  auth::Principal admin;
  admin.name = "admin";
  admin.role = Role::kAdmin;
  auth::SignRequest sign;
  sign.public_key = key.public_key();
  sign.subject = "peer";
  sign.read = auth::PartitionSet::All();
  sign.write = auth::PartitionSet::All();
  sign.days = 1;
  auto chain = (*ring1)->Sign(sign, admin, 30);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  auth::Principal none;
  none.kind = auth::Principal::Kind::kNone;
  auto handshake = [&](SyncServer& asked, SyncServer& opened, int64_t wait_ms) {
    ChallengeRequest ask;
    ask.root = chain->back().serial;
    ask.nonce.resize(kNonceBytes);
    RandomBytes(ask.nonce.data(), ask.nonce.size());
    auto r = Send(asked, "POST", {"challenge"}, ChallengeRequestJson(ask), none);
    EXPECT_EQ(r.status, 200) << r.body;
    auto answer = ParseChallengeResponse(r.body);
    EXPECT_TRUE(answer.ok());
    clock_.Advance(wait_ms);
    HandshakeRequest h;
    h.instance_id = client_;
    h.direction = Direction::kPull;
    h.chunk_size = 3;
    CertificateProof proof;
    proof.challenge = answer->challenge;
    proof.chain = *chain;
    proof.signature =
        key.Sign(ClientProofInput(answer->nonce, ask.nonce, client_, answer->challenge));
    h.certificate = proof;
    const std::string body = HandshakeRequestJson(h);
    auto opened_r = Send(opened, "POST", {"sessions"}, body, none);
    // Used once: the same proof again, in either process, is refused.
    for (SyncServer* again : {&asked, &opened}) {
      auto replay = Send(*again, "POST", {"sessions"}, body, none);
      EXPECT_EQ(replay.status, 403) << replay.body;
    }
    return opened_r;
  };
  auto opened = handshake(*one_, *two_, 0);
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string session = ParseHandshakeResponse(opened.body)->session;
  EXPECT_TRUE(one_->IsCertificateSession(session));
  auto scope = one_->SessionReadScope(session);
  ASSERT_TRUE(scope.ok()) << scope.status().ToString();
  EXPECT_TRUE(scope->all);
  auto pulled =
      Send(*one_, "POST", {"sessions", session, "pull"}, PositionJson(std::nullopt), none);
  EXPECT_EQ(pulled.status, 200) << pulled.body;
  // A challenge more than a minute old is refused wherever it is used.
  auto late = handshake(*two_, *one_, 61 * 1000);
  EXPECT_EQ(late.status, 403) << late.body;
  EXPECT_NE(late.body.find("older than a minute"), std::string::npos) << late.body;
}

INSTANTIATE_TEST_SUITE_P(Backends, SharedSessionTest, ::testing::ValuesIn(testing::TestBackends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace braid::repl
