// braid's JSON answers: {"code","message"} errors with the status of their
// code (braid/status.h), and JSON bodies.

#ifndef BRAID_HTTP_ERRORS_H_
#define BRAID_HTTP_ERRORS_H_

#include <string>

#include "braid/status.h"
#include "http/server.h"

namespace braid::http {

Response JsonResponse(int status, std::string body);
Response ErrorResponse(const Status& status);

}  // namespace braid::http

#endif  // BRAID_HTTP_ERRORS_H_
