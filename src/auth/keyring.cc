#include "auth/keyring.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "auth/token.h"
#include "base/encoding.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"

namespace braid::auth {
namespace {

constexpr int64_t kRootYears = 50;
// Certificates start a little in the past, so a peer whose clock is
// behind accepts one the moment it is made.
constexpr int64_t kClockSkewMillis = 5 * 60 * 1000;

// The own root's serial follows from the key, so two processes that make
// it at once make the same one (the store keeps the first).
std::string RootSerial(const KeyPair& key) {
  return HexEncode(TokenHash("braid-root\n" + key.public_key())).substr(0, kSerialHexChars);
}

CertificateRow Row(const Certificate& c, std::string signed_for) {
  CertificateRow row;
  row.serial = c.serial;
  row.issuer = c.issuer;
  row.key = Base64UrlEncode(c.public_key);
  row.text = EncodeCertificate(c);
  row.signed_for = std::move(signed_for);
  return row;
}

std::vector<std::string> Serials(const Chain& chain) {
  std::vector<std::string> out;
  for (const auto& c : chain) out.push_back(c.serial);
  return out;
}

}  // namespace

std::string CertificateSummaryJson(const Certificate& c, const CertificateRow& row, bool own,
                                   bool revoked) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("serial")
      .String(c.serial)
      .Key("issuer")
      .String(c.issuer)
      .Key("subject")
      .String(c.subject)
      .Key("own")
      .Bool(own)
      .Key("root")
      .Bool(c.IsRoot())
      .Key("read");
  WritePartitionSet(w, c.read);
  w.Key("write");
  WritePartitionSet(w, c.write);
  w.Key("not_before")
      .Int(c.not_before_ms)
      .Key("not_after")
      .Int(c.not_after_ms)
      .Key("signed_for")
      .String(row.signed_for)
      .Key("revoked")
      .Bool(revoked)
      .EndObject();
  return out;
}

std::string SignRequestJson(const SignRequest& r) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("key")
      .String(Base64UrlEncode(r.public_key))
      .Key("subject")
      .String(r.subject)
      .Key("read");
  WritePartitionSet(w, r.read);
  w.Key("write");
  WritePartitionSet(w, r.write);
  w.Key("days").Int(r.days);
  if (!r.root.empty()) w.Key("root").String(r.root);
  w.EndObject();
  return out;
}

Result<SignRequest> ParseSignRequest(std::string_view body) {
  BRAID_RETURN_IF_ERROR(json::Validate(body, nullptr).WithContext("signing request"));
  const json::Value v(body);
  if (!v.IsObject()) return Status::InvalidArgument("a signing request is a JSON object");
  SignRequest r;
  bool has_key = false;
  Status bad;
  v.ForEachMember([&](std::string_view key, json::Value m) {
    if (key == "key") {
      auto raw = m.AsString() ? Base64UrlDecode(*m.AsString()) : std::nullopt;
      if (!raw || raw->size() != kEd25519KeyBytes) {
        bad = Status::InvalidArgument("key must be an Ed25519 public key (32 bytes, base64url)");
      } else {
        r.public_key = std::move(*raw);
        has_key = true;
      }
    } else if (key == "subject") {
      auto s = m.AsString();
      if (!s) bad = Status::InvalidArgument("subject must be a string");
      if (s) r.subject = std::move(*s);
    } else if (key == "read" || key == "write") {
      auto set = ParsePartitionSet(m, key);
      if (!set.ok()) bad = set.status();
      if (set.ok()) (key == "read" ? r.read : r.write) = std::move(*set);
    } else if (key == "days") {
      auto d = m.AsInt64();
      if (!d || *d < 1 || *d > kMaxCertDays) {
        bad = Status::InvalidArgument("days must be an integer from 1 to " +
                                      std::to_string(kMaxCertDays));
      } else {
        r.days = static_cast<int>(*d);
      }
    } else if (key == "root") {
      auto s = m.AsString();
      if (!s) bad = Status::InvalidArgument("root must be a serial");
      if (s) r.root = std::move(*s);
    } else {
      bad = Status::InvalidArgument("unknown member \"" + std::string(key) + "\"");
    }
    return bad.ok();
  });
  BRAID_RETURN_IF_ERROR(bad.WithContext("signing request"));
  if (!has_key) return Status::InvalidArgument("signing request: key is required");
  if (r.subject.empty()) return Status::InvalidArgument("signing request: subject is required");
  return r;
}

Result<std::unique_ptr<Keyring>> Keyring::Open(Store& store, const std::string& keys_dir,
                                               const Clock& clock) {
  if (::mkdir(keys_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IoError("cannot create " + keys_dir + ": " + std::strerror(errno));
  }
  // A store several machines serve keeps the key, so that every process
  // signs and is trusted as the one instance it is; otherwise the key stays
  // out of the store (a copied store.db does not give it away).
  auto shared_key = [&]() -> Result<KeyPair> {
    BRAID_ASSIGN_OR_RETURN(const std::string pem,
                           store.SharedValue("instance.key", []() -> Result<std::string> {
                             return KeyPair::Generate().Pem();
                           }));
    return KeyPair::FromPem(pem);
  };
  BRAID_ASSIGN_OR_RETURN(KeyPair key, store.shared()
                                          ? shared_key()
                                          : KeyPair::LoadOrCreate(keys_dir + "/instance.key"));
  std::unique_ptr<Keyring> ring(new Keyring(store, std::move(key), clock));
  BRAID_RETURN_IF_ERROR(ring->MakeOwnRoot());
  return ring;
}

Status Keyring::MakeOwnRoot() {
  const std::string serial = RootSerial(key_);
  BRAID_ASSIGN_OR_RETURN(auto row, store_.GetCertificate(serial));
  if (!row) {
    Certificate root;
    root.serial = root.issuer = serial;
    root.subject = "root " + store_.instance_id().Hex();
    root.public_key = key_.public_key();
    root.read = root.write = PartitionSet::All();
    const int64_t now = clock_.NowMillis();
    root.not_before_ms = now - kClockSkewMillis;
    root.not_after_ms = now + kRootYears * 365 * kDayMillis;
    SignCertificate(&root, key_);
    BRAID_ASSIGN_OR_RETURN(auto txn, store_.BeginWrite());
    BRAID_RETURN_IF_ERROR(txn->PutCertificate(Row(root, "")));
    BRAID_RETURN_IF_ERROR(txn->Commit());
    BRAID_ASSIGN_OR_RETURN(row, store_.GetCertificate(serial));
    if (!row) return Status::Internal("the root certificate just kept is missing");
  }
  BRAID_ASSIGN_OR_RETURN(own_root_, ParseCertificate(row->text));
  if (own_root_.public_key != key_.public_key()) {
    return Status::Internal("the store's root certificate " + serial +
                            " is for another key than keys/instance.key");
  }
  return Status::OK();
}

Result<std::vector<Certificate>> Keyring::Own() {
  BRAID_ASSIGN_OR_RETURN(const auto rows,
                         store_.ListCertificatesOf(Base64UrlEncode(key_.public_key())));
  std::vector<Certificate> out;
  for (const auto& row : rows) {
    auto c = ParseCertificate(row.text);
    if (!c.ok()) return c.status().WithContext("the store's certificate " + row.serial);
    out.push_back(std::move(*c));
  }
  return out;
}

Result<std::vector<Certificate>> Keyring::TrustedRoots() {
  BRAID_ASSIGN_OR_RETURN(const auto own, Own());
  std::vector<Certificate> roots = {own_root_};
  for (const auto& c : own) {
    if (c.IsRoot()) continue;
    // Up the issuers of one of ours, to its root.
    auto chain = ChainOf(c.serial);
    if (!chain.ok()) continue;
    const Certificate& root = chain->back();
    if (std::none_of(roots.begin(), roots.end(),
                     [&](const Certificate& r) { return r.serial == root.serial; })) {
      roots.push_back(root);
    }
  }
  return roots;
}

Result<Chain> Keyring::ChainOf(std::string_view serial) {
  Chain chain;
  std::string at(serial);
  while (chain.size() < kMaxChainLength) {
    BRAID_ASSIGN_OR_RETURN(auto row, store_.GetCertificate(at));
    if (!row) {
      return Status::NotFound(chain.empty() ? "no certificate " + std::string(serial) + " here"
                                            : "certificate " + chain.back().serial + "'s issuer " +
                                                  at + " is not kept here");
    }
    BRAID_ASSIGN_OR_RETURN(Certificate c, ParseCertificate(row->text));
    const bool root = c.IsRoot();
    at = c.issuer;
    chain.push_back(std::move(c));
    if (root) return chain;
  }
  return Status::InvalidArgument("certificate " + std::string(serial) + "'s chain is longer than " +
                                 std::to_string(kMaxChainLength));
}

Result<Chain> Keyring::OwnChainTo(std::string_view root_serial) {
  if (root_serial.empty() || root_serial == own_root_.serial) return Chain{own_root_};
  BRAID_ASSIGN_OR_RETURN(const auto own, Own());
  const int64_t now = clock_.NowMillis();
  std::optional<Chain> best;
  for (const auto& c : own) {
    if (c.IsRoot() || !c.ValidAt(now)) continue;
    auto chain = ChainOf(c.serial);
    if (!chain.ok() || chain->back().serial != root_serial) continue;
    if (!best || c.not_after_ms > best->front().not_after_ms) best = std::move(*chain);
  }
  if (!best) {
    return Status::NotFound("this instance has no valid certificate in dataset " +
                            std::string(root_serial) + "; get one with braid cert request");
  }
  return std::move(*best);
}

Status Keyring::Check(const Chain& chain) {
  BRAID_ASSIGN_OR_RETURN(const auto roots, TrustedRoots());
  BRAID_ASSIGN_OR_RETURN(const auto revoked, store_.RevokedAmong(Serials(chain)));
  return VerifyChain(chain, roots, std::set<std::string>(revoked.begin(), revoked.end()),
                     clock_.NowMillis());
}

Status Keyring::Recheck(const Chain& chain) {
  BRAID_ASSIGN_OR_RETURN(const auto revoked, store_.RevokedAmong(Serials(chain)));
  if (!revoked.empty()) {
    return Status::Forbidden("certificate " + revoked.front() +
                             " was revoked; this session ends (ask for a new certificate: braid "
                             "cert request)");
  }
  const int64_t now = clock_.NowMillis();
  for (const auto& c : chain) {
    if (!c.ValidAt(now)) {
      return Status::Forbidden("certificate " + c.serial + " expired; this session ends");
    }
  }
  return Status::OK();
}

Result<Chain> Keyring::Sign(const SignRequest& request, const Principal& who, int max_days) {
  BRAID_RETURN_IF_ERROR(NeedRole(who, Role::kAdmin, "sign certificates"));
  if (request.public_key.size() != kEd25519KeyBytes) {
    return Status::InvalidArgument("the signing request's key must be 32 bytes (Ed25519)");
  }
  if (request.days < 1 || request.days > max_days) {
    return Status::InvalidArgument("a certificate lasts 1 to " + std::to_string(max_days) +
                                   " days on this server; asked for " +
                                   std::to_string(request.days));
  }
  BRAID_ASSIGN_OR_RETURN(const Chain issuer, OwnChainTo(request.root));
  const Certificate& parent = issuer.front();
  // What `who` may grant: its scope, within what this instance holds.
  const PartitionSet grant = PartitionSet::FromScope(who.scope);
  const PartitionSet may_read = Intersect(grant, parent.read);
  const PartitionSet may_write = Intersect(grant, parent.write);
  if (!request.read.Within(may_read) || !request.write.Within(may_write)) {
    return Status::Forbidden(
        "asked to read " + request.read.Describe() + " and write " + request.write.Describe() +
        "; " + who.Describe() + " may grant reading " + may_read.Describe() + " and writing " +
        may_write.Describe() + " here; ask for less (braid cert request --read/--write)");
  }
  Certificate c;
  c.serial = NewSerial();
  c.issuer = parent.serial;
  c.subject = request.subject;
  c.public_key = request.public_key;
  c.read = request.read;
  c.write = request.write;
  const int64_t now = clock_.NowMillis();
  c.not_before_ms = std::max(now - kClockSkewMillis, parent.not_before_ms);
  c.not_after_ms = std::min(now + request.days * kDayMillis, parent.not_after_ms);
  if (c.not_after_ms <= now) {
    return Status::Forbidden("this instance's certificate " + parent.serial + " expires now");
  }
  SignCertificate(&c, key_);
  const std::string text = EncodeCertificate(c);
  BRAID_RETURN_IF_ERROR(ParseCertificate(text).status());  // the subject, mostly
  BRAID_ASSIGN_OR_RETURN(auto txn, store_.BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->PutCertificate(Row(c, who.Describe())));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  Chain chain = {c};
  chain.insert(chain.end(), issuer.begin(), issuer.end());
  spdlog::info("signed certificate {} for \"{}\" at the request of {}: read {}, write {}, until {}",
               c.serial, c.subject, who.Describe(), c.read.Describe(), c.write.Describe(),
               c.not_after_ms);
  return chain;
}

Status Keyring::Adopt(const Chain& chain) {
  if (chain.empty() || chain.front().public_key != key_.public_key()) {
    return Status::InvalidArgument("the certificate received is not for this instance's key");
  }
  // Trusted by the chain itself: this instance asked for it over a
  // connection it chose (https, --ca-cert). Its own links must hold.
  BRAID_RETURN_IF_ERROR(VerifyChain(chain, {chain.back()}, {}, clock_.NowMillis())
                            .WithContext("certificate received"));
  BRAID_ASSIGN_OR_RETURN(auto txn, store_.BeginWrite());
  for (const auto& c : chain) {
    BRAID_RETURN_IF_ERROR(txn->PutCertificate(Row(c, "")));
  }
  return txn->Commit();
}

Result<Revocation> Keyring::Revoke(std::string_view serial) {
  BRAID_ASSIGN_OR_RETURN(auto row, store_.GetCertificate(serial));
  if (!row) return Status::NotFound("no certificate " + std::string(serial) + " here");
  BRAID_ASSIGN_OR_RETURN(const Certificate c, ParseCertificate(row->text));
  if (c.IsRoot()) {
    return Status::InvalidArgument("certificate " + c.serial +
                                   " is a dataset's root; a root cannot be revoked");
  }
  BRAID_ASSIGN_OR_RETURN(auto issuer_row, store_.GetCertificate(c.issuer));
  std::optional<Certificate> issuer;
  if (issuer_row) {
    BRAID_ASSIGN_OR_RETURN(issuer, ParseCertificate(issuer_row->text));
  }
  if (!issuer || issuer->public_key != key_.public_key()) {
    return Status::Forbidden("certificate " + c.serial + " was signed by " + c.issuer +
                             ", not by this instance; revoke it on the instance that signed it");
  }
  BRAID_ASSIGN_OR_RETURN(Chain by, ChainOf(c.issuer));
  Revocation r = auth::Revoke(c, clock_.NowMillis(), std::move(by), key_);
  BRAID_ASSIGN_OR_RETURN(auto txn, store_.BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->PutRevocation({c.serial, EncodeRevocation(r), 0}));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  spdlog::info("revoked certificate {} (\"{}\")", c.serial, c.subject);
  return r;
}

Result<std::vector<std::string>> Keyring::Revocations() {
  BRAID_ASSIGN_OR_RETURN(const auto rows, store_.ListRevocations());
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.text);
  return out;
}

Result<std::string> Keyring::RevocationsDigest() {
  BRAID_ASSIGN_OR_RETURN(const auto rows, store_.ListRevocations());
  if (rows.empty()) return std::string();
  std::string serials;
  for (const auto& r : rows) serials += r.serial + "\n";
  return HexEncode(TokenHash(serials));
}

Result<size_t> Keyring::Accept(const std::vector<std::string>& texts) {
  if (texts.empty()) return size_t{0};
  BRAID_ASSIGN_OR_RETURN(const auto roots, TrustedRoots());
  std::vector<RevocationRow> fresh;
  for (const auto& text : texts) {
    auto r = ParseRevocation(text);
    Status s = r.ok() ? VerifyRevocation(*r, roots) : r.status();
    if (!s.ok()) {
      spdlog::warn("a revocation from a peer was skipped: {}", s.ToString());
      continue;
    }
    fresh.push_back({r->revoked.serial, text, 0});
  }
  std::vector<std::string> serials;
  for (const auto& f : fresh) serials.push_back(f.serial);
  BRAID_ASSIGN_OR_RETURN(const auto known, store_.RevokedAmong(serials));
  const std::set<std::string> have(known.begin(), known.end());
  size_t added = 0;
  BRAID_ASSIGN_OR_RETURN(auto txn, store_.BeginWrite());
  for (const auto& f : fresh) {
    if (have.count(f.serial) != 0) continue;
    BRAID_RETURN_IF_ERROR(txn->PutRevocation(f));
    ++added;
    spdlog::info("certificate {} is revoked (learned from a peer)", f.serial);
  }
  if (added == 0) return size_t{0};
  BRAID_RETURN_IF_ERROR(txn->Commit());
  return added;
}

}  // namespace braid::auth
