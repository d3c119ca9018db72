#include "base/compress.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace braid {

// Names codecs in parameterized test output (found by argument-dependent lookup).
static void PrintTo(Codec codec, std::ostream* os) { *os << CodecName(codec); }

namespace {

constexpr size_t kMiB = 1024 * 1024;
// Generous, so only the limit tests ever hit it.
constexpr size_t kNoLimit = 256 * kMiB;

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Replication-chunk-like JSON: repetitive structure, varying values.
std::string JsonLike(size_t n) {
  std::string s = "[";
  for (int i = 0; s.size() < n; ++i) {
    s += "{\"id\":\"notes/n" + std::to_string(i) + "\",\"rev\":\"" + std::to_string(i * 7919) +
         "\",\"body\":{\"title\":\"note " + std::to_string(i) +
         "\",\"done\":false,\"tags\":[\"a\",\"b\"]}},";
  }
  s.resize(n);
  return s;
}

std::string MustCompress(Codec codec, std::string_view in, int level = 1) {
  std::string out;
  const Status s = Compress(codec, in, &out, level);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// Decompresses into a fresh string; the status is returned, the output
// stored in *out.
Status Inflate(Codec codec, std::string_view in, std::string* out, size_t max_out = kNoLimit) {
  out->clear();
  return Decompress(codec, in, out, max_out);
}

// Linux peak-RSS accounting: /proc/self/status fields in kB, -1 if absent.
long ProcStatusKb(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0). False when not possible.
bool ResetPeakRss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return clear.good() && ProcStatusKb("VmHWM") >= 0;
}

class CodecTest : public testing::TestWithParam<Codec> {};

TEST_P(CodecTest, RoundTripsEmptySmallRandomAndRepetitiveData) {
  const std::vector<std::string> inputs = {
      "", "a", "hello, world", RandomBytes(1 * kMiB, 1), JsonLike(1 * kMiB), std::string(kMiB, 'x'),
  };
  for (const std::string& in : inputs) {
    SCOPED_TRACE("input size " + std::to_string(in.size()));
    // Both directions append to what the buffer already holds.
    std::string compressed = "prefix";
    ASSERT_TRUE(Compress(GetParam(), in, &compressed).ok());
    ASSERT_TRUE(compressed.starts_with("prefix"));
    std::string out = "head:";
    const Status s = Decompress(GetParam(), std::string_view(compressed).substr(6), &out, kNoLimit);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(out.size(), in.size() + 5);
    EXPECT_TRUE(out == "head:" + in);
  }
}

TEST_P(CodecTest, EveryLevelRoundTrips) {
  const std::string in = JsonLike(64 * 1024);
  for (const int level : {-5, 0, 1, 3, 9, 19, 100}) {
    SCOPED_TRACE("level " + std::to_string(level));
    std::string out;
    ASSERT_TRUE(Inflate(GetParam(), MustCompress(GetParam(), in, level), &out).ok());
    EXPECT_TRUE(out == in);
  }
}

TEST_P(CodecTest, TheOutputLimitIsExact) {
  const std::string in = JsonLike(200 * 1024);
  const std::string compressed = MustCompress(GetParam(), in);
  std::string out;
  EXPECT_TRUE(Inflate(GetParam(), compressed, &out, in.size()).ok());
  EXPECT_TRUE(out == in);

  out = "kept";
  const Status s = Decompress(GetParam(), compressed, &out, in.size() - 1);
  EXPECT_EQ(s.code(), Code::kPayloadTooLarge);
  EXPECT_EQ(s.message(),
            "decompressed body is larger than " + std::to_string(in.size() - 1) + " bytes");
  EXPECT_EQ(out, "kept");  // untouched on error
}

TEST_P(CodecTest, EmptyOutputFitsAZeroLimit) {
  std::string out;
  EXPECT_TRUE(Inflate(GetParam(), MustCompress(GetParam(), ""), &out, 0).ok());
  EXPECT_EQ(out, "");
  EXPECT_EQ(Inflate(GetParam(), MustCompress(GetParam(), "a"), &out, 0).code(),
            Code::kPayloadTooLarge);
}

TEST_P(CodecTest, ConcurrentUseFromManyThreadsIsSafe) {
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string in = JsonLike(static_cast<size_t>(1000 + 997 * t + 31 * i));
        std::string compressed;
        std::string out;
        if (!Compress(GetParam(), in, &compressed).ok() ||
            !Decompress(GetParam(), compressed, &out, kNoLimit).ok() || out != in) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

INSTANTIATE_TEST_SUITE_P(Compress, CodecTest,
                         testing::Values(Codec::kIdentity, Codec::kZstd, Codec::kGzip),
                         [](const testing::TestParamInfo<Codec>& info) {
                           return std::string(CodecName(info.param));
                         });

// The codecs proper (not identity).
class CompressorTest : public testing::TestWithParam<Codec> {
 protected:
  Codec codec() const { return GetParam(); }
  std::string CorruptPrefix() const {
    return "corrupt " + std::string(CodecName(codec())) + " data: ";
  }
  void ExpectCorrupt(const Status& s) const {
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
    EXPECT_TRUE(s.message().starts_with(CorruptPrefix())) << s.message();
  }
};

TEST_P(CompressorTest, ShrinksRepetitiveData) {
  const std::string json = JsonLike(1 * kMiB);
  EXPECT_LT(MustCompress(codec(), json).size(), json.size() / 4);
  const std::string run(kMiB, 'x');
  EXPECT_LT(MustCompress(codec(), run).size(), run.size() / 100);
  // Incompressible data grows by no more than framing.
  const std::string random = RandomBytes(kMiB, 2);
  EXPECT_LT(MustCompress(codec(), random).size(), random.size() + random.size() / 100);
}

// A 100 MiB run of zeros compresses to ~100 KB (gzip) or a few KB (zstd).
// Decompressing it under a 1 MiB limit must fail without producing, or
// reserving room for, the whole body.
TEST_P(CompressorTest, ZipBombStopsAtTheLimit) {
  std::string bomb;
  {
    const std::string zeros(100 * kMiB, '\0');
    bomb = MustCompress(codec(), zeros);
  }
  ASSERT_LT(bomb.size(), 1 * kMiB);  // gzip -1 reaches ~230:1, zstd far more

  const bool measure_rss = ResetPeakRss();
  const long rss_before_kb = ProcStatusKb("VmRSS");
  std::string out;
  const Status s = Decompress(codec(), bomb, &out, 1 * kMiB);
  const long peak_kb = ProcStatusKb("VmHWM");

  EXPECT_EQ(s.code(), Code::kPayloadTooLarge) << s.ToString();
  EXPECT_EQ(s.message(), "decompressed body is larger than 1048576 bytes");
  EXPECT_EQ(out.size(), 0u);
  // The frame's claimed size (100 MiB) sizes nothing beyond the limit.
  EXPECT_LE(out.capacity(), 4 * kMiB);
  if (measure_rss) {
    // Decoding all of it would touch 100 MiB; bounded decoding a few MiB.
    EXPECT_LT(peak_kb - rss_before_kb, 32 * 1024)
        << "peak RSS grew by " << peak_kb - rss_before_kb << " kB";
  } else {
    std::cerr << "note: /proc/self/clear_refs unavailable; peak RSS not checked\n";
  }
}

TEST_P(CompressorTest, EmptyInputIsCorrupt) {
  std::string out;
  ExpectCorrupt(Inflate(codec(), "", &out));
}

TEST_P(CompressorTest, EveryTruncationIsCorrupt) {
  const std::string compressed = MustCompress(codec(), JsonLike(20000));
  for (size_t n = 0; n < compressed.size(); ++n) {
    SCOPED_TRACE("prefix of " + std::to_string(n) + " bytes");
    std::string out;
    ExpectCorrupt(Inflate(codec(), std::string_view(compressed).substr(0, n), &out));
    EXPECT_EQ(out, "");
  }
}

TEST_P(CompressorTest, TrailingDataIsCorrupt) {
  const std::string compressed = MustCompress(codec(), "some body");
  std::string out;
  ExpectCorrupt(Inflate(codec(), compressed + "x", &out));
  ExpectCorrupt(Inflate(codec(), compressed + std::string(1, '\0'), &out));
  // A second complete frame is trailing data too: one body is one frame.
  ExpectCorrupt(Inflate(codec(), compressed + compressed, &out));
}

// Flipping any bit either is detected (the checksum covers the content) or
// lands in a field that does not change the output (gzip's mtime, OS byte).
// It never yields different data.
TEST_P(CompressorTest, FlippedBitsAreDetected) {
  const std::string in = JsonLike(4000) + RandomBytes(1000, 3);
  const std::string compressed = MustCompress(codec(), in);
  int detected = 0;
  int total = 0;
  for (size_t pos = 0; pos < compressed.size(); ++pos) {
    for (const unsigned char mask : {0x01, 0x10, 0x80, 0xFF}) {
      std::string damaged = compressed;
      damaged[pos] = static_cast<char>(damaged[pos] ^ mask);
      std::string out;
      const Status s = Inflate(codec(), damaged, &out);
      ++total;
      if (s.ok()) {
        EXPECT_TRUE(out == in) << "undetected corruption at byte " << pos << " mask " << +mask;
      } else {
        ++detected;
        ExpectCorrupt(s);
        EXPECT_EQ(out, "");
      }
    }
  }
  // Only a handful of header bytes are not covered.
  EXPECT_GT(detected, total * 95 / 100);
  // The middle of the body is covered.
  std::string damaged = compressed;
  damaged[damaged.size() / 2] ^= 0x20;
  std::string out;
  ExpectCorrupt(Inflate(codec(), damaged, &out));
}

TEST_P(CompressorTest, RandomJunkIsCorrupt) {
  std::mt19937_64 rng(4);
  // Keep the magic bytes so the decoder gets past the first check.
  const std::string header = MustCompress(codec(), "x").substr(0, codec() == Codec::kZstd ? 4 : 10);
  for (int i = 0; i < 2000; ++i) {
    std::string junk = RandomBytes(rng() % 600, rng());
    if (i % 2 == 0) junk = header + junk;
    std::string out;
    ExpectCorrupt(Inflate(codec(), junk, &out));
  }
}

TEST_P(CompressorTest, OtherCodecsDataIsCorrupt) {
  const Codec other = codec() == Codec::kZstd ? Codec::kGzip : Codec::kZstd;
  std::string out;
  ExpectCorrupt(Inflate(codec(), MustCompress(other, "body"), &out));
  ExpectCorrupt(Inflate(codec(), "plain text body", &out));
}

INSTANTIATE_TEST_SUITE_P(Compress, CompressorTest, testing::Values(Codec::kZstd, Codec::kGzip),
                         [](const testing::TestParamInfo<Codec>& info) {
                           return std::string(CodecName(info.param));
                         });

// A zstd frame's header declares its content size, which sizes the first
// decoding step. A frame whose header lies (more or fewer bytes than it
// holds) is refused, leaves the output as it was, and a huge claim
// allocates no more than the limit.
TEST(CompressTest, AZstdFrameThatLiesAboutItsSizeIsRefused) {
  const std::string text = JsonLike(100'000);
  const std::string frame = MustCompress(Codec::kZstd, text);
  // Magic number, then the frame header descriptor: a single-segment frame
  // (bit 5) whose content size is a 4-byte field (flag 2) right after it.
  ASSERT_GT(frame.size(), 9u);
  const auto descriptor = static_cast<unsigned char>(frame[4]);
  ASSERT_EQ(descriptor >> 6, 2) << "expected a 4-byte content size field";
  ASSERT_TRUE(descriptor & 0x20) << "expected a single-segment frame";
  auto claiming = [&frame](uint32_t size) {
    std::string f = frame;
    for (int i = 0; i < 4; ++i) f[5 + i] = static_cast<char>(size >> (8 * i));
    return f;
  };
  std::string out;
  ASSERT_TRUE(Inflate(Codec::kZstd, claiming(static_cast<uint32_t>(text.size())), &out).ok());
  EXPECT_EQ(out, text);
  for (const uint32_t claim :
       {static_cast<uint32_t>(text.size() / 2), static_cast<uint32_t>(text.size() + 1),
        static_cast<uint32_t>(0xFFFFFFFF)}) {
    SCOPED_TRACE("claims " + std::to_string(claim) + " bytes");
    out = "kept";
    const Status s = Decompress(Codec::kZstd, claiming(claim), &out, 1 * kMiB);
    EXPECT_FALSE(s.ok());
    EXPECT_TRUE(s.code() == Code::kInvalidArgument || s.code() == Code::kPayloadTooLarge)
        << s.ToString();
    EXPECT_EQ(out, "kept");
    EXPECT_LE(out.capacity(), 4 * kMiB);
  }
}

TEST(CompressTest, IdentityCopiesAndHonorsTheLimit) {
  std::string out = "a";
  ASSERT_TRUE(Compress(Codec::kIdentity, "bc", &out).ok());
  EXPECT_EQ(out, "abc");
  ASSERT_TRUE(Decompress(Codec::kIdentity, "de", &out, 2).ok());
  EXPECT_EQ(out, "abcde");
  const Status s = Decompress(Codec::kIdentity, "fgh", &out, 2);
  EXPECT_EQ(s.code(), Code::kPayloadTooLarge);
  EXPECT_EQ(s.message(), "decompressed body is larger than 2 bytes");
  EXPECT_EQ(out, "abcde");
}

TEST(CompressTest, NegotiatePicksTheFirstPreferredCodecOffered) {
  struct Case {
    std::vector<Codec> preferred;
    std::string_view offered;
    Codec want;
  };
  const std::vector<Codec> zstd_first = {Codec::kZstd, Codec::kGzip};
  const std::vector<Codec> gzip_first = {Codec::kGzip, Codec::kZstd};
  const Case cases[] = {
      {zstd_first, "zstd, gzip", Codec::kZstd},
      {zstd_first, "gzip;q=0.5, zstd", Codec::kZstd},
      {zstd_first, "GZIP", Codec::kGzip},
      {zstd_first, "br", Codec::kIdentity},
      {zstd_first, "", Codec::kIdentity},
      {gzip_first, "zstd, gzip", Codec::kGzip},
      {zstd_first, " br ,\tZstd ; q=1 ", Codec::kZstd},
      {zstd_first, "gzip,zstd", Codec::kZstd},
      {zstd_first, ",, ,", Codec::kIdentity},
      {zstd_first, "zstdx, xgzip, gzi", Codec::kIdentity},
      {zstd_first, "identity", Codec::kIdentity},
      {{}, "zstd, gzip", Codec::kIdentity},
      {{Codec::kGzip}, "zstd", Codec::kIdentity},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Negotiate(c.preferred, c.offered), c.want) << "offered \"" << c.offered << "\"";
  }
}

TEST(CompressTest, ParseCodecAndCodecNameAgree) {
  for (const Codec codec : {Codec::kIdentity, Codec::kZstd, Codec::kGzip}) {
    const Result<Codec> parsed = ParseCodec(CodecName(codec));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, codec);
  }
  EXPECT_EQ(CodecName(Codec::kIdentity), "identity");
  EXPECT_EQ(CodecName(Codec::kZstd), "zstd");
  EXPECT_EQ(CodecName(Codec::kGzip), "gzip");
  EXPECT_EQ(ParseCodec("ZSTD").value_or(Codec::kIdentity), Codec::kZstd);
  EXPECT_EQ(ParseCodec("Gzip").value_or(Codec::kIdentity), Codec::kGzip);
  for (const std::string_view bad : {"br", "", "zstd ", "x-gzip", "deflate"}) {
    const Result<Codec> parsed = ParseCodec(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(),
              "unknown compression codec \"" + std::string(bad) + "\": use identity, zstd or gzip");
  }
}

}  // namespace
}  // namespace braid
