// Ed25519 keys and braid's certificates (docs/protocol.md, "Certificates").
//
// A certificate binds an instance's public key to a scope: the partition
// prefixes it may read and those it may write. It names its issuer (the
// serial of the certificate whose key signed it) and is valid from
// not-before to not-after. A dataset's root is self-signed (issuer ==
// serial); every other certificate's scope lies within its issuer's and its
// validity within its issuer's.
//
// Encoding: one canonical JSON text, members in a fixed order, no spaces
// (EncodeCertificate). ParseCertificate accepts only that form: anything it
// accepts re-encodes to the same bytes, so a certificate has one encoding
// and its signature covers exactly what was parsed. The signature is
// Ed25519 over "braid-cert-v1\n" followed by the encoding without its
// "signature" member (SignatureInput).
//
// A revocation says a certificate (and every certificate under it) is no
// longer valid. It carries the revoked certificate and the chain of its
// issuer, and is signed by that issuer, so any instance of the dataset can
// check it alone, whoever passed it on. (To end a certificate whose issuer
// is gone, revoke that issuer's certificate: it takes every one below.)

#ifndef BRAID_AUTH_CERT_H_
#define BRAID_AUTH_CERT_H_

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "braid/catalog.h"
#include "braid/status.h"

namespace braid::json {
class Value;
class Writer;
}  // namespace braid::json

namespace braid::auth {

inline constexpr size_t kEd25519KeyBytes = 32;
inline constexpr size_t kEd25519SignatureBytes = 64;
inline constexpr size_t kSerialHexChars = 32;  // 16 random bytes
inline constexpr size_t kMaxChainLength = 8;   // a root and up to 7 levels below
inline constexpr size_t kMaxScopePrefixes = 64;
inline constexpr size_t kMaxSubjectBytes = 128;

// An Ed25519 key pair. The private half never leaves the instance: it is
// kept in DIR/keys/instance.key (PKCS#8 PEM, mode 0600).
class KeyPair {
 public:
  static KeyPair Generate();
  // From a PEM private key. Errors: InvalidArgument (not an Ed25519 key).
  static Result<KeyPair> FromPem(std::string_view pem);
  // Reads `path`, or makes a new key there (0600, written to a temporary
  // file, synced and renamed) when it does not exist. Refuses a key file
  // that others may read. Errors: IoError, InvalidArgument.
  static Result<KeyPair> LoadOrCreate(const std::string& path);

  std::string Pem() const;                                // the private key
  const std::string& public_key() const { return pub_; }  // 32 raw bytes
  std::string Sign(std::string_view message) const;       // 64 raw bytes

 private:
  std::string priv_, pub_;  // raw
};

// True when `signature` is `public_key`'s Ed25519 signature of `message`.
bool VerifySignature(std::string_view public_key, std::string_view message,
                     std::string_view signature);

// Partitions a certificate covers for reading or for writing: every
// partition (and records without one), or those under the prefixes. On the
// wire: ["*"] or the normalized prefixes; [] covers nothing.
struct PartitionSet {
  bool all = false;
  std::vector<std::string> prefixes;  // sorted, none covered by another

  static PartitionSet All() { return {true, {}}; }
  // Normalizes; "*" means every partition. Errors: InvalidArgument.
  static Result<PartitionSet> FromPrefixes(std::vector<std::string> prefixes);
  // The partitions a user's scope (empty: all) covers.
  static PartitionSet FromScope(const Scope& scope);

  bool Covers(std::string_view partition) const;
  bool Within(const PartitionSet& outer) const;
  bool Empty() const { return !all && prefixes.empty(); }
  // A user-facing form: "every partition", "nothing", "lab_a, lab_b".
  std::string Describe() const;
  bool operator==(const PartitionSet&) const = default;
};
// The partitions both cover.
PartitionSet Intersect(const PartitionSet& a, const PartitionSet& b);
// The wire form: ["*"], or the prefixes.
void WritePartitionSet(json::Writer& w, const PartitionSet& s);
std::string PartitionSetJson(const PartitionSet& s);
// Reads the wire form (at most kMaxScopePrefixes; normalizes). `name` is
// the member, for errors. Errors: InvalidArgument.
Result<PartitionSet> ParsePartitionSet(const json::Value& v, std::string_view name);

struct Certificate {
  std::string serial;      // 32 lowercase hex characters
  std::string issuer;      // the signer's serial; the serial itself for a root
  std::string subject;     // who asked for it: free text, at most 128 bytes
  std::string public_key;  // 32 raw bytes
  PartitionSet read, write;
  int64_t not_before_ms = 0, not_after_ms = 0;
  std::string signature;  // 64 raw bytes

  bool IsRoot() const { return issuer == serial; }
  bool ValidAt(int64_t now_ms) const { return not_before_ms <= now_ms && now_ms < not_after_ms; }
};

std::string NewSerial();
// "braid-cert-v1\n" + the encoding without "signature".
std::string SignatureInput(const Certificate& c);
std::string EncodeCertificate(const Certificate& c);
// Errors: InvalidArgument ("certificate: ...").
Result<Certificate> ParseCertificate(std::string_view text);
// Sets c->signature with `issuer_key`.
void SignCertificate(Certificate* c, const KeyPair& issuer_key);

// A chain: a certificate first, then its issuer's, ... up to a root.
using Chain = std::vector<Certificate>;
std::string EncodeChain(const Chain& chain);  // a JSON array of certificates
Result<Chain> ParseChain(std::string_view text);

// Why a chain is not trusted: Forbidden with a message that says which
// certificate and why (unknown root, bad signature, expired, not yet valid,
// revoked, scope wider than its issuer's, broken issuer link).
//
// `roots`: the root certificates trusted (compared whole, not by serial);
// `revoked`: serials revoked; `now_ms`: the time to check validity at.
Status VerifyChain(const Chain& chain, const std::vector<Certificate>& roots,
                   const std::set<std::string>& revoked, int64_t now_ms);

struct Revocation {
  Certificate revoked;
  int64_t revoked_ms = 0;
  Chain by;               // the issuer's chain, to a root
  std::string signature;  // by by[0]'s key, over RevocationSignatureInput
};
std::string RevocationSignatureInput(const Revocation& r);  // "braid-revoke-v1\n..."
std::string EncodeRevocation(const Revocation& r);
Result<Revocation> ParseRevocation(std::string_view text);
// Makes a revocation of `revoked` signed by `key`, whose chain is `by`.
Revocation Revoke(const Certificate& revoked, int64_t now_ms, Chain by, const KeyPair& key);
// Checks that `r` is signed by the revoked certificate's issuer, whose
// chain leads to one of `roots` (signatures only: a revocation stays valid
// after its signer expires or is revoked). Errors: Forbidden.
Status VerifyRevocation(const Revocation& r, const std::vector<Certificate>& roots);

}  // namespace braid::auth

#endif  // BRAID_AUTH_CERT_H_
