#include "http/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "http/test_util.h"

namespace braid::http {
namespace {

using namespace std::chrono_literals;
using testing::Echo;
using testing::NewClient;
using testing::TestServer;

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
