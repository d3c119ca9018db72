#include "repl/proof.h"

#include <algorithm>

#include "base/encoding.h"
#include "base/ids.h"
#include "base/json.h"
#include "repl/fields.h"

namespace braid::repl {
namespace {

Result<std::string> Text(json::Value v, std::string_view what) {
  auto s = v.AsString();
  if (!s) return Status::InvalidArgument(std::string(what) + " must be a string");
  return std::move(*s);
}

Result<std::string> Bytes(json::Value v, std::string_view what, size_t n) {
  BRAID_ASSIGN_OR_RETURN(const std::string text, Text(v, what));
  auto raw = Base64UrlDecode(text);
  if (!raw || raw->size() != n) {
    return Status::InvalidArgument(std::string(what) + " must be " + std::to_string(n) +
                                   " bytes in base64url");
  }
  return std::move(*raw);
}

bool IsHex(std::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Result<std::string> Hex(json::Value v, std::string_view what, size_t n) {
  BRAID_ASSIGN_OR_RETURN(std::string s, Text(v, what));
  if (!IsHex(s, n)) {
    return Status::InvalidArgument(std::string(what) + " must be " + std::to_string(n) +
                                   " lowercase hex digits");
  }
  return s;
}

}  // namespace

Result<std::string> ParseRevocationsDigest(json::Value v) {
  BRAID_ASSIGN_OR_RETURN(std::string s, Text(v, "revocations_digest"));
  if (!s.empty() && !IsHex(s, 64)) {
    return Status::InvalidArgument("revocations_digest must be \"\" or 64 hex digits");
  }
  return s;
}

Result<std::vector<std::string>> ParseRevocationList(json::Value v) {
  if (!v.IsArray()) return Status::InvalidArgument("revocations must be an array");
  if (v.Size() > kMaxRevocationsSent) {
    return Status::InvalidArgument("more than " + std::to_string(kMaxRevocationsSent) +
                                   " revocations");
  }
  std::vector<std::string> out;
  bool ok = true;
  v.ForEachElement([&](json::Value e) {
    ok = e.IsObject();
    if (ok) out.emplace_back(e.raw());
    return ok;
  });
  if (!ok) return Status::InvalidArgument("revocations must hold objects");
  return out;
}

void WriteRevocationList(json::Writer& w, const std::vector<std::string>& texts) {
  w.BeginArray();
  for (const auto& t : texts) w.Raw(t);
  w.EndArray();
}

namespace {

std::string ProofInput(std::string_view context, std::string_view theirs, std::string_view ours,
                       const InstanceId& signer, std::string_view challenge) {
  std::string out(context);
  out += HexEncode(theirs);
  out += '\n';
  out += HexEncode(ours);
  out += '\n';
  out += signer.Hex();
  out += '\n';
  out += challenge;
  return out;
}

}  // namespace

std::string ServerProofInput(std::string_view client_nonce, std::string_view server_nonce,
                             const InstanceId& server, std::string_view challenge) {
  return ProofInput("braid-session-server-v1\n", client_nonce, server_nonce, server, challenge);
}

std::string ClientProofInput(std::string_view server_nonce, std::string_view client_nonce,
                             const InstanceId& client, std::string_view challenge) {
  return ProofInput("braid-session-client-v1\n", server_nonce, client_nonce, client, challenge);
}

std::string ChallengeRequestJson(const ChallengeRequest& r) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("root")
      .String(r.root)
      .Key("nonce")
      .String(Base64UrlEncode(r.nonce))
      .Key("revocations_digest")
      .String(r.revocations_digest)
      .EndObject();
  return out;
}

Result<ChallengeRequest> ParseChallengeRequest(std::string_view body) {
  ChallengeRequest r;
  unsigned seen = 0;
  BRAID_RETURN_IF_ERROR(
      ForEachMember(body, "challenge request", [&](std::string_view key, json::Value v) -> Status {
        if (key == "root") {
          BRAID_ASSIGN_OR_RETURN(r.root, Hex(v, "root", auth::kSerialHexChars));
          seen |= 1;
        } else if (key == "nonce") {
          BRAID_ASSIGN_OR_RETURN(r.nonce, Bytes(v, "nonce", kNonceBytes));
          seen |= 2;
        } else if (key == "revocations_digest") {
          BRAID_ASSIGN_OR_RETURN(r.revocations_digest, ParseRevocationsDigest(v));
        } else {
          return UnknownMember(key);
        }
        return Status::OK();
      }));
  if (seen != 3) return Status::InvalidArgument("challenge request needs root and nonce");
  return r;
}

std::string ChallengeResponseJson(const ChallengeResponse& r) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("challenge")
      .String(r.challenge)
      .Key("instance_id")
      .String(r.instance_id.Hex())
      .Key("nonce")
      .String(Base64UrlEncode(r.nonce))
      .Key("chain")
      .Raw(auth::EncodeChain(r.chain))
      .Key("signature")
      .String(Base64UrlEncode(r.signature))
      .Key("revocations_digest")
      .String(r.revocations_digest)
      .Key("revocations");
  WriteRevocationList(w, r.revocations);
  w.EndObject();
  return out;
}

Result<ChallengeResponse> ParseChallengeResponse(std::string_view body) {
  ChallengeResponse r;
  unsigned seen = 0;
  BRAID_RETURN_IF_ERROR(
      ForEachMember(body, "challenge answer", [&](std::string_view key, json::Value v) -> Status {
        if (key == "challenge") {
          BRAID_ASSIGN_OR_RETURN(r.challenge, Hex(v, "challenge", 32));
          seen |= 1;
        } else if (key == "instance_id") {
          BRAID_ASSIGN_OR_RETURN(const std::string id, Text(v, "instance_id"));
          BRAID_ASSIGN_OR_RETURN(r.instance_id, InstanceId::FromHex(id));
          seen |= 2;
        } else if (key == "nonce") {
          BRAID_ASSIGN_OR_RETURN(r.nonce, Bytes(v, "nonce", kNonceBytes));
          seen |= 4;
        } else if (key == "chain") {
          BRAID_ASSIGN_OR_RETURN(r.chain, auth::ParseChain(v.raw()));
          seen |= 8;
        } else if (key == "signature") {
          BRAID_ASSIGN_OR_RETURN(r.signature, Bytes(v, "signature", auth::kEd25519SignatureBytes));
          seen |= 16;
        } else if (key == "revocations_digest") {
          BRAID_ASSIGN_OR_RETURN(r.revocations_digest, ParseRevocationsDigest(v));
        } else if (key == "revocations") {
          BRAID_ASSIGN_OR_RETURN(r.revocations, ParseRevocationList(v));
        } else {
          return UnknownMember(key);
        }
        return Status::OK();
      }));
  if (seen != 31) {
    return Status::InvalidArgument(
        "challenge answer needs challenge, instance_id, nonce, chain and signature");
  }
  return r;
}

std::string CertificateProofJson(const CertificateProof& p) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("challenge")
      .String(p.challenge)
      .Key("chain")
      .Raw(auth::EncodeChain(p.chain))
      .Key("signature")
      .String(Base64UrlEncode(p.signature))
      .EndObject();
  return out;
}

Result<CertificateProof> ParseCertificateProof(std::string_view body) {
  CertificateProof p;
  unsigned seen = 0;
  BRAID_RETURN_IF_ERROR(
      ForEachMember(body, "certificate", [&](std::string_view key, json::Value v) -> Status {
        if (key == "challenge") {
          BRAID_ASSIGN_OR_RETURN(p.challenge, Hex(v, "challenge", 32));
          seen |= 1;
        } else if (key == "chain") {
          BRAID_ASSIGN_OR_RETURN(p.chain, auth::ParseChain(v.raw()));
          seen |= 2;
        } else if (key == "signature") {
          BRAID_ASSIGN_OR_RETURN(p.signature, Bytes(v, "signature", auth::kEd25519SignatureBytes));
          seen |= 4;
        } else {
          return UnknownMember(key);
        }
        return Status::OK();
      }));
  if (seen != 7) return Status::InvalidArgument("certificate needs challenge, chain and signature");
  return p;
}

}  // namespace braid::repl
