#include "blob/hasher.h"

#include <openssl/evp.h>

namespace braid::blob {
namespace {

std::string ToHex(const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

}  // namespace

Hasher::Hasher(bool md5) : sha_(EVP_MD_CTX_new()), md5_(md5 ? EVP_MD_CTX_new() : nullptr) {
  ok_ = sha_ != nullptr && EVP_DigestInit_ex(sha_, EVP_sha256(), nullptr) &&
        (!md5 || (md5_ != nullptr && EVP_DigestInit_ex(md5_, EVP_md5(), nullptr)));
}

Hasher::~Hasher() {
  EVP_MD_CTX_free(sha_);
  EVP_MD_CTX_free(md5_);
}

void Hasher::Update(std::string_view bytes) {
  ok_ = ok_ && EVP_DigestUpdate(sha_, bytes.data(), bytes.size()) &&
        (md5_ == nullptr || EVP_DigestUpdate(md5_, bytes.data(), bytes.size()));
}

Status Hasher::Finish(std::string* sha256, std::string* md5) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (!ok_ || !EVP_DigestFinal_ex(sha_, digest, &n)) return Status::Internal("SHA-256 failed");
  *sha256 = ToHex(digest, n);
  md5->clear();
  if (md5_ == nullptr) return Status::OK();
  if (!EVP_DigestFinal_ex(md5_, digest, &n)) return Status::Internal("MD5 failed");
  *md5 = ToHex(digest, n);
  return Status::OK();
}

}  // namespace braid::blob
