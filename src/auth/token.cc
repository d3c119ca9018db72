#include "auth/token.h"

#include <openssl/sha.h>

#include "base/encoding.h"
#include "base/ids.h"

namespace braid::auth {

std::string NewToken() {
  std::string raw(32, '\0');
  RandomBytes(raw.data(), raw.size());
  return "braid_" + Base64UrlEncode(raw);
}

std::string TokenHash(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (authorization.size() <= kPrefix.size()) return {};
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    const char a = authorization[i], b = kPrefix[i];
    if ((a | 0x20) != (b | 0x20)) return {};  // scheme names are case-insensitive
  }
  std::string_view token = authorization.substr(kPrefix.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace braid::auth
