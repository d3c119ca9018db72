// An HTTP/1.1 server on Boost.Beast/Asio: keep-alive, bounded bodies,
// graceful shutdown. It knows nothing of braid's API: it parses requests,
// hands them to a Handler and writes back what the Handler answers.
//
// Bodies are whole strings by default. A request body may instead be streamed
// into a BodySink (Handler::BodySinkFor) and a response body streamed from a
// BodySource (Response::source), so a file of several GiB is never held in
// memory: a streamed connection holds a few hundred KiB at most. A streamed
// body may take any time in all, but each piece must move within
// `idle_timeout` (a stalled peer is dropped, a slow one is not).
//
// Threading: Run() drives a pool of I/O threads. Handler::Handle (and Admit,
// BodySinkFor, BodySink::Write and BodySource::Read) is called on one of them
// and may block briefly (a store read or write, a disk write); work that waits
// (long-polls) must not block: keep the Responder and answer later from any
// thread, using the Executor for timers.
//
// Shutdown (SIGINT/SIGTERM when `handle_signals` is set, or Shutdown()):
// the listener closes at once, requests already received are answered (with
// "Connection: close"), idle keep-alive connections are closed, the
// `on_shutdown` hook runs so long-polls can answer early, and Run() returns
// when every connection is gone or `drain_timeout` has passed.

#ifndef BRAID_HTTP_SERVER_H_
#define BRAID_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "braid/status.h"

namespace braid::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Receives a streamed request body (Handler::BodySinkFor).
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Called with each piece of the body, in order, on an I/O thread; it may
  // block briefly (a disk write). An error stops the reading: the server
  // answers it as {"code","message"} with the HTTP status of its code (use
  // ErrorResponse from http/errors.h) and closes the connection; Handle() is
  // then not called. The sink is destroyed when the request is done or
  // abandoned (client gone, timeout, too large): its destructor cleans up.
  virtual Status Write(std::string_view piece) = 0;
  // Client::Stream only: called with a 2xx response's status and headers
  // before the first piece of its body goes to Write() (a download resumed
  // with Range checks that it got 206 and the range it asked for). An error
  // aborts the transfer. Default: nothing to check.
  virtual Status Begin(int status, const Headers& headers) {
    (void)status;
    (void)headers;
    return Status::OK();
  }
};

// A response body produced piece by piece (for example a file range).
class BodySource {
 public:
  virtual ~BodySource() = default;
  // The exact number of bytes Read() will give: the Content-Length.
  virtual uint64_t size() const = 0;
  // Reads up to `n` next bytes into `buf`; returns how many (0 only at the end).
  // An error (or fewer bytes in all than size()) aborts the connection: the header is already sent.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

struct Request {
  std::string method;  // "GET", "PUT", ... as received
  std::string target;  // raw request target, e.g. "/api/v1/delta?cursor=x"
  std::string path;    // target before '?', still percent-encoded
  std::string query;   // target after '?', without it; empty when absent
  Headers headers;     // as received; names compared case-insensitively
  std::string body;
  std::string remote_address;  // "127.0.0.1:53122"
  // Set when the body was streamed into the sink that BodySinkFor gave;
  // `body` is then empty. (Initialised so that aggregate initialisations
  // that stop before it stay free of -Wmissing-field-initializers.)
  std::shared_ptr<BodySink> sink = nullptr;

  // The first header named `name` (case-insensitive), or "" when absent.
  std::string_view Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;  // extra headers, e.g. {"ETag", "\"...\""}
  // When set, the body (`body` must be empty; else the answer is a 500): the
  // Content-Length is source->size(), and the source is read piece by piece
  // on an I/O thread as the client takes them. HEAD requests get the headers
  // and Content-Length only (the source is not read); 204 and 304 carry none.
  std::shared_ptr<BodySource> source = nullptr;
};

// Answers a request. Must be called exactly once; may be called from any
// thread, before or after Handler::Handle returns. Calling it after the
// connection closed is harmless (the response is dropped).
using Responder = std::function<void(Response)>;

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void Handle(Request request, Responder respond) = 0;

  // Called when a request's header is read and a body of more than
  // ServerOptions::admit_body_bytes (or of unknown length) is to follow,
  // before any of it is read: a Response refuses the request unread (for
  // example without credentials), and the connection closes after it.
  // nullopt lets it go on. `header` has no body. Default: go on.
  virtual std::optional<Response> Admit(const Request& header) {
    (void)header;
    return std::nullopt;
  }

  // Called once a request's header is read and Admit() let it go on, for a
  // request with a body (Content-Length > 0 or chunked). A sink makes the
  // server stream the body into it instead of into Request::body; then
  // ServerOptions::max_body_bytes does not apply but `*max_bytes` does (set
  // by the handler; preset to max_body_bytes): a longer body gets 413
  // {"code":"payloadTooLarge",...}, checked from Content-Length before
  // anything is read when it is known. An error Response refuses the
  // request unread (like Admit). Default: nullptr, the body is read whole.
  virtual std::shared_ptr<BodySink> BodySinkFor(const Request& header, uint64_t* max_bytes,
                                                std::optional<Response>* refusal) {
    (void)header;
    (void)max_bytes;
    (void)refusal;
    return nullptr;
  }
};

// A cancellable one-shot timer. Destroying the handle does not cancel it.
class Timer {
 public:
  virtual ~Timer() = default;
  // The callback will not run after Cancel() returns, unless it had already
  // started. Safe to call from any thread, more than once.
  virtual void Cancel() = 0;
};

// Lets handlers schedule work on the server's I/O threads.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void Post(std::function<void()> fn) = 0;
  virtual std::shared_ptr<Timer> RunAfter(std::chrono::milliseconds delay,
                                          std::function<void()> fn) = 0;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8470;  // 0: an ephemeral port
  // Larger bodies get 413, but for those streamed into a BodySink (which has
  // its own limit, Handler::BodySinkFor).
  size_t max_body_bytes = size_t{16} << 20;
  size_t max_header_bytes = size_t{64} << 10;  // larger headers get 431
  int threads = 0;                             // 0: max(4, 2 * cores)
  // A kept-alive connection's idle limit, and the longest a request body
  // or a response may wait for its next piece to move.
  std::chrono::seconds idle_timeout{120};
  // A new connection must finish its TLS handshake, then send its first
  // request header, each within this (slow or idle clients are dropped).
  std::chrono::seconds header_timeout{10};
  size_t admit_body_bytes = 64 << 10;  // larger bodies go through Handler::Admit first
  // Connections over these limits are closed as soon as they are accepted,
  // so a flood from one address cannot take every descriptor.
  size_t max_connections = 10000;
  size_t max_connections_per_address = 2000;
  std::chrono::seconds drain_timeout{30};  // shutdown waits at most this long
  bool handle_signals = true;              // SIGINT/SIGTERM start a shutdown
  std::function<void()> on_shutdown;       // runs once when shutdown begins
  // TLS (1.2 and later): PEM certificate chain and private key. Empty: plain
  // HTTP. With handle_signals, SIGHUP reloads both files.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class Server : public Executor {
 public:
  // Binds and listens; requests are served once Run() is called.
  // Errors: InvalidArgument (bad host), IoError (address in use, ...).
  static Result<std::unique_ptr<Server>> Create(const ServerOptions& options, Handler& handler);

  ~Server() override = default;

  // The bound port (useful with port 0) and "http://host:port" (https://
  // with TLS).
  virtual uint16_t port() const = 0;
  virtual std::string url() const = 0;

  // Serves until shutdown completes. Call once.
  virtual void Run() = 0;
  // Starts a graceful shutdown; thread-safe, idempotent, returns at once.
  virtual void Shutdown() = 0;
  // Reads the TLS certificate and key files again; new connections use
  // them, open ones keep theirs. On error the previous ones stay.
  // Errors: InvalidArgument (no TLS, unreadable or mismatched files).
  virtual Status ReloadTls() = 0;
};

}  // namespace braid::http

#endif  // BRAID_HTTP_SERVER_H_
