// Compression of transfer bodies (replication chunks): zstd or gzip,
// negotiated between peers by name. Bounded: decompression never produces
// more than the caller's limit, so a hostile peer cannot blow up memory with
// a small "zip bomb".
//
// Thread-safety: functions are reentrant (contexts are per call or
// thread-local).

#ifndef BRAID_BASE_COMPRESS_H_
#define BRAID_BASE_COMPRESS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "braid/status.h"

namespace braid {

enum class Codec { kIdentity, kZstd, kGzip };

// "identity", "zstd", "gzip" (the HTTP Content-Encoding names).
std::string_view CodecName(Codec codec);
// Errors: InvalidArgument for an unknown name.
Result<Codec> ParseCodec(std::string_view name);

// The first codec of `preferred` that also appears in `offered` (names,
// case-insensitive, as in an Accept-Encoding list "zstd, gzip"); identity
// when none matches.
Codec Negotiate(const std::vector<Codec>& preferred, std::string_view offered);

// Appends the compressed form of `in` to *out. zstd uses level `level`
// (default 1: fast, since chunks are small and latency matters); gzip uses
// zlib's corresponding level (clamped to 1..9). Identity copies. On error
// *out is unchanged.
Status Compress(Codec codec, std::string_view in, std::string* out, int level = 1);

// Appends the decompressed form of `in` to *out. Errors: InvalidArgument for
// corrupt or truncated input ("corrupt zstd data: ..."), PayloadTooLarge when
// the output would exceed `max_out` bytes. zstd input must be exactly one
// frame and gzip input one member; anything after it is corrupt. On error
// *out is unchanged.
Status Decompress(Codec codec, std::string_view in, std::string* out, size_t max_out);

}  // namespace braid

#endif  // BRAID_BASE_COMPRESS_H_
