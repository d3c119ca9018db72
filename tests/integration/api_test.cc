// The HTTP API against a real `braid serve`: records, batches, and every
// kind of bad input, each checked to leave the store untouched.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/client.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using nlohmann::json;
using testing::BraidServer;
using testing::TempDir;

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto s = BraidServer::Start(dir_->File("data"));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = s->release();
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      auto code = server_->Stop();
      EXPECT_TRUE(code.ok() && *code == 0) << server_->LogTail();
    }
    delete server_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    client_ = server_->AdminClient();
  }

  std::string Url(const std::string& path) { return server_->url() + path; }
  http::ClientResponse Send(const std::string& method, const std::string& path,
                            const std::string& body = "") {
    auto r = client_->Send(
        method, Url(path), body,
        body.empty() ? http::Headers{} : http::Headers{{"Content-Type", "application/json"}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }
  static json Json(const http::ClientResponse& r) {
    auto j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body.substr(0, 200);
    return j;
  }
  uint64_t LastSeq() { return Json(Send("GET", "/api/v1/stats"))["last_seq"].get<uint64_t>(); }
  // Checks an error answer: status, {"code","message"} and the code name.
  void ExpectError(const http::ClientResponse& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    const json j = Json(r);
    EXPECT_EQ(j.value("code", ""), code) << r.body;
    EXPECT_FALSE(j.value("message", "").empty()) << r.body;
  }

  static TempDir* dir_;
  static BraidServer* server_;
  std::unique_ptr<http::Client> client_;
};

TempDir* ApiTest::dir_ = nullptr;
BraidServer* ApiTest::server_ = nullptr;

TEST_F(ApiTest, InfoAndHealth) {
  auto r = Send("GET", "/api/v1/info");
  EXPECT_EQ(r.status, 200);
  const json j = Json(r);
  EXPECT_EQ(j["instance_id"].get<std::string>().size(), 32u);
  EXPECT_EQ(j["protocol"], 1);
  EXPECT_FALSE(j["version"].get<std::string>().empty());
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
  EXPECT_EQ(Send("HEAD", "/healthz").status, 200);
}

TEST_F(ApiTest, PutGetDeleteLifecycle) {
  auto created = Send("PUT", "/api/v1/collections/notes/records/life",
                      R"({"body":{"title":"hello","tags":["a"]},"parent":"inbox"})");
  ASSERT_EQ(created.status, 201) << created.body;
  json rec = Json(created);
  EXPECT_EQ(rec["collection"], "notes");
  EXPECT_EQ(rec["id"], "life");
  EXPECT_EQ(rec["partition"], "notes");
  EXPECT_EQ(rec["parent"], "inbox");
  EXPECT_EQ(rec["deleted"], false);
  EXPECT_EQ(rec["body"], json::parse(R"({"title":"hello","tags":["a"]})"));
  EXPECT_EQ(created.Header("ETag"), "\"" + rec["version"].get<std::string>() + "\"");

  auto got = Send("GET", "/api/v1/collections/notes/records/life");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(Json(got), rec);

  auto same = Send("PUT", "/api/v1/collections/notes/records/life",
                   R"({"body":{"title":"hello","tags":["a"]}})");
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(Json(same)["version"], rec["version"]);  // unchanged: no new version

  auto updated = Send("PUT", "/api/v1/collections/notes/records/life",
                      R"({"body":{"title":"bye"},"parent":null})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_NE(Json(updated)["version"], rec["version"]);
  EXPECT_TRUE(Json(updated)["parent"].is_null());

  auto deleted = Send("DELETE", "/api/v1/collections/notes/records/life");
  ASSERT_EQ(deleted.status, 200);
  EXPECT_EQ(Json(deleted)["deleted"], true);
  auto tomb = Send("GET", "/api/v1/collections/notes/records/life");
  EXPECT_EQ(tomb.status, 200);
  EXPECT_EQ(Json(tomb)["deleted"], true);
  EXPECT_EQ(Json(tomb)["body"], json::object());
  ExpectError(Send("DELETE", "/api/v1/collections/notes/records/never"), 404, "notFound");
  ExpectError(Send("GET", "/api/v1/collections/notes/records/never"), 404, "notFound");
}

TEST_F(ApiTest, IdsArePercentDecoded) {
  auto r = Send("PUT", "/api/v1/collections/files/records/dir%2Fa%20b%C3%A9", R"({"body":{}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Json(r)["id"], "dir/a b\xC3\xA9");
  EXPECT_EQ(Send("GET", "/api/v1/collections/files/records/dir%2Fa%20b%C3%A9").status, 200);
}

TEST_F(ApiTest, PostGeneratesTimeOrderedIds) {
  auto a = Send("POST", "/api/v1/collections/posts/records", R"({"body":{"n":1}})");
  auto b = Send("POST", "/api/v1/collections/posts/records", R"({"body":{"n":2}})");
  ASSERT_EQ(a.status, 201);
  ASSERT_EQ(b.status, 201);
  const std::string ida = Json(a)["id"], idb = Json(b)["id"];
  EXPECT_EQ(ida.size(), 36u);
  EXPECT_LT(ida, idb);
  EXPECT_EQ(a.Header("Location"), "/api/v1/collections/posts/records/" + ida);
}

TEST_F(ApiTest, ListPagesThroughACollection) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(
        Send("PUT", "/api/v1/collections/pages/records/p" + std::to_string(i), R"({"body":{}})")
            .status,
        201);
  }
  ASSERT_EQ(Send("DELETE", "/api/v1/collections/pages/records/p2").status, 200);
  std::vector<std::string> ids;
  std::string after;
  for (int guard = 0; guard < 10; ++guard) {
    auto r = Send("GET", "/api/v1/collections/pages/records?limit=2" +
                             (after.empty() ? "" : "&after=" + after));
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = Json(r);
    for (const auto& rec : j["records"]) ids.push_back(rec["id"]);
    if (j["next"].is_null()) break;
    after = j["next"];
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"p0", "p1", "p3", "p4"}));
  auto all = Json(Send("GET", "/api/v1/collections/pages/records?include_deleted=true"));
  EXPECT_EQ(all["records"].size(), 5u);
}

TEST_F(ApiTest, BatchIsAllOrNothing) {
  auto ok = Send("POST", "/api/v1/batch", R"({"records":[
      {"collection":"batch","id":"b1","body":{"x":1}},
      {"collection":"batch","id":"b2","body":{"x":2},"partition":"lab_a"},
      {"collection":"batch","id":"b1","body":{"x":3}}]})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  const json j = Json(ok);
  ASSERT_EQ(j["results"].size(), 3u);
  EXPECT_EQ(j["results"][0]["status"], "created");
  EXPECT_EQ(j["results"][2]["status"], "updated");
  EXPECT_EQ(j["seq"], LastSeq());

  const uint64_t before = LastSeq();
  // The third item fails (b9 does not exist): the first two must not land.
  auto bad = Send("POST", "/api/v1/batch", R"({"records":[
      {"collection":"batch","id":"b3","body":{}},
      {"collection":"batch","id":"b1","deleted":true},
      {"collection":"batch","id":"b9","deleted":true}]})");
  ExpectError(bad, 404, "notFound");
  EXPECT_NE(Json(bad)["message"].get<std::string>().find("records[2]"), std::string::npos);
  EXPECT_EQ(LastSeq(), before);
  EXPECT_EQ(Send("GET", "/api/v1/collections/batch/records/b3").status, 404);
  EXPECT_EQ(Json(Send("GET", "/api/v1/collections/batch/records/b1"))["deleted"], false);
}

TEST_F(ApiTest, CollectionPoliciesConflictsAndMetrics) {
  auto got = Send("GET", "/api/v1/collections/pol");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(Json(got)["conflicts"], "merge");
  auto set = Send("PUT", "/api/v1/collections/pol", R"({"conflicts":"lww"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(Json(Send("GET", "/api/v1/collections/pol"))["conflicts"], "lww");
  for (const std::string bad :
       {R"({"conflicts":"newest"})", R"({"policy":"lww"})", "{}", "[]", R"({"conflicts":1})"}) {
    ExpectError(Send("PUT", "/api/v1/collections/pol", bad), 400, "invalidArgument");
  }
  ExpectError(Send("PUT", "/api/v1/collections/Pol", R"({"conflicts":"lww"})"), 400,
              "invalidArgument");
  EXPECT_EQ(Json(Send("GET", "/api/v1/collections/pol"))["conflicts"], "lww");

  auto conflicts = Send("GET", "/api/v1/conflicts?limit=10");
  ASSERT_EQ(conflicts.status, 200);
  EXPECT_TRUE(Json(conflicts)["records"].is_array());
  ExpectError(Send("GET", "/api/v1/conflicts?limit=0"), 400, "invalidArgument");

  auto metrics = Send("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("# TYPE braid_http_requests_total counter"), std::string::npos);
  EXPECT_NE(metrics.Header("Content-Type").find("text/plain"), std::string::npos);
  const json info = Json(Send("GET", "/api/v1/info"));
  EXPECT_EQ(info["capabilities"]["auth"], json::parse(R"(["basic","token","certificate"])"));
}

// Each bad request gets a 4xx {"code","message"} and writes nothing.
TEST_F(ApiTest, BadInputIsRefusedAndWritesNothing) {
  ASSERT_EQ(
      Send("PUT", "/api/v1/collections/bad/records/fixed", R"({"body":{},"partition":"lab_a"})")
          .status,
      201);
  struct Case {
    std::string method, path, body;
    int status;
    std::string code;
  };
  const std::string big_record = R"({"body":{"x":")" + std::string(5 << 20, 'a') + "\"}}";
  const std::vector<Case> cases = {
      {"PUT", "/api/v1/collections/bad/records/x", "{\"body\":", 400, "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", "not json", 400, "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", "", 400, "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", "[1,2]", 400, "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", R"({"body":[1]})", 400, "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", R"({"body":"s"})", 400, "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", R"({"partition":"p"})", 400, "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", R"({"body":{},"colour":1})", 400,
       "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", R"({"body":{"a":1,"a":2}})", 400,
       "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", R"({"body":{},"partition":"a::b"})", 400,
       "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", R"({"body":{},"parent":5})", 400,
       "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", "{\"body\":{\"s\":\"\xff\"}}", 400,
       "invalidArgument"},
      {"PUT", "/api/v1/collections/Bad/records/x", R"({"body":{}})", 400, "invalidArgument"},
      {"PUT", "/api/v1/collections/" + std::string(65, 'a') + "/records/x", R"({"body":{}})", 400,
       "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/a%01b", R"({"body":{}})", 400, "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/%FF", R"({"body":{}})", 400, "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/%G1", R"({"body":{}})", 400, "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/" + std::string(256, 'i'), R"({"body":{}})", 400,
       "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x?force=1", R"({"body":{}})", 400,
       "invalidArgument"},
      {"PUT", "/api/v1/collections/bad/records/x", big_record, 413, "payloadTooLarge"},
      {"PUT", "/api/v1/collections/bad/records/x",
       R"({"body":{"x":")" + std::string(17 << 20, 'a') + "\"}}", 413, "payloadTooLarge"},
      {"PUT", "/api/v1/collections/bad/records/fixed", R"({"body":{},"partition":"lab_b"})", 409,
       "conflict"},
      {"PATCH", "/api/v1/collections/bad/records/x", R"({"body":{}})", 405, "methodNotAllowed"},
      {"PUT", "/api/v1/nothing-here", R"({"body":{}})", 404, "notFound"},
      {"POST", "/api/v1/batch", R"({"records":{}})", 400, "invalidArgument"},
      {"POST", "/api/v1/batch", R"({"recs":[]})", 400, "invalidArgument"},
      {"POST", "/api/v1/batch", R"({"records":[{"id":"x","body":{}}]})", 400, "invalidArgument"},
      {"POST", "/api/v1/batch", R"({"records":[{"collection":"bad","body":{}}]})", 400,
       "invalidArgument"},
      {"POST", "/api/v1/batch",
       R"({"records":[{"collection":"bad","id":"x","body":{},"deleted":true}]})", 400,
       "invalidArgument"},
      {"POST", "/api/v1/batch",
       R"({"records":[{"collection":"bad","id":"ok","body":{}},{"collection":"BAD","id":"x","body":{}}]})",
       400, "invalidArgument"},
      {"POST", "/api/v1/batch",
       R"({"records":[{"collection":"bad","id":"ok","body":{}},{"collection":"bad","id":"x","body":{"y":")" +
           std::string(5 << 20, 'b') + "\"}}]}",
       413, "payloadTooLarge"},
  };
  const uint64_t before = LastSeq();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path.substr(0, 80) + " " + c.body.substr(0, 80));
    ExpectError(Send(c.method, c.path, c.body), c.status, c.code);
  }
  EXPECT_EQ(LastSeq(), before);
  EXPECT_EQ(Send("GET", "/api/v1/collections/bad/records/x").status, 404);
  EXPECT_EQ(Send("GET", "/api/v1/collections/bad/records/ok").status, 404);
  // The server still works afterwards.
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace braid
