// Remotes with SENAITE.SYNC's rules, between real `braid serve` processes:
// the seed's configurations, each ending with the exact contents of every
// instance (docs/remotes.md), and every rule error.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "braid/store.h"
#include "tests/support/cluster.h"

namespace braid {
namespace {

using nlohmann::json;
using testing::Cluster;
using testing::Describe;
using testing::RunResult;

json Ok(const RunResult& r) { return testing::OkJson(r); }

void Put(Cluster& c, const std::string& node, const std::string& collection, const std::string& id,
         const std::string& body) {
  const RunResult r = c.Cli(node, {"put", collection, id, "-"}, body);
  ASSERT_EQ(r.exit_code, 0) << node << " " << collection << "/" << id << ": " << r.err;
}

// A node's live records: "collection/id" -> body.
std::map<std::string, json> Contents(Cluster& c, const std::string& node) {
  std::map<std::string, json> out;
  for (const auto& [name, s] : c.Read(node)) {
    if (!s.deleted) out[name] = json::parse(s.body);
  }
  return out;
}

std::string Show(const std::map<std::string, json>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += k + " " + v.dump() + "\n";
  return s;
}

// The references every lab and the master declare.
void DeclareCollections(Cluster& c, const std::string& node) {
  ASSERT_EQ(c.Cli(node, {"collection", "set", "samples", "--ref", "client=clients"}).exit_code, 0);
  ASSERT_EQ(c.Cli(node, {"collection", "set", "analyses", "--ref", "sample=samples", "--ref",
                         "method=methods"})
                .exit_code,
            0);
  ASSERT_EQ(c.Cli(node, {"collection", "set", "methods", "--conflicts", "merge"}).exit_code, 0);
  ASSERT_EQ(c.Cli(node, {"collection", "set", "clients", "--conflicts", "merge"}).exit_code, 0);
}

// SENAITE's Example 1: a master lab M and labs A..D. M pulls from each lab
// with that lab's prefix on samples and analyses; each lab pulls from M
// with its local prefix, samples and analyses update-only. Clients are
// shared by all; samples go back only to their lab of origin.
TEST(RemotesTest, Example1SamplesGoBackOnlyToTheirLabOfOrigin) {
  Cluster c;
  const std::vector<std::string> labs = {"a", "b", "c", "d"};
  c.Add("m");
  DeclareCollections(c, "m");
  for (const auto& lab : labs) {
    c.Add(lab);
    DeclareCollections(c, lab);
    ASSERT_EQ(c.Link("m", lab,
                     {"--direction", "pull", "--prefix", lab + "_", "--prefixable", "samples",
                      "--prefixable", "analyses"})
                  .exit_code,
              0);
    ASSERT_EQ(c.Link(lab, "m",
                     {"--direction", "pull", "--local-prefix", lab + "_", "--update-only",
                      "samples", "--update-only", "analyses"})
                  .exit_code,
              0);
    // Every lab registers a sample s1 (the same id in each lab) of its own
    // client, and an analysis of it.
    Put(c, lab, "clients", "client-" + lab, R"({"name":"client of )" + lab + R"("})");
    Put(c, lab, "samples", "s1", R"({"client":"client-)" + lab + R"(","state":"received"})");
    Put(c, lab, "analyses", "an1", R"({"sample":"s1","result":null})");
  }
  Put(c, "m", "clients", "client-m", R"({"name":"the master's client"})");
  Put(c, "m", "samples", "m1", R"({"client":"client-m","state":"received"})");
  for (const auto& lab : labs) Ok(c.Sync("m", {lab}));
  // M holds every lab's sample under the lab's prefix, references renamed.
  auto m = Contents(c, "m");
  for (const auto& lab : labs) {
    ASSERT_EQ(m.count("samples/" + lab + "_s1"), 1u) << Show(m);
    EXPECT_EQ(m["analyses/" + lab + "_an1"],
              json::parse(R"({"sample":")" + lab + R"(_s1","result":null})"));
  }
  // M analyzes lab b's sample; lab a records a result of its own.
  Put(c, "m", "samples", "b_s1", R"({"client":"client-b","state":"verified"})");
  Put(c, "m", "analyses", "b_an1", R"({"sample":"b_s1","result":7.5})");
  Put(c, "a", "samples", "s1", R"({"client":"client-a","state":"to_be_verified"})");
  for (const auto& lab : labs) {
    json s = Ok(c.Sync(lab, {"m"}));
    // The other labs' samples and analyses, and M's own sample, are left out.
    EXPECT_EQ(s["left_out"], 7) << lab << " " << s;
  }
  for (const auto& lab : labs) Ok(c.Sync("m", {lab}));
  for (const auto& lab : labs) Ok(c.Sync(lab, {"m"}));

  // The exact contents of every instance.
  std::map<std::string, json> clients;
  for (const auto& lab : labs) {
    clients["clients/client-" + lab] = {{"name", "client of " + lab}};
  }
  clients["clients/client-m"] = {{"name", "the master's client"}};
  auto sample_state = [](const std::string& lab) {
    return lab == "a" ? "to_be_verified" : lab == "b" ? "verified" : "received";
  };
  std::map<std::string, json> want_m = clients;
  want_m["samples/m1"] = {{"client", "client-m"}, {"state", "received"}};
  for (const auto& lab : labs) {
    std::map<std::string, json> want_lab = clients;
    want_lab["samples/s1"] = {{"client", "client-" + lab}, {"state", sample_state(lab)}};
    want_lab["analyses/an1"] = {{"sample", "s1"}, {"result", lab == "b" ? json(7.5) : json()}};
    EXPECT_EQ(Contents(c, lab), want_lab) << lab << ":\n" << Show(Contents(c, lab));
    want_m["samples/" + lab + "_s1"] = {{"client", "client-" + lab}, {"state", sample_state(lab)}};
    want_m["analyses/" + lab + "_an1"] = {{"sample", lab + "_s1"},
                                          {"result", lab == "b" ? json(7.5) : json()}};
  }
  EXPECT_EQ(Contents(c, "m"), want_m) << Show(Contents(c, "m"));

  // A lab's FSIC does not claim the writes its rules left out: a new
  // instance that syncs with lab a first and then with M still gets every
  // other lab's records from M, which lab a never had. (Lab a's own sample
  // it has as lab a names it: one write, one name per instance.)
  c.Add("e");
  ASSERT_EQ(c.Link("e", "a", {"--direction", "pull"}).exit_code, 0);
  ASSERT_EQ(c.Link("e", "m", {"--direction", "pull"}).exit_code, 0);
  Ok(c.Sync("e", {"a"}));
  Ok(c.Sync("e", {"m"}));
  std::map<std::string, json> want_e = want_m;
  want_e.erase("samples/a_s1");
  want_e.erase("analyses/a_an1");
  want_e["samples/s1"] = want_m["samples/a_s1"];
  want_e["analyses/an1"] = {{"sample", "s1"}, {"result", nullptr}};
  EXPECT_EQ(Contents(c, "e"), want_e) << Show(Contents(c, "e"));
  // And nothing is sent twice once everyone is in step.
  for (const auto& lab : labs) {
    json s = Ok(c.Sync(lab, {"m"}));
    EXPECT_EQ(s["received"], 0) << lab << " " << s;
    s = Ok(c.Sync("m", {lab}));
    EXPECT_EQ(s["received"], 0) << lab << " " << s;
  }
}

// SENAITE's Example 2: methods are kept on the master only; the labs have
// them read-only, and M skips them when it pulls from the labs.
TEST(RemotesTest, Example2MethodsAreTheMastersAndReadOnlyOnTheLabs) {
  Cluster c;
  c.Add("m");
  c.Add("a");
  DeclareCollections(c, "m");
  DeclareCollections(c, "a");
  ASSERT_EQ(c.Link("m", "a",
                   {"--direction", "pull", "--prefix", "a_", "--prefixable", "samples",
                    "--prefixable", "analyses", "--skip", "methods"})
                .exit_code,
            0);
  ASSERT_EQ(c.Link("a", "m",
                   {"--direction", "pull", "--local-prefix", "a_", "--update-only", "samples",
                    "--update-only", "analyses", "--read-only", "methods"})
                .exit_code,
            0);
  Put(c, "m", "methods", "titration", R"({"title":"Titration","version":1})");
  Ok(c.Sync("a", {"m"}));
  EXPECT_EQ(Contents(c, "a")["methods/titration"]["version"], 1);
  // Writes to methods on the lab are refused, naming the remote; nothing
  // is written.
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"put", "methods", "titration", "-"},
                                             {"put", "methods", "new-one", "-"},
                                             {"delete", "methods", "titration"}}) {
    const RunResult r = c.Cli("a", args, R"({"title":"changed"})");
    EXPECT_EQ(r.exit_code, 8) << r.err;
    EXPECT_NE(r.err.find("read-only"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("\"m\""), std::string::npos) << r.err;
  }
  // Through the HTTP API: 403 readOnly.
  auto client = c["a"].TokenClient();
  auto put = client->Send("PUT", c["a"].server->url() + "/api/v1/collections/methods/records/x",
                          R"({"body":{"title":"x"}})", {});
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->status, 403) << put->body;
  EXPECT_EQ(json::parse(put->body)["code"], "readOnly") << put->body;
  // The lab's analyses use the method; M's later updates still apply there.
  Put(c, "a", "samples", "s1", R"({"client":"x","state":"received"})");
  Put(c, "a", "analyses", "an1", R"({"sample":"s1","method":"titration"})");
  Put(c, "m", "methods", "titration", R"({"title":"Titration","version":2})");
  Ok(c.Sync("m", {"a"}));
  Ok(c.Sync("a", {"m"}));
  const auto a = Contents(c, "a");
  EXPECT_EQ(a.size(), 3u) << Show(a);
  EXPECT_EQ(a.at("methods/titration")["version"], 2);
  const auto m = Contents(c, "m");
  EXPECT_EQ(m.size(), 3u) << Show(m);
  EXPECT_EQ(m.at("analyses/a_an1"), json::parse(R"({"sample":"a_s1","method":"titration"})"));
}

// --include pulls only the collections named, with what their records
// reference, transitively, also records that passed in earlier syncs
// (fetched by name); --skip leaves a collection out unless referenced. A
// record imported that way keeps its later versions coming.
TEST(RemotesTest, IncludedRecordsBringWhatTheyReferenceAndNothingElse) {
  Cluster c;
  c.Add("s");
  c.Add("t", /*serve=*/false);
  DeclareCollections(c, "s");
  DeclareCollections(c, "t");
  ASSERT_EQ(c.Link("t", "s",
                   {"--direction", "pull", "--include", "analyses", "--include", "samples",
                    "--skip", "methods"})
                .exit_code,
            0);
  for (const std::string id : {"c1", "c2", "c3"}) {
    Put(c, "s", "clients", id, R"({"name":")" + id + "\"}");
  }
  Put(c, "s", "methods", "m1", R"({"title":"m1"})");
  Put(c, "s", "methods", "m2", R"({"title":"m2"})");
  Put(c, "s", "samples", "s1", R"({"client":"c1"})");
  Put(c, "s", "analyses", "a1", R"({"sample":"s1","method":"m1"})");
  // SENAITE's fetch: what a pull would do, per collection; nothing applied,
  // so a second dry run says the same.
  for (int i = 0; i < 2; ++i) {
    json dry = Ok(c.Cli("t", {"--json", "sync", "s", "--dry-run"}));
    EXPECT_EQ(dry["dry_run"], true);
    EXPECT_EQ(
        dry["collections"],
        json::parse(R"({"analyses":{"created":1,"updated":0,"unchanged":0,"held":0,"left_out":0},
                              "clients":{"created":1,"updated":0,"unchanged":0,"held":0,"left_out":2},
                              "methods":{"created":1,"updated":0,"unchanged":0,"held":0,"left_out":1},
                              "samples":{"created":1,"updated":0,"unchanged":0,"held":0,"left_out":0}})"))
        << dry;
    EXPECT_TRUE(Contents(c, "t").empty());
  }
  EXPECT_EQ(c.Cli("t", {"sync", "s", "index", "--dry-run"}).exit_code, 2);
  json sum = Ok(c.Sync("t", {"s"}));
  EXPECT_EQ(sum["left_out"], 3) << sum;  // c2, c3, m2
  // c2 passed in the sync before; a new sample references it.
  Put(c, "s", "samples", "s2", R"({"client":"c2"})");
  Put(c, "s", "clients", "c1", R"({"name":"c1, renamed"})");
  Put(c, "s", "clients", "c3", R"({"name":"c3, renamed"})");
  Put(c, "s", "methods", "m2", R"({"title":"m2, changed"})");
  sum = Ok(c.Sync("t", {"s"}));
  EXPECT_EQ(sum["dependencies"], 1) << sum;
  const std::map<std::string, json> want = {
      {"clients/c1", {{"name", "c1, renamed"}}},
      {"clients/c2", {{"name", "c2"}}},
      {"methods/m1", {{"title", "m1"}}},
      {"samples/s1", {{"client", "c1"}}},
      {"samples/s2", {{"client", "c2"}}},
      {"analyses/a1", {{"sample", "s1"}, {"method", "m1"}}},
  };
  EXPECT_EQ(Contents(c, "t"), want) << Show(Contents(c, "t"));
  // Nothing more to do.
  sum = Ok(c.Sync("t", {"s"}));
  EXPECT_EQ(sum["received"], 0) << sum;
}

// SENAITE's bidirectional full sync: A has B as a remote and B has A, each
// pulling; and four instances fully in sync through a master, A: B, C and D
// are A's remotes, each of them has only A.
TEST(RemotesTest, TwoWayAndFourInstancesThroughAMasterEndEqual) {
  Cluster c;
  for (const std::string n : {"a", "b", "c", "d"}) c.Add(n);
  ASSERT_EQ(c.Link("a", "b", {"--direction", "pull"}).exit_code, 0);
  ASSERT_EQ(c.Link("b", "a", {"--direction", "pull"}).exit_code, 0);
  Put(c, "a", "clients", "ca", R"({"by":"a"})");
  Put(c, "b", "clients", "cb", R"({"by":"b"})");
  Put(c, "a", "clients", "shared", R"({"x":1,"y":0})");
  Ok(c.Sync("b", {"a"}));
  Put(c, "b", "clients", "shared", R"({"x":1,"y":2})");  // B's edit of what A made
  Ok(c.Sync("a", {"b"}));
  Ok(c.Sync("b", {"a"}));
  const std::map<std::string, json> two = {
      {"clients/ca", {{"by", "a"}}},
      {"clients/cb", {{"by", "b"}}},
      {"clients/shared", {{"x", 1}, {"y", 2}}},
  };
  EXPECT_EQ(Contents(c, "a"), two) << Show(Contents(c, "a"));
  EXPECT_EQ(Contents(c, "b"), two) << Show(Contents(c, "b"));
  // C and D join with A as their master; A pulls from them.
  for (const std::string n : {"c", "d"}) {
    ASSERT_EQ(c.Link("a", n, {"--direction", "pull"}).exit_code, 0);
    ASSERT_EQ(c.Link(n, "a", {"--direction", "pull"}).exit_code, 0);
    Put(c, n, "samples", "from-" + n, R"({"lab":")" + n + "\"}");
  }
  Put(c, "b", "samples", "from-b", R"({"lab":"b"})");
  for (int round = 0; round < 2; ++round) {
    for (const std::string n : {"b", "c", "d"}) Ok(c.Sync("a", {n}));
    for (const std::string n : {"b", "c", "d"}) Ok(c.Sync(n, {"a"}));
  }
  std::map<std::string, json> all = two;
  for (const std::string n : {"b", "c", "d"}) all["samples/from-" + n] = {{"lab", n}};
  for (const std::string n : {"a", "b", "c", "d"}) {
    EXPECT_EQ(Contents(c, n), all) << n << ":\n" << Show(Contents(c, n));
  }
}

// SENAITE's migration: B takes all of A (records, collection settings,
// users with their roles and passwords) with one pull; a user made on B is
// never overwritten, and the next sync takes only what changed.
TEST(RemotesTest, AMigrationTakesRecordsSettingsAndUsers) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  const std::string pw = c["a"].dir + "/../pw.txt";
  std::ofstream(pw) << "a long enough password\n";
  const std::string other = c["a"].dir + "/../other.txt";
  std::ofstream(other) << "another password here\n";
  ASSERT_EQ(c.Cli("a", {"user", "add", "boss", "--role", "admin", "--password-file", pw}).exit_code,
            0);
  ASSERT_EQ(c.Cli("a", {"user", "add", "wes", "--role", "writer", "--scope", "lab_a",
                        "--password-file", pw})
                .exit_code,
            0);
  ASSERT_EQ(c.Cli("a", {"user", "add", "ana", "--role", "reader", "--password-file", pw}).exit_code,
            0);
  ASSERT_EQ(
      c.Cli("b", {"user", "add", "ana", "--role", "admin", "--password-file", other}).exit_code, 0);
  ASSERT_EQ(c.Cli("a", {"collection", "set", "samples", "--ref", "client=clients", "--conflicts",
                        "lww", "--index", "title:3"})
                .exit_code,
            0);
  Put(c, "a", "clients", "c1", R"({"name":"c1"})");
  Put(c, "a", "samples", "s1", R"({"client":"c1","title":"first"})");
  ASSERT_EQ(
      c.Cli("b", {"remote", "add", "a", c["a"].server->url(), "--user", "boss", "--password-file",
                  pw, "--direction", "pull", "--import-settings", "--import-users"})
          .exit_code,
      0);
  json sum = Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(sum["imported"]["settings"], 1) << sum;
  EXPECT_EQ(sum["imported"]["users_created"], 2) << sum;  // boss, wes
  ASSERT_EQ(sum["imported"]["users_kept"].size(), 1u) << sum;
  EXPECT_NE(sum["imported"]["users_kept"][0].get<std::string>().find("ana: a user of that name "
                                                                     "was made here"),
            std::string::npos)
      << sum;
  EXPECT_EQ(Contents(c, "b"), Contents(c, "a"));
  const json collections = Ok(c.Cli("b", {"--json", "collection", "list"}));
  EXPECT_EQ(collections, Ok(c.Cli("a", {"--json", "collection", "list"})));
  json users = Ok(c.Cli("b", {"--json", "user", "list"}));
  std::map<std::string, json> by_name;
  for (const auto& u : users) by_name[u["name"]] = u;
  EXPECT_EQ(by_name["wes"]["role"], "writer");
  EXPECT_EQ(by_name["wes"]["scope"], json::array({"lab_a"}));
  EXPECT_EQ(by_name["wes"]["source"], "a");
  EXPECT_EQ(by_name["ana"]["role"], "admin");  // B's own
  EXPECT_TRUE(by_name["ana"]["source"].is_null());
  // An imported user signs in on B with the password it has on A.
  auto client = http::Client::Create({});
  auto r = (*client)->Send(
      "GET", c["b"].server->url() + "/api/v1/info", "",
      {{"Authorization", testing::BasicAuthorization("wes", "a long enough password")}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  // Nothing new: nothing imported; a change on A: taken.
  sum = Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(sum["imported"]["settings"], 0) << sum;
  EXPECT_EQ(sum["imported"]["users_created"], 0) << sum;
  EXPECT_EQ(sum["imported"]["users_updated"], 0) << sum;
  ASSERT_EQ(c.Cli("a", {"user", "remove", "wes"}).exit_code, 0);
  ASSERT_EQ(c.Cli("a", {"user", "add", "wes", "--role", "reader", "--password-file", pw}).exit_code,
            0);
  sum = Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(sum["imported"]["users_updated"], 1) << sum;
  // Imports need the remote's admin: a writer's credentials are refused.
  ASSERT_EQ(c.Cli("b", {"remote", "set", "a", "--user", "wes", "--password-file", pw}).exit_code,
            0);
  const RunResult refused = c.Sync("b", {"a"});
  EXPECT_EQ(refused.exit_code, 8) << refused.err << refused.out;
}

// Waits up to `seconds` for `done`, polling.
template <typename Fn>
bool Eventually(Fn done, int seconds = 20) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// SENAITE's back-up: B follows A by itself (braid serve's auto-sync), backs
// off while A is down, and catches up when it is back.
TEST(RemotesTest, ABackupFollowsItsSourceByItselfAndBacksOffWhileItIsDown) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  Put(c, "a", "samples", "s1", R"({"v":1})");
  ASSERT_EQ(c.Link("b", "a", {"--direction", "pull", "--auto-sync", "1s"}).exit_code, 0);
  auto same = [&] { return Contents(c, "b") == Contents(c, "a"); };
  EXPECT_TRUE(Eventually(same)) << Show(Contents(c, "b"));
  Put(c, "a", "samples", "s2", R"({"v":2})");
  Put(c, "a", "clients", "c1", R"({"name":"c1"})");
  EXPECT_TRUE(Eventually(same)) << Show(Contents(c, "b"));
  json shown = Ok(c.Cli("b", {"--json", "remote", "show", "a"}));
  EXPECT_EQ(shown["auto_sync"], "1s");
  EXPECT_EQ(shown["failures"], 0);
  EXPECT_GT(shown["last_sync_ms"].get<int64_t>(), 0);
  // A `braid sync` from the CLI shares the lock with the auto-syncs.
  EXPECT_EQ(c.Cli("b", {"sync", "a", "--wait"}).exit_code, 0);
  // A goes down: B's auto-syncs fail, each waiting twice as long.
  ASSERT_TRUE(c["a"].server->Stop().ok());
  auto failures = [&] {
    return Ok(c.Cli("b", {"--json", "remote", "show", "a"}))["failures"].get<int64_t>();
  };
  EXPECT_TRUE(Eventually([&] { return failures() >= 2; })) << failures();
  shown = Ok(c.Cli("b", {"--json", "remote", "show", "a"}));
  EXPECT_NE(shown["last_result"].dump().find("error"), std::string::npos) << shown;
  // Back: the next try succeeds and resets the count; what A got meanwhile
  // arrives.
  ASSERT_TRUE(c["a"].server->Restart().ok());
  Put(c, "a", "samples", "s3", R"({"v":3})");
  EXPECT_TRUE(Eventually([&] { return failures() == 0 && same(); }, 30)) << failures() << "\n"
                                                                         << Show(Contents(c, "b"));
  // Off: no more syncs.
  ASSERT_EQ(c.Cli("b", {"remote", "set", "a", "--auto-sync", "off"}).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a round in flight ends
  Put(c, "a", "samples", "s4", R"({"v":4})");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(Contents(c, "b").count("samples/s4"), 0u);
}

// A counter of a server's /metrics (loopback needs no credentials).
double Metric(const testing::BraidServer& server, const std::string& name) {
  auto client = http::Client::Create({});
  auto r = (*client)->Send("GET", server.url() + "/metrics", "", {});
  if (!r.ok() || r->status != 200) return -1;
  const size_t at = r->body.find("\n" + name + " ");
  return at == std::string::npos ? 0 : std::stod(r->body.substr(at + name.size() + 2));
}

// Live sync both ways: writes on either side reach the other within a
// moment; the remote killed and restarted, what both wrote meanwhile
// arrives, and no record is sent twice.
TEST(RemotesTest, LiveSyncCarriesWritesBothWaysAndSurvivesTheRemoteRestarting) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  ASSERT_EQ(c.Link("b", "a", {"--auto-sync", "live"}).exit_code, 0);
  auto same = [&] { return Contents(c, "b") == Contents(c, "a"); };
  Put(c, "a", "samples", "from-a", R"({"v":1})");
  Put(c, "b", "samples", "from-b", R"({"v":2})");
  EXPECT_TRUE(Eventually(same)) << Show(Contents(c, "a")) << "---\n" << Show(Contents(c, "b"));
  EXPECT_EQ(Contents(c, "a").size(), 2u);
  // The remote killed: writes on both sides meanwhile.
  c["a"].server->Kill();
  for (int i = 0; i < 5; ++i) {
    Put(c, "b", "samples", "b-down-" + std::to_string(i), R"({"v":3})");
    Put(c, "a", "samples", "a-down-" + std::to_string(i), R"({"v":4})");  // its store, offline
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // b's links fail, back off
  ASSERT_TRUE(c["a"].server->Restart().ok());
  EXPECT_TRUE(Eventually(same, 40)) << Show(Contents(c, "a")) << "---\n" << Show(Contents(c, "b"));
  EXPECT_EQ(Contents(c, "a").size(), 12u);
  // Since the restart (a's counters start at 0): every record a had to
  // send went once, and every record b pushed arrived once.
  EXPECT_EQ(Metric(*c["a"].server, "braid_sync_records_sent_total"), 5);
  EXPECT_EQ(Metric(*c["a"].server, "braid_sync_records_received_total"), 5);
  for (int i = 0; i < 10; ++i) Put(c, "a", "samples", "after-" + std::to_string(i), "{}");
  EXPECT_TRUE(Eventually(same)) << Show(Contents(c, "b"));
  EXPECT_EQ(Metric(*c["a"].server, "braid_sync_records_sent_total"), 15);
  EXPECT_EQ(Ok(c.Cli("b", {"--json", "remote", "show", "a"}))["failures"], 0);
}

// The same through the HTTP API, for admins: rules checked as the CLI
// checks them, nothing saved on error, tokens never read back.
TEST(RemotesTest, TheApiManagesRemotesAndTheirRulesForAdmins) {
  Cluster c;
  c.Add("a");
  DeclareCollections(c, "a");
  const std::string pw = c["a"].dir + "/../pw.txt";
  std::ofstream(pw) << "a long enough password\n";
  ASSERT_EQ(c.Cli("a", {"user", "add", "root", "--role", "admin", "--password-file", pw}).exit_code,
            0);
  http::ClientOptions o;
  o.authorization = testing::BasicAuthorization("root", "a long enough password");
  auto admin = std::move(*http::Client::Create(o));
  const std::string base = c["a"].server->url() + "/api/v1/remotes";
  auto send = [&](http::Client& client, const std::string& method, const std::string& path,
                  const std::string& body = "") {
    auto r = client.Send(method, base + path, body, {});
    EXPECT_TRUE(r.ok());
    return std::make_pair(r->status, r->body);
  };
  auto [status, body] = send(*admin, "PUT", "/lab-b",
                             R"({"url":"http://127.0.0.1:9/","token":"secret-token",
                                 "direction":"pull","rules":{"prefix":"lab_b_",
                                 "prefixable":["samples"],"auto_sync":"10m"}})");
  EXPECT_EQ(status, 201) << body;
  auto [got_status, got] = send(*admin, "GET", "/lab-b");
  EXPECT_EQ(got_status, 200);
  const json remote = json::parse(got);
  EXPECT_EQ(remote["url"], "http://127.0.0.1:9");
  EXPECT_EQ(remote["rules"]["prefix"], "lab_b_");
  EXPECT_EQ(remote["auto_sync"], "10m");
  EXPECT_EQ(got.find("secret-token"), std::string::npos) << got;
  EXPECT_EQ(Ok(c.Cli("a", {"--json", "remote", "show", "lab-b"}))["rules"], remote["rules"]);
  const std::string list = send(*admin, "GET", "").second;
  EXPECT_EQ(json::parse(list)["remotes"].size(), 1u);
  // Refused, nothing saved: each answers 400 invalidArgument naming why.
  for (const auto& [bad, says] : std::vector<std::pair<std::string, std::string>>{
           {R"({"url":"http://x:1","rules":{"prefix":"lab_b_x","prefixable":["samples"]}})",
            "collides"},
           {R"({"url":"http://x:1","rules":{"prefixable":["samples"]}})", "need --prefix"},
           {R"({"url":"http://x:1","rules":{"include":["nothing"]}})", "does not know"},
           {R"({"url":"http://x:1","rules":{"bogus":1}})", "unknown member"},
           {R"({"url":"http://x:1","colour":"red"})", "unknown member"},
           {R"({"rules":{}})", "url is missing"},
           {R"({"url":"ftp://x"})", "http://"},
           {R"([1])", "a remote is"},
       }) {
    auto [code, answer] = send(*admin, "PUT", "/lab-c", bad);
    EXPECT_EQ(code, 400) << bad << " -> " << answer;
    EXPECT_NE(answer.find(says), std::string::npos) << bad << " -> " << answer;
  }
  EXPECT_EQ(send(*admin, "GET", "/lab-c").first, 404);
  // Not an admin: 403, for reading too.
  auto writer = c["a"].TokenClient();
  EXPECT_EQ(send(*writer, "GET", "").first, 403);
  EXPECT_EQ(send(*writer, "PUT", "/lab-d", R"({"url":"http://x:1"})").first, 403);
  EXPECT_EQ(send(*admin, "POST", "/lab-b").first, 405);
  EXPECT_EQ(send(*admin, "DELETE", "/lab-b").first, 200);
  EXPECT_EQ(send(*admin, "GET", "/lab-b").first, 404);
  EXPECT_EQ(send(*admin, "DELETE", "/lab-b").first, 404);
}

// Every rule that cannot hold is refused when set, naming what is wrong;
// nothing is saved.
TEST(RemotesTest, RulesThatCannotHoldAreRefusedAndNothingIsSaved) {
  Cluster c;
  c.Add("a");
  c.Add("b", /*serve=*/false);
  DeclareCollections(c, "b");
  ASSERT_EQ(c.Cli("b", {"remote", "add", "first", "http://127.0.0.1:9", "--prefix", "lab_a_",
                        "--prefixable", "samples"})
                .exit_code,
            0);
  const std::string before = c.Cli("b", {"--json", "remote", "list"}).out;
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--prefix", "lab_a_x", "--prefixable", "samples"}, "collides with remote \"first\""},
      {{"--prefix", "lab_", "--prefixable", "samples"}, "collides with remote \"first\""},
      {{"--prefixable", "samples"}, "need --prefix"},
      {{"--prefix", "p_"}, "names no collection"},
      {{"--update-only", "samples"}, "need --local-prefix"},
      {{"--local-prefix", "b_"}, "names no collection"},
      {{"--include", "smaples"}, "does not know"},
      {{"--skip", "nothing"}, "does not know"},
      {{"--read-only", "nothing"}, "does not know"},
      {{"--conflicts", "nothing=skip"}, "does not know"},
      {{"--include", "samples", "--skip", "samples"}, "cannot be in both"},
      {{"--conflicts", "samples=remote-wins"}, "needs a one-way remote"},
      {{"--conflicts", "samples=bogus"}, "unknown conflict policy"},
      {{"--direction", "push", "--skip", "samples"}, "only pushes"},
      {{"--prefix", "bad/prefix", "--prefixable", "samples"}, "must be 1 to 32"},
  };
  for (const auto& k : cases) {
    std::vector<std::string> args = {"remote", "add", "second", "http://127.0.0.1:9"};
    args.insert(args.end(), k.args.begin(), k.args.end());
    const RunResult r = c.Cli("b", args);
    EXPECT_EQ(r.exit_code, 2) << k.says << ": " << r.err;
    EXPECT_NE(r.err.find(k.says), std::string::npos) << r.err;
    // `remote set` on the one there is refuses the same, keeping it (but
    // what its own prefix and prefixable list make right).
    if (k.says.find("collides") != std::string::npos || k.says == "need --prefix" ||
        (k.says == "names no collection" && k.args[0] == "--prefix")) {
      continue;
    }
    args[1] = "set";
    args[2] = "first";
    args.erase(args.begin() + 3);
    const RunResult s = c.Cli("b", args);
    EXPECT_NE(s.exit_code, 0) << k.says;
  }
  EXPECT_EQ(c.Cli("b", {"--json", "remote", "list"}).out, before);
  EXPECT_EQ(c.Cli("b", {"remote", "set", "nosuch", "--skip", "samples"}).exit_code, 3);
  EXPECT_EQ(c.Cli("b", {"collection", "set", "samples", "--ref", "client"}).exit_code, 2);
  EXPECT_EQ(c.Cli("b", {"collection", "set", "samples", "--ref", "client=Bad"}).exit_code, 2);
}

}  // namespace
}  // namespace braid
