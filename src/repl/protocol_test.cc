#include "repl/protocol.h"

#include <gtest/gtest.h>

namespace braid::repl {
namespace {

InstanceId Id(char c) { return *InstanceId::FromHex(std::string(32, c)); }

TEST(ProtocolTest, HandshakeRoundTrips) {
  HandshakeRequest req;
  req.instance_id = Id('a');
  req.direction = Direction::kPull;
  req.filter = {"lab_a"};
  req.fsic.Set(Id('b'), 7);
  req.chunk_size = 100;
  req.compression = {"zstd", "gzip"};
  auto back = ParseHandshakeRequest(HandshakeRequestJson(req));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->instance_id, req.instance_id);
  EXPECT_EQ(back->direction, Direction::kPull);
  EXPECT_EQ(back->filter, req.filter);
  EXPECT_EQ(back->fsic, req.fsic);
  EXPECT_EQ(back->chunk_size, 100u);
  EXPECT_EQ(back->compression, req.compression);

  HandshakeResponse resp;
  resp.session = "s1";
  resp.instance_id = Id('c');
  resp.fsic.Set(Id('c'), 3);
  resp.compression = "zstd";
  resp.pull_pending = 42;
  auto rb = ParseHandshakeResponse(HandshakeResponseJson(resp));
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(rb->session, "s1");
  EXPECT_EQ(rb->pull_pending, 42u);
  EXPECT_EQ(rb->fsic, resp.fsic);
}

// Revocation members appear only when the client sent a digest, so an
// older client, which does not know them, never gets them.
TEST(ProtocolTest, RevocationDigestsRoundTripOnlyWhenSent) {
  HandshakeRequest req;
  req.instance_id = Id('c');
  EXPECT_EQ(HandshakeRequestJson(req).find("revocations"), std::string::npos);
  req.revocations_digest = std::string(64, 'a');
  auto back = ParseHandshakeRequest(HandshakeRequestJson(req));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->revocations_digest, req.revocations_digest);
  HandshakeResponse resp;
  resp.session = "s";
  resp.instance_id = Id('e');
  EXPECT_EQ(HandshakeResponseJson(resp).find("revocations"), std::string::npos);
  resp.revocations_digest = "";
  resp.revocations = {R"({"braid_revocation":1})"};
  auto rb = ParseHandshakeResponse(HandshakeResponseJson(resp));
  ASSERT_TRUE(rb.ok()) << rb.status().ToString();
  EXPECT_EQ(rb->revocations_digest, std::string());
  EXPECT_EQ(rb->revocations, resp.revocations);
  for (const char* bad : {R"({"protocol":1,"instance_id":"00000000000000000000000000000063",)"
                          R"("fsic":{},"revocations_digest":"xyz"})",
                          R"({"protocol":1,"instance_id":"00000000000000000000000000000063",)"
                          R"("fsic":{},"revocations_digest":7})"}) {
    EXPECT_EQ(ParseHandshakeRequest(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(ProtocolTest, ASessionsFirstChunksAreSmaller) {
  EXPECT_EQ(RampedChunkSize(50000, 0), kFirstChunkRecords);
  EXPECT_EQ(RampedChunkSize(50000, 1), 2 * kFirstChunkRecords);
  EXPECT_EQ(RampedChunkSize(50000, 3), 8 * kFirstChunkRecords);
  EXPECT_EQ(RampedChunkSize(50000, 4), 16 * kFirstChunkRecords);
  EXPECT_EQ(RampedChunkSize(50000, 5), 50000u);
  EXPECT_EQ(RampedChunkSize(50000, 1000), 50000u);
  EXPECT_EQ(RampedChunkSize(3000, 0), 2500u);
  EXPECT_EQ(RampedChunkSize(3000, 1), 3000u);
  EXPECT_EQ(RampedChunkSize(500, 0), 500u);
  EXPECT_EQ(RampedChunkSize(1, 7), 1u);
}

TEST(ProtocolTest, BadHandshakesAreRefused) {
  const std::string id(32, 'a');
  for (const std::string& bad : std::vector<std::string>{
           std::string("not json"),
           std::string("[]"),
           R"({"protocol":1,"instance_id":")" + id + R"("})",  // no fsic
           R"({"protocol":1,"instance_id":"zz","fsic":{}})",
           R"({"protocol":1,"instance_id":")" + id + R"(","fsic":{},"filter":["a::b"]})",
           R"({"protocol":1,"instance_id":")" + id + R"(","fsic":{},"chunk_size":0})",
           R"({"protocol":1,"instance_id":")" + id + R"(","fsic":{},"chunk_size":)" +
               std::to_string(kMaxChunkSize + 1) + "}",
           R"({"protocol":1,"instance_id":")" + id + R"(","fsic":{},"direction":"sideways"})",
           R"({"protocol":1,"instance_id":")" + id + R"(","fsic":{},"colour":1})",
       }) {
    EXPECT_EQ(ParseHandshakeRequest(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

// The number was cast to int, so 2^32 + 1 passed for protocol 1;
// protocol_fuzzer checks it too (fuzz/regressions/protocol_fuzzer/).
TEST(ProtocolTest, ProtocolNumbersOutsideIntAreRefusedNotWrapped) {
  const std::string id(32, 'a');
  for (const std::string protocol : {"4294967297", "-4294967295", "9223372036854775807"}) {
    SCOPED_TRACE(protocol);
    auto req = ParseHandshakeRequest(R"({"protocol":)" + protocol + R"(,"instance_id":")" + id +
                                     R"(","fsic":{}})");
    EXPECT_EQ(req.status().code(), Code::kInvalidArgument);
    EXPECT_NE(req.status().message().find("protocol must be a 32-bit integer"), std::string::npos)
        << req.status().message();
    auto resp = ParseHandshakeResponse(R"({"session":"s","protocol":)" + protocol +
                                       R"(,"instance_id":")" + id + R"(","fsic":{}})");
    EXPECT_EQ(resp.status().code(), Code::kInvalidArgument);
  }
  auto req =
      ParseHandshakeRequest(R"({"protocol":2147483647,"instance_id":")" + id + R"(","fsic":{}})");
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(req->protocol, 2147483647);
}

TEST(ProtocolTest, FiltersAreNormalized) {
  auto f = NormalizeFilter({"lab_b", "lab_a:x", "lab_a", "lab_b"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, (std::vector<std::string>{"lab_a", "lab_b"}));
  EXPECT_FALSE(NormalizeFilter({"bad prefix"}).ok());
  // Deeper prefixes under a kept one go; siblings and look-alikes stay.
  auto deep = NormalizeFilter({"a:b:c", "a:b", "a:bc", "ab", "a:b:c:d", "x:y"});
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(*deep, (std::vector<std::string>{"a:b", "a:bc", "ab", "x:y"}));
  // A filter of many prefixes is refused before any work on it.
  std::vector<std::string> many(kMaxFilterPrefixes + 1, "p");
  EXPECT_EQ(NormalizeFilter(many).status().code(), Code::kInvalidArgument);
  std::vector<std::string> most;
  for (size_t i = 0; i < kMaxFilterPrefixes; ++i) most.push_back("p" + std::to_string(i));
  EXPECT_EQ(NormalizeFilter(most)->size(), kMaxFilterPrefixes);
}

TEST(ProtocolTest, ChunksRoundTripAndMalformedOnesAreRefused) {
  Chunk c;
  Record r;
  r.collection = "notes";
  r.id = "n1";
  r.partition = "notes";
  r.version = {Id('a'), 3};
  r.vv.Set(Id('a'), 3);
  r.hlc = 99;
  r.body = R"({"x":1})";
  c.records.push_back(r);
  c.complete_to = {{Id('a'), 3}};
  c.next = Position{Id('b'), 0};
  c.pending = 10;
  auto back = ParseChunk(ChunkJson(c));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->records.size(), 1u);
  EXPECT_EQ(back->records[0].body, r.body);
  EXPECT_EQ(back->complete_to, c.complete_to);
  EXPECT_EQ(back->next, c.next);
  for (const std::string& bad : {std::string("{"), std::string(R"({"records":[]})"),
                                 std::string(R"({"records":{},"next":null})"),
                                 std::string(R"({"records":[{"id":1}],"next":null})"),
                                 std::string(R"({"records":[],"next":{"origin":"x"}})"),
                                 std::string(R"({"records":[],"next":null,"extra":1})")}) {
    auto parsed = ParseChunk(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find("malformed chunk"), std::string::npos);
  }
}

// Chunks are read in one pass; the bodies come out as NormalizeBody makes
// them, and what NormalizeBody would refuse is refused while reading.
TEST(ProtocolTest, ChunkBodiesAreCheckedAndMinifiedWhileRead) {
  const std::string record_head =
      R"({"collection":"notes","id":"n1","partition":"notes","deleted":false,)"
      R"("version":")" +
      std::string(32, 'a') + R"(:1","hlc":5,"body":)";
  auto chunk = [&](const std::string& body) {
    return R"( { "records" : [ )" + record_head + body + R"( } ] , "next" : null } )";
  };
  auto ok = ParseChunk(chunk(R"( { "b" : [ 1 , 2 ] , "a" : "x" } )"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->records.size(), 1u);
  EXPECT_EQ(ok->records[0].body, R"({"b":[1,2],"a":"x"})");
  EXPECT_EQ(ok->records[0].vv.Get(Id('a')), 1u);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"a":1,"a":2})", "records[0]: record body has the field \"a\" twice"},
      {R"({"a":1,"\u0061":2})", "records[0]: record body has the field \"a\" twice"},
      {"[1]", "records[0]: record member \"body\" must be a JSON object"},
      {R"({"a":tru})", "records[0]: invalid JSON at byte"},
      {R"({"a":"\xff"})", "records[0]: invalid JSON at byte"},
  };
  for (const auto& [body, message] : bad) {
    SCOPED_TRACE(body);
    auto parsed = ParseChunk(chunk(body));
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("malformed chunk: " + message), std::string::npos)
        << parsed.status().message();
  }
  // Nested objects may repeat a name at another level; only fields count.
  EXPECT_TRUE(ParseChunk(chunk(R"({"a":{"x":1},"b":{"x":2}})")).ok());
  // Trailing bytes after the chunk are refused.
  EXPECT_FALSE(ParseChunk(chunk("{}") + "x").ok());
}

}  // namespace
}  // namespace braid::repl
