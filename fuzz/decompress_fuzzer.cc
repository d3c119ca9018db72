// Decompression of transfer bodies (src/base/compress.h): push chunks from
// clients and pull chunks from servers arrive zstd- or gzip-compressed, and
// a hostile peer may send anything, including small bombs.
//
// Input: byte 0 picks the codec (bits 0-1) and the output limit (bits 2-5,
// a table around the decoder's 64 KiB steps); the rest is the compressed
// body. Checks that output never passes the limit, that a failed call
// leaves the output as it was, and that what decompresses compresses and
// decompresses back to itself. The whole input is also offered to
// ParseCodec and Negotiate as a Content-Encoding / Accept-Encoding value.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/compress.h"
#include "fuzz/check.h"

namespace {

using braid::Codec;

constexpr size_t kLimits[] = {0, 1, 2, 100, 4096, 65535, 65536, 65537, 200000, 1 << 20};

// What *out holds before a call: output is appended after it.
constexpr std::string_view kBefore = "kept";

void CheckCodecNames(std::string_view text) {
  const auto codec = braid::ParseCodec(text);
  if (codec.ok()) FUZZ_CHECK(braid::ParseCodec(braid::CodecName(*codec)).value() == *codec);
  (void)braid::Negotiate({Codec::kZstd, Codec::kGzip}, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckCodecNames(braid::fuzz::AsText(data, size));
  if (size == 0) return 0;
  static constexpr Codec kCodecs[] = {Codec::kIdentity, Codec::kZstd, Codec::kGzip, Codec::kZstd};
  const Codec codec = kCodecs[data[0] & 3];
  const size_t max_out = kLimits[(data[0] >> 2) % std::size(kLimits)];
  const std::string_view in = braid::fuzz::AsText(data + 1, size - 1);

  std::string out(kBefore);
  const braid::Status status = braid::Decompress(codec, in, &out, max_out);
  FUZZ_CHECK(out.substr(0, kBefore.size()) == kBefore);
  if (!status.ok()) {
    FUZZ_CHECK(out == kBefore);
    FUZZ_CHECK(status.code() == braid::Code::kInvalidArgument ||
               status.code() == braid::Code::kPayloadTooLarge);
    return 0;
  }
  const std::string plain = out.substr(kBefore.size());
  FUZZ_CHECK(plain.size() <= max_out);

  std::string packed;
  FUZZ_CHECK(braid::Compress(codec, plain, &packed).ok());
  std::string unpacked;
  FUZZ_CHECK(braid::Decompress(codec, packed, &unpacked, plain.size()).ok());
  FUZZ_CHECK(unpacked == plain);
  return 0;
}
