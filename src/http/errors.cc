#include "http/errors.h"

#include "base/json.h"

namespace braid::http {

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response ErrorResponse(const Status& status) {
  const CodeInfo& info = InfoFor(status.code());
  std::string body;
  json::Writer w(&body);
  w.BeginObject().Key("code").String(info.name).Key("message").String(status.message()).EndObject();
  Response r = JsonResponse(info.http_status, std::move(body));
  if (status.code() == Code::kUnauthorized) {
    // The two schemes braid accepts (auth/authenticator.h).
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"braid\", charset=\"UTF-8\"");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"braid\"");
  }
  return r;
}

}  // namespace braid::http
