#include "auth/cert.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace braid::auth {
namespace {

constexpr int64_t kDay = 86400000;
constexpr int64_t kNow = 1'800'000'000'000;

Certificate Make(const KeyPair& subject, std::string issuer, PartitionSet read, PartitionSet write,
                 int64_t from = kNow - kDay, int64_t to = kNow + 365 * kDay) {
  Certificate c;
  c.serial = NewSerial();
  c.issuer = issuer.empty() ? c.serial : issuer;
  c.subject = "lab-b admin@lab-a";
  c.public_key = subject.public_key();
  c.read = std::move(read);
  c.write = std::move(write);
  c.not_before_ms = from;
  c.not_after_ms = to;
  return c;
}

PartitionSet Prefixes(std::vector<std::string> p) { return *PartitionSet::FromPrefixes(p); }

struct Dataset {
  KeyPair root_key = KeyPair::Generate(), b_key = KeyPair::Generate(), c_key = KeyPair::Generate();
  Certificate root, b, c;
  Dataset() {
    root = Make(root_key, "", PartitionSet::All(), PartitionSet::All(), kNow - kDay,
                kNow + 3650 * kDay);
    SignCertificate(&root, root_key);
    b = Make(b_key, root.serial, Prefixes({"lab_b"}), Prefixes({"lab_b:samples"}));
    SignCertificate(&b, root_key);
    c = Make(c_key, b.serial, Prefixes({"lab_b:x"}), PartitionSet{});
    SignCertificate(&c, b_key);
  }
};

TEST(KeyPairTest, SignsAndVerifiesAndSurvivesPem) {
  const KeyPair k = KeyPair::Generate();
  const std::string sig = k.Sign("hello");
  EXPECT_EQ(sig.size(), kEd25519SignatureBytes);
  EXPECT_TRUE(VerifySignature(k.public_key(), "hello", sig));
  EXPECT_FALSE(VerifySignature(k.public_key(), "hellp", sig));
  EXPECT_FALSE(VerifySignature(KeyPair::Generate().public_key(), "hello", sig));
  auto again = KeyPair::FromPem(k.Pem());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->public_key(), k.public_key());
  EXPECT_FALSE(KeyPair::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n").ok());
}

TEST(KeyPairTest, LoadOrCreateKeepsTheKeyPrivate) {
  const std::string dir = ::testing::TempDir() + "/keys_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/instance.key";
  std::filesystem::remove(path);
  auto made = KeyPair::LoadOrCreate(path);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = KeyPair::LoadOrCreate(path);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->public_key(), made->public_key());
  ::chmod(path.c_str(), 0644);
  auto refused = KeyPair::LoadOrCreate(path);
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("chmod 600"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(PartitionSetTest, WithinAndIntersect) {
  const PartitionSet all = PartitionSet::All(), none;
  const PartitionSet lab = Prefixes({"lab_b"}), samples = Prefixes({"lab_b:samples", "lab_b"});
  EXPECT_EQ(samples, lab);  // normalized: lab_b covers lab_b:samples
  EXPECT_TRUE(lab.Within(all));
  EXPECT_FALSE(all.Within(lab));
  EXPECT_TRUE(none.Within(lab));
  EXPECT_TRUE(Prefixes({"lab_b:x"}).Within(lab));
  EXPECT_FALSE(Prefixes({"lab_bx"}).Within(lab));
  EXPECT_EQ(Intersect(lab, Prefixes({"lab_b:x", "lab_c"})), Prefixes({"lab_b:x"}));
  EXPECT_EQ(Intersect(all, lab), lab);
  EXPECT_TRUE(Intersect(lab, none).Empty());
  EXPECT_TRUE(Prefixes({"*", "lab_b"}).all);
  EXPECT_FALSE(PartitionSet::FromPrefixes({"bad prefix"}).ok());
  EXPECT_EQ(PartitionSet::FromScope({}), all);
}

TEST(CertificateTest, EncodingRoundTripsAndIsTheOnlyOneAccepted) {
  Dataset d;
  const std::string text = EncodeCertificate(d.b);
  auto parsed = ParseCertificate(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(EncodeCertificate(*parsed), text);
  EXPECT_EQ(parsed->read, d.b.read);

  // The same certificate with a space, members reordered, an extra member,
  // or prefixes not normalized: each is refused.
  std::string spaced = text;
  spaced.insert(1, " ");
  EXPECT_FALSE(ParseCertificate(spaced).ok());
  std::string extra = text;
  extra.insert(extra.size() - 1, ",\"x\":1");
  EXPECT_FALSE(ParseCertificate(extra).ok());
  std::string reordered = text;
  const std::string serial = "\"serial\":\"" + d.b.serial + "\",";
  const std::string issuer = "\"issuer\":\"" + d.b.issuer + "\",";
  reordered.replace(reordered.find(serial), serial.size() + issuer.size(), issuer + serial);
  EXPECT_FALSE(ParseCertificate(reordered).ok()) << reordered;
  Certificate unnormal = d.b;
  unnormal.read.prefixes = {"lab_b", "lab_b:x"};
  EXPECT_FALSE(ParseCertificate(EncodeCertificate(unnormal)).ok());
  EXPECT_FALSE(ParseCertificate("[]").ok());
  EXPECT_FALSE(ParseCertificate("{\"braid_cert\":2}").ok());
}

TEST(CertificateTest, ChainsVerifyToTheirRoot) {
  Dataset d;
  EXPECT_TRUE(VerifyChain({d.root}, {d.root}, {}, kNow).ok());
  EXPECT_TRUE(VerifyChain({d.b, d.root}, {d.root}, {}, kNow).ok());
  const Status s = VerifyChain({d.c, d.b, d.root}, {d.root}, {}, kNow);
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto round = ParseChain(EncodeChain({d.c, d.b, d.root}));
  ASSERT_TRUE(round.ok());
  EXPECT_TRUE(VerifyChain(*round, {d.root}, {}, kNow).ok());
}

TEST(CertificateTest, AForeignRootIsRefused) {
  Dataset d, other;
  const Status s = VerifyChain({d.b, d.root}, {other.root}, {}, kNow);
  EXPECT_EQ(s.code(), Code::kForbidden);
  EXPECT_NE(s.message().find("does not lead to a root"), std::string::npos) << s.ToString();
  // A root with the trusted serial but another key is not the trusted root.
  Certificate fake = Make(KeyPair::Generate(), "", PartitionSet::All(), PartitionSet::All());
  fake.serial = fake.issuer = d.root.serial;
  EXPECT_EQ(VerifyChain({fake}, {d.root}, {}, kNow).code(), Code::kForbidden);
}

TEST(CertificateTest, AForgedSignatureIsRefused) {
  Dataset d;
  Certificate forged = d.b;
  forged.write = PartitionSet::All();  // widened after signing
  EXPECT_NE(VerifyChain({forged, d.root}, {d.root}, {}, kNow).message().find("signature"),
            std::string::npos);
  Certificate self = d.b;
  SignCertificate(&self, d.b_key);  // signed by itself, not by its issuer
  EXPECT_EQ(VerifyChain({self, d.root}, {d.root}, {}, kNow).code(), Code::kForbidden);
}

TEST(CertificateTest, ExpiredAndFutureCertificatesAreRefused) {
  Dataset d;
  Certificate old =
      Make(d.b_key, d.root.serial, Prefixes({"lab_b"}), {}, kNow - 3 * kDay, kNow - kDay);
  SignCertificate(&old, d.root_key);
  EXPECT_NE(VerifyChain({old, d.root}, {d.root}, {}, kNow).message().find("expired"),
            std::string::npos);
  Certificate later =
      Make(d.b_key, d.root.serial, Prefixes({"lab_b"}), {}, kNow + kDay, kNow + 3 * kDay);
  SignCertificate(&later, d.root_key);
  EXPECT_NE(VerifyChain({later, d.root}, {d.root}, {}, kNow).message().find("not valid yet"),
            std::string::npos);
}

TEST(CertificateTest, ARevokedCertificateEndsEveryOneBelowIt) {
  Dataset d;
  EXPECT_NE(VerifyChain({d.b, d.root}, {d.root}, {d.b.serial}, kNow).message().find("revoked"),
            std::string::npos);
  EXPECT_EQ(VerifyChain({d.c, d.b, d.root}, {d.root}, {d.b.serial}, kNow).code(), Code::kForbidden);
}

TEST(CertificateTest, AChildCannotWidenItsIssuersScope) {
  Dataset d;
  Certificate wide = Make(d.c_key, d.b.serial, Prefixes({"lab_c"}), {});
  SignCertificate(&wide, d.b_key);
  EXPECT_NE(VerifyChain({wide, d.b, d.root}, {d.root}, {}, kNow).message().find("wider"),
            std::string::npos);
  Certificate longer =
      Make(d.c_key, d.b.serial, Prefixes({"lab_b"}), {}, kNow - kDay, kNow + 400 * kDay);
  SignCertificate(&longer, d.b_key);
  EXPECT_EQ(VerifyChain({longer, d.b, d.root}, {d.root}, {}, kNow).code(), Code::kForbidden);
  // A chain out of order.
  EXPECT_EQ(VerifyChain({d.c, d.root}, {d.root}, {}, kNow).code(), Code::kForbidden);
}

TEST(RevocationTest, OnlyTheIssuerMayRevoke) {
  Dataset d, other;
  const Revocation r = Revoke(d.c, kNow, {d.b, d.root}, d.b_key);
  auto parsed = ParseRevocation(EncodeRevocation(r));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(VerifyRevocation(*parsed, {d.root}).ok());
  EXPECT_EQ(VerifyRevocation(*parsed, {other.root}).code(), Code::kForbidden);

  // Signed by another key than the issuer's.
  Revocation forged = Revoke(d.c, kNow, {d.b, d.root}, d.c_key);
  EXPECT_EQ(VerifyRevocation(forged, {d.root}).code(), Code::kForbidden);
  // Signed by someone (b) who is not the issuer of the revoked (b itself).
  Revocation not_issuer = Revoke(d.b, kNow, {d.b, d.root}, d.b_key);
  EXPECT_EQ(VerifyRevocation(not_issuer, {d.root}).code(), Code::kForbidden);
  // A tampered time.
  Revocation moved = r;
  moved.revoked_ms += 1;
  EXPECT_EQ(VerifyRevocation(moved, {d.root}).code(), Code::kForbidden);
  // The root can revoke what it issued.
  EXPECT_TRUE(VerifyRevocation(Revoke(d.b, kNow, {d.root}, d.root_key), {d.root}).ok());
}

}  // namespace
}  // namespace braid::auth
