#include "http/server.h"

#include <stdlib.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/errors.h"
#include "http/test_util.h"

namespace braid::http {
namespace {

using namespace std::chrono_literals;
using testing::Echo;
using testing::Faults;
using testing::NewClient;
using testing::PatternSink;
using testing::PatternSource;
using testing::PatternString;
using testing::Probe;
using testing::RawSocket;
using testing::TestOptions;
using testing::TestServer;
using testing::WaitUntil;

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Threads that answer requests late; joined before the test ends.
class Deferrer {
 public:
  ~Deferrer() { Join(); }

  void AnswerAfter(std::chrono::milliseconds delay, Responder respond, Response response) {
    std::lock_guard lock(mu_);
    threads_.emplace_back([delay, respond = std::move(respond), response]() mutable {
      std::this_thread::sleep_for(delay);
      respond(std::move(response));
    });
  }

  void Join() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& thread : threads) thread.join();
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

Response Text(int status, std::string body) {
  Response response;
  response.status = status;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

TEST(ServerTest, ReportsBoundPortAndUrl) {
  TestServer server(Echo);
  EXPECT_NE(server.port(), 0);
  EXPECT_EQ(server.server().url(), "http://127.0.0.1:" + std::to_string(server.port()));
}

TEST(ServerTest, MethodsRoundTrip) {
  TestServer server(Echo);
  auto client = NewClient();
  for (const std::string method : {"GET", "PUT", "POST", "DELETE", "PATCH"}) {
    SCOPED_TRACE(method);
    const std::string body = method == "GET" ? "" : "{\"m\":\"" + method + "\"}";
    auto response = client->Send(method, server.url("/echo/a%20b?x=1&y=%2F"), body,
                                 {{"Content-Type", "application/json"}});
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->Header("x-method"), method);
    EXPECT_EQ(response->Header("x-path"), "/echo/a%20b");
    EXPECT_EQ(response->Header("x-query"), "x=1&y=%2F");
    EXPECT_EQ(response->body, body);
    EXPECT_EQ(response->Header("content-length"), std::to_string(body.size()));
  }
}

TEST(ServerTest, TargetWithoutQueryHasEmptyQuery) {
  TestServer server(Echo);
  auto response = NewClient()->Get(server.url("/plain"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->Header("x-path"), "/plain");
  EXPECT_EQ(response->Header("x-query"), "");
}

TEST(ServerTest, HeadGetsHeadersWithoutBody) {
  TestServer server([](const Request& request, const Responder& respond) {
    respond(Text(200, request.method == "HEAD" ? "twelve bytes" : "unexpected"));
  });
  auto response = NewClient()->Send("HEAD", server.url("/x"));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "");
  EXPECT_EQ(response->Header("Content-Length"), "12");
}

TEST(ServerTest, PassesHeadersBothWays) {
  TestServer server([](const Request& request, const Responder& respond) {
    Response response = Text(201, "");
    response.content_type = "application/x-test";
    response.headers = {{"ETag", "\"v1\""},
                        {"X-Seen", std::string(request.Header("X-TEST"))},
                        {"X-Host", std::string(request.Header("host"))},
                        {"X-Missing", std::string(request.Header("x-not-sent"))}};
    respond(std::move(response));
  });
  auto response = NewClient()->Send("GET", server.url("/h"), {}, {{"x-Test", "value 1"}});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->Header("etag"), "\"v1\"");
  EXPECT_EQ(response->Header("x-seen"), "value 1");
  EXPECT_EQ(response->Header("x-host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(response->Header("x-missing"), "");
  EXPECT_EQ(response->Header("server"), "braid");
  EXPECT_EQ(response->Header("content-type"), "application/x-test");
}

TEST(ServerTest, StatusWithoutBody) {
  TestServer server(
      [](const Request&, const Responder& respond) { respond(Text(204, "dropped")); });
  auto response = NewClient()->Delete(server.url("/x"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 204);
  EXPECT_EQ(response->body, "");
  EXPECT_EQ(response->Header("content-length"), "");
}

TEST(ServerTest, KeepAliveReusesOneConnection) {
  TestServer server(Echo);
  auto client = NewClient();
  std::string first_remote;
  for (int i = 0; i < 100; ++i) {
    auto response = client->Put(server.url("/k"), std::to_string(i));
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    ASSERT_EQ(response->body, std::to_string(i));
    if (i == 0) first_remote = response->Header("x-remote");
    ASSERT_EQ(response->Header("x-remote"), first_remote) << "request " << i;
  }
  EXPECT_TRUE(first_remote.starts_with("127.0.0.1:")) << first_remote;
  auto other = NewClient()->Get(server.url("/k"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->Header("x-remote"), first_remote);
}

TEST(ServerTest, ConcurrentClients) {
  TestServer server(Echo);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto client = NewClient();
      for (int i = 0; i < 50; ++i) {
        const std::string body = std::to_string(t) + "/" + std::to_string(i);
        auto response = client->Post(server.url("/c"), body);
        if (response.ok() && response->body == body) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok, 8 * 50);
}

TEST(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  TestServer server(Echo);
  RawSocket socket(server.port());
  ASSERT_TRUE(socket.connected());
  ASSERT_TRUE(socket.Send(
      "PUT /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nonePUT /2 HTTP/1.1\r\nHost: x\r\n"
      "Content-Length: 3\r\nConnection: close\r\n\r\ntwo"));
  bool closed = false;
  const std::string reply = socket.Read(5s, {}, &closed);
  EXPECT_TRUE(closed);
  const size_t one = reply.find("\r\n\r\none");
  const size_t two = reply.find("\r\n\r\ntwo");
  ASSERT_NE(one, std::string::npos) << reply;
  ASSERT_NE(two, std::string::npos) << reply;
  EXPECT_LT(one, two);
  EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
}

TEST(ServerTest, Http10ClosesAfterResponse) {
  TestServer server(Echo);
  RawSocket socket(server.port());
  ASSERT_TRUE(socket.Send("GET /old HTTP/1.0\r\n\r\n"));
  bool closed = false;
  const std::string reply = socket.Read(5s, {}, &closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(reply.starts_with("HTTP/1.0 200")) << reply;
}

TEST(ServerTest, OversizedBodyGets413AndServerKeepsServing) {
  ServerOptions options = TestOptions();
  options.max_body_bytes = 1024;
  TestServer server(Echo, options);
  auto client = NewClient();

  auto at_limit = client->Put(server.url("/b"), std::string(1024, 'a'));
  ASSERT_TRUE(at_limit.ok());
  EXPECT_EQ(at_limit->status, 200);

  for (const size_t size : {size_t{1025}, size_t{4} << 20}) {
    SCOPED_TRACE(size);
    auto response = client->Put(server.url("/b"), std::string(size, 'b'));
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->status, 413);
    EXPECT_EQ(response->Header("content-type"), "application/json");
    EXPECT_EQ(response->body,
              R"({"code":"payloadTooLarge","message":"request body is larger than 1024 bytes"})");
  }

  // The same client (on a new connection) and a new client are served.
  auto again = client->Get(server.url("/after"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 200);
  auto fresh = NewClient()->Put(server.url("/after"), "ok");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->body, "ok");
}

TEST(ServerTest, OversizedChunkedBodyGets413) {
  ServerOptions options = TestOptions();
  options.max_body_bytes = 1024;
  TestServer server(Echo, options);
  RawSocket socket(server.port());
  ASSERT_TRUE(socket.Send(
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "200\r\n" +
      std::string(0x200, 'x') + "\r\n400\r\n" + std::string(0x400, 'y') + "\r\n0\r\n\r\n"));
  bool closed = false;
  const std::string reply = socket.Read(5s, {}, &closed);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 413")) << reply;
  EXPECT_NE(reply.find("payloadTooLarge"), std::string::npos) << reply;
  EXPECT_TRUE(closed);
}

TEST(ServerTest, ExpectContinueIsHonoured) {
  ServerOptions options = TestOptions();
  options.max_body_bytes = 1024;
  TestServer server(Echo, options);
  {
    RawSocket socket(server.port());
    ASSERT_TRUE(socket.Send(
        "PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
    EXPECT_EQ(socket.Read(5s, "\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
    ASSERT_TRUE(socket.Send("hello"));
    const std::string reply = socket.Read(5s, "hello");
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  }
  {
    // Too large: refused before the client sends the body.
    RawSocket socket(server.port());
    ASSERT_TRUE(socket.Send(
        "PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"));
    bool closed = false;
    const std::string reply = socket.Read(5s, {}, &closed);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 413")) << reply;
    EXPECT_TRUE(closed);
  }
}

TEST(ServerTest, OversizedHeaderGets431) {
  ServerOptions options = TestOptions();
  options.max_header_bytes = 1024;
  TestServer server(Echo, options);
  auto response =
      NewClient()->Send("GET", server.url("/h"), {}, {{"X-Big", std::string(2000, 'h')}});
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 431);
  EXPECT_EQ(response->body,
            R"({"code":"invalidArgument","message":"request header is larger than 1024 bytes"})");
  auto small = NewClient()->Send("GET", server.url("/h"), {}, {{"X-Small", "s"}});
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->status, 200);
}

TEST(ServerTest, MalformedRequestsGet400AndClose) {
  TestServer server(Echo);
  for (const std::string request :
       {"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET / HTTP/9.9\r\nHost: x\r\n\r\n", "PUT / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n"}) {
    SCOPED_TRACE(request);
    RawSocket socket(server.port());
    ASSERT_TRUE(socket.connected());
    ASSERT_TRUE(socket.Send(request));
    bool closed = false;
    const std::string reply = socket.Read(5s, {}, &closed);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
    EXPECT_NE(reply.find(R"({"code":"invalidArgument","message":"malformed HTTP request: )"),
              std::string::npos)
        << reply;
    EXPECT_TRUE(closed);
  }
  auto response = NewClient()->Get(server.url("/still-up"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200);
}

// A new connection must send its first request within the header timeout
// (a half-open or slowloris client is dropped), however long the idle
// timeout of kept-alive connections is.
TEST(ServerTest, ANewConnectionThatSendsNothingIsDroppedAfterTheHeaderTimeout) {
  ServerOptions options = TestOptions();
  options.header_timeout = 1s;
  options.idle_timeout = 60s;
  TestServer server(Echo, options);
  RawSocket socket(server.port());
  const auto start = Clock::now();
  bool closed = false;
  EXPECT_EQ(socket.Read(5s, {}, &closed), "");
  EXPECT_TRUE(closed);
  EXPECT_GE(Since(start), 900ms);
  EXPECT_LT(Since(start), 4s);
  // One sending its header too slowly goes the same way.
  RawSocket slow(server.port());
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\n"));
  EXPECT_EQ(slow.Read(5s, {}, &closed), "");
  EXPECT_TRUE(closed);
}

// A large upload is refused from its header, before its body is read: a
// client without credentials cannot make the server take in 100 MB.
TEST(ServerTest, ALargeBodyIsAdmittedFromItsHeaderFirst) {
  std::atomic<int> handled{0};
  ServerOptions options = TestOptions();
  options.max_body_bytes = size_t{1} << 30;
  options.admit_body_bytes = 1000;
  TestServer server(
      [&](Request request, Responder respond) {
        ++handled;
        Echo(std::move(request), respond);
      },
      options,
      [](const Request& header) -> std::optional<Response> {
        if (header.Header("x-test") == "let-in") return std::nullopt;
        return Response{401, "application/json", R"({"code":"unauthorized","message":"no"})", {}};
      });
  RawSocket socket(server.port());
  ASSERT_TRUE(
      socket.Send("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
                  "only a little of it"));
  const std::string reply = socket.Read(5s, "no\"}");
  EXPECT_NE(reply.find("401 Unauthorized"), std::string::npos) << reply;
  EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
  EXPECT_EQ(handled, 0);
  // Admitted, and small bodies without asking, are served as usual.
  auto client = NewClient();
  auto r = client->Send("PUT", server.url("/small"), std::string(500, 'x'));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  r = client->Send("PUT", server.url("/big"), std::string(5000, 'x'), {{"X-Test", "let-in"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), 5000u);
  r = client->Send("PUT", server.url("/big"), std::string(5000, 'x'));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(handled, 2);
}

// Connections over the per-address cap are closed at once; the others, and
// new ones once some closed, are served.
TEST(ServerTest, ConnectionsOverTheCapAreClosedAtOnce) {
  ServerOptions options = TestOptions();
  options.max_connections_per_address = 3;
  TestServer server(Echo, options);
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<RawSocket>(server.port()));
  std::this_thread::sleep_for(200ms);  // all three accepted
  RawSocket over(server.port());
  bool closed = false;
  EXPECT_EQ(over.Read(3s, {}, &closed), "");
  EXPECT_TRUE(closed);
  ASSERT_TRUE(held[0]->Send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(held[0]->Read(3s, "\r\n\r\n").find("200 OK"), std::string::npos);
  held.pop_back();
  std::this_thread::sleep_for(200ms);  // its close reached the server
  auto client = NewClient();
  auto r = client->Get(server.url("/after"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
}

TEST(ServerTest, AKeptAliveConnectionTimesOutWhenIdle) {
  ServerOptions options = TestOptions();
  options.idle_timeout = 1s;
  options.header_timeout = 60s;
  TestServer server(Echo, options);
  RawSocket socket(server.port());
  ASSERT_TRUE(socket.Send("PUT /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"));
  EXPECT_NE(socket.Read(5s, "one").find("200 OK"), std::string::npos);
  const auto start = Clock::now();
  bool closed = false;
  EXPECT_EQ(socket.Read(5s, {}, &closed), "");
  EXPECT_TRUE(closed);
  EXPECT_GE(Since(start), 900ms);
  EXPECT_LT(Since(start), 4s);
}

TEST(ServerTest, DeferredResponderAnswersFromAnotherThread) {
  Deferrer deferrer;
  TestServer server([&](const Request& request, Responder respond) {
    deferrer.AnswerAfter(200ms, std::move(respond), Text(200, "late " + request.path));
  });
  auto client = NewClient();
  for (int i = 0; i < 2; ++i) {  // the connection stays usable afterwards
    const auto start = Clock::now();
    auto response = client->Get(server.url("/slow"));
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->body, "late /slow");
    EXPECT_GE(Since(start), 190ms);
  }
}

TEST(ServerTest, ResponderForClosedConnectionIsHarmless) {
  std::promise<Responder> parked;
  TestServer server(
      [&](const Request&, Responder respond) { parked.set_value(std::move(respond)); });
  ClientOptions options;
  options.timeout = 200ms;
  auto timed_out = NewClient(options)->Get(server.url("/never"));
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.status().code(), Code::kUnavailable);
  Responder respond = parked.get_future().get();
  // The client is gone: the write fails and the connection closes.
  respond(Text(200, "too late"));
  respond(Text(200, "twice"));
}

TEST(ServerTest, HandlerExceptionBecomes500) {
  TestServer server([](const Request&, const Responder&) { throw std::runtime_error("boom"); });
  auto response = NewClient()->Get(server.url("/throw"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body, R"({"code":"internal","message":"handler failed: boom"})");
}

TEST(ServerTest, InvalidResponseHeaderBecomes500) {
  TestServer server([](const Request&, const Responder& respond) {
    Response response = Text(200, "");
    response.headers = {{"X-Evil", "a\r\nSet-Cookie: x"}};
    respond(std::move(response));
  });
  auto response = NewClient()->Get(server.url("/evil"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->Header("set-cookie"), "");
}

TEST(ServerTest, CreateRejectsBadHostAndBusyPort) {
  testing::FunctionHandler handler(Echo);
  ServerOptions options = TestOptions();
  options.host = "not-an-address";
  auto bad_host = Server::Create(options, handler);
  ASSERT_FALSE(bad_host.ok());
  EXPECT_EQ(bad_host.status().code(), Code::kInvalidArgument);

  TestServer running(Echo);
  options = TestOptions();
  options.port = running.port();
  auto busy = Server::Create(options, handler);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), Code::kIoError) << busy.status().ToString();
}

// --- Streamed bodies --------------------------------------------------------

constexpr uint64_t kMiB = uint64_t{1} << 20;

// BodySinkFor for tests: a PatternSink of `probe` for every request, with
// the body limit `max_bytes`.
testing::SinkForFn SinkInto(std::shared_ptr<Probe> probe, uint64_t max_bytes, Faults faults = {}) {
  return [probe, max_bytes, faults](const Request&, uint64_t* limit,
                                    std::optional<Response>*) -> std::shared_ptr<BodySink> {
    *limit = max_bytes;
    return std::make_shared<PatternSink>(probe, faults);
  };
}

// Answers a request whose body was streamed with the bytes its sink took,
// and 500 if the body came some other way.
void CountStreamed(Request request, const Responder& respond, const Probe& probe) {
  const bool streamed = request.sink != nullptr && request.body.empty();
  // Done with the sink: the server kept no reference, so it goes now.
  request.sink.reset();
  respond(Text(streamed ? 200 : 500, std::to_string(probe.bytes.load())));
}

// A handler answering every request with a body from a PatternSource.
testing::HandleFn ServeSource(uint64_t size, std::shared_ptr<Probe> probe, Faults faults = {}) {
  return [size, probe, faults](const Request&, const Responder& respond) {
    Response response;
    response.content_type = "application/octet-stream";
    response.source = std::make_shared<PatternSource>(size, probe, faults);
    respond(std::move(response));
  };
}

// 64 MiB through a server whose max_body_bytes is 16 MiB: the sink sees
// every byte, in order, and Request::body stays empty.
TEST(StreamTest, AnUploadIsStreamedIntoItsSinkInOrder) {
  auto probe = std::make_shared<Probe>();
  std::atomic<int> asked{0};
  TestServer server(
      [&](Request request, const Responder& respond) {
        if (request.method == "GET") return Echo(std::move(request), respond);
        CountStreamed(std::move(request), respond, *probe);
      },
      TestOptions(), nullptr,
      [&](const Request& header, uint64_t* max_bytes,
          std::optional<Response>*) -> std::shared_ptr<BodySink> {
        ++asked;
        EXPECT_EQ(*max_bytes, TestOptions().max_body_bytes);
        EXPECT_EQ(header.path, "/files/big");
        EXPECT_EQ(header.Header("content-length"), std::to_string(64 * kMiB));
        EXPECT_TRUE(header.body.empty());
        *max_bytes = uint64_t{1} << 30;
        return std::make_shared<PatternSink>(probe);
      });
  auto client = NewClient();
  PatternSource source(64 * kMiB, std::make_shared<Probe>());
  auto response = client->Stream("PUT", server.url("/files/big"), {}, &source, nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, std::to_string(64 * kMiB));
  EXPECT_EQ(probe->bytes, 64 * kMiB);
  EXPECT_EQ(probe->mismatches, 0u);
  EXPECT_TRUE(probe->destroyed);
  // A request without a body is not offered a sink, and the connection goes on.
  auto get = client->Get(server.url("/after"));
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(asked, 1);
}

TEST(StreamTest, ExpectContinueIsHonouredForAStreamedUpload) {
  auto probe = std::make_shared<Probe>();
  TestServer server(
      [&](Request r, const Responder& respond) { CountStreamed(std::move(r), respond, *probe); },
      TestOptions(), nullptr, SinkInto(probe, 100));
  RawSocket socket(server.port());
  ASSERT_TRUE(socket.Send(
      "PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(socket.Read(5s, "\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(probe->calls, 0);
  ASSERT_TRUE(socket.Send(PatternString(50)));
  const std::string reply = socket.Read(5s, "\r\n\r\n50");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  EXPECT_EQ(probe->bytes, 50u);
  EXPECT_EQ(probe->mismatches, 0u);
}

// Decided from Content-Length: neither the sink nor Handle sees any of it.
TEST(StreamTest, ABodyOverTheSinksLimitGets413BeforeAnyOfItIsRead) {
  auto probe = std::make_shared<Probe>();
  std::atomic<int> handled{0};
  TestServer server(
      [&](Request r, const Responder& respond) {
        ++handled;
        CountStreamed(std::move(r), respond, *probe);
      },
      TestOptions(), nullptr, SinkInto(probe, 1000));
  const std::string error =
      R"({"code":"payloadTooLarge","message":"request body is larger than 1000 bytes"})";
  {
    RawSocket socket(server.port());
    ASSERT_TRUE(socket.Send("PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
                            PatternString(2000)));
    bool closed = false;
    const std::string reply = socket.Read(5s, {}, &closed);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 413")) << reply;
    EXPECT_NE(reply.find(error), std::string::npos) << reply;
    EXPECT_TRUE(closed);
  }
  auto client = NewClient();
  PatternSource too_large(1001, std::make_shared<Probe>());
  auto response = client->Stream("PUT", server.url("/u"), {}, &too_large, nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->body, error);
  EXPECT_EQ(probe->calls, 0);
  EXPECT_TRUE(probe->destroyed);
  EXPECT_EQ(handled, 0);

  PatternSource at_limit(1000, std::make_shared<Probe>());
  response = client->Stream("PUT", server.url("/u"), {}, &at_limit, nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "1000");
}

// A chunked body has no length to check first: it is cut off where it
// passes the limit, and the sink that took its beginning is dropped.
TEST(StreamTest, AChunkedUploadOverTheLimitGets413AndDropsItsSink) {
  auto probe = std::make_shared<Probe>();
  std::atomic<int> handled{0};
  TestServer server(
      [&](Request r, const Responder& respond) {
        ++handled;
        CountStreamed(std::move(r), respond, *probe);
      },
      TestOptions(), nullptr, SinkInto(probe, 1024));
  RawSocket socket(server.port());
  const std::string body = PatternString(0x600);
  ASSERT_TRUE(socket.Send(
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "200\r\n" +
      body.substr(0, 0x200) + "\r\n400\r\n" + body.substr(0x200, 0x400) + "\r\n0\r\n\r\n"));
  bool closed = false;
  const std::string reply = socket.Read(5s, {}, &closed);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 413")) << reply;
  EXPECT_NE(reply.find("request body is larger than 1024 bytes"), std::string::npos) << reply;
  EXPECT_TRUE(closed);
  EXPECT_TRUE(probe->destroyed);
  EXPECT_LE(probe->bytes, 1024u);
  EXPECT_EQ(handled, 0);

  // Within the limit, a chunked body streams like any other.
  RawSocket ok(server.port());
  ASSERT_TRUE(
      ok.Send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              "200\r\n" +
              body.substr(0, 0x200) + "\r\n100\r\n" + body.substr(0x200, 0x100) + "\r\n0\r\n\r\n"));
  const std::string reply2 = ok.Read(5s, "\r\n\r\n");
  EXPECT_TRUE(reply2.starts_with("HTTP/1.1 200")) << reply2;
  EXPECT_EQ(handled, 1);
}

TEST(StreamTest, ASinkErrorIsAnsweredAndHandleIsNotCalled) {
  auto probe = std::make_shared<Probe>();
  std::atomic<int> handled{0};
  TestServer server(
      [&](Request r, const Responder& respond) {
        ++handled;
        CountStreamed(std::move(r), respond, *probe);
      },
      TestOptions(), nullptr,
      SinkInto(probe, 1 << 30, Faults{.fail_at = kMiB, .failure = Status::IoError("disk full")}));
  PatternSource source(8 * kMiB, std::make_shared<Probe>());
  auto response = NewClient()->Stream("PUT", server.url("/files/f"), {}, &source, nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body, ErrorResponse(Status::IoError("disk full")).body);
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(probe->destroyed);
  EXPECT_EQ(handled, 0);
  // Another code keeps its own status.
  auto probe2 = std::make_shared<Probe>();
  TestServer server2(
      [](Request, const Responder&) { ADD_FAILURE() << "handled"; }, TestOptions(), nullptr,
      SinkInto(probe2, 1 << 30, Faults{.fail_at = 0, .failure = Status::Forbidden("read-only")}));
  PatternSource source2(1000, std::make_shared<Probe>());
  response = NewClient()->Stream("POST", server2.url("/files/f"), {}, &source2, nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 403);
  EXPECT_EQ(response->body, R"({"code":"forbidden","message":"read-only"})");
}

TEST(StreamTest, BodySinkForMayRefuseTheRequestUnread) {
  std::atomic<int> handled{0};
  TestServer server(
      [&](Request, const Responder& respond) {
        ++handled;
        respond(Text(200, ""));
      },
      TestOptions(), nullptr,
      [](const Request&, uint64_t*, std::optional<Response>* refusal) {
        *refusal = ErrorResponse(Status::Forbidden("no uploads here"));
        return std::shared_ptr<BodySink>();
      });
  RawSocket socket(server.port());
  ASSERT_TRUE(socket.Send("PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nsome"));
  const std::string reply = socket.Read(5s, "here\"}");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 403")) << reply;
  EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
  EXPECT_EQ(handled, 0);
}

TEST(StreamTest, AClientGoneMidUploadDropsTheSink) {
  auto probe = std::make_shared<Probe>();
  std::atomic<int> handled{0};
  TestServer server(
      [&](Request r, const Responder& respond) {
        ++handled;
        CountStreamed(std::move(r), respond, *probe);
      },
      TestOptions(), nullptr, SinkInto(probe, 1 << 30));
  {
    RawSocket socket(server.port());
    ASSERT_TRUE(socket.Send("PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" +
                            PatternString(100000)));
    ASSERT_TRUE(WaitUntil([&] { return probe->bytes == 100000; }));
    EXPECT_FALSE(probe->destroyed);
  }
  EXPECT_TRUE(WaitUntil([&] { return probe->destroyed.load(); }));
  EXPECT_EQ(handled, 0);
  EXPECT_EQ(probe->mismatches, 0u);
}

// Each piece must come within the idle timeout, not the whole body.
TEST(StreamTest, AStalledUploadIsDroppedAndASlowOneIsNot) {
  ServerOptions options = TestOptions();
  options.idle_timeout = 1s;
  auto probe = std::make_shared<Probe>();
  TestServer server(
      [&](Request r, const Responder& respond) { CountStreamed(std::move(r), respond, *probe); },
      options, nullptr, SinkInto(probe, 1 << 30));
  {
    RawSocket stalled(server.port());
    ASSERT_TRUE(stalled.Send("PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" +
                             PatternString(10)));
    bool closed = false;
    EXPECT_EQ(stalled.Read(10s, {}, &closed), "");
    EXPECT_TRUE(closed);
    EXPECT_TRUE(WaitUntil([&] { return probe->destroyed.load(); }));
  }
  // 3 MiB, 64 KiB every 40 ms: about 2 s in all.
  auto sink_probe = std::make_shared<Probe>();
  TestServer server2(
      [&](Request r, const Responder& respond) {
        CountStreamed(std::move(r), respond, *sink_probe);
      },
      options, nullptr, SinkInto(sink_probe, 1 << 30));
  auto slow_probe = std::make_shared<Probe>();
  PatternSource slow(3 * kMiB, slow_probe, Faults{.delay = 40ms});
  auto response = NewClient()->Stream("PUT", server2.url("/u"), {}, &slow, nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, std::to_string(3 * kMiB));
  EXPECT_EQ(sink_probe->mismatches, 0u);
  EXPECT_GT(slow_probe->calls, 25);  // it did come in many pieces
}

// Without a sink, bodies are read whole and bound by max_body_bytes, beside
// requests the handler streams.
TEST(StreamTest, WholeBodiesStillObeyMaxBodyBytes) {
  ServerOptions options = TestOptions();
  options.max_body_bytes = 1024;
  auto probe = std::make_shared<Probe>();
  TestServer server(
      [&](Request request, const Responder& respond) {
        if (request.sink) return CountStreamed(std::move(request), respond, *probe);
        Echo(std::move(request), respond);
      },
      options, nullptr,
      [&](const Request& header, uint64_t* max_bytes,
          std::optional<Response>*) -> std::shared_ptr<BodySink> {
        EXPECT_EQ(*max_bytes, 1024u);
        if (!header.path.starts_with("/files/")) return nullptr;
        *max_bytes = 8 * kMiB;
        return std::make_shared<PatternSink>(probe);
      });
  auto client = NewClient();
  auto response = client->Put(server.url("/records/r"), std::string(2000, 'r'));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->body,
            R"({"code":"payloadTooLarge","message":"request body is larger than 1024 bytes"})");
  response = client->Put(server.url("/records/r"), std::string(1000, 'r'));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, std::string(1000, 'r'));

  PatternSource source(4 * kMiB, std::make_shared<Probe>());
  response = client->Stream("PUT", server.url("/files/f"), {}, &source, nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, std::to_string(4 * kMiB));
  EXPECT_EQ(probe->mismatches, 0u);
}

TEST(StreamTest, AResponseIsStreamedFromItsSource) {
  auto source_probe = std::make_shared<Probe>();
  TestServer server(ServeSource(64 * kMiB, source_probe));
  auto client = NewClient();
  auto probe = std::make_shared<Probe>();
  PatternSink sink(probe);
  auto response = client->Stream("GET", server.url("/files/big"), {}, nullptr, &sink);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "");
  EXPECT_EQ(response->Header("content-length"), std::to_string(64 * kMiB));
  EXPECT_EQ(response->Header("content-type"), "application/octet-stream");
  EXPECT_EQ(probe->bytes, 64 * kMiB);
  EXPECT_EQ(probe->mismatches, 0u);
  EXPECT_EQ(source_probe->bytes, 64 * kMiB);
  EXPECT_TRUE(WaitUntil([&] { return source_probe->destroyed.load(); }));
  // Kept alive: the next request on the connection is served.
  auto again = client->Send("GET", server.url("/files/big"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->body.size(), 64 * kMiB);
  EXPECT_TRUE(again->body == PatternString(64 * kMiB));
}

TEST(StreamTest, HeadAndNoContentDoNotReadTheSource) {
  auto probe = std::make_shared<Probe>();
  TestServer server([&](const Request& request, const Responder& respond) {
    Response response;
    response.status = request.path == "/none" ? 204 : 200;
    response.source = std::make_shared<PatternSource>(12345, probe);
    respond(std::move(response));
  });
  auto client = NewClient();
  auto head = client->Send("HEAD", server.url("/f"));
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), "12345");
  EXPECT_EQ(head->body, "");
  auto none = client->Send("GET", server.url("/none"));
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->status, 204);
  EXPECT_EQ(none->Header("content-length"), "");
  EXPECT_EQ(probe->calls, 0);
  // The connection is in step afterwards.
  auto get = client->Send("GET", server.url("/f"));
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(get->body, PatternString(12345));
}

// The header is out when the source fails: the client sees a short body,
// and the server goes on serving.
TEST(StreamTest, ASourceThatFailsOrEndsShortAbortsTheResponse) {
  for (const Faults& faults : {Faults{.fail_at = kMiB}, Faults{.end_at = kMiB}}) {
    auto source_probe = std::make_shared<Probe>();
    TestServer server(ServeSource(4 * kMiB, source_probe, faults));
    auto probe = std::make_shared<Probe>();
    PatternSink sink(probe);
    auto response = NewClient()->Stream("GET", server.url("/f"), {}, nullptr, &sink);
    EXPECT_FALSE(response.ok());
    EXPECT_LT(probe->bytes, 4 * kMiB);
    EXPECT_EQ(probe->mismatches, 0u);
    EXPECT_TRUE(WaitUntil([&] { return source_probe->destroyed.load(); }));
  }
}

TEST(StreamTest, ABodyAndASourceTogetherAre500) {
  TestServer server([](const Request&, const Responder& respond) {
    Response response = Text(200, "both");
    response.source = std::make_shared<PatternSource>(10, std::make_shared<Probe>());
    respond(std::move(response));
  });
  auto response = NewClient()->Get(server.url("/f"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 500);
}

// The source gives 256 KiB every 40 ms: the whole body takes longer than the
// idle timeout, each piece does not.
TEST(StreamTest, ASlowSourceOutlastsTheIdleTimeout) {
  ServerOptions options = TestOptions();
  options.idle_timeout = 1s;
  auto source_probe = std::make_shared<Probe>();
  // 48 pieces of 256 KiB, 40 ms apart: about 2 s in all.
  TestServer server(ServeSource(12 * kMiB, source_probe, Faults{.delay = 40ms}), options);
  auto probe = std::make_shared<Probe>();
  PatternSink sink(probe);
  auto response = NewClient()->Stream("GET", server.url("/f"), {}, nullptr, &sink);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(probe->bytes, 12 * kMiB);
  EXPECT_EQ(probe->mismatches, 0u);
  EXPECT_GT(source_probe->calls, 25);  // it did go in many pieces
}

// A self-signed certificate for 127.0.0.1 in a temporary directory, made by
// the openssl command.
class SelfSignedCertificate {
 public:
  SelfSignedCertificate() {
    char dir[] = "/tmp/braid-http-test-XXXXXX";
    if (::mkdtemp(dir) == nullptr) return;
    dir_ = dir;
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key() +
        " -out " + cert() +
        " -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1";
    made_ = std::system(command.c_str()) == 0;
  }
  ~SelfSignedCertificate() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  bool made() const { return made_; }
  std::string cert() const { return dir_ + "/cert.pem"; }
  std::string key() const { return dir_ + "/key.pem"; }

 private:
  std::string dir_;
  bool made_ = false;
};

TEST(StreamTest, BodiesStreamOverTls) {
  SelfSignedCertificate certificate;
  if (!certificate.made()) GTEST_SKIP() << "no openssl command to make a certificate";
  ServerOptions options = TestOptions();
  options.tls_cert_file = certificate.cert();
  options.tls_key_file = certificate.key();
  auto upload_probe = std::make_shared<Probe>();
  TestServer server(
      [&](Request request, const Responder& respond) {
        if (request.sink) return CountStreamed(std::move(request), respond, *upload_probe);
        ServeSource(16 * kMiB, std::make_shared<Probe>())(request, respond);
      },
      options, nullptr, SinkInto(upload_probe, 1 << 30));
  ASSERT_TRUE(server.server().url().starts_with("https://"));
  ClientOptions client_options;
  client_options.ca_cert = certificate.cert();
  auto client = NewClient(client_options);

  auto probe = std::make_shared<Probe>();
  PatternSink sink(probe);
  auto response = client->Stream("GET", server.url("/f"), {}, nullptr, &sink);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(probe->bytes, 16 * kMiB);
  EXPECT_EQ(probe->mismatches, 0u);

  PatternSource source(16 * kMiB, std::make_shared<Probe>());
  response = client->Stream("PUT", server.url("/f"), {}, &source, nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, std::to_string(16 * kMiB));
  EXPECT_EQ(upload_probe->mismatches, 0u);
}

// --- Executor -------------------------------------------------------------

TEST(ExecutorTest, PostRunsOnServerThread) {
  TestServer server(Echo);
  std::promise<std::thread::id> ran;
  server.server().Post([&] { ran.set_value(std::this_thread::get_id()); });
  auto future = ran.get_future();
  ASSERT_EQ(future.wait_for(2s), std::future_status::ready);
  EXPECT_NE(future.get(), std::this_thread::get_id());
}

TEST(ExecutorTest, RunAfterRunsUncancelledAndSkipsCancelled) {
  TestServer server(Echo);
  std::atomic<bool> cancelled_ran{false};
  std::promise<void> ran;
  const auto start = Clock::now();
  auto cancelled = server.server().RunAfter(50ms, [&] { cancelled_ran = true; });
  auto kept = server.server().RunAfter(100ms, [&] { ran.set_value(); });
  cancelled->Cancel();
  cancelled->Cancel();
  auto future = ran.get_future();
  ASSERT_EQ(future.wait_for(2s), std::future_status::ready);
  EXPECT_GE(Since(start), 100ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(cancelled_ran);
  kept->Cancel();  // after it ran: harmless
}

TEST(ExecutorTest, CancelWinsOverExpiredButQueuedCallback) {
  ServerOptions options = TestOptions();
  options.threads = 2;
  TestServer server(Echo, options);
  // Occupy both I/O threads so that expired timers cannot start.
  std::atomic<int> blocked{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  for (int i = 0; i < options.threads; ++i) {
    server.server().Post([&blocked, released] {
      ++blocked;
      released.wait();
    });
  }
  while (blocked < options.threads) std::this_thread::sleep_for(1ms);

  std::atomic<int> ran{0};
  std::vector<std::shared_ptr<Timer>> timers;
  timers.reserve(50);
  for (int i = 0; i < 50; ++i) timers.push_back(server.server().RunAfter(0ms, [&] { ++ran; }));
  std::promise<void> control_ran;
  auto control = server.server().RunAfter(0ms, [&] { control_ran.set_value(); });
  std::this_thread::sleep_for(20ms);  // all deadlines have passed
  for (auto& timer : timers) timer->Cancel();
  release.set_value();

  ASSERT_EQ(control_ran.get_future().wait_for(2s), std::future_status::ready);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(ran, 0);
}

TEST(ExecutorTest, CancelRacingExpiryRunsAtMostOnce) {
  TestServer server(Echo);
  constexpr int kTimers = 300;
  std::vector<std::atomic<int>> runs(kTimers);
  std::vector<std::shared_ptr<Timer>> timers;
  timers.reserve(kTimers);
  for (int i = 0; i < kTimers; ++i) {
    timers.push_back(
        server.server().RunAfter(std::chrono::milliseconds(i % 3), [&runs, i] { ++runs[i]; }));
  }
  for (int i = 0; i < kTimers; ++i) {
    if (i % 7 == 0) std::this_thread::sleep_for(100us);
    timers[i]->Cancel();
  }
  std::this_thread::sleep_for(50ms);
  for (int i = 0; i < kTimers; ++i) EXPECT_LE(runs[i], 1) << "timer " << i;
}

TEST(ExecutorTest, TimerHandleMayOutliveServer) {
  std::shared_ptr<Timer> timer;
  {
    TestServer server(Echo);
    timer = server.server().RunAfter(10s, [] { ADD_FAILURE() << "ran after shutdown"; });
  }
  timer->Cancel();
}

TEST(ExecutorTest, LongPollAnsweredByTimer) {
  Executor* executor = nullptr;
  TestServer server([&](const Request&, const Responder& respond) {
    executor->RunAfter(100ms, [respond] { respond(Text(200, "tick")); });
  });
  executor = &server.server();
  const auto start = Clock::now();
  auto response = NewClient()->Get(server.url("/poll"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->body, "tick");
  EXPECT_GE(Since(start), 90ms);
}

// --- Shutdown -------------------------------------------------------------

TEST(ShutdownTest, InFlightRequestIsAnsweredThenRunReturns) {
  Deferrer deferrer;
  std::promise<void> received;
  TestServer server([&](const Request&, Responder respond) {
    deferrer.AnswerAfter(300ms, std::move(respond), Text(200, "done"));
    received.set_value();
  });
  const std::string url = server.url("/slow");
  std::promise<Result<ClientResponse>> result;
  std::thread client_thread([&] { result.set_value(NewClient()->Get(url)); });

  received.get_future().wait();
  const auto start = Clock::now();
  server.server().Shutdown();
  server.server().Shutdown();
  EXPECT_TRUE(server.WaitForRun(5s));
  EXPECT_GE(Since(start), 200ms);  // Run() waited for the answer
  client_thread.join();

  auto response = result.get_future().get();
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "done");
  EXPECT_EQ(response->Header("connection"), "close");

  auto refused = NewClient()->Get(url);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
}

TEST(ShutdownTest, IdleKeepAliveConnectionsDoNotBlock) {
  ServerOptions options = TestOptions();
  options.drain_timeout = 30s;
  TestServer server(Echo, options);
  auto client = NewClient();
  ASSERT_TRUE(client->Get(server.url("/a")).ok());  // leaves a kept-alive connection
  RawSocket silent(server.port());                  // connected, never sends
  RawSocket partial(server.port());                 // sent half a request
  ASSERT_TRUE(partial.Send("PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab"));
  std::this_thread::sleep_for(100ms);

  const auto start = Clock::now();
  server.server().Shutdown();
  // The partial request is in flight: it is finished and answered.
  ASSERT_TRUE(partial.Send("cd"));
  const std::string reply = partial.Read(5s, "abcd");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
  EXPECT_TRUE(server.WaitForRun(5s));
  EXPECT_LT(Since(start), 2s);
  bool closed = false;
  silent.Read(1s, {}, &closed);
  EXPECT_TRUE(closed);
}

TEST(ShutdownTest, HookRunsOnceAndAnswersLongPolls) {
  std::mutex mu;
  std::vector<Responder> parked;
  std::promise<void> got_request;
  std::atomic<int> hook_runs{0};
  ServerOptions options = TestOptions();
  options.on_shutdown = [&] {
    ++hook_runs;
    std::lock_guard lock(mu);
    for (auto& respond : parked) respond(Text(503, "shutting down"));
    parked.clear();
  };
  TestServer server(
      [&](const Request&, Responder respond) {
        std::lock_guard lock(mu);
        parked.push_back(std::move(respond));
        got_request.set_value();
      },
      options);
  const std::string url = server.url("/poll");
  std::promise<Result<ClientResponse>> result;
  std::thread client_thread([&] { result.set_value(NewClient()->Get(url)); });
  got_request.get_future().wait();

  std::thread other([&] { server.server().Shutdown(); });
  server.server().Shutdown();
  other.join();
  EXPECT_TRUE(server.WaitForRun(5s));
  client_thread.join();
  auto response = result.get_future().get();
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(hook_runs, 1);
}

TEST(ShutdownTest, DrainTimeoutClosesUnansweredRequests) {
  std::promise<Responder> parked;
  ServerOptions options = TestOptions();
  options.drain_timeout = 1s;
  Responder respond;
  {
    TestServer server([&](const Request&, Responder r) { parked.set_value(std::move(r)); },
                      options);
    const std::string url = server.url("/forever");
    std::promise<Result<ClientResponse>> result;
    std::thread client_thread([&] { result.set_value(NewClient()->Get(url)); });
    respond = parked.get_future().get();

    const auto start = Clock::now();
    server.server().Shutdown();
    EXPECT_TRUE(server.WaitForRun(5s));
    EXPECT_GE(Since(start), 900ms);
    client_thread.join();
    auto response = result.get_future().get();
    EXPECT_FALSE(response.ok());
    respond(Text(200, "after Run() returned"));
  }
  respond(Text(200, "after the server is gone"));
}

TEST(ShutdownTest, SignalStartsShutdown) {
  ServerOptions options = TestOptions();
  options.handle_signals = true;
  TestServer server(Echo, options);
  ASSERT_TRUE(NewClient()->Get(server.url("/")).ok());
  std::raise(SIGTERM);
  EXPECT_TRUE(server.WaitForRun(5s));
}

}  // namespace
}  // namespace braid::http
