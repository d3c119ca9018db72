// This instance's key and the certificates it keeps (docs/protocol.md,
// "Certificates"): the checks of a peer's chain, signing requests, and
// revocations made here or received from peers.
//
// The key lives in DIR/keys/instance.key, or, for a store several machines
// serve (Store::shared(), PostgreSQL), in the store, so that every process
// of the instance signs with it; certificates and revocations are in the
// store (tables certificates and revocations). An instance is the root
// of its own dataset from the start: Open makes a root certificate for its
// key when the store has none. It joins another dataset by getting a
// certificate from an instance of it (braid cert request); from then on it
// trusts that dataset's root too, and keeps the chain up to it.
//
// Nothing is cached: every check reads the store, so a revocation stored
// by another process (braid cert revoke beside braid serve) counts at the
// next request.
//
// Thread-safe (the store is; the key is immutable).

#ifndef BRAID_AUTH_KEYRING_H_
#define BRAID_AUTH_KEYRING_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/authenticator.h"
#include "auth/cert.h"
#include "braid/clock.h"
#include "braid/store.h"

namespace braid::auth {

inline constexpr int64_t kDayMillis = 86400000;
inline constexpr int kDefaultCertDays = 365;
inline constexpr int kMaxCertDays = 3650;
inline constexpr size_t kMaxRevocationsPerExchange = 4096;

struct SignRequest {
  std::string public_key;  // 32 raw bytes
  std::string subject;
  PartitionSet read, write;
  int days = kDefaultCertDays;
  std::string root;  // the dataset (its root's serial); empty: this instance's own
};

// A certificate kept here, for listings: {"serial","issuer","subject",
// "own","root","read","write","not_before","not_after","signed_for",
// "revoked"}.
std::string CertificateSummaryJson(const Certificate& c, const CertificateRow& row, bool own,
                                   bool revoked);

// The JSON of a signing request (docs/protocol.md, "Certificates"):
// {"key","subject","read","write","days"[,"root"]}.
std::string SignRequestJson(const SignRequest& r);
// Errors: InvalidArgument naming the member.
Result<SignRequest> ParseSignRequest(std::string_view body);

class Keyring {
 public:
  // Loads or makes `keys_dir`/instance.key (the directory is made 0700) and
  // this instance's root certificate. Errors: IoError, InvalidArgument
  // (a key file others may read), store errors.
  static Result<std::unique_ptr<Keyring>> Open(Store& store, const std::string& keys_dir,
                                               const Clock& clock = Clock::Real());

  const KeyPair& key() const { return key_; }
  const Certificate& own_root() const { return own_root_; }
  const Clock& clock() const { return clock_; }

  // The roots trusted: this instance's and those its certificates lead to.
  Result<std::vector<Certificate>> TrustedRoots();
  // A kept certificate's chain up to its root. Errors: NotFound.
  Result<Chain> ChainOf(std::string_view serial);
  // This instance's chain into the dataset of `root_serial`: its own root,
  // or its certificate under that root valid now that expires last.
  // Errors: NotFound saying how to get one.
  Result<Chain> OwnChainTo(std::string_view root_serial);
  // Checks a peer's chain against the trusted roots, the revocations kept
  // and the time. Errors: Forbidden.
  Status Check(const Chain& chain);
  // Forbidden when a certificate of `chain` was revoked since it was
  // checked, or expired: for sessions already open.
  Status Recheck(const Chain& chain);

  // Signs `request` for `who`, an admin, within what it may grant (its
  // scope) and what this instance may (its certificate in that dataset);
  // keeps the certificate. Returns the new certificate's chain.
  // Errors: Forbidden (naming what is beyond the grant), InvalidArgument.
  Result<Chain> Sign(const SignRequest& request, const Principal& who, int max_days);

  // Keeps a chain received from a signing request as this instance's.
  // Errors: InvalidArgument (not for this key, or not a valid chain).
  Status Adopt(const Chain& chain);

  // Revokes a certificate this instance signed. Errors: NotFound,
  // Forbidden (signed elsewhere: revoke it there).
  Result<Revocation> Revoke(std::string_view serial);

  // Every revocation kept, encoded; and a digest of their serials ("" when
  // none) that peers compare before sending them.
  Result<std::vector<std::string>> Revocations();
  Result<std::string> RevocationsDigest();
  // Checks revocations a peer sent and keeps those new here that are valid
  // (signed by the issuer, in a dataset this instance trusts); others are
  // logged and skipped. Returns how many were new.
  Result<size_t> Accept(const std::vector<std::string>& texts);

 private:
  Keyring(Store& store, KeyPair key, const Clock& clock)
      : store_(store), key_(std::move(key)), clock_(clock) {}
  Status MakeOwnRoot();
  // This instance's certificates (its key's), its root included.
  Result<std::vector<Certificate>> Own();

  Store& store_;
  KeyPair key_;
  const Clock& clock_;
  Certificate own_root_;
};

}  // namespace braid::auth

#endif  // BRAID_AUTH_KEYRING_H_
