// HTTPS between real braid processes, with certificates this test makes
// (openssl): a remote that trusts the server's CA syncs; one that does not,
// or trusts another CA, is refused with a message naming --ca-cert; SIGHUP
// makes the server take a new certificate.

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "http/client.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using testing::Braid;
using testing::BraidServer;
using testing::RunResult;
using testing::TempDir;

void Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = testing::Run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// A CA (DIR/NAME-ca.pem) and a certificate it signed for 127.0.0.1 and
// localhost (DIR/NAME.pem, DIR/NAME.key).
void MakeCaAndServerCert(const std::string& dir, const std::string& name) {
  const std::string ca = dir + "/" + name + "-ca";
  const std::string srv = dir + "/" + name;
  Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2", "-subj",
           "/CN=braid test CA " + name});
  Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
           srv + ".key", "-out", srv + ".csr", "-subj", "/CN=127.0.0.1"});
  std::ofstream(srv + ".ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  Openssl({"x509", "-req", "-in", srv + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
           "-CAcreateserial", "-out", srv + ".pem", "-days", "2", "-extfile", srv + ".ext"});
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = dir_.File("certs");
    std::filesystem::create_directories(certs_);
    MakeCaAndServerCert(certs_, "one");
    MakeCaAndServerCert(certs_, "two");
    // The server reads these two paths; the test swaps what is in them.
    std::filesystem::copy_file(certs_ + "/one.pem", certs_ + "/server.pem");
    std::filesystem::copy_file(certs_ + "/one.key", certs_ + "/server.key");
    a_ = dir_.File("a");
    b_ = dir_.File("b");
    ASSERT_EQ(Braid(a_, {"init", "--no-admin"}).exit_code, 0);
    ASSERT_EQ(Braid(b_, {"init", "--no-admin"}).exit_code, 0);
    const RunResult token = Braid(a_, {"token", "create", "b"});
    ASSERT_EQ(token.exit_code, 0);
    token_ = token.out.substr(0, token.out.size() - 1);
    token_ = token_.substr(token_.rfind('\n') + 1);
    auto s = BraidServer::Start(
        a_, {"--tls-cert", certs_ + "/server.pem", "--tls-key", certs_ + "/server.key"});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    ASSERT_EQ(server_->url().rfind("https://127.0.0.1:", 0), 0u) << server_->url();
    ASSERT_EQ(Braid(a_, {"put", "notes", "n1"}, R"({"over":"tls"})").exit_code, 0);
  }
  void TearDown() override {
    if (server_) {
      EXPECT_TRUE(server_->Stop().ok());
    }
  }
  RunResult AddRemote(const std::string& name, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"remote",  "add",  name,          server_->url(),
                                     "--token", token_, "--direction", "pull"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Braid(b_, args);
  }

  TempDir dir_;
  std::string certs_, a_, b_, token_;
  std::unique_ptr<BraidServer> server_;
};

TEST_F(TlsTest, ARemoteThatTrustsTheCaSyncsAndOthersAreRefused) {
  ASSERT_EQ(AddRemote("trusting", {"--ca-cert", certs_ + "/one-ca.pem"}).exit_code, 0);
  ASSERT_EQ(AddRemote("system", {}).exit_code, 0);
  ASSERT_EQ(AddRemote("wrong-ca", {"--ca-cert", certs_ + "/two-ca.pem"}).exit_code, 0);
  for (const char* remote : {"system", "wrong-ca"}) {
    const RunResult r = Braid(b_, {"sync", remote});
    EXPECT_EQ(r.exit_code, 7) << remote << ": " << r.err;
    EXPECT_NE(r.err.find("remote \"" + std::string(remote) + "\""), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("not trusted"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--ca-cert"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Braid(b_, {"get", "notes", "n1"}).exit_code, 3);  // nothing came through
  const RunResult ok = Braid(b_, {"--json", "sync", "trusting"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(Braid(b_, {"get", "notes", "n1"}).out.find("tls"), std::string::npos);
  // A CA file is checked when the remote is added, and is for https only.
  EXPECT_EQ(AddRemote("bad", {"--ca-cert", certs_ + "/missing.pem"}).exit_code, 2);
  EXPECT_EQ(Braid(b_, {"remote", "add", "plain", "http://127.0.0.1:1", "--token", "t", "--ca-cert",
                       certs_ + "/one-ca.pem"})
                .exit_code,
            2);
}

// A certificate session over https: the signing request and the syncs
// trust the server's CA file; without it the request is refused.
TEST_F(TlsTest, ACertificateSessionRunsOverHttps) {
  const std::string password = dir_.File("boss-password");
  std::ofstream(password) << "boss-password-1\n";
  ASSERT_EQ(
      Braid(a_, {"user", "add", "boss", "--role", "admin", "--password-file", password}).exit_code,
      0);
  ASSERT_EQ(
      Braid(b_, {"remote", "add", "certified", server_->url(), "--ca-cert", certs_ + "/one-ca.pem"})
          .exit_code,
      0);
  ASSERT_EQ(Braid(b_, {"remote", "add", "untrusting", server_->url()}).exit_code, 0);
  const std::vector<std::string> scope = {"--user", "boss", "--password-file", password,
                                          "--read", "*",    "--write",         "*"};
  std::vector<std::string> args = {"cert", "request", "untrusting"};
  args.insert(args.end(), scope.begin(), scope.end());
  RunResult r = Braid(b_, args);
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find("--ca-cert"), std::string::npos) << r.err;
  args[2] = "certified";
  r = Braid(b_, args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Braid(b_, {"put", "notes", "from-b"}, R"({"x":1})").exit_code, 0);
  r = Braid(b_, {"sync", "certified"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(Braid(b_, {"get", "notes", "n1"}).out.find("tls"), std::string::npos);
  EXPECT_EQ(Braid(a_, {"get", "notes", "from-b"}).exit_code, 0);
  EXPECT_NE(server_->LogTail().find("(certificate "), std::string::npos) << server_->LogTail();
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsNoAnswerAndOthersGoOn) {
  const std::string plain = "http://" + server_->url().substr(std::string("https://").size());
  auto client = std::move(*http::Client::Create());
  auto r = client->Get(plain + "/healthz");
  EXPECT_FALSE(r.ok() && r->status == 200);
  http::ClientOptions o;
  o.ca_cert = certs_ + "/one-ca.pem";
  auto tls = std::move(*http::Client::Create(o));
  r = tls->Get(server_->url() + "/healthz");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
}

TEST_F(TlsTest, SighupLoadsANewCertificate) {
  http::ClientOptions one, two;
  one.ca_cert = certs_ + "/one-ca.pem";
  two.ca_cert = certs_ + "/two-ca.pem";
  ASSERT_EQ((*http::Client::Create(one))->Get(server_->url() + "/healthz")->status, 200);
  // A broken pair is refused and the server keeps the certificate it has.
  std::filesystem::copy_file(certs_ + "/two.key", certs_ + "/server.key",
                             std::filesystem::copy_options::overwrite_existing);
  server_->process().Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ((*http::Client::Create(one))->Get(server_->url() + "/healthz")->status, 200);
  EXPECT_NE(server_->LogTail().find("still serving the previous one"), std::string::npos)
      << server_->LogTail();
  // The matching pair is taken.
  std::filesystem::copy_file(certs_ + "/two.pem", certs_ + "/server.pem",
                             std::filesystem::copy_options::overwrite_existing);
  server_->process().Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = (*http::Client::Create(two))->Get(server_->url() + "/healthz");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE((*http::Client::Create(one))->Get(server_->url() + "/healthz").ok());
}

// `braid init --tls-self-signed`: the server serves HTTPS from braid.toml,
// and a peer that trusts that certificate file syncs.
TEST(TlsServeTest, ASelfSignedInstanceServesHttps) {
  TempDir dir;
  const std::string a = dir.File("a"), b = dir.File("b");
  const RunResult init = Braid(a, {"init", "--tls-self-signed", "localhost", "127.0.0.1"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_NE(init.out.find("--ca-cert"), std::string::npos) << init.out;
  EXPECT_EQ(std::filesystem::status(a + "/tls/key.pem").permissions() &
                (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);
  ASSERT_EQ(Braid(a, {"put", "notes", "n1"}, R"({"x":1})").exit_code, 0);
  const RunResult token = Braid(a, {"token", "create", "b"});
  ASSERT_EQ(token.exit_code, 0);
  std::string value = token.out.substr(0, token.out.size() - 1);
  value = value.substr(value.rfind('\n') + 1);
  auto server = BraidServer::Start(a);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_EQ((*server)->url().rfind("https://", 0), 0u);
  ASSERT_EQ(Braid(b, {"init", "--no-admin"}).exit_code, 0);
  ASSERT_EQ(Braid(b, {"remote", "add", "a", (*server)->url(), "--token", value, "--ca-cert",
                      a + "/tls/cert.pem"})
                .exit_code,
            0);
  const RunResult sync = Braid(b, {"sync", "a"});
  EXPECT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_EQ(Braid(b, {"get", "notes", "n1"}).exit_code, 0);
  // A second init refuses before touching anything.
  EXPECT_EQ(Braid(a, {"init", "--tls-self-signed", "localhost"}).exit_code, 4);
  EXPECT_EQ(Braid(dir.File("c"), {"init", "--tls-self-signed", "no host"}).exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.File("c")));
  ASSERT_TRUE((*server)->Stop().ok());
}

TEST(TlsServeTest, BadTlsSettingsAreRefusedAtStart) {
  TempDir dir;
  const std::string data = dir.File("data");
  ASSERT_EQ(Braid(data, {"init", "--no-admin"}).exit_code, 0);
  RunResult r = Braid(data, {"serve", "--listen", "127.0.0.1:0", "--tls-cert", dir.File("x.pem")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("both a certificate and its key"), std::string::npos) << r.err;
  r = Braid(data, {"serve", "--listen", "127.0.0.1:0", "--tls-cert", dir.File("x.pem"), "--tls-key",
                   dir.File("x.key")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot load the TLS certificate"), std::string::npos) << r.err;
  r = Braid(data, {"serve", "--listen", "0.0.0.0:0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tls-cert"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace braid
