// Certificates, chains and revocations (src/auth/cert.h): peers send them
// in challenge answers, proofs, handshakes and signing answers.
//
// Checks that a parsed certificate or revocation is in its one canonical
// encoding (it re-encodes to the very input), that a parsed chain
// re-encodes to text that parses to the same chain, and that checking a
// chain or a revocation, against its own root and the time in the input,
// returns an answer (no crash, no other error code than forbidden).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/cert.h"
#include "fuzz/check.h"

namespace {

using namespace braid::auth;

void CheckChain(const Chain& chain, int64_t now) {
  const braid::Status s = VerifyChain(chain, {chain.back()}, {chain.front().serial}, now);
  FUZZ_CHECK(s.code() == braid::Code::kForbidden);  // the first is revoked
  const braid::Status t = VerifyChain(chain, {chain.back()}, {}, now);
  FUZZ_CHECK(t.ok() || t.code() == braid::Code::kForbidden);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  if (auto c = ParseCertificate(text); c.ok()) {
    FUZZ_CHECK(EncodeCertificate(*c) == text);
    FUZZ_CHECK(c->not_before_ms < c->not_after_ms);
    FUZZ_CHECK(c->read.Within(PartitionSet::All()));
    CheckChain({*c}, c->not_before_ms);
  } else {
    FUZZ_CHECK(c.status().code() == braid::Code::kInvalidArgument);
  }
  if (auto chain = ParseChain(text); chain.ok()) {
    FUZZ_CHECK(!chain->empty() && chain->size() <= kMaxChainLength);
    const auto again = ParseChain(EncodeChain(*chain));
    FUZZ_CHECK(again.ok() && again->size() == chain->size());
    for (size_t i = 0; i < chain->size(); ++i) {
      FUZZ_CHECK(EncodeCertificate((*again)[i]) == EncodeCertificate((*chain)[i]));
    }
    CheckChain(*chain, chain->front().not_before_ms);
  } else {
    FUZZ_CHECK(chain.status().code() == braid::Code::kInvalidArgument);
  }
  if (auto r = ParseRevocation(text); r.ok()) {
    FUZZ_CHECK(EncodeRevocation(*r) == text);
    const braid::Status s = VerifyRevocation(*r, {r->by.back()});
    FUZZ_CHECK(s.ok() || s.code() == braid::Code::kForbidden);
  } else {
    FUZZ_CHECK(r.status().code() == braid::Code::kInvalidArgument);
  }
  return 0;
}
