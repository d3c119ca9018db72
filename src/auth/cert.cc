#include "auth/cert.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "base/encoding.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/validate.h"

namespace braid::auth {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using Bio = std::unique_ptr<BIO, BioFree>;

constexpr std::string_view kCertContext = "braid-cert-v1\n";
constexpr std::string_view kRevokeContext = "braid-revoke-v1\n";

std::string RawPublic(EVP_PKEY* key) {
  std::string out(kEd25519KeyBytes, '\0');
  size_t n = out.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(out.data()), &n) != 1 ||
      n != kEd25519KeyBytes) {
    std::abort();  // an Ed25519 key always has one
  }
  return out;
}

Pkey PrivateKey(const std::string& raw) {
  return Pkey(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
}

Status Invalid(std::string_view what) {
  return Status::InvalidArgument("certificate: " + std::string(what));
}

bool IsSerial(std::string_view s) {
  return s.size() == kSerialHexChars && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsSubject(std::string_view s) {
  return !s.empty() && s.size() <= kMaxSubjectBytes && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
           c == '_' || c == '.' || c == ':' || c == '@' || c == '-';
  });
}

// The encoding up to (not including) the closing brace, signature left out.
std::string Body(const Certificate& c) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("braid_cert")
      .Int(1)
      .Key("serial")
      .String(c.serial)
      .Key("issuer")
      .String(c.issuer)
      .Key("subject")
      .String(c.subject)
      .Key("key")
      .String(Base64UrlEncode(c.public_key))
      .Key("read");
  WritePartitionSet(w, c.read);
  w.Key("write");
  WritePartitionSet(w, c.write);
  w.Key("not_before").Int(c.not_before_ms).Key("not_after").Int(c.not_after_ms).EndObject();
  out.pop_back();
  return out;
}

Result<std::string> StringField(const json::Value& v, std::string_view name) {
  auto s = v.AsString();
  if (!s) return Invalid(std::string(name) + " must be a string");
  return std::move(*s);
}

Result<std::string> Base64Field(const json::Value& v, std::string_view name, size_t bytes) {
  BRAID_ASSIGN_OR_RETURN(const std::string text, StringField(v, name));
  auto raw = Base64UrlDecode(text);
  if (!raw || raw->size() != bytes) {
    return Invalid(std::string(name) + " must be " + std::to_string(bytes) + " bytes in base64url");
  }
  return std::move(*raw);
}

Result<int64_t> TimeField(const json::Value& v, std::string_view name) {
  auto n = v.AsInt64();
  if (!n || *n < 0) return Invalid(std::string(name) + " must be milliseconds since 1970");
  return *n;
}

}  // namespace

KeyPair KeyPair::Generate() {
  KeyPair k;
  k.priv_.resize(kEd25519KeyBytes);
  RandomBytes(k.priv_.data(), k.priv_.size());
  Pkey key = PrivateKey(k.priv_);
  if (!key) std::abort();
  k.pub_ = RawPublic(key.get());
  return k;
}

Result<KeyPair> KeyPair::FromPem(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return Status::InvalidArgument("not an Ed25519 private key in PEM");
  }
  KeyPair k;
  k.priv_.resize(kEd25519KeyBytes);
  size_t n = k.priv_.size();
  if (EVP_PKEY_get_raw_private_key(key.get(), reinterpret_cast<unsigned char*>(k.priv_.data()),
                                   &n) != 1 ||
      n != kEd25519KeyBytes) {
    return Status::InvalidArgument("not an Ed25519 private key in PEM");
  }
  k.pub_ = RawPublic(key.get());
  return k;
}

std::string KeyPair::Pem() const {
  Pkey key = PrivateKey(priv_);
  Bio bio(BIO_new(BIO_s_mem()));
  if (!key || !bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    std::abort();
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<KeyPair> KeyPair::LoadOrCreate(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st {};
    std::string pem;
    if (::fstat(fd, &st) == 0 && st.st_size < 64 * 1024) {
      pem.resize(static_cast<size_t>(st.st_size));
      const ssize_t n = ::read(fd, pem.data(), pem.size());
      pem.resize(n < 0 ? 0 : static_cast<size_t>(n));
    }
    ::close(fd);
    if ((st.st_mode & 077) != 0) {
      return Status::InvalidArgument(path +
                                     " may be read by others; it holds this instance's private "
                                     "key: chmod 600 it");
    }
    auto key = FromPem(pem);
    if (!key.ok()) return Status::InvalidArgument(path + ": " + key.status().message());
    return key;
  }
  if (errno != ENOENT) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  KeyPair key = Generate();
  const std::string pem = key.Pem();
  // Written aside, then linked into place: link() fails when another
  // process made the key meanwhile, and then its key is the one.
  const std::string tmp = path + "." + std::to_string(::getpid()) + ".tmp";
  const int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) return Status::IoError("cannot create " + tmp + ": " + std::strerror(errno));
  const bool ok =
      ::write(out, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()) && ::fsync(out) == 0;
  ::close(out);
  const int linked = ok ? ::link(tmp.c_str(), path.c_str()) : -1;
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    if (ok && link_errno == EEXIST) return LoadOrCreate(path);
    return Status::IoError("cannot write " + path + ": " + std::strerror(link_errno));
  }
  // The new name is durable once the directory is synced.
  const std::string dir = path.substr(0, path.find_last_of('/') + 1);
  if (const int d = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      d >= 0) {
    ::fsync(d);
    ::close(d);
  }
  return key;
}

std::string KeyPair::Sign(std::string_view message) const {
  Pkey key = PrivateKey(priv_);
  MdCtx ctx(EVP_MD_CTX_new());
  std::string sig(kEd25519SignatureBytes, '\0');
  size_t n = sig.size();
  if (!key || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    std::abort();  // out of memory
  }
  return sig;
}

bool VerifySignature(std::string_view public_key, std::string_view message,
                     std::string_view signature) {
  if (public_key.size() != kEd25519KeyBytes || signature.size() != kEd25519SignatureBytes) {
    return false;
  }
  Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                       reinterpret_cast<const unsigned char*>(public_key.data()),
                                       public_key.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  if (!key || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

Result<PartitionSet> PartitionSet::FromPrefixes(std::vector<std::string> prefixes) {
  PartitionSet s;
  for (const auto& p : prefixes) {
    if (p == "*") {
      s.all = true;
    } else {
      BRAID_RETURN_IF_ERROR(ValidatePartition(p));
    }
  }
  if (s.all) return s;  // "*" and prefixes: every partition
  s.prefixes = DropCoveredPrefixes(std::move(prefixes));
  return s;
}

PartitionSet PartitionSet::FromScope(const Scope& scope) {
  if (scope.empty()) return All();
  auto s = FromPrefixes(scope);
  return s.ok() ? *s : PartitionSet{};
}

bool PartitionSet::Covers(std::string_view partition) const {
  if (all) return true;
  for (const auto& p : prefixes) {
    if (PartitionCovers(p, partition)) return true;
  }
  return false;
}

bool PartitionSet::Within(const PartitionSet& outer) const {
  if (outer.all) return true;
  if (all) return false;
  for (const auto& p : prefixes) {
    if (!outer.Covers(p)) return false;
  }
  return true;
}

std::string PartitionSet::Describe() const {
  if (all) return "every partition";
  if (prefixes.empty()) return "nothing";
  std::string out;
  for (const auto& p : prefixes) out += (out.empty() ? "" : ", ") + p;
  return out;
}

PartitionSet Intersect(const PartitionSet& a, const PartitionSet& b) {
  if (a.all) return b;
  if (b.all) return a;
  std::vector<std::string> out;
  for (const auto& p : a.prefixes) {
    if (b.Covers(p)) out.push_back(p);
  }
  for (const auto& p : b.prefixes) {
    if (a.Covers(p)) out.push_back(p);
  }
  auto s = PartitionSet::FromPrefixes(std::move(out));
  return s.ok() ? *s : PartitionSet{};
}

void WritePartitionSet(json::Writer& w, const PartitionSet& s) {
  w.BeginArray();
  if (s.all) w.String("*");
  for (const auto& p : s.prefixes) w.String(p);
  w.EndArray();
}

std::string PartitionSetJson(const PartitionSet& s) {
  std::string out;
  json::Writer w(&out);
  WritePartitionSet(w, s);
  return out;
}

Result<PartitionSet> ParsePartitionSet(const json::Value& v, std::string_view name) {
  if (!v.IsArray() || v.Size() > kMaxScopePrefixes) {
    return Status::InvalidArgument(std::string(name) + " must be an array of at most " +
                                   std::to_string(kMaxScopePrefixes) +
                                   " partition prefixes (\"*\": every partition)");
  }
  std::vector<std::string> prefixes;
  bool ok = true;
  v.ForEachElement([&](json::Value e) {
    auto s = e.AsString();
    ok = s.has_value();
    if (ok) prefixes.push_back(std::move(*s));
    return ok;
  });
  if (!ok) return Status::InvalidArgument(std::string(name) + " must hold strings");
  auto set = PartitionSet::FromPrefixes(std::move(prefixes));
  if (!set.ok()) return set.status().WithContext(name);
  return set;
}

std::string NewSerial() {
  std::string raw(kSerialHexChars / 2, '\0');
  RandomBytes(raw.data(), raw.size());
  return HexEncode(raw);
}

std::string SignatureInput(const Certificate& c) {
  return std::string(kCertContext) + Body(c) + "}";
}

std::string EncodeCertificate(const Certificate& c) {
  std::string out = Body(c);
  out += ",\"signature\":\"";
  out += Base64UrlEncode(c.signature);
  out += "\"}";
  return out;
}

void SignCertificate(Certificate* c, const KeyPair& issuer_key) {
  c->signature = issuer_key.Sign(SignatureInput(*c));
}

Result<Certificate> ParseCertificate(std::string_view text) {
  if (text.size() > 16 * 1024) return Invalid("longer than 16 KiB");
  if (!json::Validate(text, nullptr).ok()) return Invalid("not JSON");
  const json::Value v(text);
  if (!v.IsObject()) return Invalid("not a JSON object");
  Certificate c;
  int version = 0;
  Status bad;
  v.ForEachMember([&](std::string_view key, json::Value m) {
    Status s;
    if (key == "braid_cert") {
      version = static_cast<int>(m.AsInt64().value_or(0));
    } else if (key == "serial" || key == "issuer") {
      auto r = StringField(m, key);
      if (r.ok() && !IsSerial(*r))
        r = Invalid(std::string(key) + " must be 32 lowercase hex digits");
      if (r.ok()) (key == "serial" ? c.serial : c.issuer) = std::move(*r);
      s = r.status();
    } else if (key == "subject") {
      auto r = StringField(m, key);
      if (r.ok() && !IsSubject(*r)) {
        r = Invalid("subject must be 1 to 128 characters [A-Za-z0-9 _.:@-]");
      }
      if (r.ok()) c.subject = std::move(*r);
      s = r.status();
    } else if (key == "key") {
      auto r = Base64Field(m, key, kEd25519KeyBytes);
      if (r.ok()) c.public_key = std::move(*r);
      s = r.status();
    } else if (key == "signature") {
      auto r = Base64Field(m, key, kEd25519SignatureBytes);
      if (r.ok()) c.signature = std::move(*r);
      s = r.status();
    } else if (key == "read" || key == "write") {
      auto r = ParsePartitionSet(m, key);
      if (r.ok()) (key == "read" ? c.read : c.write) = std::move(*r);
      s = r.ok() ? Status::OK() : Invalid(r.status().message());
    } else if (key == "not_before" || key == "not_after") {
      auto r = TimeField(m, key);
      if (r.ok()) (key == "not_before" ? c.not_before_ms : c.not_after_ms) = *r;
      s = r.status();
    }
    bad = s;
    return s.ok();
  });
  BRAID_RETURN_IF_ERROR(bad);
  if (version != 1) return Invalid("braid_cert must be 1 (the only version this braid reads)");
  if (c.serial.empty() || c.issuer.empty() || c.subject.empty() || c.public_key.empty() ||
      c.signature.empty()) {
    return Invalid("serial, issuer, subject, key and signature are required");
  }
  if (c.not_after_ms <= c.not_before_ms) return Invalid("not_after must come after not_before");
  // One encoding per certificate: members in order, prefixes normalized,
  // no spaces, no other members.
  if (EncodeCertificate(c) != text) return Invalid("not in canonical form (docs/protocol.md)");
  return c;
}

std::string EncodeChain(const Chain& chain) {
  std::string out = "[";
  for (const auto& c : chain) {
    if (out.size() > 1) out += ',';
    out += EncodeCertificate(c);
  }
  out += ']';
  return out;
}

Result<Chain> ParseChain(std::string_view text) {
  if (!json::Validate(text, nullptr).ok()) return Invalid("chain is not JSON");
  const json::Value v(text);
  if (!v.IsArray() || v.Size() == 0 || v.Size() > kMaxChainLength) {
    return Invalid("a chain is an array of 1 to " + std::to_string(kMaxChainLength) +
                   " certificates");
  }
  Chain chain;
  Status bad;
  v.ForEachElement([&](json::Value e) {
    auto c = ParseCertificate(e.raw());
    if (!c.ok()) {
      bad = c.status();
      return false;
    }
    chain.push_back(std::move(*c));
    return true;
  });
  BRAID_RETURN_IF_ERROR(bad);
  return chain;
}

Status VerifyChain(const Chain& chain, const std::vector<Certificate>& roots,
                   const std::set<std::string>& revoked, int64_t now_ms) {
  if (chain.empty() || chain.size() > kMaxChainLength) {
    return Status::Forbidden("a certificate chain holds 1 to " + std::to_string(kMaxChainLength) +
                             " certificates");
  }
  const Certificate& root = chain.back();
  const std::string root_text = EncodeCertificate(root);
  const bool trusted = root.IsRoot() && std::any_of(roots.begin(), roots.end(), [&](const auto& r) {
                         return EncodeCertificate(r) == root_text;
                       });
  if (!trusted) {
    return Status::Forbidden("certificate " + chain.front().serial +
                             " does not lead to a root this instance trusts (its chain ends at " +
                             root.serial +
                             "); ask an admin of this dataset for one: braid cert request");
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    const Certificate& c = chain[i];
    const Certificate& parent = i + 1 < chain.size() ? chain[i + 1] : c;
    const std::string name = "certificate " + c.serial + " (" + c.subject + ")";
    if (i + 1 < chain.size() && (c.issuer != parent.serial || c.IsRoot())) {
      return Status::Forbidden(name + " names issuer " + c.issuer + ", but the chain holds " +
                               parent.serial + " after it");
    }
    if (!VerifySignature(parent.public_key, SignatureInput(c), c.signature)) {
      return Status::Forbidden(name + " has a signature that its issuer's key did not make");
    }
    if (!c.ValidAt(now_ms)) {
      return Status::Forbidden(name +
                               (now_ms < c.not_before_ms ? " is not valid yet" : " expired") +
                               "; ask for a new one: braid cert request");
    }
    if (revoked.count(c.serial) != 0) {
      return Status::Forbidden(name + " was revoked");
    }
    if (!c.read.Within(parent.read) || !c.write.Within(parent.write)) {
      return Status::Forbidden(name + " claims a scope wider than its issuer's");
    }
    if (c.not_before_ms < parent.not_before_ms || c.not_after_ms > parent.not_after_ms) {
      return Status::Forbidden(name + " claims validity outside its issuer's");
    }
  }
  return Status::OK();
}

std::string RevocationSignatureInput(const Revocation& r) {
  return std::string(kRevokeContext) + r.revoked.serial + "\n" + std::to_string(r.revoked_ms);
}

std::string EncodeRevocation(const Revocation& r) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("braid_revocation")
      .Int(1)
      .Key("revoked")
      .Raw(EncodeCertificate(r.revoked))
      .Key("revoked_at")
      .Int(r.revoked_ms)
      .Key("by")
      .Raw(EncodeChain(r.by))
      .Key("signature")
      .String(Base64UrlEncode(r.signature))
      .EndObject();
  return out;
}

Result<Revocation> ParseRevocation(std::string_view text) {
  if (text.size() > 160 * 1024) return Invalid("revocation longer than 160 KiB");
  if (!json::Validate(text, nullptr).ok()) return Invalid("revocation is not JSON");
  const json::Value v(text);
  if (!v.IsObject()) return Invalid("revocation is not a JSON object");
  Revocation r;
  int version = 0;
  Status bad = Invalid("revocation needs revoked, revoked_at, by and signature");
  int seen = 0;
  v.ForEachMember([&](std::string_view key, json::Value m) {
    Status s;
    if (key == "braid_revocation") {
      version = static_cast<int>(m.AsInt64().value_or(0));
    } else if (key == "revoked") {
      auto c = ParseCertificate(m.raw());
      if (c.ok()) r.revoked = std::move(*c), seen |= 1;
      s = c.status();
    } else if (key == "revoked_at") {
      auto t = TimeField(m, key);
      if (t.ok()) r.revoked_ms = *t, seen |= 2;
      s = t.status();
    } else if (key == "by") {
      auto c = ParseChain(m.raw());
      if (c.ok()) r.by = std::move(*c), seen |= 4;
      s = c.status();
    } else if (key == "signature") {
      auto sig = Base64Field(m, key, kEd25519SignatureBytes);
      if (sig.ok()) r.signature = std::move(*sig), seen |= 8;
      s = sig.status();
    }
    if (!s.ok()) bad = s;
    return s.ok();
  });
  if (seen != 15) return bad;
  if (version != 1) return Invalid("braid_revocation must be 1");
  if (EncodeRevocation(r) != text) return Invalid("revocation not in canonical form");
  return r;
}

Revocation Revoke(const Certificate& revoked, int64_t now_ms, Chain by, const KeyPair& key) {
  Revocation r;
  r.revoked = revoked;
  r.revoked_ms = now_ms;
  r.by = std::move(by);
  r.signature = key.Sign(RevocationSignatureInput(r));
  return r;
}

Status VerifyRevocation(const Revocation& r, const std::vector<Certificate>& roots) {
  const std::string what = "revocation of " + r.revoked.serial;
  if (r.by.empty() || r.by.front().serial != r.revoked.issuer || r.revoked.IsRoot()) {
    return Status::Forbidden(what + " is not signed by its issuer");
  }
  // Signatures and links only: expiry and revocation of the signer do not
  // undo what it revoked.
  const Chain& by = r.by;
  if (!VerifySignature(r.by.front().public_key, SignatureInput(r.revoked), r.revoked.signature)) {
    return Status::Forbidden(what + ": the revoked certificate was not signed by the signer");
  }
  if (!VerifySignature(r.by.front().public_key, RevocationSignatureInput(r), r.signature)) {
    return Status::Forbidden(what + " has a forged signature");
  }
  // The signer's chain, checked at a time when each was valid.
  for (size_t i = 0; i < by.size(); ++i) {
    const Certificate& c = by[i];
    const Certificate& parent = i + 1 < by.size() ? by[i + 1] : c;
    if ((i + 1 < by.size() && c.issuer != parent.serial) ||
        !VerifySignature(parent.public_key, SignatureInput(c), c.signature)) {
      return Status::Forbidden(what + ": the signer's chain is broken at " + c.serial);
    }
  }
  const std::string root_text = EncodeCertificate(by.back());
  if (!by.back().IsRoot() || std::none_of(roots.begin(), roots.end(), [&](const auto& x) {
        return EncodeCertificate(x) == root_text;
      })) {
    return Status::Forbidden(what + " comes from a dataset this instance does not trust");
  }
  return Status::OK();
}

}  // namespace braid::auth
