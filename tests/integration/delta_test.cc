// The delta feed through a real `braid serve`: compression rules, limits,
// resyncRequired, long-polls woken by HTTP and by CLI writes.

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "braid/delta.h"
#include "http/client.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using nlohmann::json;
using testing::Braid;
using testing::BraidServer;
using testing::TempDir;

class DeltaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = BraidServer::Start(dir_.File("data"));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    client_ = server_->AdminClient();
  }
  void TearDown() override {
    if (server_) {
      auto code = server_->Stop();
      EXPECT_TRUE(code.ok() && *code == 0) << server_->LogTail();
    }
  }

  http::ClientResponse Send(const std::string& method, const std::string& path,
                            const std::string& body = "") {
    auto r = client_->Send(method, server_->url() + path, body);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }
  void Put(const std::string& id, const std::string& body, const std::string& collection = "n") {
    auto r = Send("PUT", "/api/v1/collections/" + collection + "/records/" + id,
                  R"({"body":)" + body + "}");
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
  }
  void Del(const std::string& id) {
    ASSERT_EQ(Send("DELETE", "/api/v1/collections/n/records/" + id).status, 200);
  }
  json Delta(const std::string& query, int expect_status = 200) {
    auto r = Send("GET", "/api/v1/delta" + query);
    EXPECT_EQ(r.status, expect_status) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // A GET /api/v1/delta?wait=S from another thread; it has been waiting for
  // 300 ms when this returns. The future yields the answer and how long it took.
  std::future<std::pair<Result<http::ClientResponse>, std::chrono::steady_clock::duration>>
  StartLongPoll(const std::string& cursor, int wait_seconds) {
    const std::string url =
        server_->url() + "/api/v1/delta?wait=" + std::to_string(wait_seconds) + "&cursor=" + cursor;
    auto poll = std::async(std::launch::async, [url, options = server_->admin_client_options()] {
      auto c = http::Client::Create(options);
      const auto start = std::chrono::steady_clock::now();
      auto r = (*c)->Get(url);
      return std::make_pair(std::move(r), std::chrono::steady_clock::now() - start);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return poll;
  }
  // "create:a update:b" for the items of a page.
  static std::string Summary(const json& page) {
    std::string s;
    for (const auto& item : page["items"]) {
      if (!s.empty()) s += " ";
      s += item["type"].get<std::string>() + ":" + item["id"].get<std::string>();
    }
    return s;
  }

  TempDir dir_;
  std::unique_ptr<BraidServer> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(DeltaTest, EveryCompressionRule) {
  // Each rule gets its own page: everything before it is consumed first.
  std::string cursor = Delta("")["cursor"];
  auto page = [&]() {
    json p = Delta("?cursor=" + cursor);
    cursor = p["cursor"];
    return p;
  };
  Put("a", R"({"v":1})");
  Put("a", R"({"v":2})");
  json p = page();
  EXPECT_EQ(Summary(p), "create:a");  // create + update -> create, latest record
  EXPECT_EQ(p["items"][0]["record"]["body"]["v"], 2);

  Put("a", R"({"v":3})");
  Put("a", R"({"v":4})");
  p = page();
  EXPECT_EQ(Summary(p), "update:a");  // update + update -> update
  EXPECT_EQ(p["items"][0]["record"]["body"]["v"], 4);

  Put("b", R"({"v":1})");
  Del("b");
  EXPECT_EQ(Summary(page()), "");  // create + delete -> nothing

  Put("a", R"({"v":5})");
  Del("a");
  p = page();
  EXPECT_EQ(Summary(p), "delete:a");  // update + delete -> delete
  EXPECT_TRUE(p["items"][0]["record"].is_null());

  Put("a", R"({"v":6})");
  EXPECT_EQ(Summary(page()), "create:a");  // back from the dead: a create
  Del("a");
  Put("a", R"({"v":7})");
  p = page();
  EXPECT_EQ(Summary(p), "create:a");  // delete + create -> create
  EXPECT_EQ(p["items"][0]["record"]["body"]["v"], 7);
  EXPECT_EQ(Summary(page()), "");  // nothing new
}

TEST_F(DeltaTest, LimitIsHonouredAndPagesAddUpToTheState) {
  std::mt19937 rng(42);
  std::map<std::string, int> state;  // id -> value; absent when deleted
  for (int i = 0; i < 300; ++i) {
    const std::string id = "r" + std::to_string(rng() % 40);
    if (state.count(id) && rng() % 4 == 0) {
      Del(id);
      state.erase(id);
    } else {
      Put(id, R"({"v":)" + std::to_string(i) + "}");
      state[id] = i;
    }
  }
  for (int limit : {1, 7, 50, 1000}) {
    std::map<std::string, int> seen;
    std::string cursor;
    int pages = 0;
    uint64_t last_seq = 0;
    for (;;) {
      json p =
          Delta("?limit=" + std::to_string(limit) + (cursor.empty() ? "" : "&cursor=" + cursor));
      ASSERT_LE(p["items"].size(), static_cast<size_t>(limit));
      for (const auto& item : p["items"]) {
        EXPECT_GT(item["seq"].get<uint64_t>(), last_seq);  // ordered, no repeats
        last_seq = item["seq"];
        if (item["type"] == "delete") {
          seen.erase(item["id"]);
        } else {
          seen[item["id"]] = item["record"]["body"]["v"];
        }
      }
      cursor = p["cursor"];
      ++pages;
      if (!p["has_more"]) break;
    }
    EXPECT_EQ(seen, state) << "limit " << limit;
    if (limit == 1) {
      EXPECT_EQ(pages, 300);  // one event a page
    }
  }
}

TEST_F(DeltaTest, FiltersByCollectionAndParent) {
  Put("x1", "{}", "alpha");
  Put("y1", "{}", "beta");
  ASSERT_EQ(
      Send("PUT", "/api/v1/collections/alpha/records/x2", R"({"body":{},"parent":"f1"})").status,
      201);
  EXPECT_EQ(Summary(Delta("?collection=alpha")), "create:x1 create:x2");
  EXPECT_EQ(Summary(Delta("?parent=f1")), "create:x2");
  EXPECT_EQ(Summary(Delta("?collection=beta&parent=f1")), "");
}

TEST_F(DeltaTest, BadCursorsGetResyncRequired) {
  Put("a", "{}");
  const std::string good = Delta("")["cursor"];
  for (const std::string& bad :
       {std::string("garbage"), std::string("AAAA"), good.substr(0, good.size() - 2)}) {
    json e = Delta("?cursor=" + bad, 410);
    EXPECT_EQ(e["code"], "resyncRequired");
    EXPECT_FALSE(e["message"].get<std::string>().empty());
  }
  // A cursor from another instance's feed.
  TempDir other_dir;
  auto other = BraidServer::Start(other_dir.File("data"));
  ASSERT_TRUE(other.ok());
  auto r = (*other)->AdminClient()->Get((*other)->url() + "/api/v1/delta");
  ASSERT_TRUE(r.ok() && r->status == 200);
  const std::string foreign = json::parse(r->body)["cursor"];
  EXPECT_EQ(Delta("?cursor=" + foreign, 410)["code"], "resyncRequired");
  ASSERT_TRUE((*other)->Stop().ok());

  // A cursor behind the compaction horizon, compacted by the CLI while the
  // server runs.
  const std::string old = Delta("")["cursor"];
  Put("a", R"({"v":1})");
  Put("a", R"({"v":2})");
  Put("a", R"({"v":3})");
  const auto compact = Braid(server_->data_dir(), {"compact", "--older-than", "0"});
  ASSERT_EQ(compact.exit_code, 0) << compact.err;
  EXPECT_EQ(Delta("?cursor=" + old, 410)["code"], "resyncRequired");
  // Starting over works.
  EXPECT_EQ(Summary(Delta("")), "create:a");
}

TEST_F(DeltaTest, BadParametersAre400) {
  for (const std::string q : {"?limit=0", "?limit=1001", "?limit=ten", "?wait=61", "?wait=-1",
                              "?collection=Nope", "?cursr=x", "?limit=1&limit=2"}) {
    json e = Delta(q, 400);
    EXPECT_EQ(e["code"], "invalidArgument") << q;
  }
}

TEST_F(DeltaTest, LongPollWakesOnAnHttpWrite) {
  auto poll = StartLongPoll(Delta("")["cursor"], 30);
  Put("woke", "{}");
  auto [r, took] = poll.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Summary(json::parse(r->body)), "create:woke");
  EXPECT_GE(took, std::chrono::milliseconds(250));  // it did wait
  EXPECT_LT(took, std::chrono::seconds(10));        // and woke long before wait=30
}

TEST_F(DeltaTest, LongPollWakesOnACliWrite) {
  auto poll = StartLongPoll(Delta("")["cursor"], 30);
  const auto put = Braid(server_->data_dir(), {"put", "n", "from-cli", "-"}, R"({"by":"cli"})");
  ASSERT_EQ(put.exit_code, 0) << put.err;
  auto [r, took] = poll.get();
  ASSERT_TRUE(r.ok());
  const json p = json::parse(r->body);
  EXPECT_EQ(Summary(p), "create:from-cli");
  EXPECT_EQ(p["items"][0]["record"]["body"]["by"], "cli");
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST_F(DeltaTest, LongPollTimesOutWithAnEmptyPage) {
  const std::string cursor = Delta("")["cursor"];
  const auto start = std::chrono::steady_clock::now();
  json p = Delta("?wait=1&cursor=" + cursor);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(p["items"].empty());
  EXPECT_EQ(p["cursor"], cursor);
  EXPECT_GE(took, std::chrono::milliseconds(900));
}

TEST_F(DeltaTest, ShutdownAnswersWaitingLongPolls) {
  auto poll = StartLongPoll(Delta("")["cursor"], 60);
  const auto start = std::chrono::steady_clock::now();
  auto code = server_->Stop();
  server_.reset();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  auto [r, took] = poll.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace braid
