// A blocking HTTP client on libcurl, used by the CLI to reach remotes and by
// tests and benchmarks to reach `braid serve`.
//
// One Client keeps its connections alive between requests (one libcurl easy
// handle). Not thread-safe: use one Client per thread.

#ifndef BRAID_HTTP_CLIENT_H_
#define BRAID_HTTP_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "braid/status.h"
#include "http/server.h"  // Headers, BodySink, BodySource

namespace braid::http {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  // Send: the whole request; Stream: the longest no byte may move. 0: none.
  std::chrono::milliseconds timeout{120000};
  std::string ca_cert;        // PEM file to trust, empty: system store
  std::string authorization;  // "Authorization" of every request that has none of its own
  bool verbose = false;       // libcurl's trace on stderr
};

struct ClientResponse {
  int status = 0;
  std::string body;
  Headers headers;
  // The first header named `name` (case-insensitive), or "" when absent.
  std::string_view Header(std::string_view name) const;
};

class Client {
 public:
  // Errors: Internal when libcurl cannot be initialised.
  static Result<std::unique_ptr<Client>> Create(const ClientOptions& options = {});
  virtual ~Client() = default;

  // Sends one request and waits for the whole response. Any HTTP status is a
  // successful Result; transport failures are errors:
  // Unavailable("cannot connect to http://127.0.0.1:1/: Connection refused"),
  // Unavailable("... timed out after 5000 ms"), IoError for the rest.
  virtual Result<ClientResponse> Send(std::string_view method, const std::string& url,
                                      std::string_view body = {}, const Headers& headers = {}) = 0;

  // Sends a request whose body (if `upload` is not null) comes from
  // `upload` (Content-Length = upload->size()), and delivers a 2xx response's
  // body to `download` (if not null) piece by piece, leaving
  // ClientResponse::body empty; other statuses' bodies (error JSON) are
  // collected into ClientResponse::body as by Send (keep at most 1 MiB).
  // No whole-request timeout applies: a transfer fails when no byte moves
  // for ClientOptions::timeout (libcurl low-speed limit), and on connect
  // timeout as in Send. An error returned by the sink or source aborts the
  // transfer and is returned as is.
  //
  // Without `download`, a 2xx body is collected like the others (at most 1
  // MiB). An upload says "Expect: 100-continue" (pass a header "Expect" with
  // an empty value not to), so a server may refuse it before it is sent.
  // The sink and source are called on the calling thread, from within
  // libcurl; they must outlive the call.
  virtual Result<ClientResponse> Stream(std::string_view method, const std::string& url,
                                        const Headers& headers, BodySource* upload,
                                        BodySink* download) = 0;

  Result<ClientResponse> Get(const std::string& url) { return Send("GET", url); }
  Result<ClientResponse> Delete(const std::string& url) { return Send("DELETE", url); }
  Result<ClientResponse> Put(const std::string& url, std::string_view body) {
    return Send("PUT", url, body, {{"Content-Type", "application/json"}});
  }
  Result<ClientResponse> Post(const std::string& url, std::string_view body) {
    return Send("POST", url, body, {{"Content-Type", "application/json"}});
  }
};

// Percent-encodes `s` for use as one path segment or query value
// (RFC 3986 unreserved characters stay as they are).
std::string UrlEncode(std::string_view s);

// Decodes %XX escapes. Errors: InvalidArgument for a truncated or non-hex
// escape. '+' is kept as is unless `plus_is_space`.
Result<std::string> UrlDecode(std::string_view s, bool plus_is_space = false);

}  // namespace braid::http

#endif  // BRAID_HTTP_CLIENT_H_
