// Peers that misbehave, and syncs that are killed mid-transfer.
//
// A hand-written client pushes bad chunks to a real `braid serve`, and a
// hand-written server feeds bad pull chunks to a real `braid sync`: each
// gets a clear error, the session ends, and the receiving store is unchanged.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "base/compress.h"
#include "http/client.h"
#include "http/server.h"
#include "tests/support/cluster.h"

namespace braid {
namespace {

using nlohmann::json;
using testing::Cluster;
using testing::RunResult;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

uint64_t LastSeq(Cluster& c, const std::string& node) {
  return json::parse(c.Cli(node, {"--json", "status"}).out)["last_seq"].get<uint64_t>();
}

// A record in the wire form, as another instance would send it.
std::string WireRecord(const std::string& id, const std::string& partition, const std::string& body,
                       const std::string& origin, int counter) {
  return R"({"collection":"notes","id":")" + id + R"(","partition":")" + partition +
         R"(","parent":null,"deleted":false,"version":")" + origin + ":" + std::to_string(counter) +
         R"(","hlc":)" + std::to_string(1700000000000ULL << 16) + R"(,"body":)" + body + "}";
}

class BadPushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    c_.Add("a");
    token_ = ReadFile(c_["a"].token_file);
    client_ = std::move(*http::Client::Create());
  }
  http::ClientResponse Post(const std::string& path, const std::string& body,
                            const std::string& token, http::Headers headers = {}) {
    headers.emplace_back("Authorization", "Bearer " + token);
    auto r = client_->Send("POST", c_["a"].server->url() + path, body, headers);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }
  // Opens a push session filtered to lab_a; returns its id.
  std::string Open(int chunk_size = 500) {
    const auto r = Post("/api/v1/sync/sessions",
                        R"({"protocol":1,"instance_id":")" + peer_ +
                            R"(","direction":"push","filter":["lab_a"],"fsic":{")" + peer_ +
                            R"(":5},"chunk_size":)" + std::to_string(chunk_size) + "}",
                        token_);
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false).value("session", "");
  }
  void ExpectRefusedAndAborted(const std::string& session, const http::ClientResponse& r,
                               int status, const std::string& code, const std::string& words) {
    EXPECT_EQ(r.status, status) << r.body;
    const json j = json::parse(r.body, nullptr, false);
    EXPECT_EQ(j.value("code", ""), code) << r.body;
    EXPECT_NE(j.value("message", "").find(words), std::string::npos) << r.body;
    // The session is over: it cannot be used to try again.
    const auto again =
        Post("/api/v1/sync/sessions/" + session + "/push", R"({"records":[],"next":null})", token_);
    EXPECT_EQ(again.status, 404) << again.body;
  }

  Cluster c_;
  std::string token_;
  std::unique_ptr<http::Client> client_;
  const std::string peer_ = std::string(32, 'e');
};

TEST_F(BadPushTest, EachBadChunkIsRefusedAndNothingIsWritten) {
  const uint64_t before = LastSeq(c_, "a");
  const std::string self = json::parse(c_.Cli("a", {"--json", "status"}).out)["instance_id"];
  const std::string good = WireRecord("ok", "lab_a", R"({"x":1})", peer_, 1);
  // `good` with `extra` members added.
  auto with = [&](const std::string& extra, const std::string& id = "ok2") {
    std::string r = WireRecord(id, "lab_a", R"({"x":1})", peer_, 2);
    return r.substr(0, r.size() - 1) + "," + extra + "}";
  };
  struct Case {
    std::string name, body;
    int status;
    std::string code, words;
    bool zstd = false;
    int chunk_size = 500;
  };
  const std::vector<Case> cases = {
      {"outside the filter",
       R"({"records":[)" + good + "," + WireRecord("bad", "lab_b", "{}", peer_, 2) +
           R"(],"next":null})",
       400, "invalidArgument", "outside this session's filter"},
      {"malformed chunk", R"({"records":[)" + good + R"(],"next":)", 400, "invalidArgument",
       "malformed chunk"},
      {"malformed record", R"({"records":[{"collection":"notes"}],"next":null})", 400,
       "invalidArgument", "malformed chunk"},
      {"oversized record",
       R"({"records":[)" + good + "," +
           WireRecord("big", "lab_a", R"({"x":")" + std::string(5 << 20, 'x') + "\"}", peer_, 3) +
           R"(],"next":null})",
       413, "payloadTooLarge", "limit"},
      {"completeness beyond the announced FSIC",
       R"({"records":[],"complete_to":{")" + peer_ + R"(":99},"next":null})", 400,
       "invalidArgument", "beyond"},
      {"corrupt compression", "not zstd at all", 400, "invalidArgument", "corrupt zstd", true},
      {"more records than the chunk size",
       R"({"records":[)" + good + "," + with("\"vv\":{\"" + peer_ + "\":2}") + R"(],"next":null})",
       400, "invalidArgument", "chunk size is 1", false, 1},
      {"the zero instance id",
       R"({"records":[)" + WireRecord("z", "lab_a", "{}", std::string(32, '0'), 1) +
           R"(],"next":null})",
       400, "invalidArgument", "all-zero"},
      {"a duplicate version vector entry",
       R"({"records":[)" + with("\"vv\":{\"" + peer_ + "\":2,\"" + peer_ + "\":3}") +
           R"(],"next":null})",
       400, "invalidArgument", "duplicate"},
      {"a field write outside the version vector",
       R"({"records":[)" + with(R"("clocks":{"x":[5,")" + std::string(32, 'd') + R"(",1]})") +
           R"(],"next":null})",
       400, "invalidArgument", "does not include"},
      {"writes of this instance it never issued",
       R"({"records":[)" + with("\"vv\":{\"" + peer_ + "\":2,\"" + self + "\":7}") +
           R"(],"next":null})",
       409, "conflict", "braid identity renew"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string session = Open(c.chunk_size);
    http::Headers headers;
    if (c.zstd) headers.emplace_back("Content-Encoding", "zstd");
    ExpectRefusedAndAborted(
        session, Post("/api/v1/sync/sessions/" + session + "/push", c.body, token_, headers),
        c.status, c.code, c.words);
  }
  EXPECT_EQ(LastSeq(c_, "a"), before);
  EXPECT_TRUE(c_.Read("a").empty());
}

TEST_F(BadPushTest, WrongTokensAreRefused) {
  const std::string session = Open();
  for (const std::string& token : {std::string("braid_wrong"), std::string("")}) {
    auto r = Post("/api/v1/sync/sessions", R"({"protocol":1})", token);
    EXPECT_EQ(r.status, 401);
    r = Post("/api/v1/sync/sessions/" + session + "/push",
             R"({"records":[)" + WireRecord("x", "lab_a", "{}", peer_, 1) + R"(],"next":null})",
             token);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(json::parse(r.body)["code"], "unauthorized");
  }
  // A revoked token stops working at once, also for a running server.
  ASSERT_EQ(c_.Cli("a", {"token", "revoke", "peers"}).exit_code, 0);
  EXPECT_EQ(Post("/api/v1/sync/sessions/" + session + "/pull", R"({"after":null})", token_).status,
            401);
  EXPECT_TRUE(c_.Read("a").empty());
}

// A server that answers the handshake, then sends one crafted pull chunk.
class FakeServer : public http::Handler {
 public:
  explicit FakeServer(std::string chunk, int chunk_size = 500)
      : chunk_(std::move(chunk)), chunk_size_(chunk_size) {
    http::ServerOptions o;
    o.port = 0;
    o.handle_signals = false;
    server_ = std::move(*http::Server::Create(o, *this));
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~FakeServer() override {
    server_->Shutdown();
    thread_.join();
  }
  std::string url() const { return server_->url(); }
  void Handle(http::Request req, http::Responder respond) override {
    http::Response r;
    if (req.path == "/api/v1/sync/sessions") {
      r.status = 201;
      r.body = R"({"session":"s1","protocol":1,"instance_id":")" + std::string(32, 'f') +
               R"(","fsic":{")" + std::string(32, 'f') +
               R"(":3},"compression":"identity","chunk_size":)" + std::to_string(chunk_size_) +
               R"(,"pull_pending":1})";
    } else if (req.path == "/api/v1/sync/sessions/s1/pull") {
      r.body = chunk_;
    } else {
      r.body = "{}";
    }
    respond(std::move(r));
  }

 private:
  std::string chunk_;
  int chunk_size_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

TEST(BadPullTest, ASyncFromAMisbehavingServerFailsCleanly) {
  const std::string origin(32, 'f');
  const std::string good = WireRecord("ok", "lab_a", R"({"x":1})", origin, 1);
  struct Case {
    std::string name, chunk, words;
    int chunk_size = 500;
  };
  const std::vector<Case> cases = {
      {"outside the filter",
       R"({"records":[)" + good + "," + WireRecord("bad", "lab_b", "{}", origin, 2) +
           R"(],"next":null})",
       "outside this session's filter"},
      {"malformed chunk", R"({"records":[)" + good, "malformed chunk"},
      {"oversized record",
       R"({"records":[)" +
           WireRecord("big", "lab_a", R"({"x":")" + std::string(5 << 20, 'x') + "\"}", origin, 2) +
           R"(],"next":null})",
       "store.max_record_bytes"},
      {"more records than the chunk size",
       R"({"records":[)" + good + "," + WireRecord("ok2", "lab_a", "{}", origin, 2) +
           R"(],"next":null})",
       "chunk size is 1", 1},
      {"a chunk size out of range", R"({"records":[],"next":null})", "chunk_size must be", 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Cluster cluster;
    cluster.Add("b", /*serve=*/false);
    FakeServer fake(c.chunk, c.chunk_size);
    const RunResult add = cluster.Cli("b", {"remote", "add", "fake", fake.url(), "--token", "t",
                                            "--filter", "lab_a", "--direction", "pull"});
    ASSERT_EQ(add.exit_code, 0) << add.err;
    const RunResult r = cluster.Cli("b", {"sync", "fake"});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(c.words), std::string::npos) << r.err;
    EXPECT_TRUE(cluster.Read("b").empty());  // not even the good record of the chunk
  }
}

uint64_t Metric(const std::string& url, const std::string& name) {
  auto c = http::Client::Create();
  auto r = (*c)->Get(url + "/metrics");
  const std::regex line("\\n" + name + " ([0-9]+)");
  std::smatch m;
  const std::string body = r.ok() ? "\n" + r->body : "";
  return std::regex_search(body, m, line) ? std::stoull(m[1]) : 0;
}

// Writes notes n0 .. n<count - 1> to a node through its batch API.
void PutNotes(Cluster& c, const std::string& node, int count) {
  constexpr int kBatch = 5000;
  auto client = c[node].TokenClient();
  for (int from = 0; from < count; from += kBatch) {
    std::string batch = R"({"records":[)";
    for (int n = from; n < std::min(count, from + kBatch); ++n) {
      if (n > from) batch += ",";
      batch += R"({"collection":"notes","id":"n)" + std::to_string(n) + R"(","body":{"n":)" +
               std::to_string(n) + R"(,"text":"lorem ipsum dolor sit amet consectetur"}})";
    }
    batch += "]}";
    auto r = client->Post(c[node].server->url() + "/api/v1/batch", batch);
    ASSERT_TRUE(r.ok() && r->status == 200);
  }
}

TEST(ResumeTest, AKilledPullResendsAtMostOneChunk) {
  constexpr int kRecords = 100'000, kChunk = 500;
  Cluster c;
  c.Add("a");
  c.Add("b", /*serve=*/false);
  PutNotes(c, "a", kRecords);
  ASSERT_EQ(
      c.Link("b", "a", {"--direction", "pull", "--chunk-size", std::to_string(kChunk)}).exit_code,
      0);
  // Killed (SIGKILL) as it is about to apply its 40th chunk.
  const RunResult killed = c.Sync("b", {"a"}, "BRAID_FAILPOINTS=pull-apply=40");
  EXPECT_EQ(killed.exit_code, 128 + 9) << killed.err;
  const uint64_t first = Metric(c["a"].server->url(), "braid_sync_chunks_sent_total");
  EXPECT_EQ(first, 40u);
  const json done = json::parse(c.Sync("b", {"a"}).out);
  EXPECT_EQ(done["received"], kRecords - 39 * kChunk);
  const uint64_t total = Metric(c["a"].server->url(), "braid_sync_chunks_sent_total");
  const uint64_t needed = kRecords / kChunk;
  RecordProperty("chunks_sent", static_cast<int>(total));
  EXPECT_LE(total, needed + 1) << "re-sent " << total - needed << " chunks";
  EXPECT_EQ(c.Read("b").size(), static_cast<size_t>(kRecords));
}

// A session's chunks start small and double up to the chunk size, both ways
// (RampedChunkSize): 2,500, 5,000, 10,000 and the last 2,500 of 20,000 at
// the default size.
TEST(ChunkTest, ATransferStartsWithSmallChunks) {
  constexpr int kRecords = 20'000;
  Cluster c;
  c.Add("a");
  c.Add("b");
  c.Add("c");
  c.Add("d", /*serve=*/false);
  PutNotes(c, "a", kRecords);
  auto sync = [&c](const std::string& node, const std::string& remote) {
    const RunResult r = c.Sync(node, {remote});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out.empty() ? "{}" : r.out);
  };
  ASSERT_EQ(c.Link("b", "a", {"--direction", "pull"}).exit_code, 0);
  const json pulled = sync("b", "a");
  EXPECT_EQ(pulled["received"], kRecords);
  EXPECT_EQ(pulled["chunks_received"], 4) << pulled.dump();
  ASSERT_EQ(c.Link("b", "c", {"--direction", "push"}).exit_code, 0);
  const json pushed = sync("b", "c");
  EXPECT_EQ(pushed["sent"], kRecords);
  EXPECT_EQ(pushed["chunks_sent"], 4) << pushed.dump();
  EXPECT_EQ(c.Read("c").size(), static_cast<size_t>(kRecords));
  // A chunk size below the first step holds from the first chunk on.
  ASSERT_EQ(c.Link("d", "a", {"--direction", "pull", "--chunk-size", "1000"}).exit_code, 0);
  EXPECT_EQ(sync("d", "a")["chunks_received"], kRecords / 1000);
}

TEST(ChunkTest, AChunkSizeOutOfRangeIsRefused) {
  Cluster c;
  c.Add("a", /*serve=*/false);
  for (const std::string size : {"0", "100001", "-5", "lots"}) {
    const RunResult r = c.Cli(
        "a", {"remote", "add", "b", "http://127.0.0.1:9", "--chunk-size", size, "--token", "t"});
    EXPECT_NE(r.exit_code, 0) << size;
    EXPECT_NE(r.err.find("chunk"), std::string::npos) << size << ": " << r.err;
  }
  const RunResult list = c.Cli("a", {"--json", "remote", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.find("\"b\""), std::string::npos) << list.out;
}

}  // namespace
}  // namespace braid
