// Certificate sessions (docs/protocol.md, "Certificate sessions"): the
// messages by which a client and a server prove to each other that each
// holds the key of a certificate in the same dataset, before a session
// opens, and exchange the revocations they know.
//
//   client -> POST /api/v1/sync/challenge   ChallengeRequest (no credentials)
//   server <- 200                          ChallengeResponse: its chain, and
//                                          its signature of both nonces
//   client -> POST /api/v1/sync/sessions    the handshake with a
//                                          CertificateProof: its chain, and
//                                          its signature of both nonces
//
// Each side signs the other's fresh nonce: a recorded answer is worth
// nothing later. A challenge can be used once, within a minute.

#ifndef BRAID_REPL_PROOF_H_
#define BRAID_REPL_PROOF_H_

#include <string>
#include <string_view>
#include <vector>

#include "auth/cert.h"
#include "base/json.h"
#include "braid/instance_id.h"
#include "braid/status.h"

namespace braid::repl {

inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kMaxRevocationsSent = 4096;

struct ChallengeRequest {
  std::string root;                // the dataset: its root's serial
  std::string nonce;               // kNonceBytes random bytes
  std::string revocations_digest;  // auth::Keyring::RevocationsDigest
};

struct ChallengeResponse {
  std::string challenge;  // 32 hex digits, quoted in the proof
  InstanceId instance_id;
  std::string nonce;  // the server's kNonceBytes
  auth::Chain chain;  // the server's, to the root asked for
  std::string signature;
  std::string revocations_digest;
  std::vector<std::string> revocations;  // the server's, when the digests differ
};

// The client's revocations follow the handshake like in every session
// (protocol.h, HandshakeRequest::revocations_digest): a handshake's body,
// read before anyone is known, stays small.
struct CertificateProof {
  std::string challenge;
  auth::Chain chain;
  std::string signature;
};

// Revocations as messages carry them: an array of revocations (at most
// kMaxRevocationsSent, each an object, checked by the keyring), and the
// digest of a keyring's ("" or 64 hex digits). Errors: InvalidArgument.
Result<std::vector<std::string>> ParseRevocationList(json::Value v);
Result<std::string> ParseRevocationsDigest(json::Value v);
void WriteRevocationList(json::Writer& w, const std::vector<std::string>& texts);

// What the server signs: "braid-session-server-v1\n" + hex(client nonce) +
// "\n" + hex(server nonce) + "\n" + server instance id + "\n" + challenge.
std::string ServerProofInput(std::string_view client_nonce, std::string_view server_nonce,
                             const InstanceId& server, std::string_view challenge);
// What the client signs: "braid-session-client-v1\n" + hex(server nonce) +
// "\n" + hex(client nonce) + "\n" + client instance id + "\n" + challenge.
std::string ClientProofInput(std::string_view server_nonce, std::string_view client_nonce,
                             const InstanceId& client, std::string_view challenge);

std::string ChallengeRequestJson(const ChallengeRequest& r);
Result<ChallengeRequest> ParseChallengeRequest(std::string_view body);
std::string ChallengeResponseJson(const ChallengeResponse& r);
Result<ChallengeResponse> ParseChallengeResponse(std::string_view body);
std::string CertificateProofJson(const CertificateProof& p);
// `v` is the proof's JSON object (validated). Errors: InvalidArgument.
Result<CertificateProof> ParseCertificateProof(std::string_view json);

}  // namespace braid::repl

#endif  // BRAID_REPL_PROOF_H_
