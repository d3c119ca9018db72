#include "base/compress.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <memory>
#include <string>

namespace braid {
namespace {

// Decompression grows the output by at most this much per decoder call, so
// the output never exceeds max_out + 1 bytes (the one extra byte proves the
// limit was crossed) whatever the frame claims about its size.
constexpr size_t kDecodeChunk = 64 * 1024;

// zlib counts in uInt; longer buffers are fed in pieces of this size.
constexpr size_t kZlibMaxChunk = UINT_MAX;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

Status TooLarge(size_t max_out) {
  return Status::PayloadTooLarge("decompressed body is larger than " + std::to_string(max_out) +
                                 " bytes");
}

// How many bytes the next decoder call may write, given `produced` so far.
size_t NextChunk(size_t produced, size_t max_out) {
  const size_t room = max_out - produced;  // produced <= max_out here
  return room >= kDecodeChunk ? kDecodeChunk : room + 1;
}

// ---- zstd ----

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* cctx) const { ZSTD_freeCCtx(cctx); }
};
struct ZstdDCtxDeleter {
  void operator()(ZSTD_DCtx* dctx) const { ZSTD_freeDCtx(dctx); }
};

// Contexts are reused per thread: creating one costs more than compressing a
// small chunk. Each call resets the context fully before use.
ZSTD_CCtx* ThreadZstdCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx(ZSTD_createCCtx());
  return cctx.get();
}
ZSTD_DCtx* ThreadZstdDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx(ZSTD_createDCtx());
  return dctx.get();
}

Status ZstdCompress(std::string_view in, std::string* out, int level) {
  ZSTD_CCtx* cctx = ThreadZstdCCtx();
  if (cctx == nullptr) return Status::Internal("zstd: cannot allocate a compression context");
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  // Out-of-range levels are clamped by zstd. The checksum (4 bytes) makes
  // corruption in transit an error rather than silently different data.
  size_t rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  if (ZSTD_isError(rc)) {
    return Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(rc));
  }
  const size_t start = out->size();
  out->resize(start + ZSTD_compressBound(in.size()));
  const size_t n =
      ZSTD_compress2(cctx, out->data() + start, out->size() - start, in.data(), in.size());
  if (ZSTD_isError(n)) {
    out->resize(start);
    return Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  out->resize(start + n);
  return Status::OK();
}

Status ZstdCorrupt(std::string_view what) {
  return Status::InvalidArgument("corrupt zstd data: " + std::string(what));
}

// Accepts exactly one frame. Output is checked against max_out as it grows;
// the frame's declared content size only sizes the first step (a frame may
// lie about it: it never lets output pass max_out).
Status ZstdDecompress(std::string_view in, std::string* out, size_t max_out) {
  if (in.empty()) return ZstdCorrupt("empty input");
  ZSTD_DCtx* dctx = ThreadZstdDCtx();
  if (dctx == nullptr) return Status::Internal("zstd: cannot allocate a decompression context");
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);

  const size_t start = out->size();
  size_t produced = 0;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  // Room for the size the frame declares (within max_out) lets zstd decode
  // it in one pass, straight into *out; a byte more shows a frame longer
  // than declared. Without a declared size, output grows in steps.
  size_t want = NextChunk(0, max_out);
  if (const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
      declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
    want = static_cast<size_t>(std::min<unsigned long long>(declared, max_out)) + 1;
  }
  for (;; want = NextChunk(produced, max_out)) {
    out->resize(start + produced + want);
    ZSTD_outBuffer output{out->data() + start + produced, want, 0};
    const size_t in_before = input.pos;
    const size_t rc = ZSTD_decompressStream(dctx, &output, &input);
    produced += output.pos;
    out->resize(start + produced);
    if (ZSTD_isError(rc)) {
      out->resize(start);
      return ZstdCorrupt(ZSTD_getErrorName(rc));
    }
    if (produced > max_out) {
      out->resize(start);
      return TooLarge(max_out);
    }
    if (rc == 0) {  // the frame is complete and fully flushed
      if (input.pos != input.size) {
        out->resize(start);
        return ZstdCorrupt("unexpected data after the end of the frame");
      }
      return Status::OK();
    }
    // Output not full means the decoder flushed all it could: it needs more
    // input than there is.
    const bool stalled = output.pos == 0 && input.pos == in_before;
    if ((input.pos == input.size && output.pos < output.size) || stalled) {
      out->resize(start);
      return ZstdCorrupt("truncated input");
    }
  }
}

// ---- gzip ----

// Moves up to kZlibMaxChunk more bytes of `in` into the stream's input when
// it has run dry. `fed` counts the bytes of `in` handed to zlib so far.
void RefillZlibInput(z_stream& zs, std::string_view in, size_t& fed) {
  if (zs.avail_in != 0 || fed == in.size()) return;
  const size_t n = std::min(in.size() - fed, kZlibMaxChunk);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + fed));
  zs.avail_in = static_cast<uInt>(n);
  fed += n;
}

Status GzipCompress(std::string_view in, std::string* out, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip (RFC 1952) wrapper rather than zlib's.
  if (deflateInit2(&zs, std::clamp(level, 1, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return Status::Internal("gzip: cannot allocate a compression stream");
  }
  const std::unique_ptr<z_stream, decltype(&deflateEnd)> guard(&zs, &deflateEnd);

  const size_t start = out->size();
  size_t written = 0;
  size_t fed = 0;
  out->resize(start + deflateBound(&zs, in.size()));
  for (;;) {
    RefillZlibInput(zs, in, fed);
    if (start + written == out->size()) out->resize(out->size() + kDecodeChunk);
    const size_t avail = std::min(out->size() - start - written, kZlibMaxChunk);
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + start + written);
    zs.avail_out = static_cast<uInt>(avail);
    const int flush = (fed == in.size()) ? Z_FINISH : Z_NO_FLUSH;
    const int rc = deflate(&zs, flush);
    written += avail - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      out->resize(start);
      return Status::Internal(std::string("gzip compression failed: ") +
                              (zs.msg != nullptr ? zs.msg : "error " + std::to_string(rc)));
    }
  }
  out->resize(start + written);
  return Status::OK();
}

Status GzipCorrupt(std::string_view what) {
  return Status::InvalidArgument("corrupt gzip data: " + std::string(what));
}

// Accepts exactly one gzip member, bounded like ZstdDecompress.
Status GzipDecompress(std::string_view in, std::string* out, size_t max_out) {
  if (in.empty()) return GzipCorrupt("empty input");
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {
    return Status::Internal("gzip: cannot allocate a decompression stream");
  }
  const std::unique_ptr<z_stream, decltype(&inflateEnd)> guard(&zs, &inflateEnd);

  const size_t start = out->size();
  size_t produced = 0;
  size_t fed = 0;
  auto fail = [&](Status status) {
    out->resize(start);
    return status;
  };
  for (;;) {
    RefillZlibInput(zs, in, fed);
    const size_t want = NextChunk(produced, max_out);
    out->resize(start + produced + want);
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + start + produced);
    zs.avail_out = static_cast<uInt>(want);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced += want - zs.avail_out;
    out->resize(start + produced);
    switch (rc) {
      case Z_OK:
      case Z_STREAM_END:
        break;
      case Z_BUF_ERROR:  // no progress possible: the input ended mid-stream
        return fail(GzipCorrupt("truncated input"));
      case Z_MEM_ERROR:
        return fail(Status::Internal("gzip: out of memory while decompressing"));
      default:  // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
        return fail(GzipCorrupt(zs.msg != nullptr ? zs.msg : "error " + std::to_string(rc)));
    }
    if (produced > max_out) return fail(TooLarge(max_out));
    if (rc == Z_STREAM_END) {
      if (zs.avail_in != 0 || fed != in.size()) {
        return fail(GzipCorrupt("unexpected data after the end of the stream"));
      }
      return Status::OK();
    }
    if (zs.avail_in == 0 && fed == in.size() && zs.avail_out != 0) {
      return fail(GzipCorrupt("truncated input"));
    }
  }
}

}  // namespace

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kIdentity:
      return "identity";
    case Codec::kZstd:
      return "zstd";
    case Codec::kGzip:
      return "gzip";
  }
  return "identity";
}

Result<Codec> ParseCodec(std::string_view name) {
  for (const Codec codec : {Codec::kIdentity, Codec::kZstd, Codec::kGzip}) {
    if (EqualsIgnoreCase(name, CodecName(codec))) return codec;
  }
  return Status::InvalidArgument("unknown compression codec \"" + std::string(name) +
                                 "\": use identity, zstd or gzip");
}

Codec Negotiate(const std::vector<Codec>& preferred, std::string_view offered) {
  std::vector<std::string_view> names;
  while (!offered.empty()) {
    const size_t comma = offered.find(',');
    std::string_view item = offered.substr(0, comma);
    offered = comma == std::string_view::npos ? std::string_view() : offered.substr(comma + 1);
    item = Trim(item.substr(0, item.find(';')));  // parameters (";q=0.5") are ignored
    if (!item.empty()) names.push_back(item);
  }
  for (const Codec codec : preferred) {
    for (const std::string_view name : names) {
      if (EqualsIgnoreCase(name, CodecName(codec))) return codec;
    }
  }
  return Codec::kIdentity;
}

Status Compress(Codec codec, std::string_view in, std::string* out, int level) {
  switch (codec) {
    case Codec::kIdentity:
      out->append(in);
      return Status::OK();
    case Codec::kZstd:
      return ZstdCompress(in, out, level);
    case Codec::kGzip:
      return GzipCompress(in, out, level);
  }
  return Status::Internal("unknown codec");
}

// On error *out is left as it was.
Status Decompress(Codec codec, std::string_view in, std::string* out, size_t max_out) {
  switch (codec) {
    case Codec::kIdentity:
      if (in.size() > max_out) return TooLarge(max_out);
      out->append(in);
      return Status::OK();
    case Codec::kZstd:
      return ZstdDecompress(in, out, max_out);
    case Codec::kGzip:
      return GzipDecompress(in, out, max_out);
  }
  return Status::Internal("unknown codec");
}

}  // namespace braid
