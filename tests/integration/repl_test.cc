// Replication between real `braid serve` processes: topologies, filters,
// each conflict policy.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/cluster.h"

namespace braid {
namespace {

using nlohmann::json;
using testing::Cluster;
using testing::Describe;
using testing::RunResult;

json Ok(const RunResult& r) { return testing::OkJson(r); }

void Put(Cluster& c, const std::string& node, const std::string& id, const std::string& body,
         const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"put", "notes", id, "-"};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = c.Cli(node, args, body);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::string Body(Cluster& c, const std::string& node, const std::string& id) {
  auto state = c.Read(node);
  auto it = state.find("notes/" + id);
  return it == state.end() ? "<absent>" : (it->second.deleted ? "<deleted>" : it->second.body);
}

TEST(ReplTest, TwoWaySyncConverges) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  ASSERT_EQ(c.Link("b", "a").exit_code, 0);
  Put(c, "a", "from-a", R"({"x":1})");
  Put(c, "b", "from-b", R"({"y":2})");
  Put(c, "a", "gone", R"({})");
  json s = Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(s["received"], 2);
  EXPECT_EQ(s["sent"], 1);
  ASSERT_EQ(c.Cli("a", {"delete", "notes", "gone"}).exit_code, 0);
  Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(c.Read("a"), c.Read("b")) << Describe(c.Read("a")) << "---\n" << Describe(c.Read("b"));
  EXPECT_EQ(Body(c, "b", "gone"), "<deleted>");  // the tombstone replicated
  // Nothing left to do: one round trip, nothing sent either way.
  s = Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(s["received"], 0);
  EXPECT_EQ(s["sent"], 0);
  EXPECT_EQ(s["chunks_received"], 0);
  EXPECT_EQ(s["chunks_sent"], 0);
}

TEST(ReplTest, AChainCarriesWritesAndTheShortcutSendsNothingTwice) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  c.Add("c");
  ASSERT_EQ(c.Link("b", "a", {"--direction", "pull"}).exit_code, 0);
  ASSERT_EQ(c.Link("c", "b", {"--direction", "pull"}).exit_code, 0);
  for (int i = 0; i < 30; ++i)
    Put(c, "a", "n" + std::to_string(i), R"({"i":)" + std::to_string(i) + "}");
  EXPECT_EQ(Ok(c.Sync("b", {"a"}))["received"], 30);
  EXPECT_EQ(Ok(c.Sync("c", {"b"}))["received"], 30);
  EXPECT_EQ(c.Read("c"), c.Read("a"));
  // C now syncs with A directly: everything is already there.
  ASSERT_EQ(c.Link("c", "a").exit_code, 0);
  json s = Ok(c.Sync("c", {"a"}));
  EXPECT_EQ(s["received"], 0) << s;
  EXPECT_EQ(s["sent"], 0) << s;
}

TEST(ReplTest, AHubWithFourSpokesConverges) {
  Cluster c;
  c.Add("hub");
  const std::vector<std::string> spokes = {"s1", "s2", "s3", "s4"};
  for (const auto& s : spokes) {
    c.Add(s, /*serve=*/false);
    ASSERT_EQ(c.Link(s, "hub").exit_code, 0);
    for (int i = 0; i < 5; ++i) Put(c, s, s + "-" + std::to_string(i), R"({"by":")" + s + "\"}");
  }
  Put(c, "hub", "shared", R"({"v":0})");
  Put(c, "s2", "shared", R"({"v":2})");  // concurrent with the hub's
  for (int round = 0; round < 2; ++round) {
    for (const auto& s : spokes) Ok(c.Sync(s, {"hub"}));
  }
  const auto hub = c.Read("hub");
  EXPECT_EQ(hub.size(), 21u);
  for (const auto& s : spokes) EXPECT_EQ(c.Read(s), hub) << s;
}

TEST(ReplTest, AFilteredRemoteReceivesOnlyItsPartitions) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  ASSERT_EQ(c.Link("b", "a", {"--filter", "lab_a", "--direction", "pull"}).exit_code, 0);
  Put(c, "a", "in1", "{}", {"--partition", "lab_a"});
  Put(c, "a", "in2", "{}", {"--partition", "lab_a:room1"});
  Put(c, "a", "out1", "{}", {"--partition", "lab_ab"});
  Put(c, "a", "out2", "{}", {"--partition", "lab_b"});
  Put(c, "a", "out3", "{}");
  json s = Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(s["received"], 2);
  const auto b = c.Read("b");
  EXPECT_EQ(b.size(), 2u) << Describe(b);
  EXPECT_TRUE(b.count("notes/in1") && b.count("notes/in2"));
}

TEST(ReplTest, MergeCombinesFieldsAndListsTheSameFieldWrittenTwice) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  ASSERT_EQ(c.Link("b", "a").exit_code, 0);
  Put(c, "a", "n", R"({"x":0,"y":0,"t":"base"})");
  Ok(c.Sync("b", {"a"}));
  Put(c, "a", "n", R"({"x":1,"y":0,"t":"a"})");
  Put(c, "b", "n", R"({"x":0,"y":2,"t":"b"})");  // later: its t wins
  json s = Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(s["conflicts"], 1);
  const auto a = c.Read("a");
  EXPECT_EQ(a, c.Read("b"));
  EXPECT_EQ(json::parse(a.at("notes/n").body), json::parse(R"({"x":1,"y":2,"t":"b"})"));
  EXPECT_NE(a.at("notes/n").conflicts.find(R"("value":"a")"), std::string::npos);
  const json listed = Ok(c.Cli("a", {"--json", "conflicts"}));
  ASSERT_EQ(listed.size(), 1u);
  // A resolution on one side wins everywhere and clears the conflict.
  ASSERT_EQ(c.Cli("b", {"conflicts", "resolve", "notes", "n", "--keep", "remote"}).exit_code, 0);
  Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(json::parse(Body(c, "a", "n"))["t"], "a");
  EXPECT_TRUE(Ok(c.Cli("a", {"--json", "conflicts"})).empty());
  EXPECT_EQ(c.Read("a"), c.Read("b"));
}

TEST(ReplTest, AnUpdateBeatsAConcurrentDelete) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  ASSERT_EQ(c.Link("b", "a").exit_code, 0);
  Put(c, "a", "n", R"({"x":0})");
  Ok(c.Sync("b", {"a"}));
  ASSERT_EQ(c.Cli("a", {"delete", "notes", "n"}).exit_code, 0);
  Put(c, "b", "n", R"({"x":1})");
  Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(Body(c, "a", "n"), R"({"x":1})");
  EXPECT_NE(c.Read("a").at("notes/n").conflicts.find(R"("deleted":true)"), std::string::npos);
  EXPECT_EQ(c.Read("a"), c.Read("b"));
}

TEST(ReplTest, LwwKeepsTheLaterWholeRecord) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  ASSERT_EQ(c.Link("b", "a").exit_code, 0);
  for (const char* n : {"a", "b"}) {
    ASSERT_EQ(c.Cli(n, {"collection", "set", "notes", "--conflicts", "lww"}).exit_code, 0);
  }
  Put(c, "a", "n", R"({"x":0,"y":0})");
  Ok(c.Sync("b", {"a"}));
  Put(c, "a", "n", R"({"x":1,"y":0})");
  Put(c, "b", "n", R"({"x":0,"y":2})");  // later: wins whole
  Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(Body(c, "a", "n"), R"({"x":0,"y":2})");
  EXPECT_NE(c.Read("a").at("notes/n").conflicts.find(R"({"x":1,"y":0})"), std::string::npos)
      << c.Read("a").at("notes/n").conflicts;
  EXPECT_EQ(c.Read("a"), c.Read("b"));
}

TEST(ReplTest, SkipHoldsTheIncomingVersionUntilAPersonDecides) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  ASSERT_EQ(c.Link("b", "a").exit_code, 0);
  // Both sides hold concurrent versions for a person (with skip on one side
  // only, the other side's merges diverge on purpose).
  for (const char* n : {"a", "b"}) {
    ASSERT_EQ(c.Cli(n, {"collection", "set", "notes", "--conflicts", "skip"}).exit_code, 0);
  }
  Put(c, "a", "n", R"({"x":0})");
  Ok(c.Sync("b", {"a"}));
  Put(c, "a", "n", R"({"x":"a"})");
  Put(c, "b", "n", R"({"x":"b"})");
  json s = Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(s["held"], 1);
  EXPECT_EQ(Body(c, "b", "n"), R"({"x":"b"})");  // untouched
  const json shown = Ok(c.Cli("b", {"--json", "conflicts", "show", "notes", "n"}));
  ASSERT_EQ(shown["held"].size(), 1u);
  EXPECT_EQ(shown["held"][0]["body"]["x"], "a");
  ASSERT_EQ(c.Cli("b", {"conflicts", "resolve", "notes", "n", "--keep", "remote"}).exit_code, 0);
  Ok(c.Sync("b", {"a"}));
  EXPECT_EQ(Body(c, "a", "n"), R"({"x":"a"})");
  EXPECT_EQ(c.Read("a"), c.Read("b"));
  // The resolution dominates what a held, so a's held version is gone too.
  EXPECT_TRUE(Ok(c.Cli("a", {"--json", "conflicts"})).empty());
}

TEST(ReplTest, RemoteWinsAndLocalWinsNeedAOneWayRemote) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  c.Add("m");  // a mirror of a
  ASSERT_EQ(c.Link("m", "a", {"--direction", "pull"}).exit_code, 0);
  ASSERT_EQ(c.Cli("m", {"collection", "set", "notes", "--conflicts", "remote-wins"}).exit_code, 0);
  Put(c, "a", "n", R"({"x":0})");
  Ok(c.Sync("m", {"a"}));
  Put(c, "a", "n", R"({"x":"upstream"})");
  Put(c, "m", "n", R"({"x":"local edit"})");
  Ok(c.Sync("m", {"a"}));
  EXPECT_EQ(Body(c, "m", "n"), R"({"x":"upstream"})");
  EXPECT_NE(c.Read("m").at("notes/n").conflicts.find("local edit"), std::string::npos);

  ASSERT_EQ(c.Cli("m", {"collection", "set", "notes", "--conflicts", "local-wins"}).exit_code, 0);
  Put(c, "a", "n", R"({"x":"upstream 2"})");
  Put(c, "m", "n", R"({"x":"local 2"})");
  Ok(c.Sync("m", {"a"}));
  EXPECT_EQ(Body(c, "m", "n"), R"({"x":"local 2"})");

  // On a two-way remote the policy is refused before anything moves.
  ASSERT_EQ(c.Link("m", "b").exit_code, 0);
  Put(c, "b", "other", "{}");
  const RunResult r = c.Sync("m", {"b"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("one-way"), std::string::npos) << r.err;
  EXPECT_EQ(c.Read("m").count("notes/other"), 0u);
}

// A held version is not in a's streams, so a's FSIC must not claim it: c,
// which trusts a's FSIC, would otherwise never get b's write from anyone.
TEST(ReplTest, AHeldVersionIsNotClaimedByTheFsic) {
  Cluster c;
  c.Add("a");
  c.Add("b");
  c.Add("c");
  ASSERT_EQ(c.Cli("a", {"collection", "set", "notes", "--conflicts", "skip"}).exit_code, 0);
  ASSERT_EQ(c.Link("a", "b", {"--direction", "pull"}).exit_code, 0);
  ASSERT_EQ(c.Link("c", "a", {"--direction", "pull"}).exit_code, 0);
  ASSERT_EQ(c.Link("c", "b", {"--direction", "pull"}).exit_code, 0);
  Put(c, "a", "n", R"({"x":"a"})");
  Put(c, "b", "n", R"({"x":"b"})");  // concurrent: a holds it
  Put(c, "b", "later", R"({"y":1})");
  EXPECT_EQ(Ok(c.Sync("a", {"b"}))["held"], 1);
  EXPECT_EQ(Body(c, "a", "later"), R"({"y":1})");  // the rest moved on
  Ok(c.Sync("c", {"a"}));
  EXPECT_EQ(Body(c, "c", "n"), R"({"x":"a"})");
  // b's write reaches c from b itself: merged as a conflict there.
  Ok(c.Sync("c", {"b"}));
  const auto n = c.Read("c").at("notes/n");
  EXPECT_NE(n.vv.find(c.Read("b").at("notes/n").version.substr(0, 32)), std::string::npos) << n.vv;
  EXPECT_FALSE(n.conflicts.empty());
  // Once a person resolves it on a, a's FSIC moves on.
  ASSERT_EQ(c.Cli("a", {"conflicts", "resolve", "notes", "n", "--keep", "local"}).exit_code, 0);
  EXPECT_EQ(Ok(c.Sync("a", {"b"}))["held"], 0);
}

// A store restored in place from an older copy (same file, so the copy
// check at open does not fire) has a counter behind writes its identity
// already replicated. Syncs refuse until `braid identity renew`; then the
// writes the copy lost come back and new ones go out under the new id.
TEST(ReplTest, AStoreRestoredInPlaceMustRenewItsIdentity) {
  if (testing::TestStoreKind() != "sqlite") {
    GTEST_SKIP() << "restores a copy of DIR/store.db's file: SQLite only (docs/storage.md, "
                    "\"PostgreSQL\": a restored database is renewed by hand)";
  }
  Cluster c;
  c.Add("a");
  c.Add("b");
  ASSERT_EQ(c.Link("a", "b").exit_code, 0);
  ASSERT_EQ(c.Link("b", "a").exit_code, 0);
  for (int i = 1; i <= 3; ++i) Put(c, "a", "n" + std::to_string(i), R"({"v":1})");
  Ok(c.Sync("a", {"b"}));
  const std::string db = c["a"].dir + "/store.db";
  auto read_all = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  ASSERT_TRUE(c["a"].server->Stop().ok());  // closing checkpoints the WAL
  const std::string backup = read_all(db);
  ASSERT_TRUE(c["a"].server->Restart().ok());
  Put(c, "a", "n4", R"({"v":1})");
  Put(c, "a", "n5", R"({"v":1})");
  Ok(c.Sync("a", {"b"}));
  const std::string old_id = Ok(c.Cli("a", {"--json", "status"}))["instance_id"];

  ASSERT_TRUE(c["a"].server->Stop().ok());
  {
    std::ofstream out(db, std::ios::binary | std::ios::trunc);  // same inode
    out << backup;
  }
  std::filesystem::remove(db + "-wal");
  std::filesystem::remove(db + "-shm");
  ASSERT_TRUE(c["a"].server->Restart().ok());
  EXPECT_EQ(c.Read("a").count("notes/n4"), 0u);  // lost with the restore

  // Both directions refuse, and say what to do.
  RunResult r = c.Sync("a", {"b"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("braid identity renew"), std::string::npos) << r.err;
  r = c.Sync("b", {"a"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("restored from an older copy"), std::string::npos) << r.err;

  // Not beside a running server.
  r = c.Cli("a", {"identity", "renew"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("stop it first"), std::string::npos) << r.err;
  ASSERT_TRUE(c["a"].server->Stop().ok());
  json renewed = Ok(c.Cli("a", {"--json", "identity", "renew"}));
  EXPECT_EQ(renewed["old_instance_id"], old_id);
  EXPECT_NE(renewed["instance_id"], old_id);
  ASSERT_TRUE(c["a"].server->Restart().ok());

  json s = Ok(c.Sync("a", {"b"}));
  EXPECT_EQ(s["received"], 2) << s;  // n4 and n5, and nothing a already had
  Put(c, "a", "n6", R"({"v":1})");
  Ok(c.Sync("a", {"b"}));
  const auto a = c.Read("a");
  EXPECT_EQ(a.size(), 6u);
  EXPECT_EQ(a, c.Read("b")) << Describe(a) << "---\n" << Describe(c.Read("b"));
}

TEST(ReplTest, OneServerPerDataDirectory) {
  Cluster c;
  c.Add("a");
  const RunResult r = c.Cli("a", {"serve", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("already running"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace braid
