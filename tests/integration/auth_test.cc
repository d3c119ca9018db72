// Accounts and the authenticated API against a real `braid serve`: each
// refusal (no credentials, a wrong password, a reader writing, a writer
// outside its scope, a scoped reader reading past it, replication outside a
// token's scope) answers its code and writes nothing.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "http/client.h"
#include "tests/support/cluster.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using nlohmann::json;
using testing::Braid;
using testing::BraidServer;
using testing::Cluster;
using testing::LastLine;
using testing::RunResult;
using testing::TempDir;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.File("data");
    ASSERT_EQ(Braid(data_, {"init"}).exit_code, 0);
    AddUser("wanda", {"--role", "writer", "--scope", "lab-a"});
    AddUser("rita", {"--role", "reader"});
    AddUser("sam", {"--role", "reader", "--scope", "lab-a"});
    auto s = BraidServer::Start(data_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    admin_ = server_->AdminClient();
    // A record outside wanda's scope, written by the admin.
    ASSERT_EQ(Send(*admin_, "PUT", "/api/v1/collections/notes/records/b1",
                   R"({"body":{"x":1},"partition":"lab-b"})")
                  .status,
              201);
  }
  void TearDown() override {
    if (server_) {
      auto code = server_->Stop();
      EXPECT_TRUE(code.ok() && *code == 0) << server_->LogTail();
    }
  }

  void AddUser(const std::string& name, std::vector<std::string> args) {
    args.insert(args.begin(), {"user", "add", name});
    const RunResult r = Braid(data_, args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    passwords_[name] = LastLine(r.out);
  }
  std::unique_ptr<http::Client> As(const std::string& name, const std::string& password = "") {
    http::ClientOptions o;
    o.authorization =
        testing::BasicAuthorization(name, password.empty() ? passwords_.at(name) : password);
    return std::move(*http::Client::Create(o));
  }
  http::ClientResponse Send(http::Client& c, const std::string& method, const std::string& path,
                            const std::string& body = "") {
    auto r = c.Send(
        method, server_->url() + path, body,
        body.empty() ? http::Headers{} : http::Headers{{"Content-Type", "application/json"}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }
  void ExpectError(const http::ClientResponse& r, int status, const std::string& code,
                   const std::string& words = "") {
    testing::ExpectApiError(r, status, code, words);
  }
  uint64_t LastSeq() {
    return json::parse(Send(*admin_, "GET", "/api/v1/stats").body)["last_seq"].get<uint64_t>();
  }

  TempDir dir_;
  std::string data_;
  std::map<std::string, std::string> passwords_;
  std::unique_ptr<BraidServer> server_;
  std::unique_ptr<http::Client> admin_;
};

TEST_F(AuthTest, WithoutValidCredentialsNothingIsReadOrWritten) {
  const uint64_t before = LastSeq();
  auto anonymous = std::move(*http::Client::Create());
  const std::string put = R"({"body":{"x":2}})";
  for (const char* path : {"/api/v1/info", "/api/v1/collections/notes/records/b1", "/api/v1/delta",
                           "/api/v1/stats", "/api/v1/nowhere"}) {
    const auto r = Send(*anonymous, "GET", path);
    ExpectError(r, 401, "unauthorized", "braid user add");
    EXPECT_NE(r.Header("WWW-Authenticate").find("Basic"), std::string::npos);
  }
  ExpectError(Send(*anonymous, "PUT", "/api/v1/collections/notes/records/n1", put), 401,
              "unauthorized");
  // A wrong password and an unknown user get the same answer.
  const auto wrong =
      Send(*As("wanda", "not-her-password"), "PUT", "/api/v1/collections/notes/records/n1", put);
  const auto unknown =
      Send(*As("nobody", "not-her-password"), "PUT", "/api/v1/collections/notes/records/n1", put);
  ExpectError(wrong, 401, "unauthorized", "wrong user name or password");
  EXPECT_EQ(wrong.body, unknown.body);
  // A token that is not this server's.
  http::ClientOptions o;
  o.authorization = "Bearer braid_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  ExpectError(Send(**http::Client::Create(o), "GET", "/api/v1/info"), 401, "unauthorized");
  // Public: the health check; metrics from this machine (the default).
  EXPECT_EQ(Send(*anonymous, "GET", "/healthz").status, 200);
  EXPECT_EQ(Send(*anonymous, "GET", "/metrics").status, 200);
  EXPECT_EQ(LastSeq(), before);
}

TEST_F(AuthTest, RolesAndScopesLimitWrites) {
  const uint64_t before = LastSeq();
  auto rita = As("rita"), wanda = As("wanda");
  // A reader reads everything, writes nothing.
  EXPECT_EQ(Send(*rita, "GET", "/api/v1/collections/notes/records/b1").status, 200);
  EXPECT_EQ(Send(*rita, "GET", "/api/v1/delta").status, 200);
  ExpectError(Send(*rita, "PUT", "/api/v1/collections/notes/records/r1", R"({"body":{}})"), 403,
              "forbidden", "user rita (reader) cannot write records");
  ExpectError(Send(*rita, "POST", "/api/v1/batch",
                   R"({"records":[{"collection":"notes","id":"r2","body":{}}]})"),
              403, "forbidden");
  ExpectError(Send(*rita, "DELETE", "/api/v1/collections/notes/records/b1"), 403, "forbidden");
  // A writer scoped to lab-a: not a new record elsewhere (the default
  // partition is the collection), not an existing one of lab-b, not a batch
  // with one such item, not a delete there.
  ExpectError(Send(*wanda, "PUT", "/api/v1/collections/notes/records/w1", R"({"body":{}})"), 403,
              "forbidden", "not in partition \"notes\"");
  ExpectError(Send(*wanda, "PUT", "/api/v1/collections/notes/records/b1", R"({"body":{"x":3}})"),
              403, "forbidden", "lab-b");
  ExpectError(Send(*wanda, "POST", "/api/v1/batch",
                   R"({"records":[{"collection":"notes","id":"w2","body":{},"partition":"lab-a"},)"
                   R"({"collection":"notes","id":"w3","body":{},"partition":"lab-ab"}]})"),
              403, "forbidden");
  ExpectError(Send(*wanda, "DELETE", "/api/v1/collections/notes/records/b1"), 403, "forbidden");
  ExpectError(Send(*wanda, "PUT", "/api/v1/collections/notes", R"({"conflicts":"lww"})"), 403,
              "forbidden", "needs the admin role");
  EXPECT_EQ(LastSeq(), before);
  EXPECT_EQ(json::parse(Send(*admin_, "GET", "/api/v1/collections/notes/records/b1").body)["body"],
            json::parse(R"({"x":1})"));
  // Inside its scope it writes.
  EXPECT_EQ(Send(*wanda, "PUT", "/api/v1/collections/notes/records/w1",
                 R"({"body":{},"partition":"lab-a:x"})")
                .status,
            201);
  EXPECT_EQ(
      Send(*wanda, "PUT", "/api/v1/collections/notes/records/w1", R"({"body":{"y":1}})").status,
      200);
  EXPECT_EQ(Send(*admin_, "PUT", "/api/v1/collections/notes", R"({"conflicts":"lww"})").status,
            200);
}

TEST_F(AuthTest, AScopedReaderReadsOnlyInsideItsScope) {
  auto sam = As("sam");
  ASSERT_EQ(Send(*admin_, "PUT", "/api/v1/collections/notes/records/a1",
                 R"({"body":{},"partition":"lab-a"})")
                .status,
            201);
  EXPECT_EQ(Send(*sam, "GET", "/api/v1/collections/notes/records/a1").status, 200);
  ExpectError(Send(*sam, "GET", "/api/v1/collections/notes/records/b1"), 403, "forbidden",
              "not partition \"lab-b\"");
  // Reads spanning every partition are refused, with what to do instead.
  for (const char* path : {"/api/v1/delta", "/api/v1/collections/notes/records",
                           "/api/v1/conflicts", "/api/v1/stats"}) {
    ExpectError(Send(*sam, "GET", path), 403, "forbidden", "pull with a filter");
  }
}

TEST_F(AuthTest, UsersChangeAtOnceAndTheCliRefusesBadInput) {
  auto rita = As("rita");
  EXPECT_EQ(Send(*rita, "GET", "/api/v1/info").status, 200);
  // The CLI's refusals.
  EXPECT_EQ(Braid(data_, {"user", "add", "x", "--role", "boss"}).exit_code, 2);
  EXPECT_EQ(Braid(data_, {"user", "add", "Bad Name", "--role", "reader"}).exit_code, 2);
  EXPECT_EQ(Braid(data_, {"user", "add", "rita", "--role", "reader"}).exit_code, 4);
  EXPECT_EQ(Braid(data_, {"user", "add", "y", "--role", "admin", "--scope", "lab-a"}).exit_code, 2);
  EXPECT_EQ(Braid(data_, {"user", "add", "y", "--role", "reader", "--scope", "a::b"}).exit_code, 2);
  const std::string short_file = dir_.File("short");
  std::ofstream(short_file) << "abc\n";
  EXPECT_EQ(Braid(data_, {"user", "add", "y", "--role", "reader", "--password-file", short_file})
                .exit_code,
            2);
  EXPECT_EQ(Braid(data_, {"user", "passwd", "nobody"}).exit_code, 3);
  EXPECT_EQ(Braid(data_, {"token", "create", "t", "--role", "boss"}).exit_code, 2);
  const RunResult list = Braid(data_, {"--json", "user", "list"});
  ASSERT_EQ(list.exit_code, 0);
  const json users = json::parse(list.out);
  ASSERT_EQ(users.size(), 4u);  // admin, rita, sam, wanda
  EXPECT_EQ(users[3]["name"], "wanda");
  EXPECT_EQ(users[3]["scope"], json::parse(R"(["lab-a"])"));
  EXPECT_EQ(list.out.find("scrypt"), std::string::npos);  // hashes are never printed
  // A new password from a file; the old one stops working at once.
  const std::string file = dir_.File("rita-password");
  std::ofstream(file) << "a new password\n";
  ASSERT_EQ(Braid(data_, {"user", "passwd", "rita", "--password-file", file}).exit_code, 0);
  ExpectError(Send(*rita, "GET", "/api/v1/info"), 401, "unauthorized");
  EXPECT_EQ(Send(*As("rita", "a new password"), "GET", "/api/v1/info").status, 200);
  ASSERT_EQ(Braid(data_, {"user", "remove", "rita"}).exit_code, 0);
  ExpectError(Send(*As("rita", "a new password"), "GET", "/api/v1/info"), 401, "unauthorized");
  EXPECT_EQ(Braid(data_, {"user", "remove", "rita"}).exit_code, 3);
}

TEST(AuthThrottleTest, RepeatedFailuresAreSlowedDown) {
  TempDir dir;
  auto s = BraidServer::Start(dir.File("data"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto& server = *s;
  http::ClientOptions o;
  o.authorization = testing::BasicAuthorization("admin", "guess-guess");
  auto guesser = std::move(*http::Client::Create(o));
  int refused_401 = 0;
  for (int i = 0; i < 6; ++i) {
    auto r = guesser->Get(server->url() + "/api/v1/info");
    ASSERT_TRUE(r.ok());
    if (r->status == 401) ++refused_401;
  }
  EXPECT_EQ(refused_401, 6);
  // Now even the right password waits.
  auto r = server->AdminClient()->Get(server->url() + "/api/v1/info");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_EQ(json::parse(r->body)["code"], "tooManyRequests");
  EXPECT_GE(std::stoi(std::string(r->Header("Retry-After"))), 1);
  // The health check is not behind the login.
  EXPECT_EQ(guesser->Get(server->url() + "/healthz")->status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(server->AdminClient()->Get(server->url() + "/api/v1/info")->status, 200);
  ASSERT_TRUE(server->Stop().ok());
}

// Replication with tokens of limited role and scope: a pull inside the read
// scope works, one outside it and a push of a reader token are refused
// before anything moves.
TEST(AuthReplicationTest, TokensLimitWhatReplicates) {
  Cluster c;
  c.Add("a");
  c.Add("b", /*serve=*/false);
  auto admin = c["a"].TokenClient();  // a writer
  for (const char* p : {"lab-a", "lab-b"}) {
    auto r = admin->Put(c["a"].server->url() + "/api/v1/collections/notes/records/" + p,
                        std::string(R"({"body":{},"partition":")") + p + "\"}");
    ASSERT_TRUE(r.ok() && r->status == 201);
  }
  const RunResult token =
      c.Cli("a", {"token", "create", "lab-a-reader", "--role", "reader", "--scope", "lab-a"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const std::string value = LastLine(token.out);
  const std::string url = c["a"].server->url();
  ASSERT_EQ(
      c.Cli("b", {"remote", "add", "everything", url, "--token", value, "--direction", "pull"})
          .exit_code,
      0);
  ASSERT_EQ(c.Cli("b", {"remote", "add", "lab-b", url, "--token", value, "--direction", "pull",
                        "--filter", "lab-b"})
                .exit_code,
            0);
  ASSERT_EQ(
      c.Cli("b", {"remote", "add", "both", url, "--token", value, "--filter", "lab-a"}).exit_code,
      0);
  ASSERT_EQ(c.Cli("b", {"remote", "add", "lab-a", url, "--token", value, "--direction", "pull",
                        "--filter", "lab-a"})
                .exit_code,
            0);
  for (const char* remote : {"everything", "lab-b", "both"}) {
    const RunResult r = c.Sync("b", {remote});
    EXPECT_EQ(r.exit_code, 8) << remote << ": " << r.err;
    EXPECT_NE(r.err.find("HTTP 403"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(c.Read("b").empty());
  const RunResult ok = c.Sync("b", {"lab-a"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  const auto state = c.Read("b");
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state.begin()->first, "notes/lab-a");
}

// A remote reached as a user of the other instance (HTTP Basic), as
// SENAITE.SYNC's remotes are: a reader pulls; a wrong password is refused
// with what to check; the password is never shown.
TEST(AuthReplicationTest, ARemoteSignsInAsAUser) {
  TempDir dir;
  const std::string a = dir.File("a"), b = dir.File("b");
  ASSERT_EQ(Braid(a, {"init", "--no-admin"}).exit_code, 0);
  ASSERT_EQ(Braid(b, {"init", "--no-admin"}).exit_code, 0);
  const std::string password_file = dir.File("pw");
  std::ofstream(password_file) << "puller-password\n";
  ASSERT_EQ(
      Braid(a, {"user", "add", "puller", "--role", "reader", "--password-file", password_file})
          .exit_code,
      0);
  ASSERT_EQ(Braid(a, {"put", "notes", "n1"}, R"({"x":1})").exit_code, 0);
  auto server = BraidServer::Start(a);
  ASSERT_TRUE(server.ok());
  const std::string url = (*server)->url();
  ASSERT_EQ(Braid(b, {"remote", "add", "a", url, "--direction", "pull", "--user", "puller",
                      "--password-file", password_file})
                .exit_code,
            0);
  const RunResult sync = Braid(b, {"sync", "a"});
  EXPECT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_EQ(Braid(b, {"get", "notes", "n1"}).exit_code, 0);
  const RunResult show = Braid(b, {"remote", "show", "a"});
  EXPECT_NE(show.out.find("puller"), std::string::npos) << show.out;
  EXPECT_EQ(show.out.find("puller-password"), std::string::npos) << show.out;
  // Both or neither of --user and --password-file, and not with a token.
  EXPECT_EQ(Braid(b, {"remote", "add", "x", url, "--user", "puller"}).exit_code, 2);
  EXPECT_EQ(Braid(b, {"remote", "add", "x", url, "--user", "puller", "--password-file",
                      password_file, "--token", "t"})
                .exit_code,
            2);
  std::ofstream(password_file, std::ios::trunc) << "wrong-password\n";
  ASSERT_EQ(Braid(b, {"remote", "add", "a", url, "--direction", "pull", "--user", "puller",
                      "--password-file", password_file})
                .exit_code,
            0);
  const RunResult refused = Braid(b, {"sync", "a"});
  EXPECT_EQ(refused.exit_code, 8) << refused.err;
  EXPECT_NE(refused.err.find("braid user passwd"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("wrong-password"), std::string::npos) << refused.err;
  ASSERT_TRUE((*server)->Stop().ok());
}

}  // namespace
}  // namespace braid
