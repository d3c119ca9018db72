// Certificate sessions between real braid processes (docs/protocol.md,
// "Certificates"): signing requests made with an admin's password, syncs
// that prove a certificate instead of sending a token, and every way a
// certificate or a proof can be wrong. The raw handshakes are made by this
// test with the client instance's own key file, so each bad input is sent
// exactly as a hostile client would send it.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "auth/keyring.h"
#include "base/encoding.h"
#include "base/ids.h"
#include "braid/store.h"
#include "http/client.h"
#include "repl/protocol.h"
#include "tests/support/process.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using testing::Braid;
using testing::BraidServer;
using testing::RunResult;

constexpr int64_t kDay = auth::kDayMillis;

int64_t Now() { return Clock::Real().NowMillis(); }

// What a client instance holds: its key and its store's certificates.
struct Holder {
  std::unique_ptr<Store> store;
  std::unique_ptr<auth::Keyring> keys;
};

Holder OpenHolder(const std::string& dir) {
  Holder h;
  auto store = Store::Open("sqlite:" + dir + "/store.db", StoreOptions());
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  h.store = std::move(*store);
  auto keys = auth::Keyring::Open(*h.store, dir + "/keys");
  EXPECT_TRUE(keys.ok()) << keys.status().ToString();
  h.keys = std::move(*keys);
  return h;
}

struct RawSession {
  int status = 0;
  std::string body;     // the handshake's answer
  std::string request;  // the handshake sent, to replay it
  std::string session;
};

struct RawOptions {
  Direction direction = Direction::kPull;
  std::vector<std::string> filter;
  std::string root;                       // default: the chain's
  const auth::KeyPair* signer = nullptr;  // default: the holder's key
};

// Opens a session at `url` proving `chain` with a challenge of its own.
RawSession OpenRaw(const std::string& url, const auth::Chain& chain, const auth::KeyPair& key,
                   const InstanceId& id, const RawOptions& o) {
  RawSession out;
  auto client = std::move(*http::Client::Create());
  repl::ChallengeRequest ask;
  ask.root = o.root.empty() ? chain.back().serial : o.root;
  ask.nonce.resize(repl::kNonceBytes);
  RandomBytes(ask.nonce.data(), ask.nonce.size());
  auto r = client->Post(url + "/api/v1/sync/challenge", repl::ChallengeRequestJson(ask));
  EXPECT_TRUE(r.ok());
  if (r->status != 200) {
    out.status = r->status;
    out.body = r->body;
    return out;
  }
  auto answer = repl::ParseChallengeResponse(r->body);
  EXPECT_TRUE(answer.ok()) << answer.status().ToString();
  // The server proved its key over our nonce.
  EXPECT_TRUE(auth::VerifySignature(
      answer->chain.front().public_key,
      repl::ServerProofInput(ask.nonce, answer->nonce, answer->instance_id, answer->challenge),
      answer->signature));
  repl::HandshakeRequest req;
  req.instance_id = id;
  req.direction = o.direction;
  req.filter = o.filter;
  req.chunk_size = 100;
  repl::CertificateProof proof;
  proof.challenge = answer->challenge;
  proof.chain = chain;
  proof.signature =
      (o.signer ? *o.signer : key)
          .Sign(repl::ClientProofInput(answer->nonce, ask.nonce, id, answer->challenge));
  req.certificate = proof;
  out.request = repl::HandshakeRequestJson(req);
  r = client->Post(url + "/api/v1/sync/sessions", out.request);
  EXPECT_TRUE(r.ok());
  out.status = r->status;
  out.body = r->body;
  if (r->status == 201) out.session = repl::ParseHandshakeResponse(r->body)->session;
  return out;
}

class CertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = dir_.File("a");
    b_ = dir_.File("b");
    c_ = dir_.File("c");
    for (const auto& d : {a_, b_, c_}) ASSERT_EQ(Braid(d, {"init"}).exit_code, 0);
    auto a = BraidServer::Start(a_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    a_server_ = std::move(*a);
    password_ = a_ + "/admin-password";
    ASSERT_EQ(Braid(c_, {"remote", "add", "a", a_server_->url()}).exit_code, 0);
  }
  void TearDown() override {
    for (auto* server : {&a_server_, &b_server_}) {
      if (*server) {
        EXPECT_TRUE((*server)->Stop().ok());
      }
    }
  }

  // `braid cert request REMOTE` on `dir` as A's admin.
  RunResult Request(const std::string& dir, const std::string& remote,
                    const std::vector<std::string>& scope, const std::string& password_file = "") {
    std::vector<std::string> args = {
        "--json", "cert",  "request",         remote,
        "--user", "admin", "--password-file", password_file.empty() ? password_ : password_file};
    args.insert(args.end(), scope.begin(), scope.end());
    return Braid(dir, args);
  }

  size_t CertCount(const std::string& dir) {
    const RunResult list = Braid(dir, {"--json", "cert", "list"});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    size_t n = 0;
    for (size_t at = 0; (at = list.out.find("\"serial\"", at)) != std::string::npos; ++at) ++n;
    return n;
  }

  // C's certificate from A, and what C holds, for raw handshakes.
  auth::Chain CChain(Holder& h) {
    auto remote = h.store->GetRemote("a");
    EXPECT_TRUE(remote.ok() && remote->has_value());
    auto chain = h.keys->ChainOf((*remote)->cert);
    EXPECT_TRUE(chain.ok()) << chain.status().ToString();
    return *chain;
  }

  testing::TempDir dir_;
  std::string a_, b_, c_, password_;
  std::unique_ptr<BraidServer> a_server_, b_server_;
};

TEST_F(CertTest, ACertificateSessionPullsAndPushesWithinItsScope) {
  ASSERT_EQ(
      Braid(a_, {"put", "notes", "in", "--partition", "lab_c:x"}, R"({"from":"a"})").exit_code, 0);
  ASSERT_EQ(Braid(a_, {"put", "notes", "out", "--partition", "lab_d"}, R"({"from":"a"})").exit_code,
            0);
  ASSERT_EQ(Braid(c_, {"remote", "add", "a", a_server_->url(), "--filter", "lab_c"}).exit_code, 0);
  const RunResult cert = Request(c_, "a", {"--read", "lab_c", "--write", "lab_c"});
  ASSERT_EQ(cert.exit_code, 0) << cert.err;
  EXPECT_NE(cert.out.find(R"("read":["lab_c"],"write":["lab_c"])"), std::string::npos) << cert.out;
  ASSERT_EQ(
      Braid(c_, {"put", "notes", "mine", "--partition", "lab_c"}, R"({"from":"c"})").exit_code, 0);
  const RunResult sync = Braid(c_, {"sync", "a"});
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_EQ(Braid(c_, {"get", "notes", "in"}).exit_code, 0);
  EXPECT_EQ(Braid(c_, {"get", "notes", "out"}).exit_code, 3);  // outside the filter
  EXPECT_EQ(Braid(a_, {"get", "notes", "mine"}).exit_code, 0);
  EXPECT_NE(a_server_->LogTail().find("(certificate "), std::string::npos) << a_server_->LogTail();
  // remote show names the certificate, and never a secret.
  const RunResult show = Braid(c_, {"--json", "remote", "show", "a"});
  EXPECT_NE(show.out.find("\"cert\":\""), std::string::npos) << show.out;
}

// A certificate remote's files: the attachments step reads blobs with a
// pull session of the certificate (Authorization: Braid-Session ID), small
// ones in a batch and large ones alone, within its read scope.
TEST_F(CertTest, ACertificateSessionFetchesTheFilesOfItsScope) {
  const std::string small_file = dir_.File("small.txt"), large_file = dir_.File("large.bin");
  std::ofstream(small_file) << "a small file";
  std::ofstream(large_file, std::ios::binary) << std::string(200'000, 'L');
  ASSERT_EQ(Braid(a_, {"put", "notes", "in", "--partition", "lab_c:x"}, R"({"n":1})").exit_code, 0);
  ASSERT_EQ(Braid(a_, {"attach", "notes", "in", "s.txt", "--file", small_file}).exit_code, 0);
  ASSERT_EQ(Braid(a_, {"attach", "notes", "in", "l.bin", "--file", large_file}).exit_code, 0);
  ASSERT_EQ(Braid(c_, {"remote", "add", "a", a_server_->url(), "--filter", "lab_c", "--direction",
                       "pull"})
                .exit_code,
            0);
  ASSERT_EQ(Request(c_, "a", {"--read", "lab_c"}).exit_code, 0);
  const RunResult sync = Braid(c_, {"--json", "sync", "a"});
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_NE(sync.out.find(R"("fetched":2)"), std::string::npos) << sync.out;
  const RunResult out = Braid(c_, {"attachments", "notes", "in", "l.bin", "-o", dir_.File("got")});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  std::ifstream got(dir_.File("got"), std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(got), {}), std::string(200'000, 'L'));
  // Without an open certificate session, the session credential is refused.
  auto client = std::move(*http::Client::Create());
  auto r = client->Send("POST", a_server_->url() + "/api/v1/blobs", R"({"sha256":[]})",
                        {{"Authorization", "Braid-Session 0123"}});
  ASSERT_TRUE(r.ok());
  testing::ExpectApiError(*r, 404, "notFound", "no certificate session");
}

TEST_F(CertTest, ASigningRequestBeyondTheGrantIsRefusedAndNothingIsSigned) {
  // B holds a certificate of A's dataset for lab_b (write lab_b:x only), and
  // may grant no more in that dataset, whoever of its admins asks.
  ASSERT_EQ(Braid(b_, {"remote", "add", "a", a_server_->url()}).exit_code, 0);
  ASSERT_EQ(Request(b_, "a", {"--read", "lab_b", "--write", "lab_b:x"}).exit_code, 0);
  auto b = BraidServer::Start(b_);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  b_server_ = std::move(*b);
  const std::string a_root = [&] {
    Holder a = OpenHolder(a_);
    return a.keys->own_root().serial;
  }();
  const size_t before = CertCount(b_);
  ASSERT_EQ(Braid(c_, {"remote", "add", "b", b_server_->url()}).exit_code, 0);
  const std::string b_password = b_ + "/admin-password";
  RunResult r =
      Request(c_, "b", {"--root", a_root, "--read", "lab_b", "--write", "lab_b"}, b_password);
  EXPECT_EQ(r.exit_code, 8) << r.err;  // forbidden
  EXPECT_NE(r.err.find("may grant reading lab_b and writing lab_b:x"), std::string::npos) << r.err;
  r = Request(c_, "b", {"--root", a_root, "--read", "*"}, b_password);
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_EQ(CertCount(b_), before);
  // Within it, B signs, and C's chain leads to A's root through B.
  r = Request(c_, "b", {"--root", a_root, "--read", "lab_b:x", "--write", "lab_b:x"}, b_password);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"root\":\"" + a_root + "\""), std::string::npos) << r.out;
  EXPECT_EQ(CertCount(b_), before + 1);

  // A writer may not sign at all; a wrong password gets 401.
  const size_t a_before = CertCount(a_);
  const std::string writer = dir_.File("writer-password");
  std::ofstream(writer) << "writer-password-1\n";
  ASSERT_EQ(
      Braid(a_, {"user", "add", "wes", "--role", "writer", "--password-file", writer}).exit_code,
      0);
  r = Braid(
      c_, {"cert", "request", "a", "--user", "wes", "--password-file", writer, "--read", "lab_a"});
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_NE(r.err.find("cannot manage certificates"), std::string::npos) << r.err;
  r = Braid(c_, {"cert", "request", "a", "--user", "admin", "--password-file", writer, "--read",
                 "lab_a"});
  EXPECT_EQ(r.exit_code, 8) << r.err;  // unauthorized
  EXPECT_NE(r.err.find("HTTP 401"), std::string::npos) << r.err;
  // Bad requests: no scope, too many days, a malformed key.
  EXPECT_EQ(Braid(c_, {"cert", "request", "a", "--user", "admin", "--password-file", password_})
                .exit_code,
            2);
  EXPECT_EQ(Request(c_, "a", {"--read", "lab_a", "--days", "5000"}).exit_code, 2);
  auto client = a_server_->AdminClient();
  for (
      const char* body :
      {R"({"key":"AAAA","subject":"x","read":["lab_a"]})", R"({"subject":"x","read":["lab_a"]})",
       R"({"key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","subject":"x","read":["bad prefix"]})",
       R"({"key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","subject":"x\u0001"})", "[]"}) {
    auto raw = client->Post(a_server_->url() + "/api/v1/certs", body);
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(raw->status, 400) << body << ": " << raw->body;
  }
  EXPECT_EQ(CertCount(a_), a_before);
}

TEST_F(CertTest, ExpiredForeignAndForgedCertificatesAreRefused) {
  ASSERT_EQ(Request(c_, "a", {"--read", "lab_c", "--write", "lab_c"}).exit_code, 0);
  Holder c = OpenHolder(c_);
  const auth::Chain good = CChain(c);
  const InstanceId id = c.store->instance_id();
  const std::string url = a_server_->url();
  RawOptions pull;
  pull.filter = {"lab_c"};
  ASSERT_EQ(OpenRaw(url, good, c.keys->key(), id, pull).status, 201);

  // Expired: signed by A's own key, but a day past its end.
  Holder a = OpenHolder(a_);
  auth::Certificate old = good.front();
  old.serial = auth::NewSerial();
  old.not_before_ms = Now() - 10 * kDay;
  old.not_after_ms = Now() - kDay;
  auth::SignCertificate(&old, a.keys->key());
  RawSession s = OpenRaw(url, {old, good.back()}, c.keys->key(), id, pull);
  EXPECT_EQ(s.status, 403) << s.body;
  EXPECT_NE(s.body.find("expired"), std::string::npos) << s.body;

  // A foreign root: the same key, signed by a root A does not trust.
  const auth::KeyPair foreign_key = auth::KeyPair::Generate();
  auth::Certificate foreign_root = good.back();
  foreign_root.serial = foreign_root.issuer = auth::NewSerial();
  foreign_root.public_key = foreign_key.public_key();
  auth::SignCertificate(&foreign_root, foreign_key);
  auth::Certificate under_foreign = good.front();
  under_foreign.issuer = foreign_root.serial;
  auth::SignCertificate(&under_foreign, foreign_key);
  RawOptions foreign = pull;
  foreign.root = good.back().serial;  // the challenge asks for A's dataset
  s = OpenRaw(url, {under_foreign, foreign_root}, c.keys->key(), id, foreign);
  EXPECT_EQ(s.status, 403) << s.body;
  EXPECT_NE(s.body.find("does not lead to a root"), std::string::npos) << s.body;
  // Asking for a dataset the server has no certificate of.
  foreign.root = foreign_root.serial;
  EXPECT_EQ(OpenRaw(url, {under_foreign, foreign_root}, c.keys->key(), id, foreign).status, 404);

  // Forged: the scope widened after A signed it.
  auth::Certificate widened = good.front();
  widened.read = auth::PartitionSet::All();
  s = OpenRaw(url, {widened, good.back()}, c.keys->key(), id, pull);
  EXPECT_EQ(s.status, 403) << s.body;
  EXPECT_NE(s.body.find("signature"), std::string::npos) << s.body;
  // Forged: a good chain, but the proof signed by another key.
  const auth::KeyPair other = auth::KeyPair::Generate();
  RawOptions forged = pull;
  forged.signer = &other;
  s = OpenRaw(url, good, c.keys->key(), id, forged);
  EXPECT_EQ(s.status, 403) << s.body;
  EXPECT_NE(s.body.find("not signed by its key"), std::string::npos) << s.body;
  EXPECT_NE(a_server_->LogTail().find("certificate session refused"), std::string::npos);
}

TEST_F(CertTest, AReplayedProofIsRefused) {
  ASSERT_EQ(Request(c_, "a", {"--read", "lab_c", "--write", "lab_c"}).exit_code, 0);
  Holder c = OpenHolder(c_);
  RawOptions pull;
  pull.filter = {"lab_c"};
  const RawSession first =
      OpenRaw(a_server_->url(), CChain(c), c.keys->key(), c.store->instance_id(), pull);
  ASSERT_EQ(first.status, 201) << first.body;
  auto client = std::move(*http::Client::Create());
  auto again = client->Post(a_server_->url() + "/api/v1/sync/sessions", first.request);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 403) << again->body;
  EXPECT_NE(again->body.find("used already"), std::string::npos) << again->body;
}

TEST_F(CertTest, PullsAndPushesOutsideTheCertificatesScopeAreRefused) {
  ASSERT_EQ(Request(c_, "a", {"--read", "lab_c", "--write", "lab_c:own"}).exit_code, 0);
  Holder c = OpenHolder(c_);
  const auth::Chain chain = CChain(c);
  const InstanceId id = c.store->instance_id();
  const std::string url = a_server_->url();
  RawOptions o;
  o.filter = {"lab_d"};
  RawSession s = OpenRaw(url, chain, c.keys->key(), id, o);
  EXPECT_EQ(s.status, 403) << s.body;
  EXPECT_NE(s.body.find("outside what certificate"), std::string::npos) << s.body;
  o.filter = {};  // every partition
  EXPECT_EQ(OpenRaw(url, chain, c.keys->key(), id, o).status, 403);
  o.direction = Direction::kPush;
  o.filter = {"lab_c"};  // readable, not writable
  EXPECT_EQ(OpenRaw(url, chain, c.keys->key(), id, o).status, 403);
  o.direction = Direction::kBoth;
  EXPECT_EQ(OpenRaw(url, chain, c.keys->key(), id, o).status, 403);

  // Within the write scope the session opens; a record outside it in a
  // chunk ends the session, and nothing of the chunk is applied.
  o.direction = Direction::kPush;
  o.filter = {"lab_c:own"};
  s = OpenRaw(url, chain, c.keys->key(), id, o);
  ASSERT_EQ(s.status, 201) << s.body;
  repl::Chunk chunk;
  for (const char* partition : {"lab_c:own", "lab_d"}) {
    Record r;
    r.collection = "notes";
    r.id = std::string("pushed-") + partition;
    r.partition = partition;
    r.version = {id, 1};
    r.vv.Set(id, 1);
    r.hlc = static_cast<uint64_t>(Now()) << 16;
    r.body = R"({"x":1})";
    chunk.records.push_back(r);
  }
  chunk.complete_to = {{id, 1}};
  http::ClientOptions session_auth;
  session_auth.authorization = "Braid-Session " + s.session;
  auto client = std::move(*http::Client::Create(session_auth));
  auto push =
      client->Post(url + "/api/v1/sync/sessions/" + s.session + "/push", repl::ChunkJson(chunk));
  ASSERT_TRUE(push.ok());
  EXPECT_EQ(push->status, 403) << push->body;
  EXPECT_NE(push->body.find("may not write"), std::string::npos) << push->body;
  EXPECT_EQ(Braid(a_, {"get", "notes", "pushed-lab_c:own"}).exit_code, 3);
  EXPECT_EQ(Braid(a_, {"get", "notes", "pushed-lab_d"}).exit_code, 3);
  // The session is gone.
  push = client->Post(url + "/api/v1/sync/sessions/" + s.session + "/push", repl::ChunkJson({}));
  ASSERT_TRUE(push.ok());
  EXPECT_EQ(push->status, 404) << push->body;
  // Without credentials or a proof, a session is refused.
  auto anonymous = std::move(*http::Client::Create());
  repl::HandshakeRequest plain;
  plain.instance_id = id;
  auto r = anonymous->Post(url + "/api/v1/sync/sessions", repl::HandshakeRequestJson(plain));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401) << r->body;
}

// A revokes C's certificate; B learns it when it syncs with A, and from
// then on refuses C, which never talked to A again. A session open when the
// revocation is stored ends at its next request.
TEST_F(CertTest, ARevocationReachesOtherInstancesAndEndsOpenSessions) {
  ASSERT_EQ(Braid(b_, {"remote", "add", "a", a_server_->url()}).exit_code, 0);
  ASSERT_EQ(Request(b_, "a", {"--read", "*", "--write", "*"}).exit_code, 0);
  ASSERT_EQ(Request(c_, "a", {"--read", "lab_c", "--write", "lab_c"}).exit_code, 0);
  auto b = BraidServer::Start(b_);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  b_server_ = std::move(*b);
  // C syncs with B, in A's dataset, before the revocation.
  ASSERT_EQ(Braid(c_, {"remote", "add", "b", b_server_->url(), "--filter", "lab_c"}).exit_code, 0);
  std::string c_serial;
  {
    Holder c = OpenHolder(c_);
    c_serial = CChain(c).front().serial;
    auto remote = c.store->GetRemote("b");
    Remote rb = **remote;
    rb.cert = c_serial;
    auto txn = std::move(*c.store->BeginWrite());
    ASSERT_TRUE(txn->PutRemote(rb).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  const RunResult before = Braid(c_, {"sync", "b"});
  ASSERT_EQ(before.exit_code, 0) << before.err;

  // A session open on A when the revocation is stored.
  Holder c = OpenHolder(c_);
  RawOptions pull;
  pull.filter = {"lab_c"};
  const RawSession open =
      OpenRaw(a_server_->url(), CChain(c), c.keys->key(), c.store->instance_id(), pull);
  ASSERT_EQ(open.status, 201) << open.body;

  const RunResult revoke = Braid(a_, {"cert", "revoke", c_serial});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  http::ClientOptions session_auth;
  session_auth.authorization = "Braid-Session " + open.session;
  auto client = std::move(*http::Client::Create(session_auth));
  auto pulled = client->Post(a_server_->url() + "/api/v1/sync/sessions/" + open.session + "/pull",
                             repl::PositionJson(std::nullopt));
  ASSERT_TRUE(pulled.ok());
  EXPECT_EQ(pulled->status, 403) << pulled->body;
  EXPECT_NE(pulled->body.find("revoked"), std::string::npos) << pulled->body;

  // B does not know yet: C's proof still opens a session there.
  EXPECT_EQ(
      OpenRaw(b_server_->url(), CChain(c), c.keys->key(), c.store->instance_id(), pull).status,
      201);
  // B syncs with A and learns the revocation.
  const RunResult b_sync = Braid(b_, {"sync", "a"});
  ASSERT_EQ(b_sync.exit_code, 0) << b_sync.err;
  const RawSession refused =
      OpenRaw(b_server_->url(), CChain(c), c.keys->key(), c.store->instance_id(), pull);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("revoked"), std::string::npos) << refused.body;
}

// Revocations travel with token sessions too, both ways: the server's in
// the handshake's answer, the client's in a request after it.
TEST_F(CertTest, RevocationsTravelWithTokenSessionsBothWays) {
  ASSERT_EQ(Braid(b_, {"remote", "add", "a", a_server_->url()}).exit_code, 0);
  ASSERT_EQ(Request(b_, "a", {"--read", "*", "--write", "*"}).exit_code, 0);
  ASSERT_EQ(Request(c_, "a", {"--read", "lab_c"}).exit_code, 0);
  const RunResult token = Braid(a_, {"token", "create", "b"});
  ASSERT_EQ(token.exit_code, 0);
  const std::string value = token.out.substr(token.out.rfind('\n', token.out.size() - 2) + 1);
  ASSERT_EQ(Braid(b_, {"remote", "add", "a-token", a_server_->url(), "--token",
                       value.substr(0, value.size() - 1)})
                .exit_code,
            0);
  std::string c_serial, a_root, b_signed;
  {
    Holder c = OpenHolder(c_);
    c_serial = CChain(c).front().serial;
    Holder a = OpenHolder(a_);
    a_root = a.keys->own_root().serial;
  }
  {
    // B signs a certificate in A's dataset, and revokes it.
    Holder b = OpenHolder(b_);
    auth::SignRequest request;
    request.public_key = auth::KeyPair::Generate().public_key();
    request.subject = "lab d";
    request.read = *auth::PartitionSet::FromPrefixes({"lab_d"});
    request.root = a_root;
    auth::Principal admin;
    admin.name = "admin";
    admin.role = Role::kAdmin;
    auto chain = b.keys->Sign(request, admin, 365);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    b_signed = chain->front().serial;
    ASSERT_TRUE(b.keys->Revoke(b_signed).ok());
  }
  ASSERT_EQ(Braid(a_, {"cert", "revoke", c_serial}).exit_code, 0);

  const RunResult sync = Braid(b_, {"sync", "a-token"});
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  {
    Holder b = OpenHolder(b_);
    std::vector<std::string> learned = *b.store->RevokedAmong({c_serial, b_signed});
    std::sort(learned.begin(), learned.end());
    std::vector<std::string> want = {c_serial, b_signed};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(learned, want);
    Holder a = OpenHolder(a_);
    EXPECT_EQ(*a.store->RevokedAmong({b_signed}), std::vector<std::string>{b_signed});
  }
  // The second time the digests agree and the sync is as before.
  const RunResult again = Braid(b_, {"sync", "a-token"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
}

}  // namespace
}  // namespace braid
