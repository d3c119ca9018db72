#include "http/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>

#include <gtest/gtest.h>

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
using testing::TestServer;
using testing::WaitUntil;

constexpr uint64_t kMiB = uint64_t{1} << 20;

// Answers every request with a body from a PatternSource of `size` bytes.
testing::HandleFn ServeSource(uint64_t size) {
  return [size](const Request&, const Responder& respond) {
    Response response;
    response.content_type = "application/octet-stream";
    response.source = std::make_shared<PatternSource>(size, std::make_shared<Probe>());
    respond(std::move(response));
  };
}

// Streams every request body into a PatternSink of `probe`, and answers
// with the method, the Content-Length received and the bytes streamed.
class UploadServer {
 public:
  explicit UploadServer(std::shared_ptr<Probe> probe)
      : probe_(std::move(probe)),
        server_(
            [probe = probe_](Request request, const Responder& respond) {
              request.sink.reset();
              Response response;
              response.body = std::to_string(probe->bytes.load());
              response.headers = {
                  {"X-Method", request.method},
                  {"X-Content-Length", std::string(request.Header("content-length"))},
                  {"X-Expect", std::string(request.Header("expect"))}};
              respond(std::move(response));
            },
            testing::TestOptions(), nullptr,
            [probe = probe_](const Request&, uint64_t* max_bytes, std::optional<Response>*) {
              *max_bytes = uint64_t{1} << 30;
              return std::make_shared<PatternSink>(probe);
            }) {}

  std::string url(std::string_view path) const { return server_.url(path); }

 private:
  std::shared_ptr<Probe> probe_;
  TestServer server_;
};

TEST(ClientTest, ConnectionRefusedIsUnavailable) {
  const std::string url = "http://127.0.0.1:" + std::to_string(testing::UnusedPort()) + "/";
  auto response = NewClient()->Get(url);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnavailable);
  EXPECT_TRUE(response.status().message().starts_with("cannot connect to " + url + ": "))
      << response.status().message();
}

TEST(ClientTest, SlowServerTimesOutAsUnavailable) {
  // A listening socket that is never accepted from: the connection
  // completes in the kernel, but no response ever comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/x";

  ClientOptions options;
  options.timeout = 200ms;
  const auto start = std::chrono::steady_clock::now();
  auto response = NewClient(options)->Get(url);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ::close(fd);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnavailable);
  EXPECT_EQ(response.status().message(), "request to " + url + " timed out after 200 ms");
  EXPECT_LT(elapsed, 2s);
}

TEST(ClientTest, BadUrlIsIoError) {
  auto response = NewClient()->Get("nosuchscheme://x/");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kIoError);
}

TEST(ClientTest, RejectsInvalidRequests) {
  auto client = NewClient();
  auto get_with_body = client->Send("GET", "http://127.0.0.1:1/", "body");
  EXPECT_EQ(get_with_body.status().code(), Code::kInvalidArgument);
  auto bad_header = client->Send("PUT", "http://127.0.0.1:1/", "", {{"X-A", "1\r\nX-B: 2"}});
  EXPECT_EQ(bad_header.status().code(), Code::kInvalidArgument);
  auto bad_method = client->Send("GET /x", "http://127.0.0.1:1/");
  EXPECT_EQ(bad_method.status().code(), Code::kInvalidArgument);
}

TEST(ClientTest, EmptyBodiesSendContentLengthZero) {
  TestServer server(Echo);
  auto client = NewClient();
  for (const std::string method : {"PUT", "POST", "DELETE"}) {
    SCOPED_TRACE(method);
    auto response = client->Send(method, server.url("/e"));
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->Header("x-method"), method);
    EXPECT_EQ(response->Header("x-content-length"), "0");
    EXPECT_EQ(response->Header("x-content-type"), "");  // not a form
  }
  auto get = client->Get(server.url("/e"));
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->Header("x-content-length"), "");
}

TEST(ClientTest, BodiesRoundTripByteExact) {
  TestServer server(Echo);
  auto client = NewClient();
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  auto response = client->Put(server.url("/bin"), binary);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->body, binary);
  EXPECT_EQ(response->Header("x-content-type"), "application/json");

  std::string large(3 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>('a' + i % 26);
  response = client->Post(server.url("/large"), large);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->body.size(), large.size());
  EXPECT_TRUE(response->body == large);
}

TEST(ClientTest, CustomMethodsAndHeaders) {
  TestServer server(Echo);
  auto client = NewClient();
  auto response = client->Send("OPTIONS", server.url("/o"), {}, {{"X-Test", "t1"}});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->Header("x-method"), "OPTIONS");
  EXPECT_EQ(response->Header("x-test"), "t1");
  // Headers of one request do not leak into the next.
  response = client->Get(server.url("/o"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->Header("x-method"), "GET");
  EXPECT_EQ(response->Header("x-test"), "");
}

TEST(ClientTest, ErrorStatusesAreResponses) {
  TestServer server([](const Request&, const Responder& respond) {
    Response response;
    response.status = 404;
    response.body = R"({"code":"notFound","message":"no such thing"})";
    respond(std::move(response));
  });
  auto response = NewClient()->Get(server.url("/missing"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->body, R"({"code":"notFound","message":"no such thing"})");
}

TEST(ClientStreamTest, UploadsFromASourceWithAnyMethod) {
  auto probe = std::make_shared<Probe>();
  UploadServer server(probe);
  auto client = NewClient();
  PatternSource source(3 * kMiB, std::make_shared<Probe>());
  auto response = client->Stream("POST", server.url("/files/f"), {}, &source, nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, std::to_string(3 * kMiB));
  EXPECT_EQ(response->Header("x-method"), "POST");
  EXPECT_EQ(response->Header("x-content-length"), std::to_string(3 * kMiB));
  // So that a server may refuse it before it is sent.
  EXPECT_EQ(response->Header("x-expect"), "100-continue");
  EXPECT_EQ(probe->bytes, 3 * kMiB);
  EXPECT_EQ(probe->mismatches, 0u);

  PatternSource empty(0, std::make_shared<Probe>());
  response = client->Stream("PUT", server.url("/files/e"), {{"Expect", ""}}, &empty, nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->Header("x-method"), "PUT");
  EXPECT_EQ(response->Header("x-content-length"), "0");
  EXPECT_EQ(response->Header("x-expect"), "");
}

TEST(ClientStreamTest, DownloadsA2xxBodyIntoTheSink) {
  TestServer server(ServeSource(5 * kMiB + 7));
  auto probe = std::make_shared<Probe>();
  PatternSink sink(probe);
  auto response = NewClient()->Stream("GET", server.url("/f"), {}, nullptr, &sink);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "");
  EXPECT_EQ(probe->bytes, 5 * kMiB + 7);
  EXPECT_EQ(probe->mismatches, 0u);
}

TEST(ClientStreamTest, TheSinkSeesStatusAndHeadersBeforeTheBody) {
  TestServer server(ServeSource(1000));
  // A sink that checks what it is about to receive, as a resumed download
  // checks for 206, and refuses it.
  struct Checking : BodySink {
    int status = 0;
    std::string length;
    int writes = 0;
    Status Begin(int s, const Headers& headers) override {
      status = s;
      for (const auto& [name, value] : headers) {
        if (name == "Content-Length") length = value;
      }
      return Status::Conflict("not what was asked for");
    }
    Status Write(std::string_view) override {
      ++writes;
      return Status::OK();
    }
  } sink;
  auto response = NewClient()->Stream("GET", server.url("/f"), {}, nullptr, &sink);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().message(), "not what was asked for");
  EXPECT_EQ(sink.status, 200);
  EXPECT_EQ(sink.length, "1000");
  EXPECT_EQ(sink.writes, 0);
}

TEST(ClientStreamTest, ANon2xxBodyGoesIntoBodyNotTheSink) {
  TestServer server([](const Request& request, const Responder& respond) {
    Response response;
    response.status = request.path == "/big" ? 500 : 404;
    response.body = request.path == "/big" ? PatternString(3 * kMiB)
                                           : R"({"code":"notFound","message":"no such file"})";
    respond(std::move(response));
  });
  auto client = NewClient();
  auto probe = std::make_shared<Probe>();
  PatternSink sink(probe);
  auto response = client->Stream("GET", server.url("/missing"), {}, nullptr, &sink);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->body, R"({"code":"notFound","message":"no such file"})");
  // At most 1 MiB of it is kept.
  response = client->Stream("GET", server.url("/big"), {}, nullptr, &sink);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body.size(), kMiB);
  EXPECT_TRUE(response->body == PatternString(kMiB));
  EXPECT_EQ(probe->calls, 0);
}

TEST(ClientStreamTest, WithoutSinkOrSourceItIsLikeSend) {
  TestServer server(Echo);
  auto response =
      NewClient()->Stream("DELETE", server.url("/x"), {{"X-Test", "t"}}, nullptr, nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("x-method"), "DELETE");
  EXPECT_EQ(response->Header("x-test"), "t");
  EXPECT_EQ(response->Header("x-content-length"), "0");
}

TEST(ClientStreamTest, SinkAndSourceErrorsAreReturnedAsIs) {
  TestServer download_server(ServeSource(8 * kMiB));
  auto client = NewClient();
  PatternSink failing_sink(std::make_shared<Probe>(),
                           Faults{.fail_at = kMiB, .failure = Status::IoError("disk full")});
  auto response = client->Stream("GET", download_server.url("/f"), {}, nullptr, &failing_sink);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kIoError);
  EXPECT_EQ(response.status().message(), "disk full");

  auto probe = std::make_shared<Probe>();
  UploadServer upload_server(probe);
  PatternSource failing_source(
      8 * kMiB, std::make_shared<Probe>(),
      Faults{.fail_at = kMiB, .failure = Status::Corruption("bad sector")});
  response = client->Stream("PUT", upload_server.url("/f"), {}, &failing_source, nullptr);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kCorruption);
  EXPECT_EQ(response.status().message(), "bad sector");
  // The server dropped the sink of the upload cut short.
  EXPECT_TRUE(WaitUntil([&] { return probe->destroyed.load(); }));

  // A source that ends before its size is an error too.
  PatternSource short_source(2 * kMiB, std::make_shared<Probe>(), Faults{.end_at = kMiB});
  response = client->Stream("PUT", upload_server.url("/f"), {}, &short_source, nullptr);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kInternal);
  EXPECT_NE(response.status().message().find("upload source gave 0 bytes"), std::string::npos)
      << response.status().message();

  // The client is still good.
  auto after = client->Get(download_server.url("/f"));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->body.size(), 8 * kMiB);
}

TEST(ClientStreamTest, SendAfterStreamHasItsNormalOptions) {
  TestServer server(Echo);
  auto probe = std::make_shared<Probe>();
  UploadServer upload_server(probe);
  auto client = NewClient();
  PatternSource source(kMiB, std::make_shared<Probe>());
  auto streamed = client->Stream("POST", upload_server.url("/f"), {}, &source, nullptr);
  ASSERT_TRUE(streamed.ok()) << streamed.status().ToString();
  EXPECT_EQ(streamed->status, 200);

  auto get = client->Get(server.url("/g"));
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(get->Header("x-method"), "GET");
  EXPECT_EQ(get->Header("x-content-length"), "");
  EXPECT_EQ(get->body, "");
  auto put = client->Put(server.url("/p"), "small");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->Header("x-method"), "PUT");
  EXPECT_EQ(put->body, "small");
  EXPECT_EQ(put->Header("x-content-type"), "application/json");
}

TEST(ClientStreamTest, AStalledTransferTimesOut) {
  std::promise<Responder> parked;
  TestServer server(
      [&](const Request&, Responder respond) { parked.set_value(std::move(respond)); });
  ClientOptions options;
  options.timeout = 1s;
  auto probe = std::make_shared<Probe>();
  PatternSink sink(probe);
  auto response = NewClient(options)->Stream("GET", server.url("/never"), {}, nullptr, &sink);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnavailable);
  EXPECT_NE(response.status().message().find("stalled: no byte moved for 1000 ms"),
            std::string::npos)
      << response.status().message();
  // Answered for the server's sake: the connection closes.
  parked.get_future().get()(Response{});
}

TEST(ClientStreamTest, RejectsABodyOnGetOrHead) {
  auto client = NewClient();
  PatternSource source(10, std::make_shared<Probe>());
  for (const std::string method : {"GET", "HEAD"}) {
    auto response = client->Stream(method, "http://127.0.0.1:1/", {}, &source, nullptr);
    EXPECT_EQ(response.status().code(), Code::kInvalidArgument) << method;
  }
}

TEST(HeaderTest, LookupIsCaseInsensitiveAndFirstWins) {
  ClientResponse response;
  response.headers = {{"Content-Type", "a"}, {"X-Dup", "1"}, {"x-dup", "2"}};
  EXPECT_EQ(response.Header("content-type"), "a");
  EXPECT_EQ(response.Header("CONTENT-TYPE"), "a");
  EXPECT_EQ(response.Header("x-DUP"), "1");
  EXPECT_EQ(response.Header("content-typ"), "");
  EXPECT_EQ(response.Header(""), "");

  Request request;
  request.headers = {{"If-Match", "\"v\""}};
  EXPECT_EQ(request.Header("if-match"), "\"v\"");
  EXPECT_EQ(request.Header("if-none-match"), "");
}

TEST(UrlTest, EncodeTable) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},         {"abcXYZ019-._~", "abcXYZ019-._~"},       {"a b", "a%20b"},
      {"a+b", "a%2Bb"}, {"a/b?c=d&e#f", "a%2Fb%3Fc%3Dd%26e%23f"}, {"100%", "100%25"},
      {"é", "%C3%A9"},  {std::string("\0\xff", 2), "%00%FF"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(UrlEncode(in), out) << in;
}

TEST(UrlTest, DecodeTable) {
  const std::tuple<std::string, bool, std::string> cases[] = {
      {"", false, ""},
      {"a%20b", false, "a b"},
      {"a+b", false, "a+b"},
      {"a+b", true, "a b"},
      {"%2b%2B", true, "++"},
      {"%C3%A9", false, "é"},
      {"%00", false, std::string(1, '\0')},
      {"plain-text_~.", false, "plain-text_~."},
  };
  for (const auto& [in, plus, out] : cases) {
    auto decoded = UrlDecode(in, plus);
    ASSERT_TRUE(decoded.ok()) << in;
    EXPECT_EQ(*decoded, out) << in;
  }
  for (const std::string bad : {"%", "%2", "a%zz", "%g0", "%0g", "abc%"}) {
    auto decoded = UrlDecode(bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.status().code(), Code::kInvalidArgument);
  }
}

TEST(UrlTest, EncodeThenDecodeIsIdentity) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  auto decoded = UrlDecode(UrlEncode(all));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, all);
}

}  // namespace
}  // namespace braid::http
