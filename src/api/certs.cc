// /api/v1/certs: certificates (docs/protocol.md, "Certificates"), for
// admins.
//
//   POST /api/v1/certs                 a signing request -> 201 {"chain":[...]}
//   GET  /api/v1/certs                 the certificates this instance keeps
//   GET  /api/v1/certs/SERIAL          one, with its chain
//   POST /api/v1/certs/SERIAL/revoke   revokes one this instance signed

#include <set>

#include "api/api.h"
#include "api/query.h"
#include "base/encoding.h"
#include "base/json.h"

namespace braid::api {
namespace {

using http::ErrorResponse;
using http::JsonResponse;

}  // namespace

std::string_view SessionCredential(std::string_view authorization) {
  constexpr std::string_view kScheme = "Braid-Session ";
  if (authorization.size() <= kScheme.size() ||
      authorization.substr(0, kScheme.size()) != kScheme) {
    return {};
  }
  return authorization.substr(kScheme.size());
}

http::Response Api::Certs(const http::Request& request, const std::vector<std::string>& seg,
                          const Principal& who) {
  auth::Keyring* ring = options_.keyring;
  if (ring == nullptr) {
    return ErrorResponse(Status::NotFound("this server keeps no certificates"));
  }
  if (auto q = Query::Parse(request.query, {}); !q.ok()) return ErrorResponse(q.status());
  const std::string& m = request.method;
  auto not_allowed = [&](const char* allow) {
    http::Response r = ErrorResponse(
        Status::MethodNotAllowed(m + " is not allowed on " + request.path + "; use " + allow));
    r.headers.emplace_back("Allow", allow);
    return r;
  };
  if (seg.empty()) {
    if (m == "POST") {
      auto req = auth::ParseSignRequest(request.body);
      if (!req.ok()) return ErrorResponse(req.status());
      auto chain = ring->Sign(*req, who, options_.cert_max_days);
      if (!chain.ok()) return ErrorResponse(chain.status());
      return JsonResponse(201, "{\"chain\":" + auth::EncodeChain(*chain) + "}");
    }
    if (m != "GET" && m != "HEAD") return not_allowed("GET, POST");
    auto rows = store_.ListCertificates();
    if (!rows.ok()) return ErrorResponse(rows.status());
    auto revoked = store_.ListRevocations();
    if (!revoked.ok()) return ErrorResponse(revoked.status());
    std::set<std::string> gone;
    for (const auto& r : *revoked) gone.insert(r.serial);
    std::string out;
    json::Writer w(&out);
    w.BeginObject()
        .Key("own_root")
        .String(ring->own_root().serial)
        .Key("certificates")
        .BeginArray();
    for (const auto& row : *rows) {
      auto c = auth::ParseCertificate(row.text);
      if (!c.ok()) return ErrorResponse(c.status());
      w.Raw(auth::CertificateSummaryJson(*c, row, c->public_key == ring->key().public_key(),
                                         gone.count(c->serial) != 0));
    }
    w.EndArray().Key("revocations").Uint(revoked->size()).EndObject();
    return JsonResponse(200, std::move(out));
  }
  const std::string& serial = seg[0];
  if (seg.size() == 1) {
    if (m != "GET" && m != "HEAD") return not_allowed("GET");
    auto row = store_.GetCertificate(serial);
    if (!row.ok()) return ErrorResponse(row.status());
    if (!*row) return ErrorResponse(Status::NotFound("no certificate " + serial + " here"));
    auto chain = ring->ChainOf(serial);
    if (!chain.ok()) return ErrorResponse(chain.status());
    std::vector<std::string> serials;
    for (const auto& c : *chain) serials.push_back(c.serial);
    auto revoked = store_.RevokedAmong(serials);
    if (!revoked.ok()) return ErrorResponse(revoked.status());
    std::string out;
    json::Writer w(&out);
    w.BeginObject().Key("summary");
    w.Raw(auth::CertificateSummaryJson(chain->front(), **row,
                                       chain->front().public_key == ring->key().public_key(),
                                       !revoked->empty() && (*revoked)[0] == serial));
    w.Key("chain").Raw(auth::EncodeChain(*chain)).Key("revoked_in_chain").BeginArray();
    for (const auto& s : *revoked) w.String(s);
    w.EndArray().EndObject();
    return JsonResponse(200, std::move(out));
  }
  if (seg.size() == 2 && seg[1] == "revoke") {
    if (m != "POST") return not_allowed("POST");
    auto r = ring->Revoke(serial);
    if (!r.ok()) return ErrorResponse(r.status());
    return JsonResponse(200, "{\"revocation\":" + auth::EncodeRevocation(*r) + "}");
  }
  return ErrorResponse(Status::NotFound("no certificate route " + request.path));
}

}  // namespace braid::api
