#include "container/path_codec.h"

#include "base/validate.h"
#include "blob/hasher.h"

namespace braid::container {
namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr size_t kMaxPathBytes = 4095;

// The length of the well-formed UTF-8 sequence at `s[i]` (1 to 4), or 0.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
  }
  // No overlong forms, surrogates or code points past U+10FFFF.
  if (c == 0xE0 && b(1) < 0xA0) return 0;
  if (c == 0xED && b(1) >= 0xA0) return 0;
  if (c == 0xF0 && b(1) < 0x90) return 0;
  if (c == 0xF4 && b(1) >= 0x90) return 0;
  return n;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lowercase is not what EncodePath writes: one spelling only
}

void Escape(unsigned char c, std::string* out) {
  *out += '%';
  *out += kHexUpper[c >> 4];
  *out += kHexUpper[c & 15];
}

}  // namespace

std::string EncodePath(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = Utf8Length(s, i);
    if (n == 0 || c < 0x20 || c == 0x7F || c == '%') {
      Escape(c, &out);
      ++i;
    } else if (n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) {
      Escape(c, &out);  // a C1 control character: both bytes escaped
      Escape(static_cast<unsigned char>(s[i + 1]), &out);
      i += 2;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

Result<std::string> DecodePath(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("file path \"" + std::string(text) +
                                     "\": '%' must be followed by two uppercase hex digits");
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  if (EncodePath(out) != text) {  // one spelling per path: ids compare as text
    return Status::InvalidArgument("file path \"" + std::string(text) +
                                   "\" is not encoded as braid encodes paths (%XX exactly for "
                                   "'%', control characters and bytes that are not UTF-8)");
  }
  if (out.empty() || out.size() > kMaxPathBytes) {
    return Status::InvalidArgument("file path \"" + std::string(text) +
                                   "\": empty, or longer than 4,095 bytes");
  }
  if (out.find('\0') != std::string::npos) {
    return Status::InvalidArgument("file path \"" + std::string(text) + "\" holds a NUL byte");
  }
  if (out.front() == '/') {
    return Status::InvalidArgument("file path \"" + std::string(text) +
                                   "\" is absolute; container paths are relative");
  }
  size_t start = 0;
  for (;;) {
    const size_t slash = out.find('/', start);
    const std::string_view part = std::string_view(out).substr(
        start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") {
      return Status::InvalidArgument("file path \"" + std::string(text) +
                                     "\" has an empty, \".\" or \"..\" component");
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

std::string RecordIdFor(std::string_view encoded) {
  if (encoded.size() <= kMaxIdBytes) return std::string(encoded);
  blob::Hasher h(/*md5=*/false);
  h.Update(encoded);
  std::string sha, unused;
  (void)h.Finish(&sha, &unused);
  return "%%" + sha;
}

}  // namespace braid::container
