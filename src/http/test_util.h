// Test helpers for the HTTP layer: a real Server on 127.0.0.1 with an
// ephemeral port, run on a background thread, raw TCP sockets for speaking
// broken HTTP to it, and streamed bodies of a checkable pattern.
// Header-only; used by *_test.cc only.

#ifndef BRAID_HTTP_TEST_UTIL_H_
#define BRAID_HTTP_TEST_UTIL_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/server.h"

namespace braid::http::testing {

using HandleFn = std::function<void(Request, Responder)>;
using AdmitFn = std::function<std::optional<Response>(const Request&)>;
using SinkForFn = std::function<std::shared_ptr<BodySink>(const Request&, uint64_t* max_bytes,
                                                          std::optional<Response>* refusal)>;

class FunctionHandler : public Handler {
 public:
  explicit FunctionHandler(HandleFn fn, AdmitFn admit = nullptr, SinkForFn sink_for = nullptr)
      : fn_(std::move(fn)), admit_(std::move(admit)), sink_for_(std::move(sink_for)) {}
  void Handle(Request request, Responder respond) override {
    fn_(std::move(request), std::move(respond));
  }
  std::optional<Response> Admit(const Request& header) override {
    return admit_ ? admit_(header) : std::nullopt;
  }
  std::shared_ptr<BodySink> BodySinkFor(const Request& header, uint64_t* max_bytes,
                                        std::optional<Response>* refusal) override {
    return sink_for_ ? sink_for_(header, max_bytes, refusal) : nullptr;
  }

 private:
  HandleFn fn_;
  AdmitFn admit_;
  SinkForFn sink_for_;
};

// Answers with the request's body, and describes the request in headers.
inline void Echo(Request request, const Responder& respond) {
  Response response;
  response.content_type = "application/octet-stream";
  response.headers = {{"X-Method", request.method},
                      {"X-Path", request.path},
                      {"X-Query", request.query},
                      {"X-Remote", request.remote_address},
                      {"X-Content-Length", std::string(request.Header("content-length"))},
                      {"X-Content-Type", std::string(request.Header("content-type"))},
                      {"X-Test", std::string(request.Header("x-test"))}};
  response.body = std::move(request.body);
  respond(std::move(response));
}

inline ServerOptions TestOptions() {
  ServerOptions options;
  options.port = 0;
  options.threads = 2;
  options.handle_signals = false;
  options.drain_timeout = std::chrono::seconds(5);
  return options;
}

// A Server running on a background thread. The destructor shuts it down and
// waits for Run() to return.
class TestServer {
 public:
  explicit TestServer(HandleFn fn, const ServerOptions& options = TestOptions(),
                      AdmitFn admit = nullptr, SinkForFn sink_for = nullptr)
      : handler_(std::move(fn), std::move(admit), std::move(sink_for)) {
    auto server = Server::Create(options, handler_);
    if (!server.ok()) {
      ADD_FAILURE() << "Server::Create: " << server.status().ToString();
      return;
    }
    server_ = std::move(server).value();
    run_returned_ = run_done_.get_future();
    thread_ = std::thread([this] {
      server_->Run();
      run_done_.set_value();
    });
  }

  ~TestServer() {
    if (server_ == nullptr) return;
    server_->Shutdown();
    thread_.join();
  }

  Server& server() { return *server_; }
  uint16_t port() const { return server_->port(); }
  std::string url(std::string_view path) const { return server_->url() + std::string(path); }

  // True when Run() returned within `timeout`.
  bool WaitForRun(std::chrono::milliseconds timeout) {
    return run_returned_.wait_for(timeout) == std::future_status::ready;
  }

 private:
  FunctionHandler handler_;
  std::unique_ptr<Server> server_;
  std::promise<void> run_done_;
  std::future<void> run_returned_;
  std::thread thread_;
};

inline std::unique_ptr<Client> NewClient(const ClientOptions& options = {}) {
  auto client = Client::Create(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

// A connected TCP socket to 127.0.0.1:port, closed on destruction.
class RawSocket {
 public:
  explicit RawSocket(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawSocket() { ::close(fd_); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads until the peer closes, `stop` is part of what was read, or
  // `timeout` passes. `closed` tells whether the peer closed.
  std::string Read(std::chrono::milliseconds timeout, std::string_view stop = {},
                   bool* closed = nullptr) {
    std::string data;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (closed != nullptr) *closed = false;
    for (;;) {
      if (!stop.empty() && data.find(stop) != std::string::npos) return data;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return data;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        if (closed != nullptr) *closed = true;
        return data;
      }
      data.append(buffer, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

// A TCP port on 127.0.0.1 that nothing listens on (bound once, then freed).
inline uint16_t UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  EXPECT_TRUE(bound);
  return ntohs(address.sin_port);
}

// True once `done()` holds, false if it did not within `timeout`. For what
// the server does after it answered (dropping a sink, say).
template <typename Predicate>
bool WaitUntil(Predicate done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Byte `i` of the bodies streamed in tests: not periodic, so a piece lost,
// repeated or out of order shows.
inline char PatternByte(uint64_t i) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 32;
  return static_cast<char>(x ^ (x >> 16));
}

inline std::string PatternString(uint64_t size) {
  std::string s(size, '\0');
  for (uint64_t i = 0; i < size; ++i) s[i] = PatternByte(i);
  return s;
}

// What a test learns of a PatternSink or PatternSource, which may live on
// after the test lets go of it (on an I/O thread, in a libcurl callback).
struct Probe {
  std::atomic<uint64_t> bytes{0};       // given or taken so far, by all that share it
  std::atomic<uint64_t> mismatches{0};  // bytes that were not the pattern's
  std::atomic<int> calls{0};            // Write() or Read() calls
  std::atomic<bool> destroyed{false};
};

// How a PatternSink or PatternSource misbehaves.
struct Faults {
  std::optional<uint64_t> fail_at = std::nullopt;  // once this many bytes went through, fail
  Status failure = Status::IoError("disk full");
  std::optional<uint64_t> end_at = std::nullopt;  // a source ends here, short of its size
  std::chrono::milliseconds delay{0};             // before each call: a slow disk
};

// Checks that a body is the pattern, byte by byte in order, keeping none of it.
class PatternSink : public BodySink {
 public:
  explicit PatternSink(std::shared_ptr<Probe> probe, Faults faults = {})
      : probe_(std::move(probe)), faults_(std::move(faults)) {}
  ~PatternSink() override { probe_->destroyed = true; }

  Status Write(std::string_view piece) override {
    ++probe_->calls;
    if (faults_.delay.count() > 0) std::this_thread::sleep_for(faults_.delay);
    if (faults_.fail_at && offset_ >= *faults_.fail_at) return faults_.failure;
    uint64_t mismatches = 0;
    for (size_t k = 0; k < piece.size(); ++k) mismatches += piece[k] != PatternByte(offset_ + k);
    offset_ += piece.size();
    probe_->mismatches += mismatches;
    probe_->bytes += piece.size();
    return Status::OK();
  }

 private:
  const std::shared_ptr<Probe> probe_;
  const Faults faults_;
  uint64_t offset_ = 0;
};

// Gives `size` bytes of the pattern, never more than asked for.
class PatternSource : public BodySource {
 public:
  PatternSource(uint64_t size, std::shared_ptr<Probe> probe, Faults faults = {})
      : size_(size), probe_(std::move(probe)), faults_(std::move(faults)) {}
  ~PatternSource() override { probe_->destroyed = true; }

  uint64_t size() const override { return size_; }

  Result<size_t> Read(char* buf, size_t n) override {
    ++probe_->calls;
    if (faults_.delay.count() > 0) std::this_thread::sleep_for(faults_.delay);
    if (faults_.fail_at && offset_ >= *faults_.fail_at) return faults_.failure;
    const uint64_t end = std::min(size_, faults_.end_at.value_or(size_));
    const size_t count = static_cast<size_t>(std::min<uint64_t>(n, end - offset_));
    for (size_t k = 0; k < count; ++k) buf[k] = PatternByte(offset_ + k);
    offset_ += count;
    probe_->bytes += count;
    return count;
  }

 private:
  const uint64_t size_;
  const std::shared_ptr<Probe> probe_;
  const Faults faults_;
  uint64_t offset_ = 0;
};

}  // namespace braid::http::testing

#endif  // BRAID_HTTP_TEST_UTIL_H_
