// The search index with real processes: a mirror's index step follows the
// upstream's changes and deletes; `braid serve` keeps its index in line
// with every write (a search sees what was acknowledged before it), and a
// search loop running while other processes rebuild the index never sees
// an empty or partial result; bad queries and a reader's scope over HTTP.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "http/client.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/server.h"

namespace braid {
namespace {

using nlohmann::json;
using testing::RunResult;

// "collection/id" of each result of `braid --json search`.
std::set<std::string> Found(testing::Cluster& c, const std::string& node,
                            const std::vector<std::string>& args) {
  std::vector<std::string> a = {"--json", "search"};
  a.insert(a.end(), args.begin(), args.end());
  const RunResult r = c.Cli(node, a);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> out;
  if (r.exit_code != 0) return out;
  const json page = json::parse(r.out);
  for (const auto& hit : page["results"]) {
    out.insert(hit["collection"].get<std::string>() + "/" + hit["id"].get<std::string>());
  }
  return out;
}

TEST(SearchTest, AMirrorsIndexFollowsTheUpstream) {
  testing::Cluster c;
  c.Add("up");
  c.Add("mirror", /*serve=*/false);
  ASSERT_EQ(c.Link("mirror", "up", {"--direction", "pull"}).exit_code, 0);
  for (const auto& [id, body] : std::vector<std::pair<std::string, std::string>>{
           {"b1", R"({"title":"Whales of the north","abstract":"cold seas"})"},
           {"b2", R"({"title":"The whale road","abstract":"sagas"})"},
           {"b3", R"({"title":"Krill","abstract":"what whales eat"})"},
           {"b4", R"({"title":"Tides","abstract":"the moon and the sea"})"}}) {
    ASSERT_EQ(c.Cli("up", {"put", "books", id, "-"}, body).exit_code, 0);
  }
  RunResult r = c.Sync("mirror", {"up"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json summary = json::parse(r.out);
  ASSERT_TRUE(summary.contains("index")) << r.out;
  EXPECT_EQ(summary["index"]["full"], true);
  EXPECT_EQ(summary["index"]["docs"], 4);
  EXPECT_EQ(Found(c, "mirror", {"whale"}), (std::set<std::string>{"books/b2"}));
  EXPECT_EQ(Found(c, "mirror", {"whale*"}),
            (std::set<std::string>{"books/b1", "books/b2", "books/b3"}));

  // Changes and deletes upstream; the steps bring the index in line.
  ASSERT_EQ(c.Cli("up", {"put", "books", "b4", "-"}, R"({"title":"Tides and a whale"})").exit_code,
            0);
  ASSERT_EQ(c.Cli("up", {"delete", "books", "b2"}).exit_code, 0);
  r = c.Sync("mirror", {"up", "cache"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = c.Sync("mirror", {"index"});  // no remote: the index is the instance's
  ASSERT_EQ(r.exit_code, 0) << r.err;
  summary = json::parse(r.out);
  EXPECT_EQ(summary["full"], false);
  EXPECT_EQ(summary["indexed"], 1);
  EXPECT_EQ(summary["removed"], 1);
  EXPECT_EQ(Found(c, "mirror", {"whale"}), (std::set<std::string>{"books/b4"}));
  EXPECT_EQ(Found(c, "mirror", {"whale* -krill"}), (std::set<std::string>{"books/b1", "books/b4"}));

  // Settings: only titles, which a rebuild applies.
  ASSERT_EQ(c.Cli("mirror", {"collection", "set", "books", "--index", "title:3"}).exit_code, 0);
  r = c.Sync("mirror", {"up"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  summary = json::parse(r.out);
  EXPECT_EQ(summary["index"]["why"], "the index settings changed");
  EXPECT_TRUE(Found(c, "mirror", {"seas"}).empty());
  const RunResult status = c.Cli("mirror", {"--json", "status"});
  ASSERT_EQ(status.exit_code, 0);
  EXPECT_EQ(json::parse(status.out)["steps"]["index"]["ok"], true) << status.out;

  // Bad input: exit 2 and a message; nothing changes.
  for (const char* bad : {"-whale", "\"open", "OR", "!!!"}) {
    r = c.Cli("mirror", {"search", "--", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_FALSE(r.err.empty());
  }
  EXPECT_EQ(c.Cli("mirror", {"search", "whale", "--limit", "0"}).exit_code, 2);
  EXPECT_EQ(c.Cli("mirror", {"search", "whale", "--cursor", "nope"}).exit_code, 2);
  EXPECT_EQ(c.Cli("mirror", {"collection", "set", "books", "--index", "title:10"}).exit_code, 2);
  EXPECT_EQ(c.Cli("mirror", {"clean", "everything"}).exit_code, 2);
  ASSERT_EQ(c.Cli("mirror", {"clean", "index"}).exit_code, 0);
  EXPECT_EQ(Found(c, "mirror", {"whales"}), (std::set<std::string>{"books/b1"}));  // rebuilt

  // Another process rebuilding the index (its lock held here): a whole sync
  // leaves the index to it and still runs the other steps; the index step
  // alone says who has it (exit 6).
  ASSERT_EQ(c.Cli("mirror", {"collection", "set", "books", "--index-all"}).exit_code, 0);
  ASSERT_EQ(c.Cli("up", {"put", "books", "b5", "-"}, R"({"title":"Seals"})").exit_code, 0);
  const std::string lock_path = c["mirror"].dir + "/index/rebuild.lock";
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_EX), 0);
  r = c.Sync("mirror", {"up"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  summary = json::parse(r.out);
  EXPECT_EQ(summary["received"], 1) << r.out;
  EXPECT_NE(summary["index"]["deferred"].get<std::string>().find("rebuilding"), std::string::npos)
      << r.out;
  EXPECT_TRUE(summary.contains("attachments")) << r.out;
  r = c.Sync("mirror", {"index"});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.err.find("rebuilding"), std::string::npos) << r.err;
  ::close(lock);
  EXPECT_EQ(Found(c, "mirror", {"seals"}), (std::set<std::string>{"books/b5"}));
}

TEST(SearchTest, TheServersIndexFollowsWritesAndRebuildsHideNothing) {
  testing::Cluster c;
  c.Add("a");
  auto client = c["a"].TokenClient();
  const std::string url = c["a"].server->url();
  // 20,000 records, every 20th with a whale: a rebuild takes long enough
  // for many searches to run during it.
  constexpr int kRecords = 20'000, kWhales = 1000;
  std::string batch = R"({"records":[)";
  for (int i = 0; i < kRecords; ++i) {
    if (i > 0) batch += ',';
    batch += R"({"collection":"notes","id":"n)" + std::to_string(i) + R"(","body":{"text":")" +
             (i % 20 == 0 ? "a whale and" : "a seal and") + R"( some words"},"partition":")" +
             (i % 40 == 0 ? "lab-a" : "lab-b") + "\"}";
  }
  batch += "]}";
  auto put = client->Post(url + "/api/v1/batch", batch);
  ASSERT_TRUE(put.ok() && put->status == 200) << (put.ok() ? put->body : "");

  // A search sees every write acknowledged before it was sent.
  auto search = [&](const std::string& query) {
    auto r = client->Get(url + "/api/v1/search?" + query);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : http::ClientResponse{};
  };
  http::ClientResponse r = search("q=whale&limit=1000");
  ASSERT_EQ(r.status, 200) << r.body;
  json page = json::parse(r.body);
  EXPECT_EQ(page["results"].size(), static_cast<size_t>(kWhales));
  EXPECT_TRUE(page["next"].is_null());
  EXPECT_EQ(page["pending"], 0);
  for (int i = 0; i < 5; ++i) {
    const std::string word = "narwhal" + std::string(1, static_cast<char>('a' + i));
    put = client->Put(url + "/api/v1/collections/notes/records/fresh" + std::to_string(i),
                      R"({"body":{"text":")" + word + R"( <b>&</b>"}})");
    ASSERT_TRUE(put.ok() && put->status == 201);
    r = search("q=" + word);
    ASSERT_EQ(r.status, 200);
    page = json::parse(r.body);
    ASSERT_EQ(page["results"].size(), 1u) << r.body;
    EXPECT_EQ(page["results"][0]["snippet"], "<mark>" + word + "</mark> &lt;b&gt;&amp;&lt;/b&gt;");
  }
  // The next page goes on where the first ended.
  r = search("q=whale&limit=600");
  page = json::parse(r.body);
  r = search("q=whale&limit=600&cursor=" + page["next"].get<std::string>());
  ASSERT_EQ(r.status, 200) << r.body;
  std::set<std::string> ids;
  for (const auto& h : page["results"]) ids.insert(h["id"].get<std::string>());
  const json next = json::parse(r.body);
  for (const auto& h : next["results"]) ids.insert(h["id"].get<std::string>());
  EXPECT_EQ(ids.size(), static_cast<size_t>(kWhales));

  // Full rebuilds by other processes while searches run: every search
  // answers with the whole result, from the old generation or the new.
  std::atomic<bool> stop{false};
  std::atomic<int> searches{0};
  std::vector<std::string> wrong;
  std::thread reader([&] {
    auto own = c["a"].TokenClient();
    while (!stop) {
      auto s = own->Get(url + "/api/v1/search?q=whale&limit=1000");
      bool whole = s.ok() && s->status == 200;
      if (whole) {
        const json p = json::parse(s->body);
        whole = p["results"].size() == static_cast<size_t>(kWhales) && p["next"].is_null();
      }
      if (!whole && wrong.size() < 5) wrong.push_back(s.ok() ? s->body : s.status().ToString());
      ++searches;
    }
  });
  for (int i = 0; i < 3; ++i) {
    const RunResult rebuild = c.Cli("a", {"--json", "sync", "index", "--full"});
    EXPECT_EQ(rebuild.exit_code, 0) << rebuild.err;
    EXPECT_EQ(json::parse(rebuild.out)["docs"], kRecords + 5) << rebuild.out;
    EXPECT_EQ(json::parse(rebuild.out)["full"], true);
  }
  stop = true;
  reader.join();
  EXPECT_GT(searches.load(), 3);
  EXPECT_TRUE(wrong.empty()) << wrong.front();

  // A reader limited to lab-a sees lab-a's records only.
  const RunResult token =
      c.Cli("a", {"token", "create", "reader-a", "--role", "reader", "--scope", "lab-a"});
  ASSERT_EQ(token.exit_code, 0);
  http::ClientOptions o;
  o.authorization = "Bearer " + testing::LastLine(token.out);
  auto reader_a = std::move(*http::Client::Create(o));
  auto scoped = reader_a->Get(url + "/api/v1/search?q=whale&limit=1000");
  ASSERT_TRUE(scoped.ok() && scoped->status == 200);
  page = json::parse(scoped->body);
  EXPECT_EQ(page["results"].size(), static_cast<size_t>(kWhales / 2));
  for (const auto& h : page["results"]) EXPECT_EQ(h["partition"], "lab-a");

  // Bad requests: 400 with a code and a message, nothing else.
  for (const char* bad : {"", "q=", "q=-whale", "q=%22open", "q=whale&limit=0",
                          "q=whale&limit=1001", "q=whale&cursor=nope", "q=whale&colection=x",
                          "q=whale&collection=Bad%2Fname", "q=a%20OR"}) {
    auto b = client->Get(url + "/api/v1/search?" + bad);
    ASSERT_TRUE(b.ok());
    testing::ExpectApiError(*b, 400, "invalidArgument");
  }
  auto post = client->Post(url + "/api/v1/search?q=whale", "{}");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->status, 405);
  // Collection settings over HTTP: admins only; bad specs refused.
  auto set = client->Put(url + "/api/v1/collections/notes", R"({"index":"text:2"})");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->status, 403);
}

}  // namespace
}  // namespace braid
