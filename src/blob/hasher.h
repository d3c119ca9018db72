// SHA-256 and MD5 of a byte stream, fed piece by piece (OpenSSL EVP): what
// the blob store checks its bytes with, and what a container records of a
// file (src/container/).
//
// Thread-safety: one Hasher is used by one thread at a time.

#ifndef BRAID_BLOB_HASHER_H_
#define BRAID_BLOB_HASHER_H_

#include <string>
#include <string_view>

#include "braid/status.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace braid::blob {

class Hasher {
 public:
  // `md5`: also MD5 (else Finish gives "" for it).
  explicit Hasher(bool md5 = true);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void Update(std::string_view bytes);
  // The digests in lowercase hex. Errors: Internal when OpenSSL failed.
  Status Finish(std::string* sha256, std::string* md5);

 private:
  EVP_MD_CTX* sha_;
  EVP_MD_CTX* md5_;
  bool ok_ = false;
};

}  // namespace braid::blob

#endif  // BRAID_BLOB_HASHER_H_
