// The HTTP server on Boost.Beast. Each connection lives on its own strand and
// serves one request at a time: read the header, (say 100 Continue,) read the
// body, hand the request to the Handler, wait for the Responder, write the
// response, then read the next request or close.
//
// Bodies: a request body is read whole into a string by a string_body parser
// under one idle timeout, unless the handler gives a BodySink for it; then the
// header's parser is converted into one of SinkBody, which passes each piece
// to the sink as it is parsed, one read (at most 64 KiB) at a time, each
// under its own idle timeout. Every response goes out through one serializer
// of ResponseBody (a string, or a BodySource read 256 KiB at a time), written
// piece by piece, each under its own idle timeout.
//
// Lifetime: the server's registry holds every open connection (so a
// connection waiting for a Responder stays alive without any pending I/O);
// Connection::Close() removes it. Responders hold only a weak reference, so an
// answer for a closed connection is dropped.
//
// Shutdown: Shutdown() sets `shutting_down_` and posts BeginShutdown() to the
// acceptor's strand. Every later decision a connection makes ("read another
// request?", "keep-alive?") reads that flag on its own strand, and
// BeginShutdown() posts OnShutdown() to the strand of every registered
// connection, so no connection can start waiting for a new request unnoticed.
// The io_context is kept running by a work guard and stopped explicitly when
// the registry empties or the drain timer fires.

#include "http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/optional/optional.hpp>
#include <boost/system/error_code.hpp>

#include "base/mutex.h"
#include "http/errors.h"

namespace braid::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;
namespace ssl = asio::ssl;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// After an error response to a request whose body was not read, the
// connection keeps reading (and discarding) for this long before closing, so
// the client reads the error instead of a TCP reset.
constexpr auto kLingerTime = std::chrono::seconds(2);

// Pause before accepting again after accept() failed (e.g. out of file
// descriptors), so the failure does not become a busy loop.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// How much of a BodySource is read (and held) at a time; a smaller body
// gets a buffer of its size. 256 KiB rather than 64: a blob's download
// took 15% less time (bench/attachments_bench, 1,000 files of 1 MiB: 2.2 s
// against 2.6 s), for 192 KiB more per large download in flight.
constexpr size_t kSourcePieceBytes = 256 << 10;
// Room a large body is read into, per receive. A flat_buffer grown only by
// the header would have Beast read a body 512 bytes per system call (a 1
// GiB upload: two million receives); released once the body is in.
constexpr size_t kBodyReadBytes = 128 << 10;

// The header parser's body limit: none, since the limit depends on whether
// the handler streams the body (set once that is known, before any body is
// read). Not boost::none: Beast 1.74 compares a Content-Length with an empty
// limit as "too large".
constexpr uint64_t kNoBodyLimit = std::numeric_limits<uint64_t>::max();

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// The JSON error body every braid endpoint uses.
std::string ErrorBody(Code code, std::string_view message) {
  std::string body = R"({"code":")";
  body += InfoFor(code).name;
  body += R"(","message":")";
  body += JsonEscape(message);
  body += "\"}";
  return body;
}

// Runs `fn`, reporting an escaping exception on stderr: the I/O threads must
// survive a throwing callback, and there is no caller to return a Status to.
template <typename Fn>
void RunGuarded(const char* what, Fn&& fn) noexcept {
  try {
    fn();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid http: %s threw: %s\n", what, e.what());
  } catch (...) {
    std::fprintf(stderr, "braid http: %s threw an unknown exception\n", what);
  }
}

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  std::string s = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return s + ":" + std::to_string(endpoint.port());
}

// A parsed request's line and headers as the Handler sees them (no body).
Request RequestOf(const bhttp::request_header<>& message, const std::string& remote_address) {
  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  const size_t question = request.target.find('?');
  request.path = request.target.substr(0, question);
  if (question != std::string::npos) request.query = request.target.substr(question + 1);
  request.headers.reserve(std::distance(message.begin(), message.end()));
  for (const auto& field : message) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.remote_address = remote_address;
  return request;
}

// The body of a streamed request, as a Beast Body: each piece goes to the
// handler's sink as the parser produces it, so no more than one read of the
// body (64 KiB) is in memory. The sink's error is kept in `error` for the
// connection to answer.
struct SinkBody {
  struct value_type {
    std::shared_ptr<BodySink> sink;
    Status error;
  };

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>& /*header*/, value_type& body) : body_(body) {}

    void init(const boost::optional<uint64_t>& /*length*/, beast::error_code& ec) { ec = {}; }

    template <class ConstBufferSequence>
    size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      ec = {};
      size_t used = 0;
      for (const auto buffer : beast::buffers_range_ref(buffers)) {
        if (buffer.size() == 0) continue;
        const std::string_view piece(static_cast<const char*>(buffer.data()), buffer.size());
        Status status = CallCatching("body sink", [&] { return body_.sink->Write(piece); });
        if (!status.ok()) {
          body_.error = std::move(status);
          // Any error stops the parser; the connection answers `error`.
          ec = boost::system::errc::make_error_code(boost::system::errc::io_error);
          return used;
        }
        used += piece.size();
      }
      return used;
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

// The body of every response, as a Beast Body: a string, or a BodySource
// read kSourcePieceBytes at a time as the socket takes them.
struct ResponseBody {
  struct value_type {
    std::string text;
    std::shared_ptr<BodySource> source;  // when set, the body; `text` is empty
    uint64_t source_size = 0;            // source->size(), asked once
  };

  static uint64_t size(const value_type& body) {
    return body.source ? body.source_size : body.text.size();
  }

  class writer {
   public:
    using const_buffers_type = asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const bhttp::header<isRequest, Fields>& /*header*/, const value_type& body)
        : body_(body), left_(body.source_size) {}

    void init(beast::error_code& ec) {
      ec = {};
      if (body_.source && left_ > 0) {
        buffer_ = std::make_unique_for_overwrite<char[]>(
            static_cast<size_t>(std::min<uint64_t>(left_, kSourcePieceBytes)));
      }
    }

    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      if (!body_.source) return {{asio::buffer(body_.text), false}};
      if (left_ == 0) return boost::none;
      const size_t want = static_cast<size_t>(std::min<uint64_t>(left_, kSourcePieceBytes));
      Result<size_t> got =
          CallCatching("body source", [&] { return body_.source->Read(buffer_.get(), want); });
      if (got.ok() && (*got == 0 || *got > want)) {
        got = Status::Internal("body source gave " + std::to_string(*got) + " bytes when " +
                               std::to_string(want) + " were asked for, " +
                               std::to_string(body_.source_size - left_) + " of " +
                               std::to_string(body_.source_size) + " into the body");
      }
      if (!got.ok()) {
        // The header is out: the client can only learn of it by the
        // connection closing short of the Content-Length.
        std::fprintf(stderr, "braid http: aborting a response: %s\n",
                     got.status().ToString().c_str());
        ec = boost::system::errc::make_error_code(boost::system::errc::io_error);
        return boost::none;
      }
      left_ -= *got;
      return {{asio::const_buffer(buffer_.get(), *got), left_ > 0}};
    }

   private:
    const value_type& body_;
    uint64_t left_;
    std::unique_ptr<char[]> buffer_;
  };
};

using OutgoingResponse = bhttp::response<ResponseBody>;

// One-shot callback state shared by the asio wait handler and the Timer
// handle. Whoever flips `claimed` first decides: the handler runs the
// callback, Cancel() drops it.
struct TimerState {
  std::atomic<bool> claimed{false};
  std::function<void()> fn;
};

// The asio wait itself is not cancelled: that would need the io_context,
// which may already be gone when a handle outlives the server. A cancelled
// wait only costs its memory until its deadline.
class TimerHandle final : public Timer {
 public:
  explicit TimerHandle(std::shared_ptr<TimerState> state) : state_(std::move(state)) {}

  void Cancel() override {
    if (state_->claimed.exchange(true)) return;
    // Destroy the callback's captures now rather than at the deadline.
    std::function<void()> dropped = std::move(state_->fn);
  }

 private:
  std::shared_ptr<TimerState> state_;
};

// Lets Responders, which may run on any thread at any time, reach a
// connection only while the server (and so its io_context) exists. A Responder
// holds the lock for as long as it holds a reference to the connection.
// (std::shared_mutex has no thread-safety annotations.)
struct Lifeline {
  std::shared_mutex mu;
  bool alive = true;  // guarded by mu
};

class ServerImpl;

// What the server's registry needs of a connection, plain or TLS.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual const Strand& strand() const = 0;
  // Starts serving. Called once, on the strand or before any I/O is pending.
  virtual void Start() = 0;
  // On the strand: closes the connection if it is idle, otherwise lets the
  // request in flight finish (its response will say "Connection: close").
  virtual void OnShutdown() = 0;
  // Only once no I/O thread runs any more.
  virtual void CloseAfterStop() = 0;
};

// One connection over `Stream`: beast::tcp_stream, or TlsStream (then the
// TLS handshake comes first, within the header timeout).
template <class Stream>
class Connection final : public ConnectionBase,
                         public std::enable_shared_from_this<Connection<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  // `tls` is the context of a TLS connection (null for plain ones); the
  // connection keeps it alive, so a reload does not pull it away.
  Connection(ServerImpl& server, uint64_t id, Strand strand, tcp::socket socket,
             std::shared_ptr<ssl::context> tls);

  const Strand& strand() const override { return strand_; }
  void Start() override;
  // Thread-safe: queues `response` as the answer to request `seq`.
  void Respond(uint64_t seq, Response response);
  void OnShutdown() override;
  void CloseAfterStop() override { Close(); }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }
  void OnHandshake(beast::error_code ec);
  enum class State { kReading, kHandling, kWriting, kLingering, kClosed };

  void ReadHeader();
  void OnReadHeader(beast::error_code ec, size_t bytes);
  void OnContinueWritten(beast::error_code ec, size_t bytes);
  // Reads the body whole (`parser_`) or streams it into a sink (`upload_`).
  void ReadBody();
  void OnReadBody(beast::error_code ec, size_t bytes);
  void ReadBodyPiece();
  void OnReadBodyPiece(beast::error_code ec, size_t bytes);
  void OnReadError(beast::error_code ec);
  void HandleRequest();
  void WriteResponse(uint64_t seq, Response response);
  void WriteError(unsigned status, Code code, std::string_view message);
  // A handler's answer to a request whose body stays unread.
  void WriteRefusal(Response response);
  void Write(OutgoingResponse response, bool linger);
  void WriteSome();
  void OnWriteSome(beast::error_code ec, size_t bytes);
  void Linger();
  void OnLingerRead(beast::error_code ec, size_t bytes);
  void Close();

  ServerImpl& server_;
  const uint64_t id_;
  const Strand strand_;
  const size_t max_body_bytes_;
  const size_t max_header_bytes_;
  const std::chrono::seconds idle_timeout_;
  const std::chrono::seconds header_timeout_;
  const std::shared_ptr<ssl::context> tls_;

  // Everything below is touched only on `strand_`.
  Stream stream_;
  std::string remote_address_;
  beast::flat_buffer buffer_;
  // The request being read: its header and a body read whole, or, once a
  // handler gave a sink, a body streamed into it (then `parser_` is empty).
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::request_parser<SinkBody>> upload_;
  uint64_t body_limit_ = 0;  // of the body being read
  std::optional<OutgoingResponse> response_;
  // Writes `response_`; refers to it, so is reset first.
  std::optional<bhttp::response_serializer<ResponseBody>> serializer_;
  State state_ = State::kReading;
  uint64_t seq_ = 0;  // number of the request being handled
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  bool linger_ = false;
  std::array<char, 4096> discard_{};
};

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, Handler& handler)
      : options_(options),
        handler_(handler),
        threads_(options.threads > 0
                     ? options.threads
                     : std::max(4, 2 * static_cast<int>(std::thread::hardware_concurrency()))),
        work_(ioc_.get_executor()),
        accept_strand_(asio::make_strand(ioc_)),
        acceptor_(accept_strand_),
        accept_retry_timer_(accept_strand_),
        drain_timer_(accept_strand_) {}

  ~ServerImpl() override {
    {
      std::unique_lock lock(lifeline_->mu);
      lifeline_->alive = false;
    }
    // Connections own sockets of `ioc_`: release them while it still exists.
    MutexLock lock(mu_);
    connections_.clear();
  }

  // Binds and listens, and queues the first accept.
  Status Listen();

  uint16_t port() const override { return port_; }
  std::string url() const override { return url_; }
  void Run() override;
  void Shutdown() override;
  Status ReloadTls() override;
  void Post(std::function<void()> fn) override;
  std::shared_ptr<Timer> RunAfter(std::chrono::milliseconds delay,
                                  std::function<void()> fn) override;

  const ServerOptions& options() const { return options_; }
  Handler& handler() { return handler_; }
  bool shutting_down() const { return shutting_down_.load(); }
  const std::shared_ptr<Lifeline>& lifeline() const { return lifeline_; }

  // Called by Connection::Close(), once per connection.
  void OnConnectionClosed(uint64_t id);

 private:
  void DoAccept();
  void OnAccept(const Strand& strand, beast::error_code ec, tcp::socket socket);
  void WaitForSignal();
  void BeginShutdown();
  void StopIfDrained() REQUIRES(mu_);

  const ServerOptions options_;
  Handler& handler_;
  const int threads_;
  uint16_t port_ = 0;
  std::string url_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> ran_{false};
  const std::shared_ptr<Lifeline> lifeline_ = std::make_shared<Lifeline>();

  // Declared before the objects that use it, so it is destroyed after them.
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;

  // On `accept_strand_`.
  Strand accept_strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_timer_;
  asio::steady_timer drain_timer_;
  std::optional<asio::signal_set> signals_;

  Mutex mu_;
  // Every open connection, by id.
  struct Entry {
    std::shared_ptr<ConnectionBase> connection;
    std::string host;  // the client's address, for the per-address count
  };
  std::unordered_map<uint64_t, Entry> connections_ GUARDED_BY(mu_);
  std::unordered_map<std::string, size_t> per_address_ GUARDED_BY(mu_);
  uint64_t refused_connections_ GUARDED_BY(mu_) = 0;
  // The TLS context new connections use; null for plain HTTP. ReloadTls()
  // replaces it; connections keep the one they started with.
  std::shared_ptr<ssl::context> tls_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  bool drain_started_ GUARDED_BY(mu_) = false;
};

// ---------------------------------------------------------------------------
// Connection

template <class Stream>
Stream MakeStream(tcp::socket socket, ssl::context* tls) {
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    return Stream(std::move(socket), *tls);
  } else {
    return Stream(std::move(socket));
  }
}

template <class Stream>
Connection<Stream>::Connection(ServerImpl& server, uint64_t id, Strand strand, tcp::socket socket,
                               std::shared_ptr<ssl::context> tls)
    : server_(server),
      id_(id),
      strand_(std::move(strand)),
      max_body_bytes_(server.options().max_body_bytes),
      max_header_bytes_(server.options().max_header_bytes),
      idle_timeout_(server.options().idle_timeout),
      header_timeout_(server.options().header_timeout),
      tls_(std::move(tls)),
      stream_(MakeStream<Stream>(std::move(socket), tls_.get())) {
  beast::error_code ec;
  const auto remote = Lowest().socket().remote_endpoint(ec);
  if (!ec) remote_address_ = FormatEndpoint(remote);
}

template <class Stream>
void Connection<Stream>::Start() {
  if constexpr (kTls) {
    Lowest().expires_after(header_timeout_);
    stream_.async_handshake(
        ssl::stream_base::server,
        beast::bind_front_handler(&Connection::OnHandshake, this->shared_from_this()));
  } else {
    ReadHeader();
  }
}

template <class Stream>
void Connection<Stream>::OnHandshake(beast::error_code ec) {
  if (state_ == State::kClosed) return;
  // A client that does not speak TLS, does not trust the certificate, or
  // is too slow: nothing can be answered over this connection.
  if (ec) return Close();
  ReadHeader();
}

template <class Stream>
void Connection<Stream>::ReadHeader() {
  if (server_.shutting_down()) return Close();
  state_ = State::kReading;
  parser_.emplace();
  parser_->body_limit(kNoBodyLimit);
  body_limit_ = max_body_bytes_;
  parser_->header_limit(static_cast<uint32_t>(
      std::min<size_t>(max_header_bytes_, std::numeric_limits<uint32_t>::max())));
  // A new connection sends its first request within the header timeout;
  // a kept-alive one may wait up to the idle timeout for its next.
  Lowest().expires_after(seq_ == 0 ? header_timeout_ : idle_timeout_);
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&Connection::OnReadHeader, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnReadHeader(beast::error_code ec, size_t /*bytes*/) {
  if (state_ == State::kClosed) return;
  if (ec) return OnReadError(ec);
  if (parser_->is_done()) return HandleRequest();
  const auto& message = parser_->get();
  const Request header = RequestOf(message, remote_address_);
  // A large body (or one of unknown length) is read only if the handler
  // admits the request from its header: no credentials, no upload.
  const auto length = parser_->content_length();
  if (!length || *length > server_.options().admit_body_bytes) {
    std::optional<Response> refusal;
    RunGuarded("admit", [&] { refusal = server_.handler().Admit(header); });
    if (refusal) return WriteRefusal(std::move(*refusal));
  }
  uint64_t max_bytes = max_body_bytes_;
  std::optional<Response> refusal;
  std::shared_ptr<BodySink> sink;
  try {
    sink = server_.handler().BodySinkFor(header, &max_bytes, &refusal);
  } catch (const std::exception& e) {
    return WriteError(500, Code::kInternal, std::string("handler failed: ") + e.what());
  } catch (...) {
    return WriteError(500, Code::kInternal, "handler failed with an unknown exception");
  }
  if (refusal) return WriteRefusal(std::move(*refusal));
  body_limit_ = sink ? max_bytes : max_body_bytes_;
  // Refused before the client sends it (with 100-continue) or before the
  // server reads any of it; the sink is dropped unused.
  if (length && *length > body_limit_) {
    return WriteError(413, Code::kPayloadTooLarge,
                      "request body is larger than " + std::to_string(body_limit_) + " bytes");
  }
  const bool expect_continue =
      message.version() >= 11 && beast::iequals(message[bhttp::field::expect], "100-continue");
  if (sink) {
    // No body byte has been parsed yet (the header parser is not eager), so
    // the parser may change its body type; `message` dies with `parser_`.
    upload_.emplace(std::move(*parser_));
    parser_.reset();
    upload_->body_limit(body_limit_);
    upload_->eager(true);  // each read hands the sink all it holds
    upload_->get().body().sink = std::move(sink);
  } else {
    parser_->body_limit(body_limit_);
  }
  if (expect_continue) {
    asio::async_write(
        stream_, asio::buffer(kContinue.data(), kContinue.size()),
        beast::bind_front_handler(&Connection::OnContinueWritten, this->shared_from_this()));
    return;
  }
  ReadBody();
}

template <class Stream>
void Connection<Stream>::OnContinueWritten(beast::error_code ec, size_t /*bytes*/) {
  if (state_ == State::kClosed) return;
  if (ec) return Close();
  ReadBody();
}

template <class Stream>
void Connection<Stream>::ReadBody() {
  // Only for bodies Admit() or BodySinkFor() looked at: an anonymous client
  // must not make the server reserve room it did not need.
  const auto length = upload_ ? upload_->content_length() : parser_->content_length();
  if (upload_ || !length || *length > server_.options().admit_body_bytes) {
    buffer_.reserve(kBodyReadBytes);
  }
  if (upload_) return ReadBodyPiece();
  // A whole body is at most max_body_bytes: one timeout for all of it.
  Lowest().expires_after(idle_timeout_);
  bhttp::async_read(stream_, buffer_, *parser_,
                    beast::bind_front_handler(&Connection::OnReadBody, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnReadBody(beast::error_code ec, size_t /*bytes*/) {
  if (state_ == State::kClosed) return;
  if (ec) return OnReadError(ec);
  HandleRequest();
}

template <class Stream>
void Connection<Stream>::ReadBodyPiece() {
  // A streamed body may take hours in all; each piece must come in time.
  Lowest().expires_after(idle_timeout_);
  bhttp::async_read_some(
      stream_, buffer_, *upload_,
      beast::bind_front_handler(&Connection::OnReadBodyPiece, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnReadBodyPiece(beast::error_code ec, size_t /*bytes*/) {
  // Whatever ends the upload early also ends the sink: its destructor cleans
  // up (a partial file, say).
  if (state_ == State::kClosed) return upload_.reset();
  Status error = std::move(upload_->get().body().error);
  if (!error.ok()) {
    upload_.reset();
    return WriteRefusal(ErrorResponse(error));
  }
  if (ec) {
    upload_.reset();
    return OnReadError(ec);
  }
  if (upload_->is_done()) return HandleRequest();
  ReadBodyPiece();
}

template <class Stream>
void Connection<Stream>::OnReadError(beast::error_code ec) {
  if (ec == bhttp::error::body_limit) {
    return WriteError(413, Code::kPayloadTooLarge,
                      "request body is larger than " + std::to_string(body_limit_) + " bytes");
  }
  if (ec == bhttp::error::header_limit) {
    return WriteError(
        431, Code::kInvalidArgument,
        "request header is larger than " + std::to_string(max_header_bytes_) + " bytes");
  }
  // The peer closed (between or in the middle of requests), the idle timer
  // fired, or the server closed the socket: nobody is left to answer.
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) {
    return Close();
  }
  WriteError(400, Code::kInvalidArgument, "malformed HTTP request: " + ec.message());
}

template <class Stream>
void Connection<Stream>::HandleRequest() {
  // Idle keep-alive connections must not each hold a body's read room.
  buffer_.shrink_to_fit();
  auto take = [&](auto& message) {
    Request request = RequestOf(message, remote_address_);
    version_ = message.version();
    keep_alive_ = message.keep_alive();
    head_ = message.method() == bhttp::verb::head;
    return request;
  };
  Request request;
  if (upload_) {
    request = take(upload_->get());
    // The connection keeps no reference: the sink lives as long as the
    // handler wants it.
    request.sink = std::move(upload_->get().body().sink);
    upload_.reset();
  } else {
    request = take(parser_->get());
    request.body = std::move(parser_->get().body());
    parser_.reset();
  }

  state_ = State::kHandling;
  const uint64_t seq = ++seq_;
  // A long-poll may hold the request for minutes; the idle timer must not
  // close the connection meanwhile.
  Lowest().expires_never();
  Responder respond = [lifeline = server_.lifeline(), weak = this->weak_from_this(),
                       seq](Response response) {
    std::shared_lock lock(lifeline->mu);
    if (!lifeline->alive) return;
    if (auto connection = weak.lock()) connection->Respond(seq, std::move(response));
  };
  try {
    server_.handler().Handle(std::move(request), std::move(respond));
  } catch (const std::exception& e) {
    // Ignored if the handler answered before throwing.
    Respond(seq, Response{500,
                          "application/json",
                          ErrorBody(Code::kInternal, std::string("handler failed: ") + e.what()),
                          {}});
  } catch (...) {
    Respond(seq, Response{500,
                          "application/json",
                          ErrorBody(Code::kInternal, "handler failed with an unknown exception"),
                          {}});
  }
}

template <class Stream>
void Connection<Stream>::Respond(uint64_t seq, Response response) {
  asio::post(strand_,
             [self = this->shared_from_this(), seq, response = std::move(response)]() mutable {
               self->WriteResponse(seq, std::move(response));
             });
}

template <class Stream>
void Connection<Stream>::WriteResponse(uint64_t seq, Response response) {
  // A second answer, or one for a connection that failed meanwhile.
  if (state_ != State::kHandling || seq != seq_) return;

  OutgoingResponse message;
  message.version(version_);
  try {
    const bool valid_status = response.status >= 200 && response.status <= 999;
    message.result(valid_status ? static_cast<unsigned>(response.status) : 500u);
    message.set(bhttp::field::server, "braid");
    if (!response.content_type.empty()) {
      message.set(bhttp::field::content_type, response.content_type);
    }
    for (const auto& [name, value] : response.headers) {
      if (name.find_first_of("\r\n:") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        return WriteError(500, Code::kInternal,
                          "handler produced an invalid header \"" + name + "\"");
      }
      message.insert(name, value);
    }
    if (response.source && !response.body.empty()) {
      return WriteError(500, Code::kInternal, "handler produced both a body and a body source");
    }
    // 204 and 304 have no body and, here, no Content-Length; HEAD gets the
    // Content-Length of the body it would have received (a source is not
    // read).
    const unsigned status = message.result_int();
    if (status != 204 && status != 304) {
      if (response.source) {
        const uint64_t size = response.source->size();
        message.content_length(size);
        if (!head_) {
          message.body().source = std::move(response.source);
          message.body().source_size = size;
        }
      } else {
        message.content_length(response.body.size());
        if (!head_) message.body().text = std::move(response.body);
      }
    }
    message.keep_alive(keep_alive_ && !server_.shutting_down());
  } catch (const std::exception& e) {
    return WriteError(500, Code::kInternal, std::string("cannot build response: ") + e.what());
  }
  Write(std::move(message), /*linger=*/false);
}

template <class Stream>
void Connection<Stream>::WriteRefusal(Response response) {
  OutgoingResponse message;
  message.version(11);
  const bool valid_status = response.status >= 400 && response.status <= 599;
  message.result(valid_status ? static_cast<unsigned>(response.status) : 400u);
  message.set(bhttp::field::server, "braid");
  message.set(bhttp::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) {
    if (name.find_first_of("\r\n:") == std::string::npos &&
        value.find_first_of("\r\n") == std::string::npos) {
      message.insert(name, value);
    }
  }
  message.body().text = std::move(response.body);
  message.prepare_payload();
  message.keep_alive(false);
  Write(std::move(message), /*linger=*/true);
}

template <class Stream>
void Connection<Stream>::WriteError(unsigned status, Code code, std::string_view message) {
  OutgoingResponse response;
  response.version(11);
  response.result(status);
  response.set(bhttp::field::server, "braid");
  response.set(bhttp::field::content_type, "application/json");
  response.body().text = ErrorBody(code, message);
  response.prepare_payload();
  response.keep_alive(false);
  // Part of the request may still be unread: linger so that closing does not
  // reset the connection before the client has read the error.
  Write(std::move(response), /*linger=*/true);
}

template <class Stream>
void Connection<Stream>::Write(OutgoingResponse response, bool linger) {
  state_ = State::kWriting;
  linger_ = linger;
  response_.emplace(std::move(response));
  serializer_.emplace(*response_);
  WriteSome();
}

template <class Stream>
void Connection<Stream>::WriteSome() {
  // A streamed body may take hours in all; each piece must leave in time.
  Lowest().expires_after(idle_timeout_);
  bhttp::async_write_some(
      stream_, *serializer_,
      beast::bind_front_handler(&Connection::OnWriteSome, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnWriteSome(beast::error_code ec, size_t /*bytes*/) {
  if (state_ == State::kClosed || ec) {
    // Drops the source now, not whenever the connection goes.
    serializer_.reset();
    response_.reset();
    return Close();
  }
  if (!serializer_->is_done()) return WriteSome();
  const bool close = response_->need_eof();
  serializer_.reset();
  response_.reset();
  if (linger_) return Linger();
  if (close) {
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    return Close();
  }
  ReadHeader();
}

template <class Stream>
void Connection<Stream>::Linger() {
  state_ = State::kLingering;
  beast::error_code ec;
  Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
  Lowest().expires_after(kLingerTime);
  stream_.async_read_some(
      asio::buffer(discard_),
      beast::bind_front_handler(&Connection::OnLingerRead, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnLingerRead(beast::error_code ec, size_t /*bytes*/) {
  if (state_ == State::kClosed) return;
  if (ec) return Close();
  stream_.async_read_some(
      asio::buffer(discard_),
      beast::bind_front_handler(&Connection::OnLingerRead, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnShutdown() {
  // An upload in progress is a request in flight, even if its parser (now
  // `upload_`) has moved out of `parser_`.
  const bool idle = state_ == State::kReading && !upload_ && (!parser_ || !parser_->got_some());
  if (idle || state_ == State::kLingering) Close();
}

template <class Stream>
void Connection<Stream>::Close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  Lowest().close();  // pending operations complete with operation_aborted
  server_.OnConnectionClosed(id_);
}

// ---------------------------------------------------------------------------
// ServerImpl

Status ServerImpl::Listen() {
  beast::error_code ec;
  const std::string host = options_.host == "localhost" ? "127.0.0.1" : options_.host;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    return Status::InvalidArgument("invalid listen address \"" + options_.host +
                                   "\": use an IP address such as 127.0.0.1");
  }
  const tcp::endpoint endpoint(address, options_.port);
  const std::string where = FormatEndpoint(endpoint);
  auto fail = [&](std::string_view step) {
    return Status::IoError("cannot listen on " + where + ": " + std::string(step) + ": " +
                           ec.message());
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("socket");
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("setsockopt");
  acceptor_.bind(endpoint, ec);
  if (ec) {
    return Status::IoError("cannot listen on " + where + ": " + ec.message() +
                           "; is another server using the port? choose another one");
  }
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  const auto bound = acceptor_.local_endpoint(ec);
  if (ec) return fail("getsockname");
  port_ = bound.port();

  // A wildcard address is not something to connect to; the loopback is.
  std::string url_host =
      address.is_unspecified()
          ? (address.is_v6() ? "[::1]" : "127.0.0.1")
          : (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string());
  const bool tls = !options_.tls_cert_file.empty();
  url_ = (tls ? "https://" : "http://") + url_host + ":" + std::to_string(port_);
  if (tls) BRAID_RETURN_IF_ERROR(ReloadTls());

  if (options_.handle_signals) {
    signals_.emplace(accept_strand_);
    for (const int signal : {SIGINT, SIGTERM, SIGHUP}) {
      if (signal == SIGHUP && !tls) continue;  // SIGHUP reloads the certificate
      signals_->add(signal, ec);
      if (ec) return Status::IoError("cannot install signal handlers: " + ec.message());
    }
    WaitForSignal();
  }
  DoAccept();
  return Status::OK();
}

// The OpenSSL errors queued by the last call, as one line.
std::string OpenSslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// A server context for TLS 1.2 and later from PEM files.
Result<std::shared_ptr<ssl::context>> LoadTlsContext(const std::string& cert_file,
                                                     const std::string& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1) {
    return Status::InvalidArgument("cannot load the TLS certificate " + cert_file + ": " +
                                   OpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::InvalidArgument("cannot load the TLS key " + key_file + ": " + OpenSslErrors());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return Status::InvalidArgument("the TLS key " + key_file +
                                   " does not belong to the "
                                   "certificate " +
                                   cert_file);
  }
  return ctx;
}

Status ServerImpl::ReloadTls() {
  if (options_.tls_cert_file.empty()) {
    return Status::InvalidArgument("this server does not use TLS");
  }
  BRAID_ASSIGN_OR_RETURN(auto ctx, LoadTlsContext(options_.tls_cert_file, options_.tls_key_file));
  MutexLock lock(mu_);
  tls_ = std::move(ctx);
  return Status::OK();
}

void ServerImpl::DoAccept() {
  Strand strand = asio::make_strand(ioc_);
  acceptor_.async_accept(strand, [this, strand](beast::error_code ec, tcp::socket socket) {
    OnAccept(strand, ec, std::move(socket));
  });
}

void ServerImpl::OnAccept(const Strand& strand, beast::error_code ec, tcp::socket socket) {
  // After BeginShutdown() closed the acceptor, or a connection that raced
  // with Shutdown(): the socket is closed by its destructor.
  if (shutting_down() || !acceptor_.is_open()) return;
  if (ec) {
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && !shutting_down()) DoAccept();
    });
    return;
  }
  std::shared_ptr<ConnectionBase> connection;
  {
    // Answers go out at once: with Nagle's algorithm a TLS record written
    // after another unacknowledged one waits for the client's delayed ACK
    // (40 ms on Linux), once per request.
    beast::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
    beast::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    std::string host = peer_ec ? std::string() : peer.address().to_string();
    MutexLock lock(mu_);
    size_t& from_host = per_address_[host];
    if (connections_.size() >= options_.max_connections ||
        from_host >= options_.max_connections_per_address) {
      // Over a limit: closed at once (the socket's destructor), before any
      // byte is read; the flood costs one accept per connection.
      if (from_host == 0) per_address_.erase(host);
      if (refused_connections_++ % 1000 == 0) {
        std::fprintf(stderr,
                     "braid http: refusing connections over the limit (%zu open, %zu from %s; "
                     "%llu refused so far)\n",
                     connections_.size(), from_host, host.c_str(),
                     static_cast<unsigned long long>(refused_connections_));
      }
      DoAccept();
      return;
    }
    ++from_host;
    const uint64_t id = next_id_++;
    if (tls_) {
      connection =
          std::make_shared<Connection<TlsStream>>(*this, id, strand, std::move(socket), tls_);
    } else {
      connection = std::make_shared<Connection<beast::tcp_stream>>(*this, id, strand,
                                                                   std::move(socket), nullptr);
    }
    connections_.emplace(id, Entry{connection, std::move(host)});
  }
  asio::post(strand, [connection] { connection->Start(); });
  DoAccept();
}

void ServerImpl::WaitForSignal() {
  signals_->async_wait([this](beast::error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      const Status s = ReloadTls();
      if (s.ok()) {
        std::fprintf(stderr, "braid http: SIGHUP: reloaded the TLS certificate and key\n");
      } else {
        std::fprintf(stderr, "braid http: SIGHUP: %s; still serving the previous one\n",
                     s.message().c_str());
      }
    } else if (!shutting_down()) {
      Shutdown();
    } else {
      // A second signal: stop waiting for connections to drain.
      ioc_.stop();
    }
    WaitForSignal();
  });
}

void ServerImpl::Shutdown() {
  if (shutting_down_.exchange(true)) return;
  asio::post(accept_strand_, [this] { BeginShutdown(); });
}

void ServerImpl::BeginShutdown() {
  beast::error_code ec;
  acceptor_.close(ec);
  accept_retry_timer_.cancel();
  drain_timer_.expires_after(options_.drain_timeout);
  drain_timer_.async_wait([this](beast::error_code wait_ec) {
    // Connections still open are closed by Run() once the threads stopped.
    if (!wait_ec) ioc_.stop();
  });
  if (options_.on_shutdown) RunGuarded("on_shutdown", options_.on_shutdown);

  std::vector<std::shared_ptr<ConnectionBase>> open;
  {
    MutexLock lock(mu_);
    drain_started_ = true;
    open.reserve(connections_.size());
    for (const auto& [id, entry] : connections_) open.push_back(entry.connection);
    StopIfDrained();
  }
  for (auto& connection : open) {
    asio::post(connection->strand(), [connection] { connection->OnShutdown(); });
  }
}

void ServerImpl::OnConnectionClosed(uint64_t id) {
  MutexLock lock(mu_);
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  auto host = per_address_.find(it->second.host);
  if (host != per_address_.end() && --host->second == 0) per_address_.erase(host);
  connections_.erase(it);
  StopIfDrained();
}

void ServerImpl::StopIfDrained() {
  if (drain_started_ && connections_.empty()) ioc_.stop();
}

void ServerImpl::Run() {
  if (ran_.exchange(true)) return;
  auto run_loop = [this] {
    // run() returns only once stopped; an escaping exception is reported and
    // the thread goes back to work.
    for (;;) {
      bool stopped = false;
      RunGuarded("I/O handler", [&] {
        ioc_.run();
        stopped = true;
      });
      if (stopped) return;
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads_ - 1);
  for (int i = 1; i < threads_; ++i) pool.emplace_back(run_loop);
  run_loop();
  for (auto& thread : pool) thread.join();

  // No I/O thread is left, so connections may be touched from here. Those
  // still open outlived drain_timeout (or a second signal).
  std::vector<std::shared_ptr<ConnectionBase>> open;
  {
    MutexLock lock(mu_);
    for (const auto& [id, entry] : connections_) open.push_back(entry.connection);
  }
  for (auto& connection : open) connection->CloseAfterStop();
  beast::error_code ec;
  acceptor_.close(ec);
  // Give SIGINT and SIGTERM their default meaning back.
  if (signals_) signals_->clear(ec);
}

void ServerImpl::Post(std::function<void()> fn) {
  asio::post(ioc_, [fn = std::move(fn)] { RunGuarded("posted task", fn); });
}

std::shared_ptr<Timer> ServerImpl::RunAfter(std::chrono::milliseconds delay,
                                            std::function<void()> fn) {
  auto state = std::make_shared<TimerState>();
  state->fn = std::move(fn);
  auto timer = std::make_shared<asio::steady_timer>(ioc_, delay);
  // The handler owns the timer, keeping it alive until it fires.
  timer->async_wait([timer, state](beast::error_code /*ec*/) {
    if (state->claimed.exchange(true)) return;
    std::function<void()> fn = std::move(state->fn);
    RunGuarded("timer callback", fn);
  });
  return std::make_shared<TimerHandle>(std::move(state));
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(const ServerOptions& options, Handler& handler) {
  auto server = std::make_unique<ServerImpl>(options, handler);
  try {
    BRAID_RETURN_IF_ERROR(server->Listen());
  } catch (const std::exception& e) {
    // Asio throws only when the system runs out of resources.
    return Status::IoError(std::string("cannot start HTTP server: ") + e.what());
  }
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace braid::http
