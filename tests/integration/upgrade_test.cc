// Stores written by earlier braid releases open with today's code and keep
// everything: tests/fixtures/vN/store.db was written by the braid of schema N
// (tests/fixtures/make-fixture), with expected.json, its contents as that
// braid read them (tests/support/store_dump.h); tests/fixtures/pg-vN/store.sql
// is a PostgreSQL store of schema N (tests/fixtures/make-pg-fixture).

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <algorithm>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <thread>

#include "braid/store.h"
#include "pg/conn.h"
#include "store/postgres/schema.h"
#include "store/sqlite/schema.h"
#include "tests/support/pg_server.h"
#include "tests/support/server.h"
#include "tests/support/store_dump.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first line where two texts differ, for a readable failure.
std::string FirstDifference(const std::string& want, const std::string& got) {
  std::istringstream a(want), b(got);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool ha = static_cast<bool>(std::getline(a, la));
    const bool hb = static_cast<bool>(std::getline(b, lb));
    if (!ha && !hb) return "no difference";
    if (!ha || !hb || la != lb) {
      return "line " + std::to_string(line) + ": expected \"" + (ha ? la : "<end>") + "\", got \"" +
             (hb ? lb : "<end>") + "\"";
    }
  }
}

// Copies fixture `version` into `dir` as an in-place upgrade would find it:
// the store's recorded file identity is the copy's, so it keeps its
// instance id (a copy from elsewhere gets a new one; store_test covers that).
std::string InstallFixture(const std::string& version, const testing::TempDir& dir) {
  const std::string from = std::string(BRAID_FIXTURES) + "/" + version + "/store.db";
  const std::string to = dir.File("store.db");
  fs::copy_file(from, to);
  struct stat st;
  EXPECT_EQ(::stat(to.c_str(), &st), 0);
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(to.c_str(), &db), SQLITE_OK);
  const std::string sql = "UPDATE meta SET value = '" + std::to_string(st.st_ino) +
                          "' WHERE key = 'file_id'; UPDATE meta SET value = '" + to +
                          "' WHERE key = 'path';";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  return to;
}

// Runs one integer query with plain SQLite.
int64_t RawInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &q, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  EXPECT_EQ(sqlite3_step(q), SQLITE_ROW);
  const int64_t v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
  return v;
}

std::unique_ptr<Store> Open(const std::string& path) {
  auto store = Store::Open("sqlite:" + path, StoreOptions());
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

void ExpectFixtureContents(Store& store, const std::string& version) {
  auto dump = testing::DumpStore(store, {"lab_a"});
  ASSERT_TRUE(dump.ok()) << dump.status().ToString();
  const std::string want = ReadFile(std::string(BRAID_FIXTURES) + "/" + version + "/expected.json");
  EXPECT_TRUE(*dump == want) << FirstDifference(want, *dump);
}

// Every fixture (the store of each earlier schema) opens, upgrades, and
// keeps everything in it.
class FixtureTest : public ::testing::TestWithParam<int> {};

TEST_P(FixtureTest, UpgradesWithEverythingInIt) {
  const int schema = GetParam();
  const std::string version = "v" + std::to_string(schema);
  testing::TempDir dir;
  const std::string path = InstallFixture(version, dir);
  ASSERT_EQ(RawInt(path, "PRAGMA user_version"), schema);
  auto store = Open(path);
  ASSERT_NE(store, nullptr);
  ExpectFixtureContents(*store, version);
  auto stats = store->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->schema_version, sqlite::kSchemaVersion);
  store.reset();
  EXPECT_EQ(RawInt(path, "PRAGMA user_version"), sqlite::kSchemaVersion);
  // Opened again, nothing is left to do and nothing changed.
  store = Open(path);
  ASSERT_NE(store, nullptr);
  ExpectFixtureContents(*store, version);
}

INSTANTIATE_TEST_SUITE_P(Schemas, FixtureTest, ::testing::Range(1, sqlite::kSchemaVersion),
                         [](const auto& info) { return "v" + std::to_string(info.param); });

// An upgrade killed in the middle of a migration (SIGKILL inside its
// transaction) leaves the store as it was; the next open upgrades it.
TEST(UpgradeTest, AnUpgradeKilledMidwayLeavesTheOldSchemaWhole) {
  testing::TempDir dir;
  const std::string data = dir.File("data");
  ASSERT_EQ(testing::Braid(data, {"init"}).exit_code, 0);
  std::filesystem::remove(data + "/store.db");
  testing::TempDir fixture_dir;
  const std::string fixture = InstallFixture("v1", fixture_dir);
  std::filesystem::copy_file(fixture, data + "/store.db");
  {
    // Keep the identity check quiet: this copy is the store in place.
    struct stat st;
    ASSERT_EQ(::stat((data + "/store.db").c_str(), &st), 0);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((data + "/store.db").c_str(), &db), SQLITE_OK);
    const std::string sql =
        "UPDATE meta SET value = '" + std::to_string(st.st_ino) + "' WHERE key = 'file_id'";
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  const auto killed = testing::Run({"/usr/bin/env", "BRAID_FAILPOINTS=migrate=1",
                                    testing::BraidBin(), "--data", data, "status"});
  EXPECT_EQ(killed.exit_code, 128 + 9) << killed.err;
  EXPECT_NE(killed.err.find("upgrading the store from schema 1 to 2"), std::string::npos)
      << killed.err;
  EXPECT_EQ(RawInt(data + "/store.db", "PRAGMA user_version"), 1);
  EXPECT_EQ(RawInt(data + "/store.db",
                   "SELECT count(*) FROM pragma_table_info('state') WHERE name = 'unsynced_boot'"),
            0);
  // Killed again in the next migration (2 to 3): schema 2 stays, whole.
  const auto killed3 = testing::Run({"/usr/bin/env", "BRAID_FAILPOINTS=migrate=2",
                                     testing::BraidBin(), "--data", data, "status"});
  EXPECT_EQ(killed3.exit_code, 128 + 9) << killed3.err;
  EXPECT_NE(killed3.err.find("upgrading the store from schema 2 to 3"), std::string::npos)
      << killed3.err;
  EXPECT_EQ(RawInt(data + "/store.db", "PRAGMA user_version"), 2);
  EXPECT_EQ(RawInt(data + "/store.db", "SELECT count(*) FROM sqlite_schema WHERE name = 'users'"),
            0);
  // And in the one after (3 to 4, the second migration this process runs):
  // schema 3 stays, without certificates.
  ASSERT_EQ(testing::Run({"/usr/bin/env", "BRAID_FAILPOINTS=migrate=2", testing::BraidBin(),
                          "--data", data, "status"})
                .exit_code,
            128 + 9);
  EXPECT_EQ(RawInt(data + "/store.db", "PRAGMA user_version"), 3);
  EXPECT_EQ(RawInt(data + "/store.db", "SELECT count(*) FROM users"), 0);
  EXPECT_EQ(
      RawInt(data + "/store.db", "SELECT count(*) FROM sqlite_schema WHERE name = 'certificates'"),
      0);
  const auto status = testing::Braid(data, {"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("schema          " + std::to_string(sqlite::kSchemaVersion)),
            std::string::npos)
      << status.out;
  auto store = Open(data + "/store.db");
  ASSERT_NE(store, nullptr);
  ExpectFixtureContents(*store, "v1");
}

TEST(UpgradeTest, AStoreOfANewerBraidIsRefusedNamingBothSchemas) {
  testing::TempDir dir;
  const std::string path = InstallFixture("v1", dir);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = Store::Open("sqlite:" + path, StoreOptions());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kCorruption);
  EXPECT_NE(store.status().message().find("schema 99"), std::string::npos)
      << store.status().ToString();
  EXPECT_NE(store.status().message().find("schema " + std::to_string(sqlite::kSchemaVersion)),
            std::string::npos)
      << store.status().ToString();
  EXPECT_EQ(RawInt(path, "PRAGMA user_version"), 99);
}

// Tokens made before roles existed keep working after the upgrade, as
// writers of every partition (what they could do: pull and push).
TEST(UpgradeTest, AnUpgradedStoresTokenStillReadsAndWrites) {
  testing::TempDir dir;
  const std::string data = dir.File("data");
  ASSERT_EQ(testing::Braid(data, {"init"}).exit_code, 0);
  std::filesystem::remove(data + "/store.db");
  testing::TempDir fixture_dir;
  std::filesystem::copy_file(InstallFixture("v1", fixture_dir), data + "/store.db");
  const auto list = testing::Braid(data, {"--json", "token", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(R"("role":"writer","scope":[])"), std::string::npos) << list.out;
  auto server = testing::BraidServer::Start(data);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  std::string token = ReadFile(std::string(BRAID_FIXTURES) + "/v1/token.txt");
  while (!token.empty() && token.back() == '\n') token.pop_back();
  http::ClientOptions o;
  o.authorization = "Bearer " + token;
  auto client = std::move(*http::Client::Create(o));
  auto r = client->Get((*server)->url() + "/api/v1/info");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  r = client->Put((*server)->url() + "/api/v1/collections/notes/records/after-upgrade",
                  R"({"body":{}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 201) << r->body;
  ASSERT_TRUE((*server)->Stop().ok());
}

// What schema 3 added and store_dump of that release leaves out: users,
// tokens' roles and scopes, remotes' user and CA file (make-fixture made
// them). After the upgrade the store has no certificates until a keyring
// opens it; braid serve then makes the instance's key and root.
TEST(UpgradeTest, V3AccountsSurviveAndTheFirstServeMakesTheKeys) {
  testing::TempDir fixture_dir;
  const std::string path = InstallFixture("v3", fixture_dir);
  {
    auto store = Open(path);
    ASSERT_NE(store, nullptr);
    auto ana = store->GetUser("ana");
    ASSERT_TRUE(ana.ok() && ana->has_value());
    EXPECT_EQ((*ana)->role, Role::kReader);
    EXPECT_EQ((*ana)->scope, Scope({"lab_a"}));
    EXPECT_EQ((*ana)->password_hash.rfind("scrypt$", 0), 0u);
    auto users = store->ListUsers();
    ASSERT_TRUE(users.ok());
    ASSERT_EQ(users->size(), 3u);  // admin, ana, wes
    EXPECT_EQ((*users)[2].name, "wes");
    EXPECT_EQ((*users)[2].role, Role::kWriter);
    auto tokens = store->ListTokens();
    ASSERT_TRUE(tokens.ok());
    bool scoped = false;
    for (const auto& t : *tokens) {
      if (t.name != "scoped") continue;
      scoped = true;
      EXPECT_EQ(t.role, Role::kReader);
      EXPECT_EQ(t.scope, Scope({"lab_a", "lab_b:x"}));
    }
    EXPECT_TRUE(scoped);
    auto remote = store->GetRemote("viauser");
    ASSERT_TRUE(remote.ok() && remote->has_value());
    EXPECT_EQ((*remote)->user, "peer");
    EXPECT_EQ((*remote)->token, "fixture-password-1");
    EXPECT_NE((*remote)->ca_cert.find("lab-x.pem"), std::string::npos);
    EXPECT_EQ((*remote)->cert, "");
    auto certs = store->ListCertificates();
    ASSERT_TRUE(certs.ok());
    EXPECT_TRUE(certs->empty());
  }
  testing::TempDir dir;
  const std::string data = dir.File("data");
  ASSERT_EQ(testing::Braid(data, {"init", "--no-admin"}).exit_code, 0);
  std::filesystem::remove_all(data + "/keys");
  std::filesystem::remove(data + "/store.db");
  std::filesystem::copy_file(path, data + "/store.db");
  auto server = testing::BraidServer::Start(data);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_TRUE((*server)->Stop().ok());
  struct stat st {};
  ASSERT_EQ(::stat((data + "/keys/instance.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto list = testing::Braid(data, {"--json", "cert", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(R"("own":true,"root":true)"), std::string::npos) << list.out;
}

}  // namespace
// What schema 4 added, and schema 5's index of the blobs records name,
// filled by the migration from the attachment lists the records had: the
// certificate b signed for a survives; docs/d1 names two blobs and notes/n5
// one of them; notes/n1's attachment was removed before the upgrade.
TEST(UpgradeTest, V4CertificatesSurviveAndTheBlobIndexIsFilled) {
  testing::TempDir dir;
  const std::string path = InstallFixture("v4", dir);
  auto store = Open(path);
  ASSERT_NE(store, nullptr);
  auto certs = store->ListCertificates();
  ASSERT_TRUE(certs.ok());
  EXPECT_EQ(certs->size(), 3u);  // a's own, b's root, and a's root
  auto remote = store->GetRemote("b");
  ASSERT_TRUE(remote.ok() && remote->has_value());
  EXPECT_FALSE((*remote)->cert.empty());
  const std::string report = "59835cb977942f5e2c3f1b0c7c5e08ddcea2344659f7ffb09ef04e92466647b3";
  const std::string scan = "bd3a3b9c21724c34874d83b816feedd6a31f13622c765569b301e709c0d32cb5";
  auto refs = store->ListBlobRefs("", 10);
  ASSERT_TRUE(refs.ok()) << refs.status().ToString();
  ASSERT_EQ(refs->size(), 2u);
  EXPECT_EQ((*refs)[0], (BlobRef{report, "3f9ccff5885b962a4a313d65664acc60", 17}));
  EXPECT_EQ((*refs)[1], (BlobRef{scan, "6e10962bd706cf1f9472344fd9b9a725", 3000}));
  auto naming = store->RecordsNamingBlob(report, 10);
  ASSERT_TRUE(naming.ok());
  ASSERT_EQ(naming->size(), 2u);
  std::vector<std::string> names = {(*naming)[0].collection + "/" + (*naming)[0].id,
                                    (*naming)[1].collection + "/" + (*naming)[1].id};
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"docs/d1", "notes/n5"}));
  auto dropped = store->DroppedBlobs(10);
  ASSERT_TRUE(dropped.ok());
  EXPECT_TRUE(dropped->empty());
  auto steps = store->StepRuns();
  ASSERT_TRUE(steps.ok());
  EXPECT_TRUE(steps->empty());
  // Writes after the upgrade keep the index: deleting d1 leaves report.txt
  // named by n5 and drops scan 1.bin.
  {
    auto txn = store->BeginWrite(Durability::kFull);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->Delete("docs", "d1").ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  refs = store->ListBlobRefs("", 10);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].sha256, report);
  dropped = store->DroppedBlobs(10);
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, (std::vector<std::string>{report, scan}));
}

// Schema 6 gives collections their search fields: none after the upgrade
// (every string field), the policies kept beside them, and the mirror
// steps schema 5 recorded still there.
TEST(UpgradeTest, V5CollectionsGetSearchFieldsAndKeepTheirPolicies) {
  testing::TempDir dir;
  const std::string path = InstallFixture("v5", dir);
  auto store = Open(path);
  ASSERT_NE(store, nullptr);
  auto fields = store->SearchFields();
  ASSERT_TRUE(fields.ok()) << fields.status().ToString();
  EXPECT_TRUE(fields->empty());
  auto steps = store->StepRuns();
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps->size(), 2u);
  EXPECT_EQ((*steps)[0].step, "attachments");
  EXPECT_EQ((*steps)[1].step, "cache");
  {
    auto txn = store->BeginWrite(Durability::kFull);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->SetSearchFields("lwwc", "title:3,abstract:1").ok());
    ASSERT_TRUE((*txn)->SetSearchFields("books", "title:2").ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  fields = store->SearchFields();
  ASSERT_TRUE(fields.ok());
  EXPECT_EQ(*fields, (std::vector<std::pair<std::string, std::string>>{
                         {"books", "title:2"}, {"lwwc", "title:3,abstract:1"}}));
  auto policy = store->Policy("lwwc");
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(*policy, ConflictPolicy::kLww);  // search fields leave the policy alone
  {
    auto txn = store->BeginWrite(Durability::kFull);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->SetPolicy("lwwc", ConflictPolicy::kMerge).ok());  // and back
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  fields = store->SearchFields();
  ASSERT_TRUE(fields.ok());
  EXPECT_EQ(fields->size(), 2u);
}

// Schema 7 gives remotes their rules (none after the upgrade: they sync as
// before), users their source (made here) and collections their
// references (none), and keeps the search fields schema 6 recorded.
TEST(UpgradeTest, V6RemotesGetNoRulesAndKeepEverythingElse) {
  testing::TempDir dir;
  const std::string path = InstallFixture("v6", dir);
  auto store = Open(path);
  ASSERT_NE(store, nullptr);
  auto remotes = store->ListRemotes();
  ASSERT_TRUE(remotes.ok()) << remotes.status().ToString();
  ASSERT_EQ(remotes->size(), 3u);
  for (const Remote& r : *remotes) {
    EXPECT_EQ(r.rules, RemoteRules()) << r.name;
    EXPECT_EQ(r.failures, 0) << r.name;
    EXPECT_EQ(r.next_sync_ms, 0) << r.name;
  }
  EXPECT_EQ((*remotes)[1].name, "c");
  EXPECT_EQ((*remotes)[1].direction, Direction::kPull);
  auto users = store->ListUsers();
  ASSERT_TRUE(users.ok());
  ASSERT_FALSE(users->empty());
  for (const User& u : *users) EXPECT_EQ(u.source, "") << u.name;
  auto refs = store->References();
  ASSERT_TRUE(refs.ok());
  EXPECT_TRUE(refs->empty());
  auto fields = store->SearchFields();
  ASSERT_TRUE(fields.ok());
  EXPECT_EQ(*fields,
            (std::vector<std::pair<std::string, std::string>>{{"docs", "kind:3,steps:1"}}));
  // The new columns and table take writes.
  Remote c = (*remotes)[1];
  c.rules.skip = {"docs"};
  c.rules.auto_sync.period_seconds = 600;
  {
    auto txn = store->BeginWrite(Durability::kFull);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->SetReferences("docs", {{"author", false, "people"}}).ok());
    ASSERT_TRUE((*txn)->PutRemote(c).ok());
    ASSERT_TRUE((*txn)->ScheduleSync("c", 2, 12345).ok());
    ASSERT_TRUE((*txn)->MoveMarks("c", MarkKind::kPull, {{store->instance_id(), 1}}).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto got = store->GetRemote("c");
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ((*got)->rules, c.rules);
  EXPECT_EQ((*got)->failures, 2);
  EXPECT_EQ((*got)->next_sync_ms, 12345);
  refs = store->References();
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].second[0].target, "people");
  auto marks = store->Marks("c", MarkKind::kPull);
  ASSERT_TRUE(marks.ok());
  EXPECT_EQ(marks->Get(store->instance_id()), 1u);
  auto policy = store->Policy("docs");
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(*policy, ConflictPolicy::kMerge);
}

// Schema 8 keeps the replication sessions peers have open (and the
// challenges of certificate sessions): none after the upgrade; what schema
// 7 added (rules, references, marks, users' source) stays.
TEST(UpgradeTest, V7RemotesKeepTheirRulesAndSessionsCanBeKept) {
  testing::TempDir dir;
  const std::string path = InstallFixture("v7", dir);
  auto store = Open(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM sync_sessions"), 0);
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM sync_challenges"), 0);
  auto remote = store->GetRemote("cr");
  ASSERT_TRUE(remote.ok() && remote->has_value());
  EXPECT_EQ((*remote)->rules.prefix, "c_");
  EXPECT_EQ((*remote)->rules.skip, (std::vector<std::string>{"people"}));
  EXPECT_EQ((*remote)->rules.prefixable, (std::vector<std::string>{"docs"}));
  EXPECT_EQ((*remote)->rules.auto_sync.period_seconds, 3600);
  auto refs = store->References();
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].first, "docs");
  EXPECT_EQ((*refs)[0].second[0].target, "people");
  auto marks = store->Marks("cr", MarkKind::kPull);
  ASSERT_TRUE(marks.ok());
  EXPECT_FALSE(marks->empty());
  auto prefixed = store->Get("docs", "c_c3");
  ASSERT_TRUE(prefixed.ok() && prefixed->has_value());
  auto referenced = store->Get("people", "p1");
  ASSERT_TRUE(referenced.ok() && referenced->has_value());
  // The new tables take rows.
  SyncSessionRow session;
  session.key = std::string(64, 'a');
  session.owner = "token fixture";
  session.peer = *InstanceId::FromHex(std::string(32, 'e'));
  session.chunk_size = 500;
  session.codec = "identity";
  session.ends = {{store->instance_id(), 3}};
  session.created_ms = session.used_ms = 1;
  {
    auto txn = store->BeginWrite(Durability::kFull);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->PutSyncSession(session).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto got = store->GetSyncSession(session.key);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, session);
}

// The PostgreSQL backend's stores upgrade too: a schema-7 store (written by
// the backend's first release) opens, gets schema 8, and keeps everything.
class PgUpgradeTest : public ::testing::Test {
 protected:
  // A database holding tests/fixtures/pg-v7.
  void SetUp() override {
    auto conn = pg::Conn::Open(db_.uri());
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    const Status loaded = (*conn)->Exec(ReadFile(std::string(BRAID_FIXTURES) + "/pg-v7/store.sql"));
    ASSERT_TRUE(loaded.ok()) << loaded.ToString();
    ASSERT_EQ(Schema(), 7);
  }
  std::string Fixture(const std::string& name) {
    std::string text = ReadFile(std::string(BRAID_FIXTURES) + "/pg-v7/" + name);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  // meta's schema, and whether the sessions table is there, read with libpq.
  int64_t Schema() {
    auto conn = pg::Conn::Open(db_.uri());
    EXPECT_TRUE(conn.ok());
    auto rows = (*conn)->Query("SELECT value FROM meta WHERE key = 'schema'");
    EXPECT_TRUE(rows.ok() && rows->size() == 1);
    return std::stoll(std::string(rows->Text(0, 0)));
  }
  bool HasSessions() {
    auto conn = pg::Conn::Open(db_.uri());
    EXPECT_TRUE(conn.ok());
    auto rows = (*conn)->Query("SELECT to_regclass('sync_sessions') IS NOT NULL");
    EXPECT_TRUE(rows.ok());
    return rows->Bool(0, 0);
  }
  void ExpectFixtureContents(Store& store) {
    EXPECT_EQ(store.instance_id().Hex(), Fixture("instance.txt"));
    auto n1 = store.Get("notes", "n1");
    ASSERT_TRUE(n1.ok() && n1->has_value());
    EXPECT_EQ((*n1)->body, R"({"title":"first, edited"})");
    EXPECT_EQ((*n1)->parent, std::optional<std::string>("f1"));
    auto n2 = store.Get("notes", "n2");
    ASSERT_TRUE(n2.ok() && n2->has_value());
    EXPECT_EQ((*n2)->partition, "lab_a");
    auto n3 = store.Get("notes", "n3");
    ASSERT_TRUE(n3.ok() && n3->has_value());
    EXPECT_TRUE((*n3)->deleted);
    auto stats = store.Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->schema_version, postgres::kPgSchemaVersion);
    EXPECT_EQ(stats->counter, 5u);
    EXPECT_EQ(stats->last_seq, 5u);
    EXPECT_EQ(stats->live, 2u);
    EXPECT_EQ(stats->deleted, 1u);
    auto remote = store.GetRemote("peer");
    ASSERT_TRUE(remote.ok() && remote->has_value());
    EXPECT_EQ((*remote)->filter, (std::vector<std::string>{"lab_a"}));
    EXPECT_EQ((*remote)->token, "peer-token");
    auto policy = store.Policy("lwwc");
    ASSERT_TRUE(policy.ok());
    EXPECT_EQ(*policy, ConflictPolicy::kLww);
    auto tokens = store.ListTokens();
    ASSERT_TRUE(tokens.ok());
    ASSERT_EQ(tokens->size(), 1u);
    EXPECT_EQ((*tokens)[0].name, "fixture");
  }

  testing::TestDatabase db_{"pg_v7"};
};

TEST_F(PgUpgradeTest, ASchema7StoreIsUpgradedAndKeepsEverything) {
  EXPECT_FALSE(HasSessions());
  // Processes opening the old store at once: one upgrades, the others wait
  // for it under the lock, then find nothing to do.
  std::vector<std::unique_ptr<Store>> stores(3);
  std::vector<std::thread> threads;
  for (auto& store : stores) {
    threads.emplace_back([&] {
      auto opened = Store::Open(db_.uri(), StoreOptions());
      EXPECT_TRUE(opened.ok()) << opened.status().ToString();
      if (opened.ok()) store = std::move(*opened);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& store : stores) ASSERT_NE(store, nullptr);
  EXPECT_EQ(Schema(), postgres::kPgSchemaVersion);
  EXPECT_TRUE(HasSessions());
  ExpectFixtureContents(*stores[0]);
  // The new tables take rows, which every process reads.
  SyncSessionRow session;
  session.key = std::string(64, 'b');
  session.owner = "token fixture";
  session.peer = *InstanceId::FromHex(std::string(32, 'e'));
  session.chunk_size = 500;
  session.codec = "zstd";
  session.created_ms = session.used_ms = 1;
  {
    auto txn = stores[1]->BeginWrite();
    ASSERT_TRUE(txn.ok()) << txn.status().ToString();
    ASSERT_TRUE((*txn)->PutSyncSession(session).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto got = stores[2]->GetSyncSession(session.key);
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
  EXPECT_EQ(**got, session);
  stores.clear();
  // Opened again, nothing is left to do and nothing changed.
  auto again = Store::Open(db_.uri(), StoreOptions());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ExpectFixtureContents(**again);
}

// An upgrade killed inside its transaction leaves schema 7 whole (DDL is
// transactional in PostgreSQL); the next open upgrades.
TEST_F(PgUpgradeTest, AnUpgradeKilledMidwayLeavesSchema7Whole) {
  testing::TempDir dir;
  const auto killed =
      testing::Run({"/usr/bin/env", "BRAID_FAILPOINTS=migrate=1", testing::BraidBin(), "--data",
                    dir.File("data"), "init", "--no-admin", "--store", db_.uri()});
  EXPECT_EQ(killed.exit_code, 128 + 9) << killed.err;
  EXPECT_NE(killed.err.find("upgrading the store from schema 7 to 8"), std::string::npos)
      << killed.err;
  EXPECT_EQ(Schema(), 7);
  EXPECT_FALSE(HasSessions());
  auto store = Store::Open(db_.uri(), StoreOptions());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(Schema(), postgres::kPgSchemaVersion);
  ExpectFixtureContents(**store);
}

// A store of a newer braid is refused, naming both schemas.
TEST_F(PgUpgradeTest, AStoreOfANewerBraidIsRefused) {
  {
    auto conn = pg::Conn::Open(db_.uri());
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->Exec("UPDATE meta SET value = '99' WHERE key = 'schema'").ok());
  }
  auto store = Store::Open(db_.uri(), StoreOptions());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kCorruption);
  EXPECT_NE(store.status().message().find("schema 99"), std::string::npos)
      << store.status().ToString();
  EXPECT_EQ(Schema(), 99);
}

}  // namespace braid
