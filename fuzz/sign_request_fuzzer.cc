// Signing requests (src/auth/keyring.h) that admins' clients send, and the
// messages of certificate sessions (src/repl/proof.h): challenges, their
// answers, and proofs.
//
// Checks that what parses writes back to JSON that parses to the same
// thing, and that anything refused is refused as invalid input.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/keyring.h"
#include "fuzz/check.h"
#include "repl/proof.h"

namespace {

using braid::Code;

bool SameChain(const braid::auth::Chain& a, const braid::auth::Chain& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (EncodeCertificate(a[i]) != EncodeCertificate(b[i])) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  if (auto r = braid::auth::ParseSignRequest(text); r.ok()) {
    const auto again = braid::auth::ParseSignRequest(braid::auth::SignRequestJson(*r));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->public_key == r->public_key && again->subject == r->subject);
    FUZZ_CHECK(again->read == r->read && again->write == r->write);
    FUZZ_CHECK(again->days == r->days && again->root == r->root);
  } else {
    FUZZ_CHECK(r.status().code() == Code::kInvalidArgument);
  }
  if (auto c = braid::repl::ParseChallengeRequest(text); c.ok()) {
    const auto again = braid::repl::ParseChallengeRequest(braid::repl::ChallengeRequestJson(*c));
    FUZZ_CHECK(again.ok() && again->root == c->root && again->nonce == c->nonce &&
               again->revocations_digest == c->revocations_digest);
  } else {
    FUZZ_CHECK(c.status().code() == Code::kInvalidArgument);
  }
  if (auto a = braid::repl::ParseChallengeResponse(text); a.ok()) {
    const auto again = braid::repl::ParseChallengeResponse(braid::repl::ChallengeResponseJson(*a));
    FUZZ_CHECK(again.ok() && again->challenge == a->challenge && again->nonce == a->nonce &&
               again->signature == a->signature && SameChain(again->chain, a->chain) &&
               again->revocations == a->revocations);
  } else {
    FUZZ_CHECK(a.status().code() == Code::kInvalidArgument);
  }
  if (auto p = braid::repl::ParseCertificateProof(text); p.ok()) {
    const auto again = braid::repl::ParseCertificateProof(braid::repl::CertificateProofJson(*p));
    FUZZ_CHECK(again.ok() && again->challenge == p->challenge && again->signature == p->signature &&
               SameChain(again->chain, p->chain));
  } else {
    FUZZ_CHECK(p.status().code() == Code::kInvalidArgument);
  }
  return 0;
}
