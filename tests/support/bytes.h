// Bytes for tests of files and blobs: reproducible random content, and
// the SHA-256 a blob is named by.

#ifndef BRAID_TESTS_SUPPORT_BYTES_H_
#define BRAID_TESTS_SUPPORT_BYTES_H_

#include <openssl/evp.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace braid::testing {

// `n` bytes, the same for the same seed.
inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Lowercase hex SHA-256.
inline std::string Sha256Hex(std::string_view bytes) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(bytes.data(), bytes.size(), d, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += kHex[d[i] >> 4];
    out += kHex[d[i] & 15];
  }
  return out;
}

}  // namespace braid::testing

#endif  // BRAID_TESTS_SUPPORT_BYTES_H_
