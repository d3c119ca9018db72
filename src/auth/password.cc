#include "auth/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <charconv>
#include <vector>

#include "base/encoding.h"
#include "base/ids.h"
#include "base/validate.h"

namespace braid::auth {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kKeyBytes = 32;

struct Params {
  int log2n = 0, r = 0, p = 0;
};

bool Derive(std::string_view password, std::string_view salt, const Params& params,
            unsigned char* key) {
  const uint64_t n = uint64_t{1} << params.log2n;
  // scrypt needs 128 * r * N bytes for V, and 128 * r * p for B.
  const uint64_t maxmem = 128 * static_cast<uint64_t>(params.r) * (n + params.p) + (1 << 20);
  return EVP_PBE_scrypt(password.data(), password.size(),
                        reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n,
                        static_cast<uint64_t>(params.r), static_cast<uint64_t>(params.p), maxmem,
                        key, kKeyBytes) == 1;
}

bool ParseInt(std::string_view text, int lo, int hi, int* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out >= lo && *out <= hi;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t i = s.find(sep);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos) return out;
    s.remove_prefix(i + 1);
  }
}

}  // namespace

Status ValidatePassword(std::string_view password) {
  if (password.size() < 8) return Status::InvalidArgument("a password needs at least 8 bytes");
  if (password.size() > 1024) return Status::InvalidArgument("a password has at most 1024 bytes");
  if (!IsValidUtf8(password)) return Status::InvalidArgument("a password must be UTF-8");
  for (unsigned char c : password) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("a password cannot hold control characters (newlines, tabs)");
    }
  }
  return Status::OK();
}

Result<std::string> HashPassword(std::string_view password) {
  std::string salt(kSaltBytes, '\0');
  RandomBytes(salt.data(), salt.size());
  unsigned char key[kKeyBytes];
  const Params params{kScryptLog2N, kScryptR, kScryptP};
  if (!Derive(password, salt, params, key)) {
    return Status::Internal("scrypt failed (out of memory?)");
  }
  return "scrypt$" + std::to_string(params.log2n) + "$" + std::to_string(params.r) + "$" +
         std::to_string(params.p) + "$" + Base64UrlEncode(salt) + "$" +
         Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(key), kKeyBytes));
}

bool VerifyPassword(std::string_view password, std::string_view stored) {
  const std::vector<std::string_view> parts = Split(stored, '$');
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  Params params;
  if (!ParseInt(parts[1], 10, 20, &params.log2n) || !ParseInt(parts[2], 1, 32, &params.r) ||
      !ParseInt(parts[3], 1, 16, &params.p)) {
    return false;
  }
  const auto salt = Base64UrlDecode(parts[4]);
  const auto want = Base64UrlDecode(parts[5]);
  if (!salt || !want || salt->empty() || want->size() != kKeyBytes) return false;
  unsigned char key[kKeyBytes];
  if (!Derive(password, *salt, params, key)) return false;
  return CRYPTO_memcmp(key, want->data(), kKeyBytes) == 0;
}

bool ImportableHash(std::string_view stored) {
  const std::vector<std::string_view> parts = Split(stored, '$');
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  Params params;
  if (!ParseInt(parts[1], 10, kScryptLog2N + 1, &params.log2n) ||
      !ParseInt(parts[2], 1, kScryptR, &params.r) || !ParseInt(parts[3], 1, 2, &params.p)) {
    return false;
  }
  const auto salt = Base64UrlDecode(parts[4]);
  const auto key = Base64UrlDecode(parts[5]);
  return salt && key && !salt->empty() && salt->size() <= 64 && key->size() == kKeyBytes;
}

std::string NewPassword() {
  std::string raw(18, '\0');
  RandomBytes(raw.data(), raw.size());
  return Base64UrlEncode(raw);
}

}  // namespace braid::auth
